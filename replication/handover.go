package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticksync/ticksync/replication/command"
)

// Host is the local game layer as replication needs it; game.Manager
// implements it and the node (package ticksync) passes it in Config.Host.
// Methods are called from the admin API's, the drainer's and (Capturer)
// the checkpointer's goroutines, never from Raft's.
type Host interface {
	// Freeze stops the room of matchID (owned here at epoch) from ticking and
	// returns its state at its last tick, for a planned hand-over. The room
	// stays frozen (no ticks, no snapshots, no checkpoints) until Thaw, or
	// until the Released event for epoch arrives. A match with no running
	// room here (not restored yet) may return its latest checkpoint's state
	// and tick; an error aborts the hand-over.
	Freeze(ctx context.Context, matchID string, epoch uint64) (tick uint32, state []byte, err error)
	// Thaw resumes a room frozen by Freeze; called when the hand-over was
	// refused and the match is still owned here at epoch.
	Thaw(matchID string, epoch uint64)
	// Tick returns the current tick of a local room (admin listings).
	Tick(matchID string) (tick uint32, ok bool)
}

// Capturer is an optional Host method. When the Host implements it, the
// Checkpointer asks for a fresh checkpoint of every local room just before
// each periodic flush, so that the newest committed checkpoint of a room is
// at most one CheckpointInterval (plus the capture wait and Raft's apply
// latency) old whenever its node dies.
type Capturer interface {
	// CaptureCheckpoints makes every room that runs here (not frozen, not
	// paused) call Checkpointer.Checkpoint with its state now, and returns
	// when all have or when ctx ends, with the number of rooms that had not
	// answered by then (their checkpoints arrive later, for the next flush).
	// It must not wait for anything but the rooms.
	CaptureCheckpoints(ctx context.Context) (missed int)
}

// handoverTimeout bounds how long a hand-over keeps retrying its AssignMatch
// before leaving the room frozen (never thawed on an ambiguous outcome).
const handoverTimeout = 30 * time.Second

// Move hands match id over to node to. It runs on the owner (the admin API
// forwards the request there): freeze the room, then one AssignMatch entry
// carrying the final checkpoint, so no game time is lost. If the owner is
// dead the supervisor has already reassigned the match.
func (n *Node) Move(ctx context.Context, id, to string) (MatchInfo, error) {
	m, ok := n.fsm.Lookup(id)
	if !ok {
		return MatchInfo{}, fmt.Errorf("%w: %s", ErrMatchNotFound, id)
	}
	if m.Owner != n.cfg.NodeID {
		return MatchInfo{}, fmt.Errorf("%w: %s is owned by %q, not this node", ErrBadRequest, id, m.Owner)
	}
	if m.Owner == to {
		return m, nil
	}
	t, ok := n.fsm.Node(to)
	if !ok {
		return MatchInfo{}, fmt.Errorf("%w: %s", ErrNodeNotFound, to)
	}
	if t.State != NodeAlive {
		return MatchInfo{}, fmt.Errorf("%w: %s is %s", ErrNodeNotAlive, to, t.State)
	}
	return n.handOver(ctx, m, to)
}

// handOver freezes m's room and applies AssignMatch{From: us, FromEpoch:
// m.Epoch, To: to, Final: state}. The room is thawed only when the outcome is
// known to be a refusal and the FSM still shows the match ours at m.Epoch.
func (n *Node) handOver(ctx context.Context, m MatchInfo, to string) (MatchInfo, error) {
	cmd := &command.AssignMatch{ID: m.ID, FromEpoch: m.Epoch, From: n.cfg.NodeID, To: to}
	h := n.cfg.Host
	if h != nil {
		tick, state, err := h.Freeze(ctx, m.ID, m.Epoch)
		if err != nil {
			return MatchInfo{}, fmt.Errorf("freeze %s: %w", m.ID, err)
		}
		cmd.Final = &command.CheckpointItem{Match: m.ID, Epoch: m.Epoch, Tick: tick, Players: -1, Data: compress(nil, state)}
	}
	// Independent of the caller's ctx: an abandoned hand-over must not leave
	// the outcome unknown.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handoverTimeout)
	defer cancel()
	res, err := n.Apply(actx, cmd)
	if err != nil {
		definite := errors.Is(err, ErrStaleEpoch) || errors.Is(err, ErrNodeNotAlive) ||
			errors.Is(err, ErrNodeNotFound) || errors.Is(err, ErrMatchNotFound) || errors.Is(err, ErrOwnerAlive)
		if cur, ok := n.fsm.Lookup(m.ID); h != nil && definite && ok && cur.Owner == n.cfg.NodeID && cur.Epoch == m.Epoch {
			h.Thaw(m.ID, m.Epoch)
		} else if h != nil && !definite {
			n.log.Error().Err(err).Str(keyMatch, m.ID).Msg("hand-over outcome unknown: room stays frozen")
		}
		return MatchInfo{}, fmt.Errorf("hand over %s to %s: %w", m.ID, to, err)
	}
	tick := uint32(0)
	if cmd.Final != nil {
		tick = cmd.Final.Tick
	}
	n.metrics.Handover()
	n.log.Info().Str(keyMatch, m.ID).Str(keyOwner, to).Uint64(keyEpoch, res.Match.Epoch).Uint32(keyTick, tick).Msg("match handed over")
	_ = n.WaitApplied(actx, res.Index) // so that our own view no longer shows it ours
	return *res.Match, nil
}

// runDrainer hands this node's matches over, one at a time, while the node is
// draining. The watcher wakes it.
func (n *Node) runDrainer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.drainWake:
		}
		for ctx.Err() == nil {
			owned, state := n.fsm.ownedBy(n.cfg.NodeID)
			if state != NodeDraining || len(owned) == 0 {
				break
			}
			m := owned[sortedKeys(owned)[0]]
			to := n.leastLoadedPeer()
			if to == "" {
				n.log.Warn().Msg("drain: no live node to take matches; retrying")
				if !sleepCtx(ctx, time.Second) {
					return
				}
				continue
			}
			if _, err := n.handOver(ctx, m, to); err != nil {
				n.log.Warn().Err(err).Str(keyMatch, m.ID).Msg("drain: hand-over failed; retrying")
				if !sleepCtx(ctx, 500*time.Millisecond) {
					return
				}
			}
		}
	}
}

// leastLoadedPeer picks the alive node other than this one with the fewest
// matches (ties by id), from the local FSM.
func (n *Node) leastLoadedPeer() string {
	best, bestLoad := "", 0
	for _, nd := range n.fsm.Nodes() {
		if nd.State != NodeAlive || nd.ID == n.cfg.NodeID {
			continue
		}
		if best == "" || nd.Load < bestLoad {
			best, bestLoad = nd.ID, nd.Load
		}
	}
	return best
}
