package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// Gate says whether a room may run now. The room asks it once per tick, on
// its own goroutine: while it is closed the room neither steps nor sends
// snapshots (the ticks are counted as paused), and when it opens again the
// room continues from its current tick, one period later, without a
// catch-up burst. The node wires the cluster's owner lease in through it
// (replication.Node.LeaseValid behind a small adapter). Open must be cheap,
// must not block and must not allocate.
type Gate interface {
	Open() bool
}

// StateMarshaler is a World that can serialise its complete state (game.Game
// is one). Checkpoints need it.
type StateMarshaler interface {
	MarshalState(dst []byte) ([]byte, error)
}

// Seat is one seated player as a checkpoint records it: the player, its
// entity (from World.Join), the seq of the last input the room applied for
// it, of the newest client event the room applied for it (InSeq) and of
// the newest server event queued for it (OutSeq: the next gets OutSeq+1),
// so that both keep counting on another node.
//
// Unsettled says the seat was restored (WithRestore) and no client has
// attached to it since, OutBase the OutSeq it was restored with: the
// server events numbered above OutBase are this room's, and the seat's
// client may hold the same seqs from an earlier owner (events of ticks a
// failover lost). Its resume moves them past the newest it holds
// (Room.Resume). A room restored from an unsettled seat keeps its OutBase,
// so that a second failover before the client resumes loses no event
// either.
type Seat struct {
	Player    uint32
	Entity    uint32
	LastSeq   uint32
	InSeq     uint32
	OutSeq    uint32
	Unsettled bool
	OutBase   uint32
}

// QueuedEvent is a server event queued for a player, as Replay returns the
// ones the World sent during the ticks it replayed (WithQueuedEvents queues
// them again). Event.Data is the holder's own.
type QueuedEvent struct {
	Player uint32
	Event  schema.Event
}

// CheckpointFunc receives a room's state between two ticks, on the room
// goroutine: the newest tick stepped, the World's MarshalState output and
// the seats in player order. state and seats are reused by the room after
// the call returns: the callee copies what it keeps. It must not block and
// must not call the Room.
type CheckpointFunc func(tick uint32, state []byte, seats []Seat)

// Option configures a Room at NewRoom.
type Option func(*options)

type options struct {
	gate      Gate
	restored  bool
	startTick uint32
	seats     []Seat
	ckptEvery time.Duration
	ckptFn    CheckpointFunc
	recFn     RecordFunc
	recNote   SeatNoteFunc
	queued    []QueuedEvent
}

// WithGate makes the room tick only while g is open (see Gate).
func WithGate(g Gate) Option { return func(o *options) { o.gate = g } }

// WithRestore starts the room at tick with the given seats, for a World the
// caller has already restored (UnmarshalState) from a checkpoint taken at
// that tick. The first tick stepped is tick+1. The seats are seated without
// World.Join (the restored World already has their entities) and without a
// connection, as if they had disconnected: Attach gives them one.
func WithRestore(tick uint32, seats []Seat) Option {
	return func(o *options) {
		o.restored, o.startTick = true, tick
		o.seats = append([]Seat(nil), seats...)
	}
}

// WithQueuedEvents queues evs again for their players in a room restored
// (WithRestore) after a Replay: the server events the World sent during
// the replayed ticks (Replayed.Events), with their seqs, which the seats'
// OutSeq already count. Events of players not restored are dropped. The
// room keeps the slice until NewRoom returns.
func WithQueuedEvents(evs []QueuedEvent) Option {
	return func(o *options) { o.queued = evs }
}

// WithCheckpoint calls fn with the room's state every `every` of game time
// (rounded to whole ticks, at least one), and at the next tick after a
// player joins or leaves, so that seats reach a checkpoint soon. A paused or
// frozen room takes no checkpoints. The World must implement
// StateMarshaler.
func WithCheckpoint(every time.Duration, fn CheckpointFunc) Option {
	return func(o *options) { o.ckptEvery, o.ckptFn = every, fn }
}

func (o *options) validate(world World) error {
	if o.ckptFn != nil {
		if o.ckptEvery <= 0 {
			return fmt.Errorf("checkpoint interval %v: must be > 0", o.ckptEvery)
		}
		if _, ok := world.(StateMarshaler); !ok {
			return errors.New("checkpoints: the world does not implement MarshalState")
		}
	}
	seen := make(map[uint32]bool, len(o.seats))
	for _, s := range o.seats {
		if seen[s.Player] {
			return fmt.Errorf("restore: player %d seated twice", s.Player)
		}
		seen[s.Player] = true
	}
	return nil
}

// ticksOf converts a duration of game time to whole ticks (at least 1).
func ticksOf(d time.Duration, rate int) uint32 {
	n := (d*time.Duration(rate) + time.Second/2) / time.Second
	return uint32(max(n, 1))
}
