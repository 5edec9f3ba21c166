package replication

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// Forwarder sends an encoded command to the leader and returns the leader's
// result. The default posts it to the leader's PathRaftApply. leader has
// the leader's id and Raft address from Raft, and its API URL from the FSM
// (which, without ClusterTLS, it has registered).
type Forwarder interface {
	Forward(ctx context.Context, leader NodeInfo, cmd []byte) (*Result, error)
}

// Apply commits cmd through Raft and returns the FSM's result. On the leader
// it applies locally; elsewhere it forwards to the leader. Errors the FSM
// returns (ErrStaleEpoch, ErrMatchNotFound, …) come back as errors. Transient
// errors (no leader, leadership lost, forwarding failures) are retried with
// backoff until ctx ends; our commands are idempotent, so a retry of an entry
// that did commit is harmless. Safe from any goroutine.
func (n *Node) Apply(ctx context.Context, cmd command.Command) (*Result, error) {
	return n.applyBytes(ctx, command.Encode(cmd))
}

func (n *Node) applyBytes(ctx context.Context, data []byte) (*Result, error) {
	start := time.Now()
	backoff := 10 * time.Millisecond
	for {
		res, err := n.applyOnce(ctx, data)
		if err == nil {
			n.metrics.ApplyDuration(time.Since(start))
		}
		if err == nil || !retryable(err) {
			return res, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("apply: %w (last error: %w)", ctx.Err(), err)
		case <-n.raftDone:
			t.Stop()
			return nil, ErrShutdown
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

func retryable(err error) bool {
	if errors.Is(err, ErrShutdown) {
		return false
	}
	if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) || errors.Is(err, ErrLeadershipLost) {
		return true
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return false // the leader answered: the FSM's verdict, or a refusal
	}
	var te *httpapi.TransportError
	return errors.As(err, &te) // network trouble reaching the leader
}

func (n *Node) applyOnce(ctx context.Context, data []byte) (*Result, error) {
	r := n.r()
	if r == nil {
		return nil, ErrShutdown
	}
	if r.State() == raft.Leader {
		return n.applyLocal(ctx, data)
	}
	leader, err := n.leaderInfo()
	if err != nil {
		return nil, err
	}
	return n.fwd.Forward(ctx, leader, data)
}

// applyLocal applies data on this node, which must be the leader. Once the
// entry is enqueued it waits for the FSM: ctx bounds only the enqueue, since
// an entry that is in the log may commit whatever we do; only Raft's
// shutdown ends the wait early.
func (n *Node) applyLocal(ctx context.Context, data []byte) (*Result, error) {
	r := n.r()
	if r == nil {
		return nil, ErrShutdown
	}
	f := r.Apply(data, timeoutOf(ctx, n.cfg.Raft.ApplyTimeout))
	if err := n.waitFuture(context.Background(), f); err != nil {
		return nil, mapRaftErr(err)
	}
	switch v := f.Response().(type) {
	case *Result:
		return v, nil
	case error:
		return nil, v
	default:
		return nil, fmt.Errorf("fsm returned %T", v)
	}
}

// CreateMatch creates a match through Raft; req.Owner empty places it on the
// least-loaded live node. The returned MatchInfo carries the owner and epoch.
func (n *Node) CreateMatch(ctx context.Context, req command.CreateMatch) (MatchInfo, error) {
	res, err := n.Apply(ctx, &req)
	if err != nil {
		return MatchInfo{}, err
	}
	return *res.Match, nil
}

// NewMatchID returns a random 16-hex-digit match id.
func NewMatchID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// EndMatch ends match id at epoch (0: whatever its epoch).
func (n *Node) EndMatch(ctx context.Context, id string, epoch uint64) error {
	_, err := n.Apply(ctx, &command.EndMatch{ID: id, Epoch: epoch})
	return err
}

// UpdatePlayers records a match's player count (epoch must be current). The
// Checkpointer's SetPlayers batches the same update with checkpoints.
func (n *Node) UpdatePlayers(ctx context.Context, id string, epoch uint64, players int) error {
	_, err := n.Apply(ctx, &command.UpdatePlayers{ID: id, Epoch: epoch, Players: players})
	return err
}

// Drain marks node id draining: it takes no new matches and hands its
// matches over one by one (each with a final checkpoint) to the least-loaded
// live nodes.
func (n *Node) Drain(ctx context.Context, id string) (NodeInfo, error) {
	res, err := n.Apply(ctx, &command.SetNodeState{ID: id, State: NodeDraining})
	if err != nil {
		return NodeInfo{}, err
	}
	return *res.Node, nil
}

// Undrain makes a draining node alive again.
func (n *Node) Undrain(ctx context.Context, id string) (NodeInfo, error) {
	info, ok := n.fsm.Node(id)
	if !ok {
		return NodeInfo{}, fmt.Errorf("%w: %s", ErrNodeNotFound, id)
	}
	if info.State != NodeDraining {
		return NodeInfo{}, fmt.Errorf("%w: %s is %s, not draining", ErrBadRequest, id, info.State)
	}
	res, err := n.Apply(ctx, &command.SetNodeState{ID: id, State: NodeAlive})
	if err != nil {
		return NodeInfo{}, err
	}
	return *res.Node, nil
}

// DrainSelf drains this node and waits until it owns no match (for a
// graceful shutdown), or until ctx ends.
func (n *Node) DrainSelf(ctx context.Context) error {
	if _, err := n.Drain(ctx, n.cfg.NodeID); err != nil {
		return err
	}
	for {
		applied := n.fsm.Index()
		owned, _ := n.fsm.ownedBy(n.cfg.NodeID)
		if len(owned) == 0 {
			return nil
		}
		if err := n.WaitApplied(ctx, applied+1); err != nil {
			return fmt.Errorf("drain: %d matches left: %w", len(owned), err)
		}
	}
}
