package gamedelta

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Delta writes snapshots (DELTA.md): the bytes that turn a client's copy of
// a baseline world into the current world as that client sees it. It keeps
// scratch buffers between calls, so that Append allocates nothing once they
// have grown. A Delta is not safe for concurrent use; the Encoder owns one.
type Delta struct {
	removed []uint32 // ids of the baseline view gone from the current one
	spawned []int    // indexes in cur of entities new to the view
	recs    []byte   // change records of the common entities, back to back
	spans   []span   // which common entity each record belongs to
	bc, cc  cursor
}

// span is one change record: recs[previous span's end : end] belongs to
// common entity idx.
type span struct {
	idx, end int
}

// Append appends to dst the snapshot of cur, as player sees it through
// curView, against base as the same player saw it through baseView dt
// ticks earlier, and returns the extended slice. A nil base means a full
// snapshot (against the empty world; baseView and dt are then ignored).
// Both worlds must be of this codec, sorted by id with each id once, and
// their values must fit their fields (World.Check); Append trusts them, as
// they are the server's own. Views must have ascending IDs.
func (d *Delta) Append(dst []byte, base *World, baseView *View, cur *World, curView *View, player uint32, dt uint32) []byte {
	d.removed, d.spawned, d.recs, d.spans = d.removed[:0], d.spawned[:0], d.recs[:0], d.spans[:0]
	c := cur.c
	d.bc.reset(base, baseView)
	d.cc.reset(cur, curView)
	bi, ci := d.bc.next(), d.cc.next()
	common := 0
	// runs: both views see everything, so that common entities can be
	// tested a run at a time (predictedRun); single counts down the
	// entities of a run that was not all as predicted, tested one by one.
	runs, single := base != nil && d.bc.all && d.cc.all, 0
	for bi >= 0 || ci >= 0 {
		switch {
		case ci < 0 || bi >= 0 && base.ents[bi].id < cur.ents[ci].id:
			d.removed = append(d.removed, base.ents[bi].id)
			bi = d.bc.next()
		case bi < 0 || cur.ents[ci].id < base.ents[bi].id:
			d.spawned = append(d.spawned, ci)
			ci = d.cc.next()
		default:
			if runs && single == 0 {
				m, ok := predictedRun(c, base, bi, cur, ci, dt)
				if ok {
					common += m
					d.bc.i, d.cc.i = bi+m, ci+m
					bi, ci = d.bc.next(), d.cc.next()
					continue
				}
				single = m
			}
			if single > 0 {
				single--
			}
			if base.ents[bi].kind != cur.ents[ci].kind {
				// A new entity under an old id: removed and spawned.
				d.removed = append(d.removed, base.ents[bi].id)
				d.spawned = append(d.spawned, ci)
			} else if !asPredicted(c, base, bi, cur, ci, dt) {
				n := len(d.recs)
				d.recs = appendRecord(d.recs, c, base, bi, cur, ci, player, dt)
				if len(d.recs) > n {
					d.spans = append(d.spans, span{idx: common, end: len(d.recs)})
				}
				common++
			} else {
				common++
			}
			bi, ci = d.bc.next(), d.cc.next()
		}
	}

	if len(d.removed) == 0 && len(d.spawned) == 0 {
		// Zero bytes when nothing changed; else the changes, their
		// first varint doubled (an even header).
		return d.appendChanges(dst, common, 2)
	}
	// Header: an odd F = 2·(2·removed + any spawned) + 1, then the spawned
	// count.
	h := uint64(len(d.removed)) << 1
	if len(d.spawned) > 0 {
		h |= 1
	}
	dst = binary.AppendUvarint(dst, h<<1|1)
	if len(d.spawned) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(d.spawned)))
	}
	prev := int64(-1)
	for _, id := range d.removed {
		dst = binary.AppendUvarint(dst, uint64(int64(id)-prev-1))
		prev = int64(id)
	}
	prev = -1
	for _, i := range d.spawned {
		id := cur.ents[i].id
		dst = binary.AppendUvarint(dst, uint64(int64(id)-prev-1))
		prev = int64(id)
		dst = appendSpawn(dst, c, cur, i, player)
	}
	return d.appendChanges(dst, common, 1)
}

