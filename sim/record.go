package sim

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/ticksync/ticksync/schema"
)

// The tick log: what a room applied, tick by tick, so that another process
// holding a checkpoint of the room at tick C can replay ticks C+1, C+2, …
// and reach the state the room had (Replay). A room records when built
// WithRecord; every tick it stepped yields one record, handed to the
// RecordFunc on the room goroutine.
//
// Record format (varints are encoding/binary's):
//
//	uvarint tick | u8 flags (bit 0: full) |
//	uvarint event count | events | uvarint input count | inputs |
//	u32 little-endian state hash
//	event := u8 kind (1 join, 2 leave, 3 attach) | uvarint player |
//	         [join only: uvarint entity] | uvarint note length | note
//	input := uvarint player | uvarint seq | varint (target tick − tick) |
//	         varint (ack tick − tick) | i8 move x | i8 move y | uvarint aim |
//	         u8 buttons
//
// The events are the seat changes the room applied after the previous tick
// and before this one, in order; note is the caller's own bytes about the
// seat (SeatNoteFunc). The inputs are the players' inputs of this tick's
// World.Step whose value changed since the previous record (a repeated
// input is not written again), in player order; a full record lists every
// seated player's input. The record after any capture (checkpoint) is full,
// and so is a room's first record, so that a replay from a checkpoint at
// tick C starts from a full record at C+1. The hash is HashEntities of the
// World's entities after the step: a replay that does not reach it has
// diverged.

// Event kinds of the tick log.
const (
	eventJoin   byte = 1
	eventLeave  byte = 2
	eventAttach byte = 3

	flagFull byte = 1
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
	fn      RecordFunc
	note    SeatNoteFunc
	full    bool   // the next record lists every player's input
	events  []byte // encoded events since the last record
	nEvents int
	scratch []byte // one note
	buf     []byte // the record being built, reused
}

// event logs a seat change for the next record (loop goroutine).
func (r *Room) event(kind byte, player, entity uint32) {
	rc := &r.rec
	if rc.fn == nil {
		return
	}
	rc.events = append(rc.events, kind)
	rc.events = binary.AppendUvarint(rc.events, uint64(player))
	if kind == eventJoin {
		rc.events = binary.AppendUvarint(rc.events, uint64(entity))
	}
	rc.scratch = rc.scratch[:0]
	if rc.note != nil {
		rc.scratch = rc.note(rc.scratch, player)
	}
	rc.events = binary.AppendUvarint(rc.events, uint64(len(rc.scratch)))
	rc.events = append(rc.events, rc.scratch...)
	rc.nEvents++
}

// record builds this tick's record and hands it to the RecordFunc (loop
// goroutine, after the step). It allocates nothing once its buffers have
// grown.
func (r *Room) record(tick uint32, ents []schema.Entity) {
	rc := &r.rec
	b := binary.AppendUvarint(rc.buf[:0], uint64(tick))
	var flags byte
	if rc.full {
		flags |= flagFull
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(rc.nEvents))
	b = append(b, rc.events...)
	n := 0
	for _, p := range r.list {
		if rc.full || !sameInput(&p.last, &p.logged) {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for _, p := range r.list {
		if rc.full || !sameInput(&p.last, &p.logged) {
			b = appendInput(b, tick, p.id, &p.last)
			p.logged = p.last
		}
	}
	b = binary.LittleEndian.AppendUint32(b, HashEntities(ents))
	rc.buf = b
	rc.events, rc.nEvents, rc.full = rc.events[:0], 0, false
	rc.fn(tick, b)
}

func appendInput(b []byte, tick, player uint32, in *schema.Input) []byte {
	b = binary.AppendUvarint(b, uint64(player))
	b = binary.AppendUvarint(b, uint64(in.Seq))
	b = binary.AppendVarint(b, int64(in.TargetTick)-int64(tick))
	b = binary.AppendVarint(b, int64(in.AckTick)-int64(tick))
	b = append(b, byte(in.MoveX), byte(in.MoveY))
	b = binary.AppendUvarint(b, uint64(in.Aim))
	return append(b, in.Buttons)
}

// HashEntities is the state hash of the tick log: a 32-bit digest of the
// quantized entities a World appends after a step. Two worlds in the same
// state give the same hash on any node; a replay compares it tick by tick.
func HashEntities(ents []schema.Entity) uint32 {
	const k1, k2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := uint64(len(ents)) * k1
	mix := func(w uint64) {
		h ^= bits.RotateLeft64(w*k2, 31) * k1
		h = bits.RotateLeft64(h, 27)*5 + 0x52dce729
	}
	for i := range ents {
		e := &ents[i]
		mix(uint64(e.ID) | uint64(e.Owner)<<32)
		mix(uint64(uint32(e.X)) | uint64(uint32(e.Y))<<32)
		mix(uint64(uint16(e.VX)) | uint64(uint16(e.VY))<<16 | uint64(e.Angle)<<32 | uint64(e.Kind)<<48 | uint64(e.HP)<<56)
	}
	h ^= h >> 33
	h *= k2
	h ^= h >> 29
	return uint32(h) ^ uint32(h>>32)
}

// sameInput reports whether two inputs carry the same values (what the
// tick log writes of them).
func sameInput(a, b *schema.Input) bool {
	return a.Seq == b.Seq && a.TargetTick == b.TargetTick && a.AckTick == b.AckTick &&
		a.MoveX == b.MoveX && a.MoveY == b.MoveY && a.Aim == b.Aim && a.Buttons == b.Buttons &&
		a.EventAck == b.EventAck && bytes.Equal(a.Data, b.Data)
}
