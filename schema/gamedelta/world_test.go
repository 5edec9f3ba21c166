package gamedelta

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestAddZeroAfterReuse checks that an entity added to a reused world
// (after Reset, or after CopyFrom of a smaller world) has every field 0,
// whatever the world held before.
func TestAddZeroAfterReuse(t *testing.T) {
	c := mustCompile(t, arenaLayout)
	nf := c.NumFields(0)
	big, small := NewWorld(c), NewWorld(c)
	for id := range uint32(10) {
		i := big.Add(id+1, 0, 0)
		for f := range nf {
			big.SetInt(i, f, int64(f+1))
		}
	}
	small.SetInt(small.Add(1, 0, 0), 0, 5)
	zero := func(w *World, i int, how string) {
		t.Helper()
		for f := range nf {
			if v := w.Int(i, f); v != 0 {
				t.Fatalf("%s: field %d of a new entity is %d", how, f, v)
			}
		}
	}
	w := NewWorld(c)
	w.CopyFrom(big)
	w.CopyFrom(small)
	zero(w, w.Add(2, 0, 0), "after CopyFrom of a smaller world")
	w.CopyFrom(big)
	w.Reset()
	zero(w, w.Add(1, 0, 0), "after Reset")
	for id := range uint32(100) { // growing past the capacity
		zero(w, w.Add(id+2, 0, 0), "after growth")
	}
	if !Equal(big, big) || big.Int(9, nf-1) != int64(nf) {
		t.Fatalf("the source world changed: %v", big)
	}
}

// TestCheckRuns: Check, which tests runs of entities of an int-only kind
// as flat arrays, finds exactly what checkEach (entity by entity) finds:
// any one value out of its field's range, anywhere in a run (long runs,
// runs broken by another kind, by a kind with bytes fields, by a kind
// with no field, by a sort), and nothing in a world that fits.
func TestCheckRuns(t *testing.T) {
	c := mustCompile(t, Layout{Kinds: []Kind{
		{Name: "a", Fields: []Field{{Name: "x", Bits: 32, Signed: true}, {Name: "b", Bits: 1}, {Name: "w", Bits: 64}, {Name: "z", Bits: 63, Signed: true}, {Name: "r", Bits: 7}}},
		{Name: "b", Fields: []Field{{Name: "s", Bits: 8, Signed: true}, {Name: "t", Bits: 16}, {Name: "u", Bits: 20, Signed: true}}},
		{Name: "blob", Fields: []Field{{Name: "n", Bits: 4}, {Name: "d", Type: FieldBytes, MaxLen: 3}}},
		{Name: "none"},
	}})
	rng := rand.New(rand.NewPCG(1, 2))
	// inRange returns a random value that fits field f of kind k.
	inRange := func(k, f int) int64 {
		lo, hi := c.kinds[k].fields[f].min, c.kinds[k].fields[f].max
		switch rng.IntN(3) {
		case 0:
			return lo
		case 1:
			return hi
		}
		return lo + int64(rng.Uint64N(uint64(hi-lo)))
	}
	for round := range 3000 {
		w := NewWorld(c)
		n := 1 + rng.IntN(40)
		ids := rng.Perm(n)
		sorted := round%3 == 0
		if !sorted {
			for i := range ids {
				ids[i] = i
			}
		}
		kind := rng.IntN(4)
		for _, id := range ids {
			if rng.IntN(6) == 0 { // mostly long runs of a kind
				kind = rng.IntN(4)
			}
			i := w.Add(uint32(id+1), kind, 0)
			for f := range c.NumFields(kind) {
				if c.FieldType(kind, f) == FieldBytes {
					w.SetBytes(i, f, make([]byte, rng.IntN(4)))
				} else {
					w.SetInt(i, f, inRange(kind, f))
				}
			}
		}
		if sorted {
			w.Sort()
		}
		if err := w.Check(); err != nil {
			t.Fatalf("round %d: a world that fits: %v\n%v", round, err, w)
		}
		if w.Len() > 1 && rng.IntN(4) == 0 { // an id repeated or out of order
			i := 1 + rng.IntN(w.Len()-1)
			saved := w.ents[i].id
			w.ents[i].id = w.ents[i-1].id - uint32(rng.IntN(2))
			err, want := w.Check(), w.checkEach()
			if err == nil || want == nil || err.Error() != want.Error() {
				t.Fatalf("round %d: id of entity %d after %d: Check %v, checkEach %v", round, w.ents[i].id, w.ents[i-1].id, err, want)
			}
			w.ents[i].id = saved
		}
		// One value out of range, at random.
		i := rng.IntN(w.Len())
		k := w.Kind(i)
		if c.NumFields(k) == 0 {
			continue
		}
		f := rng.IntN(c.NumFields(k))
		fi := &c.kinds[k].fields[f]
		switch {
		case fi.typ == FieldBytes:
			w.SetBytes(i, f, make([]byte, 4))
		case fi.anyValue:
			continue
		case rng.IntN(2) == 0 && fi.max < math.MaxInt64:
			w.SetInt(i, f, fi.max+1+int64(rng.IntN(3)))
		case fi.min > math.MinInt64:
			w.SetInt(i, f, fi.min-1-int64(rng.IntN(3)))
		default:
			w.SetInt(i, f, fi.max+1)
		}
		err, want := w.Check(), w.checkEach()
		if err == nil || want == nil || err.Error() != want.Error() {
			t.Fatalf("round %d: entity %d field %d = %d: Check %v, checkEach %v", round, i, f, w.Int(i, f), err, want)
		}
	}
}

