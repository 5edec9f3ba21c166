package sim

import (
	"sync"
	"sync/atomic"

	"github.com/ticksync/ticksync/schema"
)

// inputQueue is one player's inbox: the inputs on their way from the
// player's connection (PushInput, on its read goroutine) to the room loop
// (drain). It holds at most Config.InputQueue inputs; when it is full the
// oldest one is dropped (its buttons are merged into the next, so a press
// survives) and counted. One queue per player means a client that floods
// loses only its own inputs: the neighbours' queues are untouched.
//
// The ring is allocated once, when the player is seated, so neither side
// allocates. mu is held only for a copy of one input (PushInput) or for
// moving at most Config.InputQueue inputs out (drain).
type inputQueue struct {
	n    atomic.Int32 // len, readable without mu: drain skips empty queues
	mu   sync.Mutex
	ring []schema.Input
	head int // index of the oldest input
}

func newInputQueue(capacity int) *inputQueue {
	return &inputQueue{ring: make([]schema.Input, capacity)}
}

// push appends in; it reports false when the queue was full and its oldest
// input was dropped to make room.
func (q *inputQueue) push(in *schema.Input) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, c := int(q.n.Load()), len(q.ring)
	var carry uint8
	full := n == c
	if full {
		// Drop the oldest; a button press it carried goes with the next.
		carry = q.ring[q.head].Buttons
		q.head = (q.head + 1) % c
		n--
		if n > 0 {
			q.ring[q.head].Buttons |= carry
			carry = 0
		}
	}
	slot := &q.ring[(q.head+n)%c]
	*slot = *in
	slot.Buttons |= carry
	q.n.Store(int32(n + 1))
	return !full
}

// take appends every queued input to dst, oldest first, empties the queue
// and returns dst (loop goroutine; dst is the loop's reused scratch).
func (q *inputQueue) take(dst []schema.Input) []schema.Input {
	if q.n.Load() == 0 {
		return dst
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n, c := int(q.n.Load()), len(q.ring)
	for i := range n {
		dst = append(dst, q.ring[(q.head+i)%c])
	}
	q.head = 0
	q.n.Store(0)
	return dst
}

// inboxes is the room's index of input queues by player, read by PushInput
// on any goroutine without a lock. The loop replaces the whole map (copy on
// write) when a player is seated or leaves, which is rare next to inputs.
type inboxes struct {
	m atomic.Pointer[map[uint32]*inputQueue]
}

func (ix *inboxes) get(player uint32) *inputQueue {
	if m := ix.m.Load(); m != nil {
		return (*m)[player]
	}
	return nil
}

// set adds (q non-nil) or removes (q nil) player's queue (loop goroutine).
func (ix *inboxes) set(player uint32, q *inputQueue) {
	var old map[uint32]*inputQueue
	if m := ix.m.Load(); m != nil {
		old = *m
	}
	next := make(map[uint32]*inputQueue, len(old)+1)
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