// appendChanges appends the presence section and the records, in the
// smaller of the two presence forms. The first varint P is written as
// first·P (1, or 2 when it doubles as the header).
func (d *Delta) appendChanges(dst []byte, common int, first uint64) []byte {
	if len(d.spans) == 0 {
		return dst
	}
	gapBytes, last := 0, -1
	for i, s := range d.spans {
		g := gapValue(s.idx, last)
		if i == 0 {
			g *= first
		}
		gapBytes += uvarintLen(g)
		last = s.idx
	}
	bitmapLen := (common + 7) / 8
	if 1+bitmapLen < gapBytes {
		dst = append(dst, 0)
		at := len(dst)
		dst = append(dst, make([]byte, bitmapLen)...)
		for _, s := range d.spans {
			dst[at+s.idx/8] |= 1 << (s.idx % 8)
		}
		return append(dst, d.recs...)
	}
	start, last := 0, -1
	for i, s := range d.spans {
		g := gapValue(s.idx, last)
		if i == 0 {
			g *= first
		}
		dst = binary.AppendUvarint(dst, g)
		dst = append(dst, d.recs[start:s.end]...)
		start, last = s.end, s.idx
	}
	return dst
}

// appendSpawn appends entity i of w in full (after its id): kind, owner,
// then every field the player may see.
func appendSpawn(dst []byte, c *Codec, w *World, i int, player uint32) []byte {
	e := &w.ents[i]
	dst = binary.AppendUvarint(dst, uint64(e.kind))
	dst = binary.AppendUvarint(dst, uint64(e.owner))
	owned := player != 0 && e.owner == player
	for f := range c.kinds[e.kind].fields {
		fi := &c.kinds[e.kind].fields[f]
		if fi.ownerOnly && !owned {
			continue
		}
		if fi.typ == FieldBytes {
			b := w.Bytes(i, f)
			dst = binary.AppendUvarint(dst, uint64(len(b)))
			dst = append(dst, b...)
			continue
		}
		dst = binary.AppendUvarint(dst, zigzag(w.vals[int(e.off)+f]))
	}
	return dst
}

// appendRecord appends the change record of common entity ci of w against
// bi of b (same id, same kind), or nothing when the player's view of it is
// exactly as predicted.
func appendRecord(dst []byte, c *Codec, b *World, bi int, w *World, ci int, player uint32, dt uint32) []byte {
	be, ce := &b.ents[bi], &w.ents[ci]
	k := &c.kinds[ce.kind]
	n := len(k.hot)
	bv := b.vals[int(be.off) : int(be.off)+n]
	cv := w.vals[int(ce.off) : int(ce.off)+n]
	ownedB := player != 0 && be.owner == player
	ownedC := player != 0 && ce.owner == player
	var mask uint64
	if k.plain {
		mask = plainMask(k.pred, bv, cv, dt)
	} else {
		for f, h := range k.hot {
			if h.flags&hotOwnerOnly != 0 && !ownedC {
				continue // the client zeroes it
			}
			if h.flags&hotBytes != 0 {
				if !bytes.Equal(baseBytes(b, bi, f, h, ownedB), w.Bytes(ci, f)) {
					mask |= 1 << f
				}
				continue
			}
			if residual(h, bv, cv[f], f, ownedB, dt) != 0 {
				mask |= 1 << f
			}
		}
	}
	if ce.owner != be.owner {
		mask |= 1 << n
	}
	if mask == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, mask)
	if mask&(1<<n) != 0 {
		dst = binary.AppendUvarint(dst, uint64(ce.owner))
	}
	for m := mask &^ (1 << n); m != 0; m &= m - 1 {
		f := bits.TrailingZeros64(m)
		h := k.hot[f]
		if h.flags&hotBytes != 0 {
			v := w.Bytes(ci, f)
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
			continue
		}
		dst = binary.AppendUvarint(dst, zigzag(residual(h, bv, cv[f], f, ownedB, dt)))
	}
	return dst
}

// asPredicted reports whether common entity ci of w is exactly as entity
// bi of b predicts it dt ticks later, for a kind whose fields are all ints
// that everyone sees (the common case, checked before the record is
// built): same owner, every field as predicted. false means: maybe not.
func asPredicted(c *Codec, b *World, bi int, w *World, ci int, dt uint32) bool {
	be, ce := &b.ents[bi], &w.ents[ci]
	k := &c.kinds[ce.kind]
	if !k.plain || be.owner != ce.owner {
		return false
	}
	n := len(k.pred)
	bv, cv := b.vals[be.off:int(be.off)+n], w.vals[ce.off:int(ce.off)+n]
	var acc int64
	for _, f := range k.exact {
		acc |= cv[f] ^ bv[f]
	}
	for _, p := range k.wrapped {
		acc |= (cv[p.f] - bv[p.f]) << (p.sh & 63)
	}
	d := int64(dt)
	for _, p := range k.moved {
		acc |= (cv[p.f] - bv[p.f] - bv[p.vel]*d) << (p.sh & 63)
	}
	return acc == 0
}