// TestPredictedRuns: a delta between views of everything, whose common
// entities are tested a run at a time (predictedRun), is byte for byte the
// delta between views listing every id, tested one by one: for plain kinds
// with predicted, wrapping and predicted wrapping fields, values moving as
// predicted (across the wrap) or not, runs broken by kinds, owners, ids
// and spawns, and any dt.
func TestPredictedRuns(t *testing.T) {
	c := mustCompile(t, Layout{Kinds: []Kind{
		{Name: "mover", Fields: []Field{
			{Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
			{Name: "a", Bits: 8, Wrap: true, Velocity: "va"},
			{Name: "vx", Bits: 8, Signed: true},
			{Name: "va", Bits: 8, Signed: true},
			{Name: "h", Bits: 6, Wrap: true},
		}},
		{Name: "flag", Fields: []Field{{Name: "on", Bits: 1}}},
		{Name: "secret", Fields: []Field{{Name: "s", Bits: 8, OwnerOnly: true}}},
	}})
	rng := rand.New(rand.NewPCG(5, 6))
	type ent struct {
		id, owner uint32
		kind      int
		v         [5]int64
	}
	fill := func(w *World, ents []ent) {
		w.Reset()
		for _, e := range ents {
			i := w.Add(e.id, e.kind, e.owner)
			copy(w.Ints(i), e.v[:c.NumFields(e.kind)])
		}
	}
	var d Delta
	base, cur := NewWorld(c), NewWorld(c)
	for round := range 3000 {
		dt := int64(1 + rng.IntN(3))
		var bs, cs []ent
		id := uint32(0)
		for range rng.IntN(30) {
			id += 1 + uint32(rng.IntN(2))
			e := ent{id: id, owner: uint32(rng.IntN(3)), kind: rng.IntN(3)}
			if rng.IntN(4) > 0 {
				e.kind = 0
			}
			e.v = [5]int64{int64(rng.IntN(1000)) - 500, int64(rng.IntN(256)), int64(rng.IntN(256)) - 128, int64(rng.IntN(256)) - 128, int64(rng.IntN(64))}
			if e.kind != 0 {
				e.v[0] = int64(rng.IntN(2))
			}
			n := e
			if e.kind == 0 { // as predicted, the angle wrapping
				n.v[0] += e.v[2] * dt
				n.v[1] = (e.v[1] + e.v[3]*dt) & 255
			}
			switch rng.IntN(12) {
			case 0:
				n.v[rng.IntN(c.NumFields(n.kind))] ^= 1
			case 1:
				n.owner++
			case 2:
				n.kind = (n.kind + 1) % 3
				n.v = [5]int64{}
			}
			if rng.IntN(10) > 0 {
				bs = append(bs, e)
			}
			if rng.IntN(10) > 0 {
				cs = append(cs, n)
			}
		}
		fill(base, bs)
		fill(cur, cs)
		if err := base.Check(); err != nil {
			t.Fatal(err)
		}
		if err := cur.Check(); err != nil {
			t.Fatal(err)
		}
		vb, vc := &View{}, &View{}
		for i := range base.Len() {
			vb.IDs = append(vb.IDs, base.ID(i))
		}
		for i := range cur.Len() {
			vc.IDs = append(vc.IDs, cur.ID(i))
		}
		player := uint32(rng.IntN(3))
		if base.Len() >= predRun && base.Len() == cur.Len() {
			// A run as predicted is found so, across the wrap too.
			ok := true
			for i := range predRun {
				ok = ok && base.ID(i) == cur.ID(i) && base.Owner(i) == cur.Owner(i) && base.Kind(i) == 0 && cur.Kind(i) == 0 && asPredicted(c, base, i, cur, i, uint32(dt))
			}
			if m, got := predictedRun(c, base, 0, cur, 0, uint32(dt)); ok && (m != predRun || !got) {
				t.Fatalf("round %d dt %d: a run as predicted: %d, %v\nbase %v\ncur  %v", round, dt, m, got, base, cur)
			}
		}
		got := d.Append(nil, base, nil, cur, nil, player, uint32(dt))
		want := d.Append(nil, base, vb, cur, vc, player, uint32(dt))
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d dt %d: runs %x, one by one %x\nbase %v\ncur  %v", round, dt, got, want, base, cur)
		}
	}
}

