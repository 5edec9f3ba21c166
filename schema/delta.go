package schema

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// The delta codec: Diff on the server, Apply on the client. The byte format
// of Delta.Changes is specified in DELTA.md; keep the two in step.

// Delta is the reusable output of Diff.
type Delta struct {
	Spawned []Entity // entities of cur not in base, in full, by ID
	Changes []byte   // compact changes of entities in both (DELTA.md)
	Removed []uint32 // ids of base not in cur, ascending
}

// Bits of a change record's mask, in the order their values follow it.
const (
	changeX     = 1 << iota // zigzag varint: X minus its prediction
	changeY                 // zigzag varint: Y minus its prediction
	changeVX                // zigzag varint: VX minus base VX
	changeVY                // zigzag varint: VY minus base VY
	changeAngle             // zigzag varint: int16(Angle - base Angle)
	changeHP                // one raw byte
	changeKind              // one raw byte
	changeOwner             // uvarint
)

// maxResidual bounds a decoded position residual. A true residual is at
// most |int32| + |int16|·MaxUint32 < 2^48, so anything larger is garbage,
// and bounding it keeps prediction+residual clear of int64 overflow.
const maxResidual = 1 << 49

// predict is where an entity at p moving at v per tick is dt ticks later.
// int64 holds it exactly: |p| < 2^31 and |v·dt| < 2^47.
func predict(p int32, v int16, dt uint32) int64 { return int64(p) + int64(v)*int64(dt) }

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// changeMask says which fields of c differ from base b predicted dt ticks on.
func changeMask(b, c *Entity, dt uint32) byte {
	var m byte
	if int64(c.X) != predict(b.X, b.VX, dt) {
		m |= changeX
	}
	if int64(c.Y) != predict(b.Y, b.VY, dt) {
		m |= changeY
	}
	if c.VX != b.VX {
		m |= changeVX
	}
	if c.VY != b.VY {
		m |= changeVY
	}
	if c.Angle != b.Angle {
		m |= changeAngle
	}
	if c.HP != b.HP {
		m |= changeHP
	}
	if c.Kind != b.Kind {
		m |= changeKind
	}
	if c.Owner != b.Owner {
		m |= changeOwner
	}
	return m
}

// appendRecord appends the change record (mask, then values) of c against b.
func appendRecord(dst []byte, m byte, b, c *Entity, dt uint32) []byte {
	dst = append(dst, m)
	if m&changeX != 0 {
		dst = binary.AppendUvarint(dst, zigzag(int64(c.X)-predict(b.X, b.VX, dt)))
	}
	if m&changeY != 0 {
		dst = binary.AppendUvarint(dst, zigzag(int64(c.Y)-predict(b.Y, b.VY, dt)))
	}
	if m&changeVX != 0 {
		dst = binary.AppendUvarint(dst, zigzag(int64(c.VX)-int64(b.VX)))
	}
	if m&changeVY != 0 {
		dst = binary.AppendUvarint(dst, zigzag(int64(c.VY)-int64(b.VY)))
	}
	if m&changeAngle != 0 {
		dst = binary.AppendUvarint(dst, zigzag(int64(int16(c.Angle-b.Angle))))
	}
	if m&changeHP != 0 {
		dst = append(dst, c.HP)
	}
	if m&changeKind != 0 {
		dst = append(dst, c.Kind)
	}
	if m&changeOwner != 0 {
		dst = binary.AppendUvarint(dst, uint64(c.Owner))
	}
	return dst
}

// gapValue is the presence varint of the changed common entity idx when the
// previous one was last (-1: none yet): idx+1 for the first, then the
// number of unchanged entities skipped.
func gapValue(idx, last int) uint64 {
	if last < 0 {
		return uint64(idx) + 1
	}
	return uint64(idx - last - 1)
}

// Diff computes the delta that turns base (the world at the baseline tick)
// into cur (the world dt ticks later). Both are sorted by ID ascending, each
// ID once; Diff trusts that (they are the server's own worlds). The result
// reuses d's capacity; Diff allocates nothing once d has grown.
func Diff(d *Delta, base, cur []Entity, dt uint32) {
	d.Spawned, d.Changes, d.Removed = d.Spawned[:0], d.Changes[:0], d.Removed[:0]

	// Pass 1: removed, spawned, and what each presence encoding would cost.
	common, changed, gapBytes, last := 0, 0, 0, -1
	i, j := 0, 0
	for i < len(base) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(base) && base[i].ID < cur[j].ID:
			d.Removed = append(d.Removed, base[i].ID)
			i++
		case i == len(base) || cur[j].ID < base[i].ID:
			d.Spawned = append(d.Spawned, cur[j])
			j++
		default:
			if changeMask(&base[i], &cur[j], dt) != 0 {
				gapBytes += uvarintLen(gapValue(common, last))
				last = common
				changed++
			}
			common++
			i++
			j++
		}
	}
	if changed == 0 {
		return
	}

	// Pass 2: the presence header, then the records of changed entities.
	bitmapLen := (common + 7) / 8
	useBitmap := 1+bitmapLen < gapBytes
	if useBitmap {
		d.Changes = append(d.Changes, 0)
		for range bitmapLen {
			d.Changes = append(d.Changes, 0)
		}
	}
	idx, last := 0, -1
	i, j = 0, 0
	for i < len(base) && j < len(cur) {
		b, c := &base[i], &cur[j]
		switch {
		case b.ID < c.ID:
			i++
			continue
		case c.ID < b.ID:
			j++
			continue
		}
		if m := changeMask(b, c, dt); m != 0 {
			if useBitmap {
				d.Changes[1+idx/8] |= 1 << (idx % 8)
			} else {
				d.Changes = binary.AppendUvarint(d.Changes, gapValue(idx, last))
			}
			last = idx
			d.Changes = appendRecord(d.Changes, m, b, c, dt)
		}
		idx++
		i++
		j++
	}
}

