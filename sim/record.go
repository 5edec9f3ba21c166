package sim

import (
	"bytes"
	"encoding/binary"
)

// The tick log: what a room applied, tick by tick, so that another process
// holding a checkpoint of the room at tick C can replay ticks C+1, C+2, …
// and reach the state the room had (Replay). A room records when built
// WithRecord; every tick it stepped yields one record, handed to the
// RecordFunc on the room goroutine.
//
// Record format 3 (varints are encoding/binary's):
//
//	uvarint tick | u8 flags (bit 0: full; bits 1 and 2: format 3) |
//	uvarint event count | events |
//	uvarint client event count | client events |
//	uvarint input count | inputs | u32 little-endian state hash
//	event := u8 kind (1 join, 2 leave, 3 attach, 4 attach that moved
//	         the seat's server event seqs) | uvarint player |
//	         [join only: uvarint entity] |
//	         [kind 4 only: uvarint base | uvarint held] |
//	         uvarint note length | note |
//	         [join only, its JoinInfo: uvarint name length | name |
//	          uvarint payload length | payload | uvarint claims length | claims]
//	client event := uvarint player | uvarint seq | uvarint data length | data
//	input := uvarint player | uvarint seq | varint (target tick − tick) |
//	         varint (ack tick − tick) | uvarint data field | data
//
// An input's data field is its data length + 1, followed by the data; 0
// means the data is the same as in that player's previous logged input
// (nothing follows): a game's input buffer, which changes less often than
// its seq, is not written again every tick. A full record always writes
// the data (a field of 0 there is refused). A player seated anew (a join)
// has no previous data: 0 then stands for none.
//
// A decoder tells the formats apart by the flags, record by record.
// Format 2 (bit 1 alone), written before format 3, had four more fields in
// each input, between the ack tick and the data: i8 move x | i8 move y |
// uvarint aim | u8 buttons, the input of the arena of the time (zero for
// every other game), and its data field was the plain data length (data
// always written); a replay reads and ignores the four fields, so a log
// written by the previous version replays as it did. Format 1 (neither bit), that
// arena's own records, is refused (ErrBadLog): its inputs and its state
// hash were of that arena's entity values, which no game has any more
// (DESIGN.md, "Tick log formats").
//
// The events are the seat changes the room applied after the previous tick
// and before this one, in order; note is the caller's own bytes about the
// seat (SeatNoteFunc). The client events are those the World's
// EventHandler was given before this tick's step, in the order given. The
// inputs are the players' inputs of this tick's World.Step whose value
// changed since the previous record (a repeated input is not written
// again), in player order; a full record lists every seated player's
// input. The record after any capture (checkpoint) is full, and so is a
// room's first record, so that a replay from a checkpoint at tick C starts
// from a full record at C+1. The hash is the digest of the gamedelta.World
// the World's WriteState fills after the step, sorted by id (hashState;
// format 2 records carry the previous version's digest, hashStateV2, of the
// world in the order WriteState wrote it, and a replay checks each record
// with its format's): a replay that does not reach it has diverged. Server
// events are not logged: a replay makes them again.

// Event kinds of the tick log.
const (
	eventJoin   byte = 1
	eventLeave  byte = 2
	eventAttach byte = 3
	// eventAttachSeq is an attach of a client that held server events up
	// to held: the seat's events numbered above base moved up by held −
	// base (Room.Resume). A decoder of a version before it refuses the
	// record (ErrBadLog), as any log it cannot replay.
	eventAttachSeq byte = 4

	flagFull byte = 1
	flagV2   byte = 2 // format 2 (and 3): join infos, client events, input data
	flagV3   byte = 4 // format 3: inputs without format 2's arena fields
)

// RecordFunc receives one tick's record on the room goroutine, right after
// the tick was stepped. rec is the room's buffer, reused after the call
// returns: the callee copies what it keeps. It must not block and must not
// call the Room.
type RecordFunc func(tick uint32, rec []byte)

// SeatNoteFunc appends the caller's bytes about player's seat to dst and
// returns it, when the room logs a seat change of that player (room
// goroutine): once for every join, leave and attach, in the order they are
// logged. game records the seat's resume token and guest counter there, and
// counts the seat changes since the last record: a capture taken between
// two ticks already holds them, and a replay from it must skip them
// (Replay's skip). Replay hands the note back (SeatEvent.Note).
type SeatNoteFunc func(dst []byte, player uint32) []byte

// WithRecord makes the room log what it applies: fn gets one record per
// tick stepped (see the format above). note, if not nil, adds the caller's
// bytes to each join and attach.
func WithRecord(fn RecordFunc, note SeatNoteFunc) Option {
	return func(o *options) { o.recFn, o.recNote = fn, note }
}

