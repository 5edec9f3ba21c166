package sim

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// Sentinel errors of the room. Errors returned by Room methods wrap one of
// them (or the World's own error, for Join).
var (
	// ErrStopped: the room loop is not running (stopped, or crashed).
	ErrStopped = errors.New("room stopped")
	// ErrPlayerExists: Join of a player already in the room.
	ErrPlayerExists = errors.New("player already in room")
	// ErrNoPlayer: the player is not in the room.
	ErrNoPlayer = errors.New("player not in room")
	// ErrCrashed: the World panicked; Room.Err wraps it with the panic.
	ErrCrashed = errors.New("room crashed")
)

// Room runs one World on a fixed tick. One goroutine, started by Start,
// owns the world and every per-player record (an actor): Join, JoinWith,
// Leave, Attach, Detach and Do are commands executed on it between ticks,
// and inputs and client events reach it through bounded queues per player
// that PushInput and PushEvent never block on (a client that floods fills
// only its own queues).
//
// Each tick the loop drains the queues, hands the World the new client
// events, applies at most one input per player in seq order, steps the
// World, records its state (a gamedelta.World in the gamedelta.Encoder's
// ring of the last Config.History ticks), and sends every attached client a snapshot
// encoded against the tick that client acknowledged (full when that tick
// is gone). Encodings are shared between clients that need the same.
type Room struct {
	name    string
	cfg     Config
	world   World
	metrics Metrics

	queues inboxes       // per-player input and event queues, by player id
	strays atomic.Uint64 // inputs for players not seated (or too long), counted as discarded at the next tick
	cmds   chan command
	stop   chan struct{}
	done   chan struct{}
	err    error // set by the loop before done is closed

	startOnce sync.Once
	stopOnce  sync.Once

	curTick atomic.Uint32
	players atomic.Int32
	stats   counters

	// Owned by the loop goroutine (or by a test driving the room without
	// Start).
	tick      uint32
	list      []*player // sorted by id
	byID      map[uint32]*player
	inputs    []PlayerInput
	taken     []schema.Input // drain's scratch: one player's queued inputs
	takenData [][]byte       // storage of taken's Data, by index
	snaps     snapshotter    // state capture and snapshots (snapshots.go)
	sat       saturation

	// The World's optional interfaces (gameapi.go), nil when it lacks them.
	joiner  InfoJoiner
	handler EventHandler
	// joining is the player whose Join or JoinWith runs (its events may
	// be sent before it is seated); evTick is the tick a server event
	// queued now belongs to; ending is set by Outbox.End.
	joining   *player
	evTick    uint32
	ending    bool
	endReason string

	// Lifecycle of the loop (loop goroutine): frozen by Freeze until Thaw;
	// halted while frozen or while the gate is closed (the clock is
	// re-anchored when the room runs again).
	gate    Gate
	frozen  bool
	halted  bool
	ckpt    checkpointer
	rec     recorder
	isFroze atomic.Bool // frozen, readable from any goroutine
	isPause atomic.Bool // halted by the gate, readable from any goroutine
}

// checkpointer is the room's checkpoint hook state (loop goroutine).
type checkpointer struct {
	fn    CheckpointFunc
	every uint32 // ticks between checkpoints
	last  uint32 // tick of the last checkpoint
	due   bool   // a join or leave since: checkpoint at the next tick
	state []byte // reused MarshalState buffer
	seats []Seat // reused
}

// command is a function run on the loop goroutine; its result goes to done
// (capacity 1, so the loop never blocks on it).
type command struct {
	fn   func() error
	done chan error
}

// counters are the room's statistics, written by the loop (and PushInput)
// and read by Stats from any goroutine.
type counters struct {
	ticks, overruns, skipped         atomic.Uint64
	paused, checkpoints, ckptErrors  atomic.Uint64
	dropped, discarded               atomic.Uint64
	encodes, snapshots, bytes, encNs atomic.Uint64
	saturation                       atomic.Uint64 // math.Float64bits
	evIn, evDiscarded                atomic.Uint64 // client events applied; dropped (resent, not seated, too long)
	evOut, evDropped, evOverflows    atomic.Uint64 // server events queued; for nobody; dropped by a full queue
}