func badDelta(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadDelta}, args...)...)
}

// Apply rebuilds the world at the snapshot's tick from base (the world at
// the baseline tick, sorted by ID) and the snapshot's delta, appending it to
// dst[:0] sorted by ID. dst must not alias base. An error wraps ErrBadDelta:
// Apply checks everything it reads (presence and records in bounds, varints
// that fit, values that fit their fields, no trailing bytes, spawned ids not
// in base, removed ids in base, a result sorted by ID) and never panics.
// It allocates only when dst's capacity is short.
func Apply(dst, base []Entity, dt uint32, spawned []Entity, changes []byte, removed []uint32) ([]Entity, error) {
	dst = dst[:0]
	if len(removed) > len(base) {
		return dst, badDelta("%d ids removed from a baseline of %d entities", len(removed), len(base))
	}
	r := changeReader{buf: changes, n: len(base) - len(removed)}
	if err := r.start(); err != nil {
		return dst, err
	}
	i, s, k, idx := 0, 0, 0, 0
	for i < len(base) || s < len(spawned) {
		var e Entity
		if s < len(spawned) && (i == len(base) || spawned[s].ID < base[i].ID) {
			e = spawned[s]
			s++
		} else {
			b := &base[i]
			i++
			if s < len(spawned) && spawned[s].ID == b.ID {
				return dst, badDelta("spawned id %d already in the baseline", b.ID)
			}
			if k < len(removed) && removed[k] <= b.ID {
				if removed[k] < b.ID {
					return dst, badDelta("removed id %d not in the baseline", removed[k])
				}
				k++
				continue
			}
			var err error
			if e, err = r.entity(b, idx, dt); err != nil {
				return dst, err
			}
			idx++
		}
		if n := len(dst); n > 0 && e.ID <= dst[n-1].ID {
			return dst, badDelta("id %d after id %d: result not sorted", e.ID, dst[n-1].ID)
		}
		dst = append(dst, e)
	}
	if k < len(removed) {
		return dst, badDelta("removed id %d not in the baseline", removed[k])
	}
	return dst, r.finish()
}

// changeReader walks Delta.Changes while Apply visits the common entities in
// order.
type changeReader struct {
	buf    []byte
	pos    int    // next unread byte
	n      int    // number of common entities
	gaps   bool   // presence by gap varints (else by bitmap)
	bitmap []byte // bitmap mode: the bitmap
	next   int    // index of the next changed common entity; -1: none left
}

// start reads the presence header.
func (r *changeReader) start() error {
	r.next = -1
	if len(r.buf) == 0 {
		return nil
	}
	h, w := binary.Uvarint(r.buf)
	if w <= 0 {
		return badDelta("changes: bad header varint")
	}
	r.pos = w
	if h != 0 {
		if h > uint64(r.n) {
			return badDelta("changes: first changed index %d of %d common entities", h-1, r.n)
		}
		r.gaps, r.next = true, int(h-1)
		return nil
	}
	nb := (r.n + 7) / 8
	if len(r.buf)-w < nb {
		return badDelta("changes: bitmap of %d bytes for %d entities, %d bytes left", nb, r.n, len(r.buf)-w)
	}
	r.bitmap = r.buf[w : w+nb]
	r.pos = w + nb
	if rem := r.n % 8; rem != 0 && r.bitmap[nb-1]>>rem != 0 {
		return badDelta("changes: bitmap bits set past %d entities", r.n)
	}
	r.next = r.nextBit(0)
	return nil
}

// nextBit returns the first set bit at or after from, or -1. Padding bits
// are zero (start checked), so the result is below r.n.
func (r *changeReader) nextBit(from int) int {
	for i := from; i < r.n; {
		b := r.bitmap[i>>3] >> (i & 7)
		if b == 0 {
			i = (i | 7) + 1
			continue
		}
		return i + bits.TrailingZeros8(b)
	}
	return -1
}

