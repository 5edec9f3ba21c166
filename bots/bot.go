package bots

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// rttRing is how many recent inputs a bot remembers the send time of. At
// 30 Hz it covers two seconds: an input acked later than that gives no RTT
// sample (the report's count shows it).
const (
	rttRing     = 64
	rttRingMask = rttRing - 1
)

// sentInput is one slot of a bot's RTT ring: written by the input
// scheduler, read by the bot's client goroutine.
type sentInput struct {
	seq atomic.Uint32
	at  atomic.Int64 // swarm clock, ns
}

// bot is one simulated player. Its client's goroutine calls the Handler
// methods; the input scheduler of its shard calls tick. Fields are grouped
// by the goroutine that writes them.
type bot struct {
	id    int
	sw    *Swarm
	shard *shard
	cnt   counters

	client atomic.Pointer[client.Client] // set once the first Dial returned

	// Written by the client goroutine, read by the scheduler.
	steer atomic.Uint64 // the chase decision (a steer)

	// Written by OnWelcome (the dialer's or the client's goroutine), read
	// by the client goroutine.
	entity atomic.Uint32 // own entity id from the Welcome (0: none)
	player atomic.Uint32 // own player id from the Welcome

	// Client goroutine only.
	acked       uint32 // newest input seq already turned into an RTT sample
	lastArrival int64  // swarm clock of the previous snapshot; 0: none
	rttBuf      [8]int64

	// Scheduler goroutine only.
	wander wanderer
	mover  *mover   // a game with movement axes: wander and chase steer; nil: random inputs
	game   *gameBot // random inputs (no mover) and client events; nil: neither

	ring [rttRing]sentInput
}

var _ client.Handler = (*bot)(nil)

// tick sends this tick's input; called by the shard's scheduler goroutine.
func (b *bot) tick(now int64) {
	c := b.client.Load()
	if c == nil || !b.cnt.connected.Load() {
		return
	}
	var data []byte
	switch {
	case b.mover != nil:
		// A game with movement axes: wander and chase steer; idle sends
		// no data (the node passes the game an empty input).
		switch b.sw.cfg.Behavior {
		case Wander:
			data = b.mover.input(b.wander.at(now))
		case Chase:
			data = b.mover.input(steer(b.steer.Load()))
		}
	case b.game != nil:
		data = b.game.inputAt(now, b.sw.cfg.Behavior == Idle)
	}
	if g := b.game; g != nil && g.eventDue(b.sw.cfg.EventRate, int(b.sw.tickRate.Load())) {
		b.sendEvent(c, g.event())
	}
	in := schema.Input{TargetTick: c.AckTick() + 1, Data: data}
	// Only this goroutine sends, so the input takes InputSeq()+1. The slot
	// is filled before the write so that an early ack still finds it.
	seq := c.InputSeq() + 1
	slot := &b.ring[seq&rttRingMask]
	slot.at.Store(b.sw.now())
	slot.seq.Store(seq)
	if err := c.SendInput(in); err != nil {
		slot.seq.Store(0)
		if !errors.Is(err, client.ErrNotConnected) && !errors.Is(err, client.ErrClosed) && !b.sw.stopping.Load() {
			b.cnt.errs[ErrSend].Add(1)
		}
		return
	}
	b.cnt.inputs.Add(1)
}

// sendEvent sends one client event; the scheduler goroutine. Events are
// queued while the bot reconnects; a full queue (the node acknowledges
// none) counts an error.
func (b *bot) sendEvent(c *client.Client, data []byte) {
	if _, err := c.SendEvent(data); err != nil && !errors.Is(err, client.ErrClosed) && !b.sw.stopping.Load() {
		b.cnt.errs[ErrEvent].Add(1)
	}
}

// OnWelcome implements client.Handler.
func (b *bot) OnWelcome(c *client.Client, w *schema.Welcome, resumed bool) {
	now := b.sw.now()
	b.entity.Store(w.EntityID)
	b.player.Store(w.PlayerID)
	if !resumed {
		b.acked = 0 // a new seat: the input seq starts again
	}
	b.lastArrival = 0
	b.cnt.connSince.Store(now)
	b.cnt.connected.Store(true)
	b.cnt.everJoined.Store(true)
	b.sw.welcomed(b, w)
}

