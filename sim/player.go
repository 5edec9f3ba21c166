package sim

import (
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// player is the loop's record of one seated player. Owned by the loop.
type player struct {
	id       uint32
	entity   uint32 // from World.Join (or a restored seat)
	conn     Conn   // nil: no snapshots
	detached bool   // Detach: inputs are discarded until Attach
	box      *inbox // its queues, filled by PushInput and PushEvent, drained each tick

	// pending is the jitter buffer: inputs received but not yet applied,
	// sorted by Seq ascending, all newer than lastSeq. Its capacity is fixed
	// at join (2·Config.InputBuffer), so it never grows. The Data of each
	// pending input, and of last, is a buffer of the player's own (spare
	// holds the ones not in use), so that inputs move through the buffer
	// without copying their data twice nor allocating once warm.
	pending    []schema.Input
	spare      [][]byte
	last       schema.Input // the input applied last; repeated when none is new
	lastSeq    uint32       // seq of the last applied input
	logged     schema.Input // the input the tick log wrote last (record.go); Data in loggedData
	loggedData []byte
	logNow     bool   // this tick's record lists its input (record.go)
	logSame    bool   // with the data logged last
	ack        uint32 // newest tick the client acknowledged
	// standing counts the ticks in a row that ended with inputs still
	// buffered (trimStanding, jitter.go).
	standing int

	// Events (events.go): the client's, newest applied seq; the server's
	// queued for this player until acknowledged.
	inSeq      uint32
	out        outQueue
	overflowed bool // its connection was told (Conn.Overflow)

	// Snapshots (snapshots.go): the encoder's record of this client, and
	// its view (Viewer).
	client *gamedelta.Client
	view   gamedelta.View

	// per tick, in broadcast
	enc  gamedelta.Encoded
	sent bool
}

// newPlayer returns a player with a jitter buffer for buffer inputs
// (Config.InputBuffer) and an input queue of queue inputs
// (Config.InputQueue). Its client event queue is added by the room.
func newPlayer(id uint32, conn Conn, buffer, queue int) *player {
	return &player{
		id: id, conn: conn,
		pending: make([]schema.Input, 0, 2*buffer),
		box:     &inbox{inputs: newInputQueue(queue)},
	}
}

// own gives in a data buffer of the player's: *buf, when in.Data is its
// contents (the buffer moves, the caller gets a spare one of the player's
// in its place, or nil), else a copy in a spare buffer.
func (p *player) own(in *schema.Input, buf *[]byte) {
	if len(in.Data) == 0 {
		in.Data = nil
		return
	}
	var spare []byte
	if n := len(p.spare); n > 0 {
		spare, p.spare = p.spare[n-1], p.spare[:n-1]
	}
	if buf != nil && len(*buf) == len(in.Data) && &(*buf)[0] == &in.Data[0] {
		*buf = spare
		return
	}
	in.Data = append(spare[:0], in.Data...)
}

// release gives in's data buffer back to spare.
func (p *player) release(in *schema.Input) {
	if cap(in.Data) > 0 {
		p.spare = append(p.spare, in.Data[:0])
	}
	in.Data = nil
}

// push buffers in and returns how many inputs were discarded (in itself
// when stale or a duplicate, or the oldest buffered one when full). in's
// data is copied, unless it is the contents of *buf (buf may be nil): the
// buffer is then taken over, and *buf replaced (own).
func (p *player) push(in *schema.Input, buf *[]byte) (discarded int) {
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
	p.own(&p.pending[i], buf)
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
		p.release(&p.last)
		p.last = p.pending[n-1]
		for i := range p.pending[:n-1] {
			p.release(&p.pending[i])
		}
		skipped = n - 1
		clear(p.pending)
		p.pending = p.pending[:0]
	default:
		p.release(&p.last)
		p.last = p.pending[0]
		copy(p.pending, p.pending[1:])
		p.pending[n-1] = schema.Input{}
		p.pending = p.pending[:n-1]
	}
	p.lastSeq = p.last.Seq
	return skipped + p.trimStanding()
}

// dropOldest discards the oldest buffered input (its data is the player's
// command of that moment: the next input supersedes it).
func (p *player) dropOldest() {
	p.release(&p.pending[0])
	copy(p.pending, p.pending[1:])
	p.pending[len(p.pending)-1] = schema.Input{}
	p.pending = p.pending[:len(p.pending)-1]
}

// clearPending drops every buffered input (Detach).
func (p *player) clearPending() {
	for i := range p.pending {
		p.release(&p.pending[i])
	}
	clear(p.pending)
	p.pending = p.pending[:0]
}
