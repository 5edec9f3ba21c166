package sim

import (
	"sync"
	"sync/atomic"

	"github.com/ticksync/ticksync/schema"
)

// inputQueue is one player's inbox: the inputs on their way from the
// player's connection (PushInput, on its read goroutine) to the room loop
// (drain). It holds at most Config.InputQueue inputs; when it is full the
// oldest one is dropped and counted (an input is the player's whole
// command: the next one supersedes it). One queue per player means a client that floods
// loses only its own inputs: the neighbours' queues are untouched.
//
// The ring is allocated once, when the player is seated, so neither side
// allocates. mu is held only for a copy of one input (PushInput) or for
// moving at most Config.InputQueue inputs out (drain).
type inputQueue struct {
	n    atomic.Int32 // len, readable without mu: drain skips empty queues
	mu   sync.Mutex
	ring []schema.Input
	data [][]byte // data[i] is the storage of ring[i].Data
	head int      // index of the oldest input
}

func newInputQueue(capacity int) *inputQueue {
	return &inputQueue{ring: make([]schema.Input, capacity), data: make([][]byte, capacity)}
}

// push appends in; it reports false when the queue was full and its oldest
// input was dropped to make room.
func (q *inputQueue) push(in *schema.Input) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, c := int(q.n.Load()), len(q.ring)
	full := n == c
	if full { // drop the oldest
		q.head = (q.head + 1) % c
		n--
	}
	i := (q.head + n) % c
	slot := &q.ring[i]
	*slot = *in
	slot.Data = keep(&q.data[i], in.Data)
	q.n.Store(int32(n + 1))
	return !full
}

// keep copies data into *buf, which it grows when too short (so the slot's
// storage reaches its largest input once and is then reused), and returns
// the copy; nil for no data.
func keep(buf *[]byte, data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	*buf = append((*buf)[:0], data...)
	return *buf
}

// take appends every queued input to dst, oldest first, empties the queue
// and returns dst (loop goroutine; dst is the loop's reused scratch). The
// data of dst[i] moves to bufs[i], the loop's storage, without a copy: the
// slot's buffer and bufs[i] trade places, as the queue's own is the
// producers' again once take returns. bufs has at least the queue's
// capacity; the loop is done with what bufs held (player.push took it or
// the input was discarded).
func (q *inputQueue) take(dst []schema.Input, bufs [][]byte) []schema.Input {
	if q.n.Load() == 0 {
		return dst
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n, c := int(q.n.Load()), len(q.ring)
	for i := range n {
		j := (q.head + i) % c
		in := q.ring[j]
		if in.Data != nil {
			k := len(dst)
			bufs[k], q.data[j] = q.data[j], bufs[k]
			q.ring[j].Data = nil
		}
		dst = append(dst, in)
	}
	q.head = 0
	q.n.Store(0)
	return dst
}

// inbox is what other goroutines may reach of one seated player: its input
// queue, its client event queue, and the newest client event seq the loop
// applied (EventSeq).
type inbox struct {
	inputs  *inputQueue
	events  *eventQueue
	applied atomic.Uint32
}

// inboxes is the room's index of inboxes by player, read by PushInput and
// PushEvent on any goroutine without a lock. The loop replaces the whole
// map (copy on write) when a player is seated or leaves, which is rare next
// to inputs.
type inboxes struct {
	m atomic.Pointer[map[uint32]*inbox]
}

func (ix *inboxes) get(player uint32) *inbox {
	if m := ix.m.Load(); m != nil {
		return (*m)[player]
	}
	return nil
}

// set adds (q non-nil) or removes (q nil) player's inbox (loop goroutine).
func (ix *inboxes) set(player uint32, q *inbox) {
	var old map[uint32]*inbox
	if m := ix.m.Load(); m != nil {
		old = *m
	}
	next := make(map[uint32]*inbox, len(old)+1)
	for id, x := range old {
		next[id] = x
	}
	if q != nil {
		next[player] = q
	} else {
		delete(next, player)
	}
	ix.m.Store(&next)
}
