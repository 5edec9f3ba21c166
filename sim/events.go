package sim

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ticksync/ticksync/schema"
)

// Game events, both ways (see gameapi.go):
//
//   - Client → server: PushEvent copies each event into its player's own
//     bounded queue (Config.ClientEventQueue; full: refused, the caller
//     closes the client). Before each Step the loop takes every queue and
//     hands the World's EventHandler, per player in seq order, the events
//     newer than the newest it applied for that player; older ones are a
//     resumed client's resends and are dropped. The newest applied seq
//     travels in every snapshot (Snapshot.EventSeq) and in the Welcome of a
//     resume (Room.EventSeq).
//   - Server → client: the World's Outbox queues each event for its player
//     (Config.EventQueue), numbered from 1 per seat, kept across resumes.
//     Every snapshot to that player carries all of them until the client
//     acknowledges them (Input.EventAck). Overflow drops the oldest and
//     closes the connection as a slow consumer (Conn.Overflow). A resume
//     (Room.Resume) says the newest the client holds: those are dropped,
//     and a seat restored after a failover numbers its events past it
//     (outQueue.settle; DESIGN.md, "What a failover may lose or repeat").

// eventQueue is one player's client events on their way from its
// connection (PushEvent, on the read goroutine) to the loop. Two rings:
// producers fill one under mu while the loop reads the other, and the loop
// swaps them when it drains, so that the World's handler never runs under
// mu and no event data is copied twice. Rings are made at the first event.
type eventQueue struct {
	n     atomic.Int32 // events in fill, readable without mu: take skips empty queues
	mu    sync.Mutex
	fill  *eventRing // the producers'
	taken *eventRing // the loop's, between take and done
	limit int
}

// eventRing is a batch of client events; each slot keeps its data buffer
// from batch to batch.
type eventRing struct {
	evs []inEvent
	n   int
}

type inEvent struct {
	seq  uint32
	data []byte
}

// push copies ev into the queue; false when it holds limit events already.
func (q *eventQueue) push(ev *schema.Event) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fill == nil {
		q.fill = &eventRing{evs: make([]inEvent, q.limit)}
		q.taken = &eventRing{evs: make([]inEvent, q.limit)}
	}
	r := q.fill
	if r.n == len(r.evs) {
		return false
	}
	s := &r.evs[r.n]
	s.seq = ev.Seq
	s.data = append(s.data[:0], ev.Data...)
	r.n++
	q.n.Store(int32(r.n))
	return true
}

// take returns the events queued since the last take, sorted by seq (loop
// goroutine). They stay valid until the next take.
func (q *eventQueue) take() []inEvent {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	q.taken.n = 0
	q.fill, q.taken = q.taken, q.fill
	q.n.Store(0)
	q.mu.Unlock()
	evs := q.taken.evs[:q.taken.n]
	if !slices.IsSortedFunc(evs, cmpInEvent) {
		slices.SortStableFunc(evs, cmpInEvent)
	}
	return evs
}

func cmpInEvent(a, b inEvent) int { return cmp.Compare(a.seq, b.seq) }

// PushEvent queues one client event of player for the next tick, in that
// player's own queue (Config.ClientEventQueue events). It is called on a
// connection's read goroutine after the transport verified ev.Data against
// the game's schema; it never blocks, copies ev.Data and does not keep ev.
// It returns false when the queue is full (the caller closes the client
// with schema.ErrCodeEventFlood); other players' events are never affected.
// An event of a player not seated, or longer than schema.MaxEventDataLen,
// is dropped (true; counted in Stats.EventsDiscarded). Events with a seq
// not above the newest applied are dropped at the next tick (a resumed
// client re-sends).
func (r *Room) PushEvent(player uint32, ev schema.Event) bool {
	b := r.queues.get(player)
	if b == nil || len(ev.Data) > schema.MaxEventDataLen {
		r.stats.evDiscarded.Add(1)
		return true
	}
	return b.events.push(&ev)
}

// EventSeq returns the newest client event seq the room applied for player
// (0: none, or not seated): what a resumed client's Welcome carries
// (schema.Welcome.EventSeq), so that it re-sends only later events. Safe
// from any goroutine; read it after Attach.
func (r *Room) EventSeq(player uint32) uint32 {
	if b := r.queues.get(player); b != nil {
		return b.applied.Load()
	}
	return 0
}

// applyEvents hands the World's EventHandler each player's new client
// events (loop goroutine, before Step), logs them for the tick log and
// returns how many it dropped as already applied.
func (r *Room) applyEvents() (dropped int) {
	for _, p := range r.list {
		evs := p.box.events.take()
		for i := range evs {
			ev := &evs[i]
			if ev.seq <= p.inSeq {
				dropped++
				continue
			}
			p.inSeq = ev.seq
			if r.rec.fn != nil {
				r.logClientEvent(p.id, ev.seq, ev.data)
			}
			if r.handler != nil {
				r.handler.Event(p.id, ev.data)
			}
			r.stats.evIn.Add(1)
		}
		if len(evs) > 0 {
			p.box.applied.Store(p.inSeq)
		}
	}
	return dropped
}

