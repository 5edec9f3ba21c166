package gamedelta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrBadDelta: snapshot bytes that do not apply to the given baseline
	// (malformed, inconsistent with the baseline, or values that do not
	// fit their fields).
	ErrBadDelta = errors.New("snapshot does not match baseline")
	// ErrStale: a snapshot not newer than the newest one applied
	// (reordered or duplicated); the client ignores it.
	ErrStale = errors.New("snapshot older than the newest applied")
	// ErrNoBaseline: a delta against a baseline tick the client no longer
	// (or never) held.
	ErrNoBaseline = errors.New("baseline not held")
	// ErrBadWorld: a world or view handed to the codec breaks its rules
	// (duplicate ids, a value that does not fit, view ids not ascending, a
	// world of another codec).
	ErrBadWorld = errors.New("world cannot be encoded")
)

func badDelta(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadDelta}, args...)...)
}

// DefaultMaxEntities is a Decoder's default bound on the entities of a
// world it builds.
const DefaultMaxEntities = 1 << 16

// Decoder applies snapshots on the client (DELTA.md). It keeps scratch
// buffers, so that Apply allocates nothing once they and the destination
// world have grown. A Decoder is not safe for concurrent use.
type Decoder struct {
	c       *Codec
	player  uint32
	max     int
	removed []uint32
	spawn   *World // the spawned entities of the snapshot being applied
	empty   *World // the baseline of a full snapshot
}

// NewDecoder returns a decoder for the client of player (0: a client that
// owns nothing, such as a spectator).
func NewDecoder(c *Codec, player uint32) *Decoder {
	return &Decoder{c: c, player: player, max: DefaultMaxEntities, spawn: NewWorld(c), empty: NewWorld(c)}
}

// SetMaxEntities bounds the entities of a world Apply builds (default
// DefaultMaxEntities), which bounds the work a hostile server can cause.
func (d *Decoder) SetMaxEntities(n int) { d.max = n }

// Apply builds in dst the world of a snapshot: base is the client's world
// at the snapshot's baseline tick (nil: a full snapshot, against the empty
// world), dt the ticks from the baseline to the snapshot, data the
// snapshot's bytes. dst must not be base; base must be of the decoder's
// codec (the same *Codec, else an error wrapping ErrBadWorld). Apply checks
// everything it reads (DELTA.md lists what it refuses) and never panics;
// an error wraps ErrBadDelta, and dst is then left in an unspecified state
// (base is never modified).
func (d *Decoder) Apply(dst, base *World, dt uint32, data []byte) error {
	if base == nil {
		base = d.empty
	} else if base.c != d.c {
		return fmt.Errorf("%w: baseline of another codec", ErrBadWorld)
	}
	dst.c = d.c
	dst.Reset()
	nb := base.Len()
	d.removed = d.removed[:0]
	d.spawn.Reset()
	ch := changeReader{reader: reader{buf: data}, n: nb, next: -1}
	if len(data) > 0 { // else nothing was removed, spawned or changed
		f, ok := ch.uvarint()
		if !ok {
			return badDelta("header: bad varint")
		}
		var err error
		if f&1 == 0 { // nothing removed or spawned: f/2 starts the changes
			err = ch.startWith(f >> 1)
		} else {
			var nr int
			if nr, err = d.readAdded(&ch.reader, f>>1, nb); err == nil {
				ch.n = nb - nr
				err = ch.start()
			}
		}
		if err != nil {
			return err
		}
	}
	if err := d.merge(dst, base, &ch, dt); err != nil {
		return err
	}
	return ch.finish()
}

// readAdded reads, after an odd header whose half is h, the spawned count,
// the removed ids (into d.removed) and the spawned entities (into d.spawn),
// and returns the number of ids removed from the nb of the baseline.
func (d *Decoder) readAdded(r *reader, h uint64, nb int) (int, error) {
	if h>>1 > uint64(nb) {
		return 0, badDelta("%d ids removed from a baseline of %d entities", h>>1, nb)
	}
	nr := int(h >> 1)
	var ns uint64
	if h&1 != 0 {
		var ok bool
		if ns, ok = r.uvarint(); !ok {
			return 0, badDelta("spawned count: bad varint")
		}
		// A removed id takes at least 1 byte, a spawned entity 3 (id,
		// kind, owner).
		rem := len(r.buf) - r.pos - nr
		if rem < 0 || ns > uint64(rem)/3 || uint64(nb-nr)+ns > uint64(d.max) {
			return 0, badDelta("%d spawned entities: too many", ns)
		}
	}
	prev := int64(-1)
	for range nr {
		id, err := r.id(prev, "removed")
		if err != nil {
			return 0, err
		}
		d.removed = append(d.removed, id)
		prev = int64(id)
	}
	return nr, d.readSpawned(r, int(ns))
}

