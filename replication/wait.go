package replication

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// AppliedIndex returns the Raft index of the last command the local FSM
// applied (or of the snapshot it restored). Raft's own entries (no-ops,
// barriers, configuration changes) do not move it. Any goroutine.
func (n *Node) AppliedIndex() uint64 { return n.fsm.Index() }

// WaitApplied blocks until the local FSM has applied index (AppliedIndex()
// ≥ index). The FSM's apply wakes it; it does not poll. It returns ctx's
// error when ctx ends first, and ErrShutdown when the node stops first. Any
// goroutine.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	return n.fsm.waitIndex(ctx, index, n.raftDone)
}

// CatchUp returns once this node's FSM has applied every command the
// cluster had committed when CatchUp was called, so that what another node
// wrote a moment ago (a match it created) is visible here. On the leader
// that is its own commit index; a follower asks the leader for it over the
// node-to-node API (GET /admin/v1/raft/read-index), then waits with
// WaitApplied. Transient failures (no leader yet, the leader changing) are
// retried until ctx ends. Any goroutine; callers bound it with ctx.
//
// The answer is as fresh as the leader's belief that it leads, like
// Consul's default reads: a leader cut off a moment ago (it steps down
// within LeaderLeaseTimeout) may answer with an older index.
func (n *Node) CatchUp(ctx context.Context) error {
	backoff := 5 * time.Millisecond
	for {
		index, err := n.readIndex(ctx)
		if err == nil {
			return n.WaitApplied(ctx, index)
		}
		if !retryable(err) {
			return fmt.Errorf("catch up: %w", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("catch up: %w (last error: %w)", ctx.Err(), err)
		case <-n.raftDone:
			t.Stop()
			return ErrShutdown
		case <-t.C:
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// readIndex returns the FSM index that covers every command committed now:
// the leader's own (leaderReadIndex), or, on a follower, the leader's
// answer to GET /admin/v1/raft/read-index.
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	r := n.r()
	if r == nil {
		return 0, ErrShutdown
	}
	if r.State() == raft.Leader {
		return n.leaderReadIndex(ctx)
	}
	leader, err := n.leaderInfo()
	if err != nil {
		return 0, err
	}
	var ri readIndexAnswer
	if err := n.client.call(ctx, http.MethodGet, leader, PathRaftReadIndex, nil, "", &ri); err != nil {
		return 0, err
	}
	return ri.Index, nil
}

// leaderReadIndex is readIndex on the leader. Once its supervisor's
// start-of-term Barrier is done, the leader's commit index covers every
// entry committed in earlier terms; the answer is the last command at or
// below it. Before that, a Barrier of its own makes the local FSM current
// (everything committed before it is applied), and the answer is the FSM's
// index.
func (n *Node) leaderReadIndex(ctx context.Context) (uint64, error) {
	r := n.r()
	if r == nil {
		return 0, ErrShutdown
	}
	if r.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	if sup := n.sup.Load(); sup != nil && sup.ready.Load() {
		return n.lastCommandAt(r.CommitIndex()), nil
	}
	if err := n.Barrier(ctx); err != nil {
		return 0, err
	}
	return n.fsm.Index(), nil
}

// lastCommandAt returns the index of the last command at or below index in
// this node's log (the leader's: committed entries there are final). An
// FSM that applied the log up to index has exactly that AppliedIndex, since
// Raft's own entries do not reach the FSM. The scan reads backwards through
// the log cache (Raft's barriers, 10 a second, are the usual entries in
// between); when it reaches the log's start without a command, every command
// at or below index is in the snapshot that this node's FSM has applied, and
// the FSM's index is the answer.
func (n *Node) lastCommandAt(index uint64) uint64 {
	first, err := n.logs.FirstIndex()
	if err == nil {
		var l raft.Log
		for i := index; i >= max(first, 1); i-- {
			if n.logs.GetLog(i, &l) != nil {
				break
			}
			if l.Type == raft.LogCommand {
				return i
			}
		}
	}
	return n.fsm.Index()
}
