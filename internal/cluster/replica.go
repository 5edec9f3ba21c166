package cluster

import (
	"context"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
)

var _ Replica = (*replication.Node)(nil)

// Replica is what the glue needs from this node's replica of the match
// directory. *replication.Node provides it; tests use a fake.
type Replica interface {
	Directory
	Follower
	Events
}

// Directory is the match directory as this node's FSM holds it, plus the
// two writes the glue makes through Raft. The reads are safe from any
// goroutine and never block for long (Valid calls LeaseValid and Lookup on
// every room's tick).
type Directory interface {
	// LeaseValid reports whether this node holds its owner lease: it is in
	// touch with a leader, and its view of the directory is current enough
	// to act on.
	LeaseValid() bool
	// Lookup returns a match by id.
	Lookup(matchID string) (replication.MatchInfo, bool)
	// Matches returns every match.
	Matches() []replication.MatchInfo
	// Member returns a node of the cluster by id.
	Member(id string) (replication.NodeInfo, bool)
	// CreateMatch creates a match through Raft on the least-loaded live
	// node; its epoch is the Raft index of the entry.
	CreateMatch(ctx context.Context, req command.CreateMatch) (replication.MatchInfo, error)
	// EndMatch ends a match owned at epoch (replication.ErrStaleEpoch: it
	// moved meanwhile).
	EndMatch(ctx context.Context, matchID string, epoch uint64) error
}

// Follower lets a node that is not the leader catch up with what the
// leader has committed.
type Follower interface {
	// WaitApplied returns once this node's FSM has applied index, or ctx
	// ends.
	WaitApplied(ctx context.Context, index uint64) error
	// CatchUp returns once this node has applied what the leader had
	// committed at the call, or ctx ends.
	CatchUp(ctx context.Context) error
}

// Events are this node's ownership changes, in order, and the checkpoints
// and tick logs a match is restored from.
type Events interface {
	// Ownership returns the channel of Acquired and Released events (one
	// consumer: RunOwnership).
	Ownership() <-chan replication.OwnershipEvent
	// LatestCheckpoint returns a match's newest checkpoint in the FSM.
	LatestCheckpoint(matchID string) (replication.Checkpoint, bool)
	// TickLog returns the match's tick log in the FSM that continues tick
	// after (its checkpoint's tick; 0 without one).
	TickLog(matchID string, after uint32) (replication.TickLog, bool)
}

// Games is what RunOwnership drives: *game.Manager.
type Games interface {
	Adopt(ctx context.Context, req game.AdoptRequest) error
	Release(matchID, redirectURL string) bool
	// End stops a match the cluster ended; its players are told it ended.
	End(matchID string) bool
}

var _ Games = (*game.Manager)(nil)