// NewRoom returns a room for world, not yet running. name labels its
// goroutine in profiles. A nil m means NopMetrics. Options add a gate
// (WithGate), a restored start (WithRestore, WithQueuedEvents),
// checkpoints (WithCheckpoint) and the tick log (WithRecord).
//
// world must be a StateWriter, and Config.Codec its layout. A World that
// is an OutboxUser gets its Outbox here, before anything else is called.
func NewRoom(name string, cfg Config, world World, m Metrics, opts ...Option) (*Room, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("room config: %w", err)
	}
	if world == nil {
		return nil, errors.New("room: nil world")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(world); err != nil {
		return nil, fmt.Errorf("room options: %w", err)
	}
	if m == nil {
		m = NopMetrics{}
	}
	r := &Room{
		name:      name,
		cfg:       cfg,
		world:     world,
		metrics:   m,
		taken:     make([]schema.Input, 0, cfg.InputQueue),
		takenData: make([][]byte, cfg.InputQueue),
		cmds:      make(chan command, 16),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		byID:      make(map[uint32]*player),
	}
	snaps, err := newSnapshotter(r, world)
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", name, err)
	}
	r.snaps = snaps
	r.joiner, _ = world.(InfoJoiner)
	r.handler, _ = world.(EventHandler)
	r.gate = o.gate
	if o.ckptFn != nil {
		r.ckpt = checkpointer{fn: o.ckptFn, every: ticksOf(o.ckptEvery, cfg.TickRate)}
	}
	if o.recFn != nil {
		// The first record is full: a replay from the state this room
		// starts with (fresh, or restored) needs every player's input.
		r.rec = recorder{fn: o.recFn, note: o.recNote, full: true}
	}
	if o.restored {
		r.tick = o.startTick
		r.curTick.Store(o.startTick)
		r.ckpt.last = o.startTick
		for _, s := range o.seats {
			p := r.newPlayer(s.Player, nil)
			p.entity, p.lastSeq, p.detached = s.Entity, s.LastSeq, true
			p.inSeq, p.out.seq = s.InSeq, s.OutSeq
			p.out.restored, p.out.base = true, s.OutSeq
			if s.Unsettled { // restored before, and not attached since
				p.out.base = min(s.OutBase, s.OutSeq)
			}
			p.box.applied.Store(s.InSeq)
			r.snaps.seat(p)
			r.insert(p)
		}
		for _, ev := range o.queued {
			if p := r.byID[ev.Player]; p != nil && ev.Event.Seq > p.out.acked {
				p.out.put(ev.Event.Seq, ev.Event.Tick, ev.Event.Data, cfg.EventQueue)
			}
		}
	}
	r.evTick = r.tick + 1
	if ou, ok := world.(OutboxUser); ok {
		ou.SetOutbox(roomOutbox{r})
	}
	return r, nil
}

// newPlayer returns the record of a player about to be seated, with its
// queues.
func (r *Room) newPlayer(id uint32, conn Conn) *player {
	p := newPlayer(id, conn, r.cfg.InputBuffer, r.cfg.InputQueue)
	p.box.events = &eventQueue{limit: r.cfg.ClientEventQueue}
	return p
}

// Name returns the name given to NewRoom.
func (r *Room) Name() string { return r.name }

// Config returns the room's configuration.
func (r *Room) Config() Config { return r.cfg }

// Start launches the loop goroutine. The first tick is due one period later.
// Calling Start again, or after Stop, does nothing.
func (r *Room) Start() {
	r.startOnce.Do(func() {
		go pprof.Do(context.Background(), pprof.Labels("room", r.name), func(context.Context) {
			r.run()
		})
	})
}

// Stop stops the loop and waits for it to exit, or for ctx. It is
// idempotent and safe from any goroutine except the loop itself (a World
// must not call it). Commands waiting for the loop fail with ErrStopped.
func (r *Room) Stop(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stop) })
	// A room never started has no loop to close done.
	r.startOnce.Do(func() { close(r.done) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop room %s: %w", r.name, ctx.Err())
	}
}

// Done is closed when the loop has exited (Stop, a crash, or the World
// ending its match: see Err).
func (r *Room) Done() <-chan struct{} { return r.done }

// Err returns why the loop exited: nil after Stop, an error wrapping
// ErrCrashed when the World panicked, an *EndedError (wrapping ErrEnded)
// when the World ended its match (Outbox.End). Valid once Done is closed.
func (r *Room) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Tick returns the newest tick stepped (0 before the first). Safe from any
// goroutine.
func (r *Room) Tick() uint32 { return r.curTick.Load() }