// readSpawned reads n spawned entities into d.spawn.
func (d *Decoder) readSpawned(r *reader, n int) error {
	w := d.spawn
	w.Reset()
	prev := int64(-1)
	for range n {
		id, err := r.id(prev, "spawned")
		if err != nil {
			return err
		}
		prev = int64(id)
		kind, ok := r.uvarint()
		if !ok || kind >= uint64(len(d.c.kinds)) {
			return badDelta("spawned %d: bad kind", id)
		}
		owner, ok := r.uvarint()
		if !ok || owner > math.MaxUint32 {
			return badDelta("spawned %d: bad owner", id)
		}
		i := w.Add(id, int(kind), uint32(owner))
		owned := d.player != 0 && uint32(owner) == d.player
		for f := range d.c.kinds[kind].fields {
			fi := &d.c.kinds[kind].fields[f]
			if fi.ownerOnly && !owned {
				continue
			}
			if err := r.field(w, i, f, fi, 0); err != nil {
				return fmt.Errorf("spawned %d field %q: %w", id, fi.name, err)
			}
		}
	}
	return nil
}

// merge builds dst from base (minus removed, with changes) and the spawned
// entities, in id order.
func (d *Decoder) merge(dst, base *World, ch *changeReader, dt uint32) error {
	sp := d.spawn
	i, s, k, idx := 0, 0, 0, 0
	nb, ns, nr := base.Len(), sp.Len(), len(d.removed)
	for i < nb || s < ns {
		if s < ns && (i == nb || sp.ents[s].id <= base.ents[i].id) {
			id := sp.ents[s].id
			if i < nb && id == base.ents[i].id {
				if k >= nr || d.removed[k] != id {
					return badDelta("spawned id %d already in the baseline", id)
				}
				k++
				i++
			}
			copyEntity(dst, sp, s)
			s++
			continue
		}
		id := base.ents[i].id
		if k < nr && d.removed[k] <= id {
			if d.removed[k] < id {
				return badDelta("removed id %d not in the baseline", d.removed[k])
			}
			k++
			i++
			continue
		}
		if err := d.common(dst, base, i, ch, idx, dt); err != nil {
			return err
		}
		idx++
		i++
	}
	if k < nr {
		return badDelta("removed id %d not in the baseline", d.removed[k])
	}
	return nil
}

// copyEntity appends entity i of src to dst.
func copyEntity(dst, src *World, i int) {
	e := &src.ents[i]
	k := &src.c.kinds[e.kind]
	j := dst.Add(e.id, int(e.kind), e.owner)
	off := int(dst.ents[j].off)
	copy(dst.vals[off:off+len(k.fields)], src.vals[int(e.off):])
	for _, f := range k.blobs {
		dst.SetBytes(j, f, src.Bytes(i, f))
	}
}

// common appends common entity idx (base entity i) at the new tick:
// predicted, then changed by its record if it has one.
func (d *Decoder) common(dst, base *World, i int, ch *changeReader, idx int, dt uint32) error {
	copyEntity(dst, base, i)
	j := dst.Len() - 1
	e := &dst.ents[j]
	k := &d.c.kinds[e.kind]
	n := len(k.fields)
	vals := dst.vals[int(e.off) : int(e.off)+n]
	bv := base.vals[int(base.ents[i].off) : int(base.ents[i].off)+n]
	ownedB := d.player != 0 && e.owner == d.player
	for _, f := range k.predicted {
		fi := &k.fields[f]
		if fi.ownerOnly && !ownedB {
			continue // a hidden field is 0 and stays 0
		}
		v := bv[f] + bv[fi.vel]*int64(dt)
		if fi.wrap {
			v = fi.reduce(v)
		}
		vals[f] = v
	}
	if idx == ch.next {
		if err := ch.record(dst, j, k, d.player); err != nil {
			return err
		}
		if err := ch.advance(idx); err != nil {
			return err
		}
	}
	owned := d.player != 0 && e.owner == d.player
	if !owned && ownedB {
		for f := range k.fields {
			if k.fields[f].ownerOnly {
				vals[f] = 0 // hidden from now on
			}
		}
	}
	// Values read from the record were checked; the baseline's were valid.
	// What is left: predictions, and fields that became visible unsent.
	check := k.predicted
	if owned && !ownedB {
		check = k.ints
	}
	for _, f := range check {
		fi := &k.fields[f]
		if fi.ownerOnly && !owned {
			continue // hidden: 0, whatever its range
		}
		if !fi.fits(vals[f]) {
			return badDelta("entity %d field %q: %d does not fit %d bits", e.id, fi.name, vals[f], fi.bits)
		}
	}
	return nil
}