// recorder is the room's tick-log state (loop goroutine).
type recorder struct {
	fn       RecordFunc
	note     SeatNoteFunc
	full     bool   // the next record lists every player's input
	events   []byte // encoded seat changes since the last record
	nEvents  int
	cevents  []byte // encoded client events of this tick (format 2)
	nCevents int
	scratch  []byte // one note
	buf      []byte // the record being built, reused
}

// event logs a seat change other than a join for the next record (loop
// goroutine).
func (r *Room) event(kind byte, player uint32) {
	if r.rec.fn == nil {
		return
	}
	r.appendEvent(kind, player)
}

// logAttach logs an attach that moved the seat's server event seqs: those
// above base by held − base (outQueue.settle).
func (r *Room) logAttach(player, base, held uint32) {
	if r.rec.fn == nil {
		return
	}
	r.appendEvent(eventAttachSeq, player, base, held)
}

// logJoin logs a join with its entity and what the player brought (info;
// nil: nothing).
func (r *Room) logJoin(player, entity uint32, info *JoinInfo) {
	rc := &r.rec
	if rc.fn == nil {
		return
	}
	r.appendEvent(eventJoin, player, entity)
	var j JoinInfo
	if info != nil {
		j = *info
	}
	rc.events = appendBytes(rc.events, []byte(j.Name))
	rc.events = appendBytes(rc.events, j.Payload)
	rc.events = appendBytes(rc.events, j.Claims)
}

// appendEvent logs a seat change: its kind, player, the values of its kind
// (join: entity; eventAttachSeq: base, held) and the caller's note.
func (r *Room) appendEvent(kind byte, player uint32, vals ...uint32) {
	rc := &r.rec
	rc.events = append(rc.events, kind)
	rc.events = binary.AppendUvarint(rc.events, uint64(player))
	for _, v := range vals {
		rc.events = binary.AppendUvarint(rc.events, uint64(v))
	}
	rc.scratch = rc.scratch[:0]
	if rc.note != nil {
		rc.scratch = rc.note(rc.scratch, player)
	}
	rc.events = appendBytes(rc.events, rc.scratch)
	rc.nEvents++
}

// logClientEvent logs a client event handed to the World.
func (r *Room) logClientEvent(player, seq uint32, data []byte) {
	rc := &r.rec
	if rc.fn == nil {
		return
	}
	rc.cevents = binary.AppendUvarint(rc.cevents, uint64(player))
	rc.cevents = binary.AppendUvarint(rc.cevents, uint64(seq))
	rc.cevents = appendBytes(rc.cevents, data)
	rc.nCevents++
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// record builds this tick's record with the state hash of the step and
// hands it to the RecordFunc (loop goroutine, after the step). It
// allocates nothing once its buffers have grown.
func (r *Room) record(tick, hash uint32) {
	rc := &r.rec
	b := binary.AppendUvarint(rc.buf[:0], uint64(tick))
	flags := flagV2 | flagV3
	if rc.full {
		flags |= flagFull
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(rc.nEvents))
	b = append(b, rc.events...)
	b = binary.AppendUvarint(b, uint64(rc.nCevents))
	b = append(b, rc.cevents...)
	n := 0
	for _, p := range r.list {
		l, o := &p.last, &p.logged
		p.logSame = bytes.Equal(l.Data, o.Data)
		p.logNow = rc.full || !p.logSame || l.Seq != o.Seq || l.TargetTick != o.TargetTick || l.AckTick != o.AckTick
		if p.logNow {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, p := range r.list {
		if !p.logNow {
			continue
		}
		b = binary.AppendUvarint(b, uint64(p.id))
		b = binary.AppendUvarint(b, uint64(p.last.Seq))
		b = binary.AppendVarint(b, int64(p.last.TargetTick)-int64(tick))
		b = binary.AppendVarint(b, int64(p.last.AckTick)-int64(tick))
		if p.logSame && !rc.full {
			b = append(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(p.last.Data))+1)
			b = append(b, p.last.Data...)
		}
		data := p.logged.Data
		p.logged = p.last
		p.logged.Data = data
		if !p.logSame { // copied only when it changed
			p.loggedData = append(p.loggedData[:0], p.last.Data...)
			p.logged.Data = p.loggedData
			if len(p.loggedData) == 0 {
				p.logged.Data = nil
			}
		}
	}
	b = binary.LittleEndian.AppendUint32(b, hash)
	rc.buf = b
	rc.events, rc.nEvents, rc.full = rc.events[:0], 0, false
	rc.cevents, rc.nCevents = rc.cevents[:0], 0
	rc.fn(tick, b)
}