// OnSnapshot implements client.Handler: RTT samples for the inputs this
// snapshot acknowledges, the inter-arrival gap, and the chase decision. It
// allocates nothing.
func (b *bot) OnSnapshot(c *client.Client, s *schema.Snapshot, w *client.World) {
	now := b.sw.now()
	n := 0
	if last := s.LastInputSeq; last > b.acked {
		from := b.acked + 1
		if last-from >= rttRing {
			from = last - rttRing + 1
		}
		for seq := from; seq <= last && n < len(b.rttBuf); seq++ {
			slot := &b.ring[seq&rttRingMask]
			if slot.seq.Load() == seq {
				b.rttBuf[n] = (now - slot.at.Load()) / 1000
				n++
			}
		}
		b.acked = last
	}
	gap := int64(-1)
	if b.lastArrival != 0 {
		gap = (now - b.lastArrival) / 1000
	}
	b.lastArrival = now
	b.shard.recordSnapshot(b.rttBuf[:n], gap)
	if l := b.sw.chase; l != nil {
		b.steer.Store(uint64(chaseSteer(w, l, b.entity.Load(), b.player.Load())))
	}
}

// OnResumed implements client.Handler.
func (b *bot) OnResumed(c *client.Client, downtime time.Duration) {
	b.shard.recordResume(downtime.Microseconds())
}

// OnPong implements client.Handler.
func (b *bot) OnPong(*client.Client, time.Duration, uint64) {}

// OnError implements client.Handler. A snapshot whose baseline left the
// bot's small World ring is not an error of the server's: it is counted
// apart, and the next snapshots (against newer acks) apply.
func (b *bot) OnError(c *client.Client, err error) {
	if errors.Is(err, client.ErrNoBaseline) {
		b.cnt.noBaseline.Add(1)
		return
	}
	if b.sw.stopping.Load() {
		return
	}
	b.cnt.errs[classify(err)].Add(1)
}

// OnDisconnect implements client.Handler.
func (b *bot) OnDisconnect(c *client.Client, err error, reconnecting bool) {
	now := b.sw.now()
	if s := b.cnt.connSince.Swap(0); s > 0 {
		b.cnt.connNanos.Add(now - s)
	}
	b.cnt.connected.Store(false)
	b.lastArrival = 0
	if b.sw.stopping.Load() {
		return
	}
	var se *client.ServerError
	if errors.As(err, &se) {
		// OnError counted the Error message itself.
	} else {
		b.cnt.errs[classify(err)].Add(1)
	}
	if !reconnecting {
		b.cnt.errs[ErrGaveUp].Add(1)
	}
}

// classify maps an error from the client to an ErrorKind.
func classify(err error) ErrorKind {
	var (
		se *client.ServerError
		ce *client.CloseError
		he *client.HTTPError
	)
	switch {
	case errors.As(err, &se):
		return serverErrorKind(se.Code)
	case errors.As(err, &ce):
		if ce.Code == 4010 {
			return ErrSlowConsumer
		}
		if !ce.Retryable() {
			return ErrClosedPolicy
		}
		return ErrDisconnect
	case errors.As(err, &he):
		return ErrHTTP
	case errors.Is(err, client.ErrStalled):
		return ErrStalled
	case errors.Is(err, client.ErrReconnectTimeout):
		return ErrGaveUp
	case errors.Is(err, client.ErrProtocol), errors.Is(err, schema.ErrMalformed),
		errors.Is(err, schema.ErrOutOfRange), errors.Is(err, gamedelta.ErrBadDelta), errors.Is(err, client.ErrBadEvent):
		return ErrDecode
	case errors.Is(err, client.ErrTooManyRedirects):
		return ErrRedirects
	}
	return ErrDisconnect
}
