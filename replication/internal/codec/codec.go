// Package codec is the tiny binary encoding under replication's Raft log
// entries (package command) and FSM snapshots: unsigned and zig-zag
// varints, single bytes, and strings and byte slices as a varint length
// followed by the bytes. It has no framing or versioning of its own; the
// formats built on it carry a type byte (commands) or a magic (snapshots).
//
// Decoding never panics: the first error sticks (wrapping ErrBadCommand)
// and every later read returns a zero value, so a decoder reads a whole
// record and checks Finish once.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadCommand wraps every decoding error: truncated or invalid input.
var ErrBadCommand = errors.New("malformed command")

// Encoder appends values to a byte slice. The zero value is ready to use.
type Encoder struct{ B []byte }

// U8 appends one byte.
func (e *Encoder) U8(v byte) { e.B = append(e.B, v) }

// Uvarint appends an unsigned varint.
func (e *Encoder) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// Varint appends a zig-zag signed varint.
func (e *Encoder) Varint(v int64) { e.B = binary.AppendVarint(e.B, v) }

// Str appends a length-prefixed string.
func (e *Encoder) Str(s string) { e.Uvarint(uint64(len(s))); e.B = append(e.B, s...) }

// Bytes appends a length-prefixed byte slice.
func (e *Encoder) Bytes(p []byte) { e.Uvarint(uint64(len(p))); e.B = append(e.B, p...) }

// Decoder reads values from a byte slice. Each read names what it reads,
// for the error message.
type Decoder struct {
	b   []byte
	err error
}

// NewDecoder returns a decoder of b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records that what is invalid (a value read correctly but not
// allowed) and stops decoding.
func (d *Decoder) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrBadCommand, what)
	}
	d.b = nil
}

// U8 reads one byte.
func (d *Decoder) U8(what string) byte {
	if d.err != nil || len(d.b) < 1 {
		d.Fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint reads a zig-zag signed varint.
func (d *Decoder) Varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// U32 reads an unsigned varint that must fit in 32 bits.
func (d *Decoder) U32(what string) uint32 {
	v := d.Uvarint(what)
	if v > 1<<32-1 {
		d.Fail(what)
		return 0
	}
	return uint32(v)
}

// Count reads a length or element count; each element takes at least min
// bytes, so a count larger than the rest of the input allows is an error
// (this bounds allocations on hostile input).
func (d *Decoder) Count(what string, min int) int {
	v := d.Uvarint(what)
	if d.err != nil {
		return 0
	}
	if min < 1 {
		min = 1
	}
	if v > uint64(len(d.b)/min) {
		d.Fail(what)
		return 0
	}
	return int(v)
}

// Str reads a length-prefixed string.
func (d *Decoder) Str(what string) string {
	n := d.lenPrefix(what)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Bytes reads a length-prefixed byte slice into a copy: decoded checkpoints
// outlive the log entry's buffer.
func (d *Decoder) Bytes(what string) []byte {
	n := d.lenPrefix(what)
	if d.err != nil {
		return nil
	}
	p := make([]byte, n)
	copy(p, d.b[:n])
	d.b = d.b[n:]
	return p
}

func (d *Decoder) lenPrefix(what string) int {
	v := d.Uvarint(what)
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)) {
		d.Fail(what)
		return 0
	}
	return int(v)
}

// Finish returns the first error, or an error if input is left over after
// what.
func (d *Decoder) Finish(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes after %s", ErrBadCommand, len(d.b), what)
	}
	return d.err
}