// predictedRun tests the run of common entities from bi of b and ci of w
// on (at most predRun of them, views of everything): m is its length,
// the entities of one plain kind with the same ids and owners in both
// worlds, laid out one after the other in each; ok reports that all of
// them are exactly as predicted (asPredicted, one flat loop over their
// values). m is 0 when the first entity does not start such a run.
func predictedRun(c *Codec, b *World, bi int, w *World, ci int, dt uint32) (m int, ok bool) {
	be0, ce0 := &b.ents[bi], &w.ents[ci]
	kind := ce0.kind
	k := &c.kinds[kind]
	if len(k.runPred) == 0 {
		return 0, false
	}
	n := len(k.pred)
	bs, cs := b.ents[bi:], w.ents[ci:]
	lim := min(len(bs), len(cs), predRun)
	bs, cs = bs[:lim], cs[:lim]
	bo, co := be0.off, ce0.off
	for m = 0; m < lim; m++ {
		be, ce := &bs[m], &cs[m]
		if be.id != ce.id || be.kind != kind || ce.kind != kind || be.owner != ce.owner || be.off != bo || ce.off != co {
			break
		}
		bo += uint32(n)
		co += uint32(n)
	}
	if m == 0 {
		return 0, false
	}
	v := m * n
	return m, runPredicted(k.runPred[:v], b.vals[be0.off:int(be0.off)+v], w.vals[ce0.off:int(ce0.off)+v], dt)
}

// runPredicted reports whether every value of cv is as predicted from bv
// dt ticks earlier by pr (a kind's runPred): asPredicted for a run. The
// residual of field j is cv[j] - bv[j] - bv[vel]·dt, 0 without a velocity
// (mul 0), and only its low bits count for a wrapping field (keep).
func runPredicted(pr []runField, bv, cv []int64, dt uint32) bool {
	bv, cv = bv[:len(pr)], cv[:len(pr)]
	var acc int64
	if dt == 1 { // an ack one tick behind: no multiplication
		for j := range pr {
			p := &pr[j]
			acc |= (cv[j] - bv[j] - bv[p.vel]&p.mul) & p.keep
		}
		return acc == 0
	}
	d := int64(dt)
	for j := range pr {
		p := &pr[j]
		acc |= (cv[j] - bv[j] - bv[p.vel]*d&p.mul) & p.keep
	}
	return acc == 0
}

// plainMask is the change mask of a plain kind's entity: bit f set when
// field f of cv is not as bv predicts it dt ticks later. The hot loop of
// the encoder: no branch but the mask's.
func plainMask(pr []fieldPred, bv, cv []int64, dt uint32) uint64 {
	d := int64(dt)
	bv, cv = bv[:len(pr)], cv[:len(pr)]
	var mask uint64
	for f := range pr {
		p := &pr[f]
		r := (cv[f] - bv[f] - bv[p.vel]*(d&p.mul)) << (p.sh & 63) >> (p.sh & 63)
		if r != 0 {
			mask |= 1 << f
		}
	}
	return mask
}

// residual is what an int field's record value carries: the current value
// cur minus its prediction from the baseline values bv (the shorter way
// round for a wrapping field). A field hidden in the client's baseline
// (owner-only, not owned then) is predicted 0.
func residual(h fieldHot, bv []int64, cur int64, f int, ownedB bool, dt uint32) int64 {
	var pred int64
	if h.flags&hotOwnerOnly == 0 || ownedB {
		pred = bv[f]
		if h.vel >= 0 {
			pred += bv[h.vel] * int64(dt)
		}
	}
	r := cur - pred
	if h.flags&hotWrap != 0 {
		r = signExtend(r, h.bits)
	}
	return r
}

// baseBytes is bytes field f of entity i of the baseline as the client
// holds it: empty when hidden.
func baseBytes(b *World, i, f int, h fieldHot, ownedB bool) []byte {
	if h.flags&hotOwnerOnly != 0 && !ownedB {
		return nil
	}
	return b.Bytes(i, f)
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

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// predRun is how many common entities predictedRun tests at once: the
// more, the less work per entity while all are as predicted, the more
// entities tested again one by one when one of them is not.
const predRun = 4
