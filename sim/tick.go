package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// step runs one tick: drain, client events, inputs, World.Step, capture,
// record, broadcast. Loop goroutine only.
func (r *Room) step(now time.Time) {
	r.tick++
	tick := r.tick
	r.evTick = tick
	discarded := r.drain(tick)
	if n := r.applyEvents(); n > 0 {
		r.stats.evDiscarded.Add(uint64(n))
	}

	r.inputs = r.inputs[:0]
	for _, p := range r.list {
		discarded += p.next(r.cfg.InputBuffer)
		r.inputs = append(r.inputs, PlayerInput{Player: p.id, Input: p.last})
	}
	r.world.Step(tick, r.inputs)

	r.snaps.capture(tick)
	if r.rec.fn != nil {
		r.record(tick, r.snaps.hash())
	}
	r.curTick.Store(tick)
	r.stats.ticks.Add(1)

	t0 := time.Now()
	encodes, sent, bytes := r.snaps.broadcast(tick, uint64(now.UnixMilli()))
	r.stats.encNs.Add(uint64(time.Since(t0)))
	r.stats.encodes.Add(uint64(encodes))
	r.stats.snapshots.Add(uint64(sent))
	r.stats.bytes.Add(uint64(bytes))
	r.metrics.Snapshots(encodes, sent, bytes)
	if discarded > 0 {
		r.stats.discarded.Add(uint64(discarded))
		r.metrics.InputsDiscarded(discarded)
	}
	// Events the World sends between ticks (from Join, Leave) go out
	// with the next.
	r.evTick = tick + 1
}

// drain moves the inputs waiting in each player's queue into its jitter
// buffer without blocking, and records acknowledgements (of snapshot ticks
// and of server events). A queue holds at most Config.InputQueue inputs, so
// a flood cannot hold the tick, and it costs only the flooding player's own
// inputs.
func (r *Room) drain(tick uint32) (discarded int) {
	discarded = int(r.strays.Swap(0)) // for players no longer (or not yet) seated
	for _, p := range r.list {
		r.taken = p.box.inputs.take(r.taken[:0], r.takenData)
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
			p.out.ack(in.EventAck)
			discarded += p.push(in, &r.takenData[i])
		}
	}
	return discarded
}

// join, leave, attach and detach are the commands' bodies (loop goroutine).

// join seats id: World.JoinWith with info (nil: the player alone) when
// the World is an InfoJoiner, else World.Join. Events the World sends the
// joining player from there are queued for it (r.joining).
func (r *Room) join(id uint32, conn Conn, info *JoinInfo) (uint32, error) {
	if r.byID[id] != nil {
		return 0, fmt.Errorf("join player %d: %w", id, ErrPlayerExists)
	}
	p := r.newPlayer(id, conn)
	r.joining = p
	var ent uint32
	var err error
	if r.joiner != nil {
		j := JoinInfo{Player: id}
		if info != nil {
			j = *info
			j.Player = id
			if len(j.Payload) == 0 {
				j.Payload = nil // as a replay gives it
			}
			if len(j.Claims) == 0 {
				j.Claims = nil
			}
		}
		ent, err = r.joiner.JoinWith(j)
	} else {
		ent, err = r.world.Join(id)
	}
	r.joining = nil
	if err != nil {
		return 0, fmt.Errorf("join player %d: %w", id, err)
	}
	p.entity = ent
	r.snaps.seat(p)
	r.insert(p)
	r.ckpt.due = true
	r.logJoin(id, ent, info)
	return ent, nil
}

// insert adds p to the player list (kept sorted by id) and index.
func (r *Room) insert(p *player) {
	i, _ := slices.BinarySearchFunc(r.list, p.id, func(p *player, id uint32) int {
		return cmp.Compare(p.id, id)
	})
	r.list = slices.Insert(r.list, i, p)
	r.byID[p.id] = p
	r.queues.set(p.id, p.box)
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
	r.event(eventLeave, id)
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
		seats = append(seats, Seat{Player: p.id, Entity: p.entity, LastSeq: p.lastSeq, InSeq: p.inSeq, OutSeq: p.out.seq,
			Unsettled: p.out.restored, OutBase: p.out.base})
	}
	r.ckpt.seats = seats
	// A replay from this state starts at the next record: it must list
	// every player's input (record.go).
	r.rec.full = true
	fn(r.tick, state, seats)
	return nil
}

func (r *Room) attach(id uint32, conn Conn, ack uint32) error {
	return r.resume(id, conn, ack, 0)
}

// resume attaches id's new connection; eventAck is the newest server event
// seq its client holds (Room.Resume).
func (r *Room) resume(id uint32, conn Conn, ack, eventAck uint32) error {
	p := r.byID[id]
	if p == nil {
		return fmt.Errorf("attach player %d: %w", id, ErrNoPlayer)
	}
	p.conn = conn
	p.detached = false
	p.overflowed = false
	p.ack = 0
	if ack <= r.tick { // a tick not yet stepped cannot be held
		p.ack = ack
	}
	r.snaps.attach(p, p.ack)
	// The seqs the client may hold from another owner: those above the
	// seat's restored seq until its first attach here, none after.
	base := p.out.seq
	if p.out.restored {
		base, p.out.restored, p.out.base = p.out.base, false, 0
	}
	moved := p.out.settle(base, eventAck)
	// The seat changed hands: checkpoint at the next tick, so that what the
	// caller recorded for the new connection (game: its resume token's
	// nonce) and the seat's server event seq reach the cluster within a
	// tick.
	r.ckpt.due = true
	if moved {
		r.logAttach(id, base, eventAck)
	} else {
		r.event(eventAttach, id)
	}
	return nil
}

func (r *Room) detach(id uint32) error {
	p := r.byID[id]
	if p == nil {
		return fmt.Errorf("detach player %d: %w", id, ErrNoPlayer)
	}
	p.conn = nil
	p.detached = true
	p.clearPending()
	p.release(&p.last) // stand still: the game sees no data
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
	Encodes         uint64        // snapshot envelopes encoded (per distinct encoding and event seq, and per player with pending events)
	Snapshots       uint64        // snapshots handed to connections
	SnapshotBytes   uint64        // their bytes
	EncodeTime      time.Duration // total time spent encoding and handing out snapshots
	Saturation      float64       // busy fraction of the loop over the last second
	EventsIn        uint64        // client events handed to the World
	EventsDiscarded uint64        // client events dropped: resent (seq already applied), of players not seated, too long
	EventsOut       uint64        // server events queued for players (a broadcast counts once per player)
	EventsDropped   uint64        // server events sent to a player not seated
	EventOverflows  uint64        // server events dropped from a full queue (Config.EventQueue)
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
		EventsIn:        c.evIn.Load(),
		EventsDiscarded: c.evDiscarded.Load(),
		EventsOut:       c.evOut.Load(),
		EventsDropped:   c.evDropped.Load(),
		EventOverflows:  c.evOverflows.Load(),
	}
}

func floatBits(f float64) uint64 { return math.Float64bits(f) }
