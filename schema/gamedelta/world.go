package gamedelta

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
)

// World is a set of entities of one Codec's layout, in three flat arrays so
// that copying a world into the history ring, or rebuilding one from a
// snapshot, allocates nothing once the arrays have grown: entity headers
// (id, kind, owner), one int64 slot per field, and one byte arena holding
// the FieldBytes values.
//
// Entities are addressed by index i (0 ≤ i < Len()), fields by their index
// f in the kind. The encoder and decoder need the entities in ascending ID
// order, each ID once: add them in that order, or call Sort.
//
// A World is not safe for concurrent use; reading it from several
// goroutines while nobody writes is fine.
type World struct {
	c    *Codec
	ents []ent
	// vals holds the field slots; a FieldBytes slot holds off<<32 | len
	// into data. vals[len:cap] is all zero, so that Add needs no clearing
	// of its own (Reset clears what was used, in one go).
	vals []int64
	data []byte // the FieldBytes values
}

type ent struct {
	id    uint32
	owner uint32
	kind  uint16 // < MaxKinds
	n     uint16 // the kind's number of fields, for the accessors' bound check
	off   uint32 // first slot in vals
}

// NewWorld returns an empty world of c's layout.
func NewWorld(c *Codec) *World { return &World{c: c} }

// Codec returns the world's codec.
func (w *World) Codec() *Codec { return w.c }

// Reset empties the world, keeping its capacity.
func (w *World) Reset() {
	clear(w.vals)
	w.ents, w.vals, w.data = w.ents[:0], w.vals[:0], w.data[:0]
}

// Len returns the number of entities.
func (w *World) Len() int { return len(w.ents) }

// Add appends an entity with every field 0 (or empty) and returns its
// index. It panics when kind is not a kind of the layout (a programming
// error). Keep IDs ascending, or call Sort before handing the world to an
// Encoder.
func (w *World) Add(id uint32, kind int, owner uint32) int {
	if uint(kind) >= uint(len(w.c.nf)) {
		w.badKind(kind)
	}
	off, n := len(w.vals), int(w.c.nf[kind])
	if cap(w.vals)-off < n {
		w.growVals(n)
	}
	w.vals = w.vals[:off+n] // zero already
	// The header is written field by field in place: an ent built on the
	// stack and copied would be read back in one wide load across narrow
	// stores, a store-forwarding stall per entity.
	i := len(w.ents)
	if i == cap(w.ents) {
		w.ents = slices.Grow(w.ents, 1)
	}
	w.ents = w.ents[:i+1]
	e := &w.ents[i]
	e.id, e.owner, e.kind, e.n, e.off = id, owner, uint16(kind), uint16(n), uint32(off)
	return i
}

// AddRun appends n entities of kind, each with id 0, no owner and every
// field 0 (or empty), and returns the index of the first: the run is
// first, first+1, …, first+n-1. Give them their ids (ascending, after the
// world's last) with SetID, and owners with SetOwner. It does what n calls
// of Add do, growing the arrays once: a WriteState with many entities of
// one kind calls it once per kind. It panics when kind is not a kind of
// the layout or n < 0 (programming errors).
func (w *World) AddRun(kind, n int) int {
	if uint(kind) >= uint(len(w.c.nf)) {
		w.badKind(kind)
	}
	if n < 0 {
		panic(fmt.Sprintf("gamedelta: World.AddRun: %d entities", n))
	}
	nf := int(w.c.nf[kind])
	off, first := len(w.vals), len(w.ents)
	if cap(w.vals)-off < n*nf {
		w.growVals(n * nf)
	}
	w.vals = w.vals[:off+n*nf] // zero already
	w.ents = slices.Grow(w.ents, n)[:first+n]
	run := w.ents[first:]
	for j := range run {
		e := &run[j]
		e.id, e.owner, e.kind, e.n, e.off = 0, 0, uint16(kind), uint16(nf), uint32(off+j*nf)
	}
	return first
}

// SetID sets the id of entity i. Keep IDs ascending, or call Sort before
// handing the world to an Encoder.
func (w *World) SetID(i int, id uint32) { w.ents[i].id = id }

// growVals makes room for n more slots, keeping vals[len:cap] zero.
func (w *World) growVals(n int) {
	w.vals = slices.Grow(w.vals, n)
	clear(w.vals[len(w.vals):cap(w.vals)])
}

func (w *World) badKind(kind int) {
	panic(fmt.Sprintf("gamedelta: World.Add: kind %d of %d", kind, len(w.c.kinds)))
}

