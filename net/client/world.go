package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ticksync/ticksync/schema"
)

// ErrNoBaseline: a delta snapshot names a baseline tick the World does not
// hold (never applied, or fallen out of its ring).
var ErrNoBaseline = errors.New("snapshot baseline not held")

// worldRing is the number of reconstructed worlds a World keeps. A server
// that deltas only against acks within its own ring of at most worldRing
// ticks always finds its baseline here (see World.Apply).
const worldRing = 64

// worldSlot is one reconstructed world. Its slice is reused when the slot is
// overwritten.
type worldSlot struct {
	tick uint32 // 0: empty
	ents []schema.Entity
}

// World is the client-side reconstruction of the server's world: it applies
// each Snapshot (full, or a delta against a world it holds) and keeps the
// last worldRing worlds it built, by tick, as baselines for later deltas.
//
// The zero value is an empty World, ready to use. A World is not safe for
// concurrent use: the client's goroutine owns it (its Handler may read it
// during OnSnapshot). In steady state Apply allocates nothing: each ring
// slot reuses its slice.
type World struct {
	slots  [worldRing]worldSlot // slot tick%worldRing holds tick
	spare  []schema.Entity      // the next world is built here, then swapped into its slot
	newest uint32               // newest applied tick; 0: none
}

// Apply applies the snapshot s to the world. A full snapshot
// (BaselineTick 0) replaces the world with s.Spawned; a delta is applied
// with schema.Apply against the world held at s.BaselineTick. The result
// becomes the newest world, kept under s.Tick.
//
// A snapshot not newer than the newest applied one is ignored (the network
// reordered it) and Apply returns nil; so is tick 0, which rooms never send. A delta whose baseline is not held
// returns an error wrapping ErrNoBaseline; a delta that does not fit its
// baseline one wrapping schema.ErrBadDelta. On error the world is unchanged.
//
// Why a ring of worldRing keyed by tick%worldRing is enough: a server
// encoding tick T deltas only against a tick B ≥ T−63 that this client
// acked, hence applied and stored. The slot of B is overwritten only by a
// tick ≥ B+64 > T; once such a tick is applied, the snapshot of T is older
// than the newest and is ignored before its baseline is looked up.
func (w *World) Apply(s *schema.Snapshot) error {
	if s.Tick <= w.newest {
		return nil
	}
	var base []schema.Entity
	if s.BaselineTick != 0 {
		if s.BaselineTick >= s.Tick {
			return fmt.Errorf("snapshot %d: baseline %d not before it: %w", s.Tick, s.BaselineTick, schema.ErrBadDelta)
		}
		b := &w.slots[s.BaselineTick%worldRing]
		if b.tick != s.BaselineTick {
			return fmt.Errorf("snapshot %d: baseline %d: %w", s.Tick, s.BaselineTick, ErrNoBaseline)
		}
		base = b.ents
	}
	next, err := schema.Apply(w.spare, base, s.Tick-s.BaselineTick, s.Spawned, s.Changes, s.Removed)
	if err != nil {
		w.spare = next[:0]
		return fmt.Errorf("snapshot %d on baseline %d: %w", s.Tick, s.BaselineTick, err)
	}
	// The baseline may sit in the slot being replaced (B = T−64): it was
	// read above, before the swap.
	slot := &w.slots[s.Tick%worldRing]
	w.spare = slot.ents[:0]
	slot.tick, slot.ents = s.Tick, next
	w.newest = s.Tick
	return nil
}

// Reset forgets every world (keeping the memory). Call it when a new
// connection starts: after a failover the new owner's ticks may repeat ones
// this World holds with different contents, and their snapshots would be
// ignored as old.
func (w *World) Reset() {
	for i := range w.slots {
		w.slots[i].tick = 0
		w.slots[i].ents = w.slots[i].ents[:0]
	}
	w.newest = 0
}

// Tick is the tick of the newest world, 0 before the first snapshot.
func (w *World) Tick() uint32 { return w.newest }

// AckTick is the newest applied tick: what the client sends as
// Input.ack_tick, the baseline it asks the server to delta against.
func (w *World) AckTick() uint32 { return w.newest }

// Entities returns the newest world, sorted by ID. The slice belongs to the
// World: read it, do not modify or keep it past the next Apply or Reset.
func (w *World) Entities() []schema.Entity {
	if w.newest == 0 {
		return nil
	}
	return w.slots[w.newest%worldRing].ents
}

// Entity returns the entity id in the newest world.
func (w *World) Entity(id uint32) (schema.Entity, bool) {
	ents := w.Entities()
	i, ok := slices.BinarySearchFunc(ents, id, func(e schema.Entity, id uint32) int {
		switch {
		case e.ID < id:
			return -1
		case e.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return schema.Entity{}, false
	}
	return ents[i], true
}
