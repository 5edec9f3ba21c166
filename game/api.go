package game

import (
	"context"
	"net/netip"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// This file is the contract between game and net/ws: a session calls
// Joiner.Join after a valid Hello and drives the Seat it gets back.

// Conn is a client connection as the match manager sees it. net/ws sessions
// implement it.
type Conn interface {
	sim.Conn
	// Kick sends an Error with code, then closes the connection (close code
	// 4000+code). The client gets the code's fixed text (ErrorCode.String);
	// reason is for the node's log. Safe from any goroutine; must not block.
	Kick(code schema.ErrorCode, reason string)
	// Redirect sends a Redirect{url, matchID} and closes the connection with
	// 4011: the match moved to the node at url (hand-over or failover) and
	// the client resumes there. Safe from any goroutine; must not block.
	Redirect(url, matchID string)
}

// JoinRequest is what a connection asks of the manager after its Hello.
type JoinRequest struct {
	Hello    schema.Hello
	PlayerID uint32 // from the auth token; 0 for a guest (the manager assigns one)
	Conn     Conn
	// Addr is the client's source address (net/ws: the TCP peer of the
	// upgrade request). The per-address limits count by it
	// (Config.MaxMatchesPerIP); the zero Addr is not limited.
	Addr netip.Addr
	// Claims is the auth token's JSON payload (nil for a guest), handed to
	// the game with the join (sim.JoinInfo).
	Claims []byte
}

// Seat is a player's place in a running match, held by one connection.
// Its methods are safe from any goroutine and never block for long. Once a
// newer connection has taken the seat over (resume), or the seat was freed,
// the older Seat value is dead: Input drops, Disconnect and Leave do
// nothing.
type Seat interface {
	Welcome() schema.Welcome
	// Input queues one input; called on the connection's read goroutine.
	// It never blocks; false means an input was dropped: this player's
	// input queue was full and its oldest input made room (counted), or
	// this Seat is dead.
	Input(in *schema.Input) bool
	// Disconnect: the connection is gone; the seat waits ResumeGrace for a
	// resume before it is freed.
	Disconnect()
	// Leave frees the seat at once.
	Leave()
	// Event queues one client event (verified by the caller against
	// Schema) on the connection's read goroutine. It never blocks; false
	// means this player's event queue is full (the caller closes the
	// client with schema.ErrCodeEventFlood) or the Seat is dead.
	Event(ev *schema.Event) bool
	// Schema is the match's game schema.
	Schema() *GameSchema
}

// Joiner seats players; *Manager implements it.
type Joiner interface {
	Join(ctx context.Context, req JoinRequest) (Seat, error)
}

// JoinError is a refusal to seat a player, with the code sent to the client.
// Message is for the node's log: the client gets the code's fixed text
// (ErrorCode.String), so a Message may name internal details.
type JoinError struct {
	Code    schema.ErrorCode
	Message string
	// Public: Message is meant for the client (a game's refusal reason,
	// ErrCodeJoinRefused; the expected schema, ErrCodeSchemaMismatch) and
	// is sent instead of the code's fixed text.
	Public bool
}

func (e *JoinError) Error() string { return e.Message }

// RedirectError says another node runs the match.
type RedirectError struct {
	URL     string
	MatchID string
}

func (e *RedirectError) Error() string { return "match runs on " + e.URL }

// Placement decides which node runs a match: it is the cluster's match
// directory as the Manager sees it. LocalPlacement, the default, runs
// everything here; the node plugs the Raft directory in (replication,
// through internal/cluster). Locate and Admit are called on the joining
// connection's goroutine, concurrently; every method must honour ctx.
type Placement interface {
	// Locate is asked about a match this node does not run (a Hello with
	// its id, or a resume token for it). It returns:
	//   - local true: this node owns the match but has not adopted it yet;
	//     the Manager waits (up to Config.AdoptWait) for its Adopt;
	//   - a *RedirectError: another node runs it;
	//   - nil, false: no node runs it (the client gets match not found);
	//   - another error: the client gets unavailable and retries.
	// While the match is between owners (orphaned, or its owner looks dead
	// and failover is pending) Locate may wait, bounded, rather than send
	// the client to a dead node.
	Locate(ctx context.Context, matchID string) (local bool, err error)
	// Admit is asked when matchmaking finds no local match of game and
	// matchmaking key with a free seat (key: the text of the join
	// payload's (match_key) fields, "" for none; the admin API's create
	// asks with ""). "" and nil: create one here (LocalPlacement). A match
	// id: the directory placed (or found) that match of game and key on
	// this node; the Manager waits for its Adopt and seats the player
	// there. A *RedirectError sends the client to another node, which
	// runs its own matchmaking with the same Hello: it must run a match of
	// game and key with room. A *JoinError refuses. A match the directory
	// creates for Admit records key, and hands it back in the
	// AdoptRequest of every node that runs it.
	Admit(ctx context.Context, game, key string) (matchID string, err error)
	// End tells the directory that matchID (owned here at epoch) closed:
	// it stayed empty, or crashed. No node adopts it again. Called on a
	// timer or watcher goroutine with a bounded ctx.
	End(ctx context.Context, matchID string, epoch uint64) error
}

// LocalPlacement runs every match on this node and knows no other.
type LocalPlacement struct{}

// Locate implements Placement: no other node runs anything.
func (LocalPlacement) Locate(context.Context, string) (bool, error) { return false, nil }

// Admit implements Placement: always create here.
func (LocalPlacement) Admit(context.Context, string, string) (string, error) { return "", nil }

// End implements Placement: nothing to tell.
func (LocalPlacement) End(context.Context, string, uint64) error { return nil }

// Checkpointer receives the rooms' checkpoints (cluster mode);
// replication.Checkpointer implements it. Checkpoint is called on the room
// goroutine and must copy state and return at once; SetPlayers on join and
// leave paths; Forget when a match stops or moves. All three must be safe
// from any goroutine and must not block on I/O.
type Checkpointer interface {
	Checkpoint(matchID string, epoch uint64, tick uint32, state []byte)
	SetPlayers(matchID string, epoch uint64, players int)
	Forget(matchID string)
}

// TickLogger receives every room's tick log (cluster mode):
// replication.TickLogger implements it. Append is called on the room
// goroutine after every tick with that tick's record (package sim's
// format) and must copy rec and return at once, without blocking on I/O;
// Forget when a match stops or moves. Both must be safe from any goroutine.
type TickLogger interface {
	Append(matchID string, epoch uint64, tick uint32, rec []byte)
	Forget(matchID string)
}

// Lease says whether this node may run matchID at epoch now: in a cluster,
// its owner lease is valid and the directory still names it the owner at
// that epoch. Every room asks before each tick (through a sim.Gate), so
// Valid must be cheap, allocation-free and safe from any goroutine.
type Lease interface {
	Valid(matchID string, epoch uint64) bool
}

// AdoptRequest asks the Manager to run a match the cluster assigned to this
// node (see Manager.Adopt).
type AdoptRequest struct {
	MatchID string
	Game    string
	Seed    uint64 // the directory's seed: a fresh match's game is created from it
	Epoch   uint64 // ownership epoch: checkpoints carry it
	Tick    uint32 // the checkpoint's tick (0 with no State)
	State   []byte // a checkpoint from Manager's checkpoints or Freeze; empty: a fresh match
	// Log is the tick log that continues State (records of the ticks after
	// Tick, as the old owner's TickLogger shipped them; from tick 1 for a
	// fresh match): replayed before the room starts, so that the match
	// resumes at the last tick replicated. Empty: none.
	Log []byte
	// Key is the match's matchmaking key as the directory recorded it at
	// creation ("" for none, and for a match created before the directory
	// recorded keys): the Manager seats matchmaking joins in the match
	// only when theirs is equal.
	Key string
}

var (
	_ Joiner    = (*Manager)(nil)
	_ Placement = LocalPlacement{}
)
