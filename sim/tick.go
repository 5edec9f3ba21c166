package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// step runs one tick: drain, inputs, World.Step, record, broadcast. Loop
// goroutine only.
func (r *Room) step(now time.Time) {
	r.tick++
	tick := r.tick
	discarded := r.drain(tick)

	r.inputs = r.inputs[:0]
	for _, p := range r.list {
		discarded += p.next(r.cfg.InputBuffer)
		r.inputs = append(r.inputs, PlayerInput{Player: p.id, Input: p.last})
	}
	r.world.Step(tick, r.inputs)

	f := &r.ring[int(tick%uint32(len(r.ring)))]
	f.ents = r.world.AppendEntities(f.ents[:0])
	f.tick = tick
	if r.rec.fn != nil {
		r.record(tick, f.ents)
	}
	r.curTick.Store(tick)
	r.stats.ticks.Add(1)

	t0 := time.Now()
	encodes, sent, bytes := r.broadcast(tick, uint64(now.UnixMilli()))
	r.stats.encNs.Add(uint64(time.Since(t0)))
	r.stats.encodes.Add(uint64(encodes))
	r.stats.snapshots.Add(uint64(sent))
	r.stats.bytes.Add(uint64(bytes))
	r.metrics.Snapshots(encodes, sent, bytes)
	if discarded > 0 {
		r.stats.discarded.Add(uint64(discarded))
		r.metrics.InputsDiscarded(discarded)
	}
}

// drain moves the inputs waiting in each player's queue into its jitter
// buffer without blocking, and records acknowledgements. A queue holds at
// most Config.InputQueue inputs, so a flood cannot hold the tick, and it
// costs only the flooding player's own inputs.
func (r *Room) drain(tick uint32) (discarded int) {
	discarded = int(r.strays.Swap(0)) // for players no longer (or not yet) seated
	for _, p := range r.list {
		r.taken = p.queue.take(r.taken[:0])
		for i := range r.taken {
			in := &r.taken[i]
			if p.detached {
				discarded++ // its connection is gone
				continue
			}
			// An ack is the newest snapshot tick the client applied;
			// anything not yet sent is a lie and ignored.
			if a := in.AckTick; a > p.ack && a < tick {
				p.ack = a
			}
			discarded += p.push(in)
		}
	}
	return discarded
}

// baseline returns the tick to encode against for a client that
// acknowledged ack: ack itself while it is in the ring, else 0 (full).
func (r *Room) baseline(ack, tick uint32) uint32 {
	h := uint32(len(r.ring))
	if ack == 0 || ack >= tick || tick-ack >= h {
		return 0
	}
	if r.ring[int(ack%h)].tick != ack {
		return 0
	}
	return ack
}

// broadcast sends every attached player the snapshot of tick. Players are
// grouped by baseline: one encoding per distinct baseline, patched in place
// with each player's last input seq before SendSnapshot (which copies).
func (r *Room) broadcast(tick uint32, nowMS uint64) (encodes, sent, bytes int) {
	for _, p := range r.list {
		p.sent = p.conn == nil
		if !p.sent {
			p.base = r.baseline(p.ack, tick)
		}
	}
	for i, p := range r.list {
		if p.sent {
			continue
		}
		msg, off := r.encode(tick, p.base, nowMS)
		encodes++
		for _, q := range r.list[i:] {
			if q.sent || q.base != p.base {
				continue
			}
			schema.PatchLastInputSeq(msg, off, q.lastSeq)
			q.conn.SendSnapshot(msg)
			q.sent = true
			sent++
			bytes += len(msg)
		}
	}
	return encodes, sent, bytes
}

// encode encodes the snapshot of tick against base (0: full). The bytes
// alias the encoder and are valid until the next encode.
func (r *Room) encode(tick, base uint32, nowMS uint64) ([]byte, int) {
	h := uint32(len(r.ring))
	cur := r.ring[int(tick%h)].ents
	s := &r.snap
	s.Tick, s.BaselineTick, s.LastInputSeq, s.ServerTimeMS = tick, base, 0, nowMS
	if base == 0 {
		s.Spawned, s.Changes, s.Removed = cur, nil, nil
	} else {
		schema.Diff(&r.delta, r.ring[int(base%h)].ents, cur, tick-base)
		s.Spawned, s.Changes, s.Removed = r.delta.Spawned, r.delta.Changes, r.delta.Removed
	}
	return r.enc.Snapshot(s)
}

// join, leave, attach and detach are the commands' bodies (loop goroutine).

func (r *Room) join(id uint32, conn Conn) (uint32, error) {
	if r.byID[id] != nil {
		return 0, fmt.Errorf("join player %d: %w", id, ErrPlayerExists)
	}
	ent, err := r.world.Join(id)
	if err != nil {
		return 0, fmt.Errorf("join player %d: %w", id, err)
	}
	p := newPlayer(id, conn, r.cfg.InputBuffer, r.cfg.InputQueue)
	p.entity = ent
	r.insert(p)
	r.ckpt.due = true
	r.event(eventJoin, id, ent)
	return ent, nil
}

