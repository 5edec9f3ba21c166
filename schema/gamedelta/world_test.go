package gamedelta

import (
	"math"
	"math/rand/v2"
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