// PushInput queues one input of player for the next tick, in that player's
// own queue (Config.InputQueue inputs). It is called on a connection's read
// goroutine, never blocks, does not keep in and copies in.Data into the
// queue's own storage (which grows once per slot to the longest data seen,
// and then allocates nothing). It returns false when an input was dropped:
// the player's queue was full and its oldest input made room (counted in
// Stats.InputsDropped and Metrics.InputDropped), or the player is not
// seated, or in.Data is longer than Config.MaxInputBytes (both counted as
// discarded at the next tick). Other players' inputs are never affected.
func (r *Room) PushInput(player uint32, in *schema.Input) bool {
	b := r.queues.get(player)
	if b == nil || len(in.Data) > r.cfg.MaxInputBytes {
		r.strays.Add(1)
		return false
	}
	if !b.inputs.push(in) {
		r.stats.dropped.Add(1)
		r.metrics.InputDropped()
		return false
	}
	return true
}

// Join seats player with conn (nil: no snapshots until Attach) and returns
// the id of its entity from World.Join. ctx bounds the wait to hand the
// command to the loop; once handed over, the command runs and Join waits
// for its result, so that a cancelled ctx never leaves an unknown outcome.
//
// A World that is an InfoJoiner gets JoinWith with a JoinInfo of the
// player alone (see Room.JoinWith).
func (r *Room) Join(ctx context.Context, player uint32, conn Conn) (entity uint32, err error) {
	err = r.exec(ctx, func() error {
		var jerr error
		entity, jerr = r.join(player, conn, nil)
		return jerr
	})
	return entity, err
}

// JoinWith is Join of info.Player with what the player brings: a World
// that is an InfoJoiner gets info in JoinWith, any other World is joined
// with World.Join. The tick log records info (name, payload, claims) so
// that a replay joins the same. info's slices are read during the call
// only. A game's refusal comes back wrapped: errors.As finds its
// *RefuseError.
func (r *Room) JoinWith(ctx context.Context, info JoinInfo, conn Conn) (entity uint32, err error) {
	err = r.exec(ctx, func() error {
		var jerr error
		entity, jerr = r.join(info.Player, conn, &info)
		return jerr
	})
	return entity, err
}

// Leave removes player and its entity (World.Leave).
func (r *Room) Leave(ctx context.Context, player uint32) error {
	return r.exec(ctx, func() error { return r.leave(player) })
}

// Attach gives player a new connection, for example on resume. ack is the
// newest tick the client holds (0: none): the next snapshot is a delta
// against it while it is in the history ring. It is Resume with no server
// event held.
func (r *Room) Attach(ctx context.Context, player uint32, conn Conn, ack uint32) error {
	return r.exec(ctx, func() error { return r.attach(player, conn, ack) })
}

// Resume is Attach of a resuming client that says which server events it
// holds: eventAck is the newest server event seq it received
// (schema.Hello.EventAck; 0: none). The events queued for player up to it
// are dropped, and the seat's server event seqs move past it: after a
// failover the client may hold seqs from the previous owner (events of
// ticks the tick log lost) that this room numbered again since it was
// restored; those events of this room are numbered after eventAck, and so
// is every later one. The move is logged with the attach (tick log), so a
// replay numbers the same.
func (r *Room) Resume(ctx context.Context, player uint32, conn Conn, ack, eventAck uint32) error {
	return r.exec(ctx, func() error { return r.resume(player, conn, ack, eventAck) })
}

// Detach takes player's connection away (it disconnected) but keeps the
// player in the world. Its buffered inputs are dropped and its last input's
// data is cleared (the game sees an empty input), so that its entity stands
// still.
func (r *Room) Detach(ctx context.Context, player uint32) error {
	return r.exec(ctx, func() error { return r.detach(player) })
}

// Do runs fn on the loop goroutine between ticks, with the newest tick, and
// returns its error. fn may use the World (e.g. to checkpoint it) but must
// not keep it or call the Room.
func (r *Room) Do(ctx context.Context, fn func(tick uint32) error) error {
	return r.exec(ctx, func() error { return fn(r.tick) })
}

// Freeze stops the room from ticking, sending snapshots and taking
// checkpoints until Thaw, and returns its newest tick; commands (Do,
// Capture, Join, ...) still run. Freezing a frozen room returns the same
// tick. Used for a planned hand-over: Capture the frozen state, give it to
// the new owner, then Stop.
func (r *Room) Freeze(ctx context.Context) (tick uint32, err error) {
	err = r.exec(ctx, func() error {
		r.frozen = true
		r.isFroze.Store(true)
		tick = r.tick
		return nil
	})
	return tick, err
}