// TestAddRun: a world built with AddRun, SetID and SetOwner (runs of
// random kinds and lengths, the empty run included, on a world reused
// after holding other values) is the world Add builds: same entities,
// every new field 0 (or empty) until set.
func TestAddRun(t *testing.T) {
	c := mustCompile(t, cardsLayout)
	rng := rand.New(rand.NewPCG(7, 0))
	dirty := NewWorld(c)
	for id := range uint32(200) {
		i := dirty.Add(id+1, int(id%2), 3)
		dirty.SetInt(i, 0, 9)
		dirty.SetBytes(i, 2, []byte("old"))
	}
	byRun, byAdd := NewWorld(c), NewWorld(c)
	for round := range 50 {
		byRun.CopyFrom(dirty)
		byRun.Reset()
		byAdd.Reset()
		id := uint32(0)
		for range rng.IntN(6) {
			kind, n := rng.IntN(2), rng.IntN(40)
			first := byRun.AddRun(kind, n)
			if first != byAdd.Len() {
				t.Fatalf("round %d: AddRun returned %d, want %d", round, first, byAdd.Len())
			}
			for j := range n {
				id += 1 + uint32(rng.IntN(3))
				owner := uint32(rng.IntN(9))
				byRun.SetID(first+j, id)
				byRun.SetOwner(first+j, owner)
				byAdd.Add(id, kind, owner)
				for f := range c.NumFields(kind) {
					if c.FieldType(kind, f) == FieldBytes {
						if b := byRun.Bytes(first+j, f); len(b) != 0 {
							t.Fatalf("round %d: field %d of a new entity holds %q", round, f, b)
						}
					} else if v := byRun.Int(first+j, f); v != 0 {
						t.Fatalf("round %d: field %d of a new entity is %d", round, f, v)
					}
				}
				if rng.IntN(2) == 0 {
					byRun.SetInt(first+j, 1, 5)
					byAdd.SetInt(first+j, 1, 5)
				}
			}
		}
		if !Equal(byRun, byAdd) {
			t.Fatalf("round %d: AddRun built\n%v\nAdd built\n%v", round, byRun, byAdd)
		}
		if err := byRun.Check(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// TestCheckBytesSlotOverwritten: a bytes field's slot written through Ints
// (an offset and length past the world's bytes) is refused by Check, not
// left to panic in the encoder.
func TestCheckBytesSlotOverwritten(t *testing.T) {
	c := mustCompile(t, Layout{Kinds: []Kind{{Name: "k", Fields: []Field{
		{Name: "n", Bits: 8},
		{Name: "s", Type: FieldBytes, MaxLen: 8},
	}}}})
	w := NewWorld(c)
	i := w.Add(1, 0, 0)
	w.SetBytes(i, 1, []byte("abc"))
	if err := w.Check(); err != nil {
		t.Fatalf("a good world: %v", err)
	}
	w.Ints(i)[1] = 1000<<32 | 3
	if err := w.Check(); err == nil || !strings.Contains(err.Error(), "SetBytes") {
		t.Fatalf("a bytes slot pointing past the bytes: %v", err)
	}
}
