package gamedelta

import (
	"bytes"
	"errors"
	"fmt"
)

// A second decoder, written from DELTA.md alone in the plainest way (maps,
// fresh slices, the Layout's own fields, nothing shared with the package),
// to check that the document says everything a client needs: the property
// test runs it on every snapshot beside the real one.

type refEntity struct {
	id    uint32
	kind  int
	owner uint32
	ints  []int64
	blobs [][]byte
}

type refReader struct {
	b   []byte
	pos int
}

var errRef = errors.New("refused")

// uvarint: LEB128, at most 10 bytes, value below 2^64.
func (r *refReader) uvarint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if r.pos >= len(r.b) {
			return 0, fmt.Errorf("%w: truncated varint", errRef)
		}
		c := r.b[r.pos]
		r.pos++
		if i == 9 && c > 1 {
			return 0, fmt.Errorf("%w: varint past 2^64", errRef)
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint over 10 bytes", errRef)
}

func (r *refReader) zigzag() (int64, error) {
	u, err := r.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

func refBits(f Field) int {
	if f.Bits == 0 {
		return 64
	}
	return f.Bits
}

func refReduce(f Field, v int64) int64 {
	b := refBits(f)
	if b == 64 {
		return v
	}
	if f.Signed {
		return v << (64 - b) >> (64 - b)
	}
	return v & (1<<b - 1)
}

func refFits(f Field, v int64) bool {
	b := refBits(f)
	if f.Min != 0 || f.Max != 0 {
		return v >= f.Min && v <= f.Max
	}
	switch {
	case b == 64:
		return true
	case f.Signed:
		return v >= -1<<(b-1) && v <= 1<<(b-1)-1
	}
	return v >= 0 && v <= 1<<b-1
}

func refMaxLen(f Field) int {
	if f.MaxLen == 0 {
		return 255
	}
	return f.MaxLen
}

// refValue reads one value of field f: zigzag added to pred for ints
// (reduced when Wrap, then checked), length and bytes for bytes.
func (r *refReader) refValue(e *refEntity, fi int, f Field, pred int64) error {
	if f.Type == FieldBytes {
		n, err := r.uvarint()
		if err != nil || n > uint64(refMaxLen(f)) || n > uint64(len(r.b)-r.pos) {
			return fmt.Errorf("%w: bad bytes", errRef)
		}
		e.blobs[fi] = append([]byte{}, r.b[r.pos:r.pos+int(n)]...)
		r.pos += int(n)
		return nil
	}
	d, err := r.zigzag()
	if err != nil {
		return err
	}
	v := pred + d
	if f.Wrap {
		v = refReduce(f, v)
	}
	if !refFits(f, v) {
		return fmt.Errorf("%w: value %d does not fit", errRef, v)
	}
	e.ints[fi] = v
	return nil
}

func refVelocity(k Kind, f Field) int {
	for i, g := range k.Fields {
		if g.Name == f.Velocity {
			return i
		}
	}
	return -1
}

// refApply applies a snapshot to base (sorted by id) for player, dt ticks
// later, and returns the new world sorted by id.
func refApply(l *Layout, player uint32, base []refEntity, dt uint32, data []byte) ([]refEntity, error) {
	r := &refReader{b: data}
	owns := func(owner uint32) bool { return player != 0 && owner == player }
	var removed []uint32
	var spawned []refEntity
	hasP, p := false, uint64(0)
	if len(data) > 0 {
		f, err := r.uvarint()
		if err != nil {
			return nil, err
		}
		if f%2 == 0 {
			hasP, p = true, f/2
		} else {
			h := (f - 1) / 2
			nr, ns := h/2, uint64(0)
			if h%2 == 1 {
				if ns, err = r.uvarint(); err != nil {
					return nil, err
				}
			}
			if nr > uint64(len(base)) || ns > uint64(len(data)) {
				return nil, fmt.Errorf("%w: counts", errRef)
			}
			prev := int64(-1)
			for range nr {
				g, err := r.uvarint()
				if err != nil || prev+1+int64(g) > 1<<32-1 || g > 1<<32 {
					return nil, fmt.Errorf("%w: removed id", errRef)
				}
				prev += 1 + int64(g)
				removed = append(removed, uint32(prev))
			}
			prev = -1
			for range ns {
				g, err := r.uvarint()
				if err != nil || prev+1+int64(g) > 1<<32-1 || g > 1<<32 {
					return nil, fmt.Errorf("%w: spawned id", errRef)
				}
				prev += 1 + int64(g)
				kind, err1 := r.uvarint()
				owner, err2 := r.uvarint()
				if err1 != nil || err2 != nil || kind >= uint64(len(l.Kinds)) || owner > 1<<32-1 {
					return nil, fmt.Errorf("%w: spawned header", errRef)
				}
				k := l.Kinds[kind]
				e := refEntity{id: uint32(prev), kind: int(kind), owner: uint32(owner),
					ints: make([]int64, len(k.Fields)), blobs: make([][]byte, len(k.Fields))}
				for fi, f := range k.Fields {
					if f.OwnerOnly && !owns(e.owner) {
						continue
					}
					if err := r.refValue(&e, fi, f, 0); err != nil {
						return nil, err
					}
				}
				spawned = append(spawned, e)
			}
		}
	}
	// Removed ids must be in the baseline; spawned ids must not remain in it.
	inBase := map[uint32]bool{}
	for _, e := range base {
		inBase[e.id] = true
	}
	gone := map[uint32]bool{}
	for _, id := range removed {
		if !inBase[id] {
			return nil, fmt.Errorf("%w: removed id not in baseline", errRef)
		}
		gone[id] = true
	}
	for _, e := range spawned {
		if inBase[e.id] && !gone[e.id] {
			return nil, fmt.Errorf("%w: spawned id in baseline", errRef)
		}
	}
	var common []refEntity
	for _, b := range base {
		if !gone[b.id] {
			common = append(common, b)
		}
	}
	n := len(common)
	// Presence: which common entities have a record, in order.
	changed := make([]bool, n)
	var order []int // gap form: read lazily, interleaved with records
	bitmap := false
	if !hasP && r.pos < len(data) {
		var err error
		if p, err = r.uvarint(); err != nil {
			return nil, err
		}
		hasP = true
	}
	if hasP {
		if p == 0 {
			bitmap = true
			nb := (n + 7) / 8
			if len(data)-r.pos < nb {
				return nil, fmt.Errorf("%w: bitmap short", errRef)
			}
			for i := range n {
				changed[i] = data[r.pos+i/8]>>(i%8)&1 == 1
			}
			for i := n; i < nb*8; i++ {
				if data[r.pos+i/8]>>(i%8)&1 == 1 {
					return nil, fmt.Errorf("%w: padding", errRef)
				}
			}
			r.pos += nb
		} else {
			if p > uint64(n) {
				return nil, fmt.Errorf("%w: first index", errRef)
			}
			order = append(order, int(p-1))
		}
	}
	out := make([]refEntity, 0, n+len(spawned))
	for i, b := range common {
		k := l.Kinds[b.kind]
		e := refEntity{id: b.id, kind: b.kind, owner: b.owner,
			ints: append([]int64{}, b.ints...), blobs: append([][]byte{}, b.blobs...)}
		ownedB := owns(b.owner)
		for fi, f := range k.Fields {
			if f.Type != FieldInt || f.OwnerOnly && !ownedB {
				continue
			}
			if v := refVelocity(k, f); v >= 0 {
				e.ints[fi] = b.ints[fi] + b.ints[v]*int64(dt)
				if f.Wrap {
					e.ints[fi] = refReduce(f, e.ints[fi])
				}
			}
		}
		has := bitmap && changed[i] || !bitmap && len(order) > 0 && order[len(order)-1] == i
		if has {
			mask, err := r.uvarint()
			nf := len(k.Fields)
			if err != nil || mask == 0 || (nf < 63 && mask>>(nf+1) != 0) {
				return nil, fmt.Errorf("%w: mask", errRef)
			}
			if mask>>nf&1 == 1 {
				o, err := r.uvarint()
				if err != nil || o > 1<<32-1 {
					return nil, fmt.Errorf("%w: owner", errRef)
				}
				e.owner = uint32(o)
			}
			for fi, f := range k.Fields {
				if mask>>fi&1 == 0 {
					continue
				}
				if f.OwnerOnly && !owns(e.owner) {
					return nil, fmt.Errorf("%w: owner-only field", errRef)
				}
				if err := r.refValue(&e, fi, f, e.ints[fi]); err != nil {
					return nil, err
				}
			}
			if !bitmap && r.pos < len(data) {
				g, err := r.uvarint()
				if err != nil || g >= uint64(n-i-1) {
					return nil, fmt.Errorf("%w: gap", errRef)
				}
				order = append(order, i+1+int(g))
			}
		}
		if !owns(e.owner) {
			for fi, f := range k.Fields {
				if f.OwnerOnly {
					e.ints[fi], e.blobs[fi] = 0, nil
				}
			}
		}
		for fi, f := range k.Fields {
			if f.Type == FieldInt && !(f.OwnerOnly && !owns(e.owner)) && !refFits(f, e.ints[fi]) {
				return nil, fmt.Errorf("%w: predicted value does not fit", errRef)
			}
		}
		out = append(out, e)
	}
	if !bitmap && len(order) > 0 && order[len(order)-1] >= n {
		return nil, fmt.Errorf("%w: index never reached", errRef)
	}
	if r.pos != len(data) {
		return nil, fmt.Errorf("%w: trailing bytes", errRef)
	}
	// Merge in the spawned entities by id.
	for _, s := range spawned {
		i := 0
		for i < len(out) && out[i].id < s.id {
			i++
		}
		out = append(out[:i], append([]refEntity{s}, out[i:]...)...)
	}
	for i := 1; i < len(out); i++ {
		if out[i].id <= out[i-1].id {
			return nil, fmt.Errorf("%w: ids not ascending", errRef)
		}
	}
	return out, nil
}

// toRef converts a World to the reference decoder's entities.
func toRef(l *Layout, w *World) []refEntity {
	var out []refEntity
	if w == nil {
		return nil
	}
	for i := range w.Len() {
		k := l.Kinds[w.Kind(i)]
		e := refEntity{id: w.ID(i), kind: w.Kind(i), owner: w.Owner(i), ints: make([]int64, len(k.Fields)), blobs: make([][]byte, len(k.Fields))}
		for f, fd := range k.Fields {
			if fd.Type == FieldBytes {
				if b := w.Bytes(i, f); len(b) > 0 {
					e.blobs[f] = append([]byte{}, b...)
				}
			} else {
				e.ints[f] = w.Int(i, f)
			}
		}
		out = append(out, e)
	}
	return out
}

func refEqual(a, b []refEntity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.id != y.id || x.kind != y.kind || x.owner != y.owner || len(x.ints) != len(y.ints) {
			return false
		}
		for f := range x.ints {
			if x.ints[f] != y.ints[f] || !bytes.Equal(x.blobs[f], y.blobs[f]) {
				return false
			}
		}
	}
	return true
}

// checkRef decodes data with the reference decoder and compares with want
// (nil: the snapshot must be refused, as the real decoder refused it).
func checkRef(l *Layout, player uint32, base *World, dt uint32, data []byte, want *World) error {
	got, err := refApply(l, player, toRef(l, base), dt, data)
	switch {
	case want == nil && err == nil:
		return fmt.Errorf("reference decoder accepts what the decoder refuses: % x", data)
	case want == nil:
		return nil
	case err != nil:
		return fmt.Errorf("reference decoder refuses % x: %w", data, err)
	case !refEqual(got, toRef(l, want)):
		return fmt.Errorf("reference decoder reads % x as %+v", data, got)
	}
	return nil
}