// Thaw undoes Freeze: the room ticks again one period later, from its
// current tick (no catch-up for the time it was frozen).
func (r *Room) Thaw(ctx context.Context) error {
	return r.exec(ctx, func() error {
		r.frozen = false
		r.isFroze.Store(false)
		return nil
	})
}

// Capture runs fn on the loop goroutine between ticks with the room's state
// now (newest tick, MarshalState, seats), as a checkpoint would see it,
// whether or not the room is frozen or paused. The World must implement
// StateMarshaler. fn copies what it keeps.
func (r *Room) Capture(ctx context.Context, fn CheckpointFunc) error {
	return r.exec(ctx, func() error { return r.capture(fn) })
}

// Frozen reports whether the room is frozen. Safe from any goroutine.
func (r *Room) Frozen() bool { return r.isFroze.Load() }

// Paused reports whether the room's gate held its last tick. Safe from any
// goroutine.
func (r *Room) Paused() bool { return r.isPause.Load() }

// Players returns the number of players in the room. Safe from any
// goroutine.
func (r *Room) Players() int { return int(r.players.Load()) }

func (r *Room) exec(ctx context.Context, fn func() error) error {
	c := command{fn: fn, done: make(chan error, 1)}
	select {
	case r.cmds <- c:
	case <-r.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-r.done:
		// The loop may have run the command just before exiting.
		select {
		case err := <-c.done:
			return err
		default:
			return ErrStopped
		}
	}
}

// run is the loop goroutine.
func (r *Room) run() {
	defer close(r.done)
	defer func() {
		if p := recover(); p != nil {
			r.err = fmt.Errorf("%w: panic: %v\n%s", ErrCrashed, p, debug.Stack())
		}
	}()
	now := time.Now()
	period := r.cfg.Period()
	clock := NewClock(now, r.cfg.TickRate, r.cfg.MaxCatchUp)
	r.sat = newSaturation(now, time.Second)
	timer := time.NewTimer(clock.Wait(now))
	defer timer.Stop()
	var overruns, skipped uint64
	for {
		select {
		case <-r.stop:
			return
		case c := <-r.cmds:
			t0 := time.Now()
			c.done <- c.fn()
			r.busy(t0, time.Now())
		case <-timer.C:
			t0 := time.Now()
			if r.hold() {
				// Frozen or gated: no step, no snapshot, no checkpoint. Poll
				// again one period later.
				timer.Reset(period)
				continue
			}
			if r.halted {
				// Running again: re-anchor the schedule so that slot 1 of
				// a fresh clock is due now. No burst for the time lost.
				r.halted = false
				r.isPause.Store(false)
				clock = NewClock(t0.Add(-period), r.cfg.TickRate, r.cfg.MaxCatchUp)
				overruns, skipped = 0, 0
			}
			if _, ok := clock.Advance(t0); ok {
				if n := clock.Overruns() - overruns; n > 0 {
					overruns += n
					r.stats.overruns.Add(n)
					for ; n > 0; n-- {
						r.metrics.Overrun()
					}
				}
				if n := clock.Skipped() - skipped; n > 0 {
					skipped += n
					r.stats.skipped.Add(n)
					r.metrics.TicksSkipped(int(n))
				}
				r.step(t0)
				r.maybeCheckpoint()
				t1 := time.Now()
				r.metrics.TickDuration(t1.Sub(t0))
				r.busy(t0, t1)
				if r.ending {
					// Outbox.End: this tick's snapshots (with the
					// game's last events) are out; the room stops.
					r.err = &EndedError{Tick: r.tick, Reason: r.endReason}
					return
				}
			}
			timer.Reset(clock.Wait(time.Now()))
		}
	}
}

// hold reports whether this tick must not run: the room is frozen, or its
// gate is closed (counted as a paused tick). Loop goroutine.
func (r *Room) hold() bool {
	if r.frozen {
		r.halted = true
		return true
	}
	if r.gate != nil && !r.gate.Open() {
		r.halted = true
		r.isPause.Store(true)
		r.stats.paused.Add(1)
		return true
	}
	return false
}

// busy records loop work for the saturation measure.
func (r *Room) busy(from, to time.Time) {
	if f, ok := r.sat.work(from, to); ok {
		r.stats.saturation.Store(floatBits(f))
		r.metrics.Saturation(f)
	}
}