// ID returns the id of entity i.
func (w *World) ID(i int) uint32 { return w.ents[i].id }

// Kind returns the kind of entity i.
func (w *World) Kind(i int) int { return int(w.ents[i].kind) }

// Owner returns the player id owning entity i (0: none).
func (w *World) Owner(i int) uint32 { return w.ents[i].owner }

// SetOwner sets the player id owning entity i (0: none).
func (w *World) SetOwner(i int, owner uint32) { w.ents[i].owner = owner }

// Int returns int field f of entity i.
func (w *World) Int(i, f int) int64 { return w.Ints(i)[f] }

// SetInt sets int field f of entity i. The value must fit the field (see
// Field.Bits); Encoder.Record refuses a world where one does not.
func (w *World) SetInt(i, f int, v int64) { w.Ints(i)[f] = v }

// Bytes returns bytes field f of entity i. The slice aliases the world:
// valid until the world is next modified, and not to be written.
func (w *World) Bytes(i, f int) []byte {
	s := w.vals[w.slot(i, f)]
	off, n := uint32(s>>32), uint32(s)
	return w.data[off : off+n : off+n]
}

// SetBytes sets bytes field f of entity i to a copy of b. The copy goes to
// the world's arena; the previous value's bytes are reclaimed at Reset.
func (w *World) SetBytes(i, f int, b []byte) {
	off := len(w.data)
	w.data = append(w.data, b...)
	w.vals[w.slot(i, f)] = int64(off)<<32 | int64(len(b))
}

// slot is the index in vals of field f of entity i.
func (w *World) slot(i, f int) int {
	e := &w.ents[i]
	if uint(f) >= uint(e.n) {
		w.badField(e.kind, f)
	}
	return int(e.off) + f
}

// badField panics: field f is not a field of kind k.
func (w *World) badField(k uint16, f int) {
	panic(fmt.Sprintf("gamedelta: field %d of kind %d with %d fields", f, k, len(w.c.kinds[k].fields)))
}

// Ints returns the field slots of entity i, indexed by field: each
// FieldInt field's value, as Int returns it. The element of a FieldBytes
// field is not its value (read that with Bytes, and never write it). The
// slice aliases the world: writing an int field's element sets the field,
// as SetInt does; it is valid until the next Add or Reset. Filling an
// entity through it (or reading one, as a state hash does) costs no call
// per field.
func (w *World) Ints(i int) []int64 {
	e := &w.ents[i]
	return w.vals[e.off : int(e.off)+int(e.n) : int(e.off)+int(e.n)]
}

// Find returns the index of the entity with the given id, or -1. The world
// must be sorted.
func (w *World) Find(id uint32) int {
	i, ok := slices.BinarySearchFunc(w.ents, id, func(e ent, id uint32) int { return cmp.Compare(e.id, id) })
	if !ok {
		return -1
	}
	return i
}

// Sort orders the entities by id. It does not allocate.
func (w *World) Sort() {
	slices.SortFunc(w.ents, func(a, b ent) int { return cmp.Compare(a.id, b.id) })
}

// CopyFrom makes w a copy of src (same codec), reusing w's capacity.
func (w *World) CopyFrom(src *World) {
	w.c = src.c
	w.ents = append(w.ents[:0], src.ents...)
	old, oldCap := len(w.vals), cap(w.vals)
	w.vals = append(w.vals[:0], src.vals...)
	if n := len(w.vals); cap(w.vals) != oldCap {
		clear(w.vals[n:cap(w.vals)])
	} else if old > n {
		clear(w.vals[n:old])
	}
	w.data = append(w.data[:0], src.data...)
}

// Check reports the first reason w cannot be encoded: ids not strictly
// ascending, or an int value that does not fit its field, or a bytes value
// longer than its field's MaxLen.
//
// It runs once per recorded tick over every value, so the common case is
// fast: each run of entities of a kind with int fields only, adjacent in
// the slots (as Add lays them out), is tested as one flat array against
// the kind's bounds repeated (no per-entity work but its id's order). The
// error, if any, is found again entity by entity (checkEach).
func (w *World) Check() error {
	ents := w.ents
	ks := w.c.kinds
	prev := int64(-1)
	for i := 0; i < len(ents); {
		kind, last := ents[i].kind, ents[i].id
		if int64(last) <= prev {
			return w.checkEach()
		}
		k := &ks[kind]
		n := len(k.runLo) / checkRun
		if n == 0 { // bytes fields, or no field
			if len(k.bounds) > 0 {
				if err := w.checkEnt(i); err != nil {
					return err
				}
			}
			prev = int64(last)
			i++
			continue
		}
		start := int(ents[i].off)
		end := start + n
		j := i + 1
		for ; j < len(ents) && ents[j].kind == kind && int(ents[j].off) == end; j++ {
			if ents[j].id <= last {
				return w.checkEach()
			}
			last = ents[j].id
			end += n
		}
		prev = int64(last)
		for v := w.vals[start:end]; len(v) > 0; {
			m := min(len(v), len(k.runLo))
			if misfitRun(v[:m], k.runLo[:m], k.runSpan[:m]) {
				return w.checkEach()
			}
			v = v[m:]
		}
		i = j
	}
	return nil
}

