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

// DefaultWorldRing is the number of reconstructed worlds a World keeps
// unless told otherwise (Config.WorldRing, NewWorld). It matches the
// server's history ring (sim.Config.History, 64 by default): a server that
// deltas only against acks within its own ring of at most DefaultWorldRing
// ticks always finds its baseline here (see World.Apply).
const DefaultWorldRing = 64

// MaxWorldRing bounds Config.WorldRing and NewWorld.
const MaxWorldRing = 4096

// worldSlot is one reconstructed world. Its slice is reused when the slot is
// overwritten.
type worldSlot struct {
	tick uint32 // 0: empty
	ents []schema.Entity
}

// World is the client-side reconstruction of the server's world: it applies
// each Snapshot (full, or a delta against a world it holds) and keeps the
// last R worlds it built, by tick, as baselines for later deltas (R: the
// ring size, DefaultWorldRing unless set by NewWorld or Config.WorldRing).
//
// The zero value is an empty World with a ring of DefaultWorldRing, ready
// to use. A World is not safe for concurrent use: the client's goroutine
// owns it (its Handler may read it during OnSnapshot). In steady state
// Apply allocates nothing: each ring slot reuses its slice.
//
// Memory: each slot holds one world (24 B per entity), so R worlds of n
// entities cost about R·n·24 B once the ring has filled: 98 KB for the
// arena's 64 entities at R = 64, 12 KB at R = 8.
type World struct {
	slots  []worldSlot     // slot tick%len(slots) holds tick; nil: not sized yet
	spare  []schema.Entity // the next world is built here, then swapped into its slot
	newest uint32          // newest applied tick; 0: none
	// ticksOnly: keep only the newest tick, build no world (Config.SkipWorld).
	ticksOnly bool
}

// NewWorld returns an empty World that keeps the last ring worlds as
// baselines (1..MaxWorldRing; 0 or less means DefaultWorldRing, more than
// MaxWorldRing is capped).
func NewWorld(ring int) *World {
	w := &World{}
	w.setRing(ring)
	return w
}

// setRing sizes the ring (see NewWorld) and forgets every world.
func (w *World) setRing(ring int) {
	if ring <= 0 {
		ring = DefaultWorldRing
	}
	ring = min(ring, MaxWorldRing)
	w.slots = make([]worldSlot, ring)
	w.newest = 0
}

// skipWorlds makes the World keep only the newest tick (Config.SkipWorld):
// Apply records each newer snapshot's tick and builds nothing; Entities is
// always empty.
func (w *World) skipWorlds() {
	w.ticksOnly = true
	w.slots, w.spare = nil, nil
}

// Ring returns how many worlds the World keeps (0 with Config.SkipWorld).
func (w *World) Ring() int {
	if w.ticksOnly {
		return 0
	}
	if w.slots == nil {
		return DefaultWorldRing
	}
	return len(w.slots)
}

// slot returns the ring slot of tick.
func (w *World) slot(tick uint32) *worldSlot {
	return &w.slots[tick%uint32(len(w.slots))]
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
// Why a ring of R keyed by tick%R is enough when R covers the server's
// history: a server encoding tick T deltas only against a tick B ≥ T−63
// that this client acked, hence applied and stored. The slot of B is
// overwritten only by a tick ≥ B+R; with R ≥ 64 that is > T, and once such a
// tick is applied, the snapshot of T is older than the newest and is ignored
// before its baseline is looked up.
//
// A smaller ring (memory: many clients in one process) holds B as long as
// fewer than R ticks separate the client's ack B from the newest world it
// has applied, which is about the input→snapshot round trip in ticks. A
// longer one evicts B: that snapshot is refused with ErrNoBaseline (the
// world is unchanged) and the next ones heal it, because the client always
// acks its newest world, which the ring always holds.
func (w *World) Apply(s *schema.Snapshot) error {
	if s.Tick <= w.newest {
		return nil
	}
	if w.ticksOnly {
		w.newest = s.Tick
		return nil
	}
	if w.slots == nil {
		w.setRing(DefaultWorldRing)
	}
	var base []schema.Entity
	if s.BaselineTick != 0 {
		if s.BaselineTick >= s.Tick {
			return fmt.Errorf("snapshot %d: baseline %d not before it: %w", s.Tick, s.BaselineTick, schema.ErrBadDelta)
		}
		b := w.slot(s.BaselineTick)
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
	// The baseline may sit in the slot being replaced (B = T−R): it was
	// read above, before the swap.
	slot := w.slot(s.Tick)
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
	if w.newest == 0 || w.ticksOnly {
		return nil
	}
	return w.slot(w.newest).ents
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
