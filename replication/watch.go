package replication

import (
	"context"
	"slices"
)

// EventKind says whether this node gained or lost a match.
type EventKind uint8

const (
	// Acquired: this node now owns the match at Epoch. Restore the latest
	// checkpoint (Node.LatestCheckpoint; none for a new match) and tick the
	// room while LeaseValid(), checkpointing with Epoch.
	Acquired EventKind = 1
	// Released: this node no longer owns the match at Epoch (moved, declared
	// dead, or ended). Stop the room at once; do not checkpoint it again.
	Released EventKind = 2
)

func (k EventKind) String() string {
	switch k {
	case Acquired:
		return "acquired"
	case Released:
		return "released"
	}
	return "unknown"
}

// OwnershipEvent tells the local game layer that a match was assigned to or
// taken from this node.
type OwnershipEvent struct {
	Kind  EventKind
	Epoch uint64 // Acquired: the new epoch; Released: the epoch this node lost
	// Match is the match as the FSM holds it now (for Released: its new owner
	// and epoch, or the last known state when Ended).
	Match MatchInfo
	Ended bool // Released because the match no longer exists
}

// Ownership returns the channel of ownership changes for this node (one
// consumer, normally game.Manager). Events are level-triggered: the watcher
// diffs the FSM's view of "matches owned here" against what it delivered,
// so bursts coalesce and a Released always precedes a re-Acquired of the
// same match. Calling it (re)delivers Acquired for every match owned now.
// The watcher blocks while the channel is full; it never blocks Raft.
func (n *Node) Ownership() <-chan OwnershipEvent {
	n.eventsWanted.Store(true)
	select {
	case n.watchWake <- struct{}{}:
	default:
	}
	return n.events
}

// runWatch is the ownership watcher goroutine: it wakes when the FSM signals
// a change of nodes or owners, and wakes the drainer when this node drains.
func (n *Node) runWatch(ctx context.Context) {
	delivered := make(map[string]uint64) // match → epoch delivered as Acquired
	wanted := false
	for {
		if !wanted && n.eventsWanted.Load() {
			wanted = true
			clear(delivered) // first consumer: replay everything owned now
		}
		owned, state := n.fsm.ownedBy(n.cfg.NodeID)
		for _, id := range sortedKeys(delivered) {
			ep := delivered[id]
			if m, ok := owned[id]; ok && m.Epoch == ep {
				continue
			}
			ev := OwnershipEvent{Kind: Released, Epoch: ep}
			if m, ok := n.fsm.Lookup(id); ok {
				ev.Match = m
			} else {
				ev.Match, ev.Ended = MatchInfo{ID: id}, true
			}
			if !n.emit(ctx, wanted, ev) {
				return
			}
			delete(delivered, id)
		}
		for _, id := range sortedKeys(owned) {
			if _, ok := delivered[id]; ok {
				continue
			}
			m := owned[id]
			if !n.emit(ctx, wanted, OwnershipEvent{Kind: Acquired, Epoch: m.Epoch, Match: m}) {
				return
			}
			delivered[id] = m.Epoch
		}
		if state == NodeDraining && len(owned) > 0 {
			select {
			case n.drainWake <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-n.fsm.changed:
		case <-n.watchWake:
		}
	}
}

func (n *Node) emit(ctx context.Context, wanted bool, ev OwnershipEvent) bool {
	n.log.Debug().Str(keyMatch, ev.Match.ID).Stringer(keyKind, ev.Kind).Uint64(keyEpoch, ev.Epoch).Msg("ownership change")
	if !wanted {
		return true
	}
	select {
	case n.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
