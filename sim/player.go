package sim

import "github.com/ticksync/ticksync/schema"

// player is the loop's record of one seated player. Owned by the loop.
type player struct {
	id       uint32
	entity   uint32      // from World.Join (or a restored seat)
	conn     Conn        // nil: no snapshots
	detached bool        // Detach: inputs are discarded until Attach
	queue    *inputQueue // filled by PushInput, drained each tick

	// pending is the jitter buffer: inputs received but not yet applied,
	// sorted by Seq ascending, all newer than lastSeq. Its capacity is fixed
	// at join (2·Config.InputBuffer), so it never grows.
	pending []schema.Input
	last    schema.Input // the input applied last; repeated when none is new
	lastSeq uint32       // seq of the last applied input
	logged  schema.Input // the input the tick log wrote last (record.go)
	ack     uint32       // newest tick the client acknowledged
	// standing counts the ticks in a row that ended with inputs still
	// buffered (trimStanding, jitter.go).
	standing int

	// per tick, in broadcast
	base uint32
	sent bool
}

// newPlayer returns a player with a jitter buffer for buffer inputs
// (Config.InputBuffer) and an input queue of queue inputs
// (Config.InputQueue).
func newPlayer(id uint32, conn Conn, buffer, queue int) *player {
	return &player{
		id: id, conn: conn,
		pending: make([]schema.Input, 0, 2*buffer),
		queue:   newInputQueue(queue),
	}
}

// push buffers in and returns how many inputs were discarded (in itself
// when stale or a duplicate, or the oldest buffered one when full).
func (p *player) push(in *schema.Input) (discarded int) {
	if in.Seq <= p.lastSeq {
		return 1
	}
	if len(p.pending) == cap(p.pending) {
		if in.Seq < p.pending[0].Seq {
			return 1
		}
		p.dropOldest()
		discarded++
	}
	i := len(p.pending)
	for i > 0 && p.pending[i-1].Seq > in.Seq {
		i--
	}
	if i > 0 && p.pending[i-1].Seq == in.Seq {
		return discarded + 1
	}
	p.pending = append(p.pending, schema.Input{})
	copy(p.pending[i+1:], p.pending[i:])
	p.pending[i] = *in
	return discarded
}

// next selects this tick's input: the oldest buffered one, or the newest
// when more than limit wait (catch up), or the last one again when none
// waits. It returns how many buffered inputs were skipped.
func (p *player) next(limit int) (skipped int) {
	n := len(p.pending)
	switch {
	case n == 0:
		return p.trimStanding()
	case n > limit:
		p.last = p.pending[n-1]
		for i := range p.pending[:n-1] {
			p.last.Buttons |= p.pending[i].Buttons
		}
		skipped = n - 1
		p.pending = p.pending[:0]
	default:
		p.last = p.pending[0]
		copy(p.pending, p.pending[1:])
		p.pending = p.pending[:n-1]
	}
	p.lastSeq = p.last.Seq
	return skipped + p.trimStanding()
}

// dropOldest discards the oldest buffered input. Its buttons are merged
// into the next one, so that a press is not lost with the input that
// carried it (axes and aim are state: the next input supersedes them).
func (p *player) dropOldest() {
	if len(p.pending) > 1 {
		p.pending[1].Buttons |= p.pending[0].Buttons
	}
	copy(p.pending, p.pending[1:])
	p.pending = p.pending[:len(p.pending)-1]
}