// reader reads varints from a snapshot, never past its end.
type reader struct {
	buf []byte
	pos int
}

func (r *reader) uvarint() (uint64, bool) {
	u, w := binary.Uvarint(r.buf[r.pos:])
	if w <= 0 {
		return 0, false
	}
	r.pos += w
	return u, true
}

// id reads an id coded as the gap after prev (-1: the first).
func (r *reader) id(prev int64, what string) (uint32, error) {
	u, ok := r.uvarint()
	if !ok || u > math.MaxUint32 || prev+1+int64(u) > math.MaxUint32 {
		return 0, badDelta("%s id after %d: bad varint or past 2^32", what, prev)
	}
	return uint32(prev + 1 + int64(u)), nil
}

// field reads field f of entity i of w in full (spawned) or as a change
// (pred: the predicted value of an int field).
func (r *reader) field(w *World, i, f int, fi *fieldInfo, pred int64) error {
	if fi.typ == FieldBytes {
		n, ok := r.uvarint()
		if !ok || n > uint64(fi.maxLen) || n > uint64(len(r.buf)-r.pos) {
			return badDelta("bad length")
		}
		w.SetBytes(i, f, r.buf[r.pos:r.pos+int(n)])
		r.pos += int(n)
		return nil
	}
	u, ok := r.uvarint()
	if !ok {
		return badDelta("bad varint")
	}
	v := pred + unzigzag(u)
	if fi.wrap {
		v = fi.reduce(v)
	}
	if !fi.fits(v) {
		return badDelta("%d does not fit %d bits", v, fi.bits)
	}
	w.vals[int(w.ents[i].off)+f] = v
	return nil
}

// changeReader walks the changes section while merge visits the common
// entities in order.
type changeReader struct {
	reader
	n      int    // number of common entities
	gaps   bool   // presence by gap varints (else by bitmap)
	bitmap []byte // bitmap form: the bitmap
	next   int    // index of the next changed common entity; -1: none left
}

// start reads the presence section's first varint, if there are changes.
func (r *changeReader) start() error {
	r.next = -1
	if r.pos == len(r.buf) {
		return nil
	}
	h, ok := r.uvarint()
	if !ok {
		return badDelta("changes: bad header varint")
	}
	return r.startWith(h)
}

// startWith starts the presence section whose first varint is h.
func (r *changeReader) startWith(h uint64) error {
	r.next = -1
	if h != 0 {
		if h > uint64(r.n) {
			return badDelta("changes: first changed index %d of %d common entities", h-1, r.n)
		}
		r.gaps, r.next = true, int(h-1)
		return nil
	}
	nb := (r.n + 7) / 8
	if len(r.buf)-r.pos < nb {
		return badDelta("changes: bitmap of %d bytes for %d entities, %d bytes left", nb, r.n, len(r.buf)-r.pos)
	}
	r.bitmap = r.buf[r.pos : r.pos+nb]
	r.pos += nb
	if rem := r.n % 8; rem != 0 && r.bitmap[nb-1]>>rem != 0 {
		return badDelta("changes: bitmap bits set past %d entities", r.n)
	}
	r.next = r.nextBit(0)
	return nil
}

// nextBit returns the first set bit at or after from, or -1.
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
	g, ok := r.uvarint()
	if !ok {
		return badDelta("changes: bad gap varint at byte %d", r.pos)
	}
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

// record reads the change record of entity j of w (kind k), whose fields
// hold their predictions.
func (r *changeReader) record(w *World, j int, k *kindInfo, player uint32) error {
	e := &w.ents[j]
	n := len(k.fields)
	if r.pos >= len(r.buf) {
		return badDelta("entity %d: change record missing", e.id)
	}
	mask, ok := r.uvarint()
	if !ok || mask == 0 || mask>>(n+1) != 0 {
		return badDelta("entity %d: bad change mask", e.id)
	}
	if mask&(1<<n) != 0 {
		o, ok := r.uvarint()
		if !ok || o > math.MaxUint32 {
			return badDelta("entity %d: bad owner", e.id)
		}
		e.owner = uint32(o)
	}
	owned := player != 0 && e.owner == player
	for m := mask &^ (1 << n); m != 0; m &= m - 1 {
		f := bits.TrailingZeros64(m)
		fi := &k.fields[f]
		if fi.ownerOnly && !owned {
			return badDelta("entity %d: owner-only field %q of an entity the player does not own", e.id, fi.name)
		}
		if err := r.field(w, j, f, fi, w.vals[int(e.off)+f]); err != nil {
			return fmt.Errorf("entity %d field %q: %w", e.id, fi.name, err)
		}
	}
	return nil
}
