package game

import (
	"context"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// This file is the contract between game and net/ws: a session calls
// Joiner.Join after a valid Hello and drives the Seat it gets back.

// Conn is a client connection as the match manager sees it. net/ws sessions
// implement it.
type Conn interface {
	sim.Conn
	// Kick sends an Error with code and reason, then closes the connection
	// (close code 4000+code). Safe from any goroutine; must not block.
	Kick(code schema.ErrorCode, reason string)
}

// JoinRequest is what a connection asks of the manager after its Hello.
type JoinRequest struct {
	Hello    schema.Hello
	PlayerID uint32 // from the auth token; 0 for a guest (the manager assigns one)
	Conn     Conn
}

// Seat is a player's place in a running match, held by one connection.
// Its methods are safe from any goroutine and never block for long. Once a
// newer connection has taken the seat over (resume), or the seat was freed,
// the older Seat value is dead: Input drops, Disconnect and Leave do
// nothing.
type Seat interface {
	Welcome() schema.Welcome
	// Input queues one input; called on the connection's read goroutine.
	// It never blocks; false means the input was dropped: the room's inbox
	// was full (counted), or this Seat is dead.
	Input(in *schema.Input) bool
	// Disconnect: the connection is gone; the seat waits ResumeGrace for a
	// resume before it is freed.
	Disconnect()
	// Leave frees the seat at once.
	Leave()
}

// Joiner seats players; *Manager implements it.
type Joiner interface {
	Join(ctx context.Context, req JoinRequest) (Seat, error)
}

// JoinError is a refusal to seat a player, with the code sent to the client.
type JoinError struct {
	Code    schema.ErrorCode
	Message string
}

func (e *JoinError) Error() string { return e.Message }

// RedirectError says another node runs the match.
type RedirectError struct {
	URL     string
	MatchID string
}

func (e *RedirectError) Error() string { return "match runs on " + e.URL }

// Placement decides which node runs a match. The Manager asks it when a
// Hello names a match (or carries a resume token for one) that this node
// does not run, and before it creates a match. LocalPlacement, the
// default, runs everything here; replication plugs in the cluster's
// directory. Methods are called on the joining connection's goroutine,
// concurrently; they must honour ctx.
type Placement interface {
	// Locate is asked about a match this node does not run. It returns a
	// *RedirectError when another node runs it, nil when no node does (the
	// client gets match not found), or another error (unavailable).
	Locate(ctx context.Context, matchID string) error
	// Admit is asked before this node creates a match of game. nil lets it;
	// a *RedirectError sends the client to another node; a *JoinError
	// refuses with its code.
	Admit(ctx context.Context, game string) error
}

// LocalPlacement runs every match on this node and knows no other.
type LocalPlacement struct{}

// Locate implements Placement: no other node runs anything.
func (LocalPlacement) Locate(context.Context, string) error { return nil }

// Admit implements Placement: always create here.
func (LocalPlacement) Admit(context.Context, string) error { return nil }

var (
	_ Joiner    = (*Manager)(nil)
	_ Placement = LocalPlacement{}
)
