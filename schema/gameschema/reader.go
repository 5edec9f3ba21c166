package gameschema

import (
	"encoding/binary"
	"math"
)

// reader holds the structural checks of an untrusted FlatBuffer, shared by
// the .bfbs verifier (bfbs.go) and the game-buffer walker (walk.go). They
// follow the C++ FlatBuffers Verifier, with alignment always checked
// (relative to the start of the buffer, as a builder lays it out):
//
//   - the buffer is 8 bytes .. 2 GiB; the root uoffset is 4-aligned and
//     points past itself and inside the buffer;
//   - a table is 4-aligned and in bounds; its soffset leads to a 2-aligned
//     vtable in bounds, of even length >= 4; the table's inline size is >= 4
//     and in bounds;
//   - a field has a vtable offset >= 4 (past the soffset), lies whole inside
//     the table's inline size, and is aligned;
//   - a uoffset is 1..MaxInt32 and its target is inside the buffer; vectors
//     and strings are 4-aligned, their length times element size fits in
//     what is left, strings are NUL-terminated.
//
// A reader is a value on the caller's stack; checking allocates nothing
// unless it fails.
type reader struct {
	buf []byte
}

// tab is a table that passed the structural checks.
type tab struct {
	pos   uint32 // absolute position of the table (its soffset)
	vt    uint32 // absolute position of its vtable
	vsize uint32 // vtable length in bytes
	tsize uint32 // inline size of the table, soffset included
}

func (r *reader) u16(p uint32) uint32 { return uint32(binary.LittleEndian.Uint16(r.buf[p:])) }
func (r *reader) u32(p uint32) uint32 { return binary.LittleEndian.Uint32(r.buf[p:]) }
func (r *reader) u64(p uint32) uint64 { return binary.LittleEndian.Uint64(r.buf[p:]) }

// root checks the header and returns the position of the root table.
func (r *reader) root(what string) (uint32, error) {
	n := len(r.buf)
	if n < 8 {
		return 0, malformed("%s: buffer of %d bytes: shorter than 8", what, n)
	}
	if n > math.MaxInt32 {
		return 0, malformed("%s: buffer of %d bytes: longer than 2 GiB", what, n)
	}
	off := r.u32(0)
	if off%4 != 0 || off < 4 || uint64(off)+4 > uint64(n) {
		return 0, malformed("%s: root offset %d: must be 4-aligned within 4..%d", what, off, n-4)
	}
	return off, nil
}

// table checks the table at pos and its vtable.
func (r *reader) table(pos uint32, name string) (tab, error) {
	n := uint64(len(r.buf))
	if pos%4 != 0 || uint64(pos)+4 > n {
		return tab{}, malformed("%s: table at %d misaligned or out of bounds (buffer %d)", name, pos, n)
	}
	vt := int64(pos) - int64(int32(r.u32(pos)))
	if vt < 0 || uint64(vt)+4 > n || vt%2 != 0 {
		return tab{}, malformed("%s: vtable at %d misaligned or out of bounds (buffer %d)", name, vt, n)
	}
	t := tab{pos: pos, vt: uint32(vt)}
	t.vsize = r.u16(t.vt)
	t.tsize = r.u16(t.vt + 2)
	if t.vsize < 4 || t.vsize%2 != 0 || uint64(t.vt)+uint64(t.vsize) > n {
		return tab{}, malformed("%s: vtable length %d at %d: must be even, >= 4 and within %d bytes", name, t.vsize, t.vt, n)
	}
	if t.tsize < 4 || uint64(pos)+uint64(t.tsize) > n {
		return tab{}, malformed("%s: table size %d at %d: must be >= 4 and within %d bytes", name, t.tsize, pos, n)
	}
	return t, nil
}

// field returns the absolute position of field slot (0-based) of t, or 0
// when the field is absent. size is its inline size and align its alignment.
func (r *reader) field(t *tab, slot, size, align uint32, name string) (uint32, error) {
	vo := 4 + 2*slot
	if vo+2 > t.vsize {
		return 0, nil
	}
	off := r.u16(t.vt + vo)
	if off == 0 {
		return 0, nil
	}
	if off < 4 || off+size > t.tsize {
		return 0, malformed("%s: field at table offset %d (size %d) outside table of %d bytes", name, off, size, t.tsize)
	}
	p := t.pos + off
	if align > 1 && p%align != 0 {
		return 0, malformed("%s: field at %d not aligned to %d", name, p, align)
	}
	return p, nil
}

// ref follows the uoffset stored at p (already checked to be in bounds) and
// returns its target.
func (r *reader) ref(p uint32, name string) (uint32, error) {
	o := r.u32(p)
	if o == 0 || o > math.MaxInt32 {
		return 0, malformed("%s: offset %d at %d: must be 1..%d", name, o, p, math.MaxInt32)
	}
	target := uint64(p) + uint64(o)
	if target >= uint64(len(r.buf)) {
		return 0, malformed("%s: offset %d at %d points past the buffer (%d bytes)", name, o, p, len(r.buf))
	}
	return uint32(target), nil
}

// vector checks the vector referenced by the uoffset at p, with elements of
// elemSize bytes, and returns the position of its first element and its
// length.
func (r *reader) vector(p, elemSize uint32, name string) (data, length uint32, err error) {
	t, err := r.ref(p, name)
	if err != nil {
		return 0, 0, err
	}
	n := uint64(len(r.buf))
	if t%4 != 0 || uint64(t)+4 > n {
		return 0, 0, malformed("%s: vector at %d misaligned or out of bounds (buffer %d)", name, t, n)
	}
	length = r.u32(t)
	avail := n - uint64(t) - 4
	if uint64(length) > avail/uint64(elemSize) {
		return 0, 0, malformed("%s: vector of %d elements of %d bytes overflows the %d bytes left", name, length, elemSize, avail)
	}
	return t + 4, length, nil
}

// str checks the string referenced by the uoffset at p and returns its
// bytes (aliasing the buffer, NUL excluded).
func (r *reader) str(p uint32, name string) ([]byte, error) {
	data, n, err := r.vector(p, 1, name)
	if err != nil {
		return nil, err
	}
	end := uint64(data) + uint64(n)
	if end >= uint64(len(r.buf)) || r.buf[end] != 0 {
		return nil, malformed("%s: string of %d bytes at %d not NUL-terminated", name, n, data)
	}
	return r.buf[data:end], nil
}