// checkRun is how many entities' bounds a kind's runLo and runSpan hold.
const checkRun = 8

// misfitRun reports whether some value of v is outside its bounds (v[j]
// fits when uint64(v[j]-lo[j]) <= span[j]).
func misfitRun(v, lo []int64, span []uint64) bool {
	lo, span = lo[:len(v)], span[:len(v)]
	for j, x := range v {
		if uint64(x-lo[j]) > span[j] {
			return true
		}
	}
	return false
}

// checkEach is Check entity by entity, saying which one is wrong.
func (w *World) checkEach() error {
	prev := int64(-1)
	for i := range w.ents {
		e := &w.ents[i]
		if int64(e.id) <= prev {
			return fmt.Errorf("entity %d after entity %d: ids not strictly ascending", e.id, prev)
		}
		prev = int64(e.id)
		if err := w.checkEnt(i); err != nil {
			return err
		}
	}
	return nil
}

// checkEnt checks the values of entity i.
func (w *World) checkEnt(i int) error {
	e := &w.ents[i]
	k := &w.c.kinds[e.kind]
	vals := w.vals[e.off : int(e.off)+len(k.bounds)]
	if f := misfit(vals, k.bounds); f >= 0 {
		fi := &k.fields[f]
		return fmt.Errorf("entity %d field %q: %d does not fit %d bits", e.id, fi.name, vals[f], fi.bits)
	}
	for _, f := range k.blobs {
		fi := &k.fields[f]
		if n := int(uint32(vals[f])); n > fi.maxLen {
			return fmt.Errorf("entity %d field %q: %d bytes: at most %d", e.id, fi.name, n, fi.maxLen)
		}
		if off, n := uint64(uint32(vals[f]>>32)), uint64(uint32(vals[f])); vals[f] < 0 || off+n > uint64(len(w.data)) {
			// Only a slot written through Ints (not SetBytes) can be so.
			return fmt.Errorf("entity %d field %q: its bytes slot was overwritten (a bytes field is set with SetBytes)", e.id, fi.name)
		}
	}
	return nil
}

// misfit returns the first field whose value is outside its bounds, or
// -1. Apart from Check, so that its loop keeps everything in registers.
func misfit(vals []int64, b []bound) int {
	b = b[:len(vals)]
	for f, v := range vals {
		if uint64(v-b[f].lo) > b[f].span {
			return f
		}
	}
	return -1
}

// Equal reports whether a and b hold the same entities (id, kind, owner,
// every field's value) in the same order. How the values are laid out in
// memory does not matter.
func Equal(a, b *World) bool {
	if len(a.ents) != len(b.ents) {
		return false
	}
	for i := range a.ents {
		ea, eb := &a.ents[i], &b.ents[i]
		if ea.id != eb.id || ea.kind != eb.kind || ea.owner != eb.owner {
			return false
		}
		for f, fi := range a.c.kinds[ea.kind].fields {
			if fi.typ == FieldBytes {
				if !bytes.Equal(a.Bytes(i, f), b.Bytes(i, f)) {
					return false
				}
			} else if a.vals[int(ea.off)+f] != b.vals[int(eb.off)+f] {
				return false
			}
		}
	}
	return true
}

// String formats the world for test failures and debugging.
func (w *World) String() string {
	var b []byte
	for i, e := range w.ents {
		b = fmt.Appendf(b, "{%d k%d o%d", e.id, e.kind, e.owner)
		for f, fi := range w.c.kinds[e.kind].fields {
			if fi.typ == FieldBytes {
				b = fmt.Appendf(b, " %q", w.Bytes(i, f))
			} else {
				b = fmt.Appendf(b, " %d", w.vals[int(e.off)+f])
			}
		}
		b = append(b, '}')
	}
	return string(b)
}