// insert adds p to the player list (kept sorted by id) and index.
func (r *Room) insert(p *player) {
	i, _ := slices.BinarySearchFunc(r.list, p.id, func(p *player, id uint32) int {
		return cmp.Compare(p.id, id)
	})
	r.list = slices.Insert(r.list, i, p)
	r.byID[p.id] = p
	r.queues.set(p.id, p.queue)
	r.players.Store(int32(len(r.list)))
}

func (r *Room) leave(id uint32) error {
	p := r.byID[id]
	if p == nil {
		return fmt.Errorf("leave player %d: %w", id, ErrNoPlayer)
	}
	r.world.Leave(id)
	delete(r.byID, id)
	r.queues.set(id, nil)
	r.list = slices.DeleteFunc(r.list, func(q *player) bool { return q == p })
	r.players.Store(int32(len(r.list)))
	r.ckpt.due = true
	r.event(eventLeave, id, 0)
	return nil
}

// maybeCheckpoint calls the checkpoint hook when one is due: every
// ckpt.every ticks, or after a join or leave. Loop goroutine, after step.
func (r *Room) maybeCheckpoint() {
	c := &r.ckpt
	if c.fn == nil || (!c.due && r.tick-c.last < c.every) {
		return
	}
	c.due, c.last = false, r.tick
	if r.capture(c.fn) != nil {
		r.stats.ckptErrors.Add(1)
		return
	}
	r.stats.checkpoints.Add(1)
}

// capture marshals the World into the reused buffer, lists the seats and
// calls fn (loop goroutine). It allocates nothing once the buffers have
// grown, unless MarshalState does.
func (r *Room) capture(fn CheckpointFunc) error {
	sm, ok := r.world.(StateMarshaler)
	if !ok {
		return errors.New("capture: the world does not implement MarshalState")
	}
	state, err := sm.MarshalState(r.ckpt.state[:0])
	if err != nil {
		return fmt.Errorf("capture at tick %d: %w", r.tick, err)
	}
	r.ckpt.state = state
	seats := r.ckpt.seats[:0]
	for _, p := range r.list {
		seats = append(seats, Seat{Player: p.id, Entity: p.entity, LastSeq: p.lastSeq})
	}
	r.ckpt.seats = seats
	// A replay from this state starts at the next record: it must list
	// every player's input (record.go).
	r.rec.full = true
	fn(r.tick, state, seats)
	return nil
}

func (r *Room) attach(id uint32, conn Conn, ack uint32) error {
	p := r.byID[id]
	if p == nil {
		return fmt.Errorf("attach player %d: %w", id, ErrNoPlayer)
	}
	p.conn = conn
	p.detached = false
	p.ack = 0
	if ack <= r.tick { // a tick not yet stepped cannot be held
		p.ack = ack
	}
	// The seat changed hands: checkpoint at the next tick, so that what the
	// caller recorded for the new connection (game: its resume token's
	// nonce) reaches the cluster within a tick.
	r.ckpt.due = true
	r.event(eventAttach, id, 0)
	return nil
}

func (r *Room) detach(id uint32) error {
	p := r.byID[id]
	if p == nil {
		return fmt.Errorf("detach player %d: %w", id, ErrNoPlayer)
	}
	p.conn = nil
	p.detached = true
	p.pending = p.pending[:0]
	p.last.MoveX, p.last.MoveY, p.last.Buttons = 0, 0, 0
	return nil
}

// Stats is a point-in-time copy of a room's counters.
type Stats struct {
	Tick            uint32        // newest tick stepped
	Players         int           // players seated
	Ticks           uint64        // ticks stepped
	Overruns        uint64        // ticks that started after the next was due
	SkippedTicks    uint64        // schedule slots skipped after stalls
	PausedTicks     uint64        // ticks not run because the gate was closed
	Checkpoints     uint64        // checkpoint hook calls
	CheckpointFails uint64        // checkpoints that MarshalState failed
	Frozen          bool          // frozen by Freeze
	Paused          bool          // the gate held the last tick
	InputsDropped   uint64        // inputs dropped because their player's queue was full
	InputsDiscarded uint64        // inputs received but never applied
	Encodes         uint64        // snapshot encodings (one per distinct baseline per tick)
	Snapshots       uint64        // snapshots handed to connections
	SnapshotBytes   uint64        // their bytes
	EncodeTime      time.Duration // total time spent encoding and handing out snapshots
	Saturation      float64       // busy fraction of the loop over the last second
}

// Stats returns the room's counters. Safe from any goroutine.
func (r *Room) Stats() Stats {
	c := &r.stats
	return Stats{
		Tick:            r.curTick.Load(),
		Players:         int(r.players.Load()),
		Ticks:           c.ticks.Load(),
		Overruns:        c.overruns.Load(),
		SkippedTicks:    c.skipped.Load(),
		PausedTicks:     c.paused.Load(),
		Checkpoints:     c.checkpoints.Load(),
		CheckpointFails: c.ckptErrors.Load(),
		Frozen:          r.isFroze.Load(),
		Paused:          r.isPause.Load(),
		InputsDropped:   c.dropped.Load(),
		InputsDiscarded: c.discarded.Load(),
		Encodes:         c.encodes.Load(),
		Snapshots:       c.snapshots.Load(),
		SnapshotBytes:   c.bytes.Load(),
		EncodeTime:      time.Duration(c.encNs.Load()),
		Saturation:      math.Float64frombits(c.saturation.Load()),
	}
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
