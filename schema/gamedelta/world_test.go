package gamedelta

import "testing"

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