// outQueue is the server events queued for one player and not yet
// acknowledged, oldest first: a ring of at most limit events made at the
// first one, whose slots keep their data buffers. Owned by the loop (or a
// replay).
type outQueue struct {
	ring  []schema.Event
	head  int
	n     int
	seq   uint32 // seq of the newest event queued (Seat.OutSeq)
	acked uint32 // newest seq the client acknowledged
	// restored: the seat was restored (WithRestore) with seq base and no
	// client has attached since. The seqs above base were numbered here,
	// and the client may hold the same seqs from the previous owner (its
	// events of the ticks a failover lost): the client's resume settles
	// them (settle).
	restored bool
	base     uint32
}

// push queues a copy of data as the next event, produced at tick. It
// reports whether the queue was full and its oldest event was dropped.
func (q *outQueue) push(tick uint32, data []byte, limit int) (overflow bool) {
	q.seq++
	return q.put(q.seq, tick, data, limit)
}

// put queues a copy of an event with its seq, which must be above every
// queued one.
func (q *outQueue) put(seq, tick uint32, data []byte, limit int) (overflow bool) {
	if q.ring == nil {
		q.ring = make([]schema.Event, limit)
	}
	c := len(q.ring)
	if q.n == c {
		q.head = (q.head + 1) % c
		q.n--
		overflow = true
	}
	s := &q.ring[(q.head+q.n)%c]
	s.Seq, s.Tick = seq, tick
	s.Data = append(s.Data[:0], data...)
	q.n++
	q.seq = max(q.seq, seq)
	return overflow
}

// ack drops the events up to seq, which the client acknowledged (a seq
// never sent is ignored).
func (q *outQueue) ack(seq uint32) {
	if seq <= q.acked || seq > q.seq {
		return
	}
	q.acked = seq
	for q.n > 0 && q.ring[q.head].Seq <= seq {
		q.head = (q.head + 1) % len(q.ring)
		q.n--
	}
}

// maxSettledSeq is the highest seq a resume's event_ack may move a seat's
// numbering to: half the seq space, so that 2^31 more events (years of
// events at any rate a game sends) come before a seq could wrap.
const maxSettledSeq = 1 << 31

// settle prepares the queue for a client that resumed holding every event
// up to held (Hello.event_ack): the events numbered above base (the seq the
// seat was restored with, or the newest when it was not restored) move up
// by held − base, so that none reuses a seq the client holds from another
// owner, and the events the client holds are dropped. It reports whether
// it moved seqs. A held that would take the numbering past maxSettledSeq
// is ignored (only a broken client sends one): a client cannot bring its
// seat's numbering near the end of the seq space, where it would wrap.
func (q *outQueue) settle(base, held uint32) (moved bool) {
	if held > base && uint64(q.seq)+uint64(held-base) <= maxSettledSeq {
		d := held - base
		for i := range q.n {
			if s := &q.ring[(q.head+i)%len(q.ring)]; s.Seq > base {
				s.Seq += d
			}
		}
		q.seq += d
		moved = true
	}
	q.ack(held)
	return moved
}

// appendTo appends the queued events to dst, oldest first. Their Data
// aliases the queue: valid until the next push.
func (q *outQueue) appendTo(dst []schema.Event) []schema.Event {
	for i := range q.n {
		dst = append(dst, q.ring[(q.head+i)%len(q.ring)])
	}
	return dst
}

// ErrEnded: the World ended its match (Outbox.End). Room.Err returns an
// *EndedError wrapping it.
var ErrEnded = errors.New("match ended by the game")

// EndedError is why a room stopped on its World's Outbox.End: the tick
// after which it stopped and the World's reason. It wraps ErrEnded.
type EndedError struct {
	Tick   uint32
	Reason string
}

func (e *EndedError) Error() string {
	return fmt.Sprintf("%v after tick %d: %s", ErrEnded, e.Tick, e.Reason)
}

func (e *EndedError) Unwrap() error { return ErrEnded }

// roomOutbox is the Outbox a room hands its World (OutboxUser). Its
// methods run on the loop goroutine, from the World's own methods.
type roomOutbox struct{ r *Room }

var _ Outbox = roomOutbox{}

func (o roomOutbox) Send(player uint32, event []byte) {
	r := o.r
	p := r.byID[player]
	if p == nil && r.joining != nil && r.joining.id == player {
		p = r.joining
	}
	if p == nil {
		r.stats.evDropped.Add(1)
		return
	}
	r.queueEvent(p, event)
}

func (o roomOutbox) Broadcast(event []byte) {
	r := o.r
	for _, p := range r.list {
		r.queueEvent(p, event)
	}
	if r.joining != nil {
		r.queueEvent(r.joining, event)
	}
}

func (o roomOutbox) End(reason string) {
	r := o.r
	if !r.ending {
		r.ending, r.endReason = true, reason
	}
}

// queueEvent queues a server event for p at the tick being produced; on
// overflow p's connection is told once.
func (r *Room) queueEvent(p *player, event []byte) {
	r.stats.evOut.Add(1)
	if !p.out.push(r.evTick, event, r.cfg.EventQueue) {
		return
	}
	r.stats.evOverflows.Add(1)
	if p.conn != nil && !p.overflowed {
		p.overflowed = true
		p.conn.Overflow()
	}
}