// advance moves past the changed entity idx whose record was just read.
func (r *changeReader) advance(idx int) error {
	if !r.gaps {
		r.next = r.nextBit(idx + 1)
		return nil
	}
	if r.pos == len(r.buf) {
		r.next = -1
		return nil
	}
	g, w := binary.Uvarint(r.buf[r.pos:])
	if w <= 0 {
		return badDelta("changes: bad gap varint at byte %d", r.pos)
	}
	r.pos += w
	if g >= uint64(r.n-idx-1) {
		return badDelta("changes: gap %d after index %d of %d common entities", g, idx, r.n)
	}
	r.next = idx + 1 + int(g)
	return nil
}

// finish checks that every byte and every listed entity was consumed.
func (r *changeReader) finish() error {
	if r.next >= 0 {
		return badDelta("changes: index %d of %d common entities never reached", r.next, r.n)
	}
	if r.pos != len(r.buf) {
		return badDelta("changes: %d trailing bytes", len(r.buf)-r.pos)
	}
	return nil
}

// varint reads a zigzag varint and checks |v| <= limit.
func (r *changeReader) varint(limit int64, id uint32, field string) (int64, error) {
	u, w := binary.Uvarint(r.buf[r.pos:])
	if w <= 0 {
		return 0, badDelta("entity %d: %s: bad varint at byte %d", id, field, r.pos)
	}
	r.pos += w
	v := unzigzag(u)
	if v < -limit || v > limit {
		return 0, badDelta("entity %d: %s change %d out of range", id, field, v)
	}
	return v, nil
}

// entity returns common entity idx (base b) at the new tick: predicted, and
// changed by its record when it has one.
func (r *changeReader) entity(b *Entity, idx int, dt uint32) (Entity, error) {
	e := *b
	x, y := predict(b.X, b.VX, dt), predict(b.Y, b.VY, dt)
	if idx == r.next {
		if r.pos >= len(r.buf) {
			return e, badDelta("entity %d: change record missing", b.ID)
		}
		m := r.buf[r.pos]
		r.pos++
		if m == 0 {
			return e, badDelta("entity %d: empty change mask", b.ID)
		}
		if err := r.record(&e, m, &x, &y); err != nil {
			return e, err
		}
		if err := r.advance(idx); err != nil {
			return e, err
		}
	}
	if x < math.MinInt32 || x > math.MaxInt32 || y < math.MinInt32 || y > math.MaxInt32 {
		return e, badDelta("entity %d: position (%d, %d) out of int32 range", b.ID, x, y)
	}
	e.X, e.Y = int32(x), int32(y)
	return e, nil
}

// record reads the values of one change record with mask m into e (a copy
// of the base entity) and the predicted position x, y.
func (r *changeReader) record(e *Entity, m byte, x, y *int64) error {
	var err error
	var v int64
	if m&changeX != 0 {
		if v, err = r.varint(maxResidual, e.ID, "x"); err != nil {
			return err
		}
		*x += v
	}
	if m&changeY != 0 {
		if v, err = r.varint(maxResidual, e.ID, "y"); err != nil {
			return err
		}
		*y += v
	}
	if m&changeVX != 0 {
		if v, err = r.varint(math.MaxUint16, e.ID, "vx"); err != nil {
			return err
		}
		if v += int64(e.VX); v < math.MinInt16 || v > math.MaxInt16 {
			return badDelta("entity %d: vx %d out of int16 range", e.ID, v)
		}
		e.VX = int16(v)
	}
	if m&changeVY != 0 {
		if v, err = r.varint(math.MaxUint16, e.ID, "vy"); err != nil {
			return err
		}
		if v += int64(e.VY); v < math.MinInt16 || v > math.MaxInt16 {
			return badDelta("entity %d: vy %d out of int16 range", e.ID, v)
		}
		e.VY = int16(v)
	}
	if m&changeAngle != 0 {
		if v, err = r.varint(-math.MinInt16, e.ID, "angle"); err != nil {
			return err
		}
		if v > math.MaxInt16 {
			return badDelta("entity %d: angle change %d out of int16 range", e.ID, v)
		}
		e.Angle += uint16(int16(v))
	}
	if m&(changeHP|changeKind) != 0 {
		need := bits.OnesCount8(m & (changeHP | changeKind))
		if len(r.buf)-r.pos < need {
			return badDelta("entity %d: record truncated", e.ID)
		}
		if m&changeHP != 0 {
			e.HP = r.buf[r.pos]
			r.pos++
		}
		if m&changeKind != 0 {
			e.Kind = r.buf[r.pos]
			r.pos++
		}
	}
	if m&changeOwner != 0 {
		u, w := binary.Uvarint(r.buf[r.pos:])
		if w <= 0 || u > math.MaxUint32 {
			return badDelta("entity %d: bad owner varint at byte %d", e.ID, r.pos)
		}
		r.pos += w
		e.Owner = uint32(u)
	}
	return nil
}
