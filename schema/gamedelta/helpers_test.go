package gamedelta

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// project is the test oracle for what a client must hold: the entities of
// w that v sees, with the owner-only fields of entities player does not own
// zeroed. It is written against the Layout and World's public accessors,
// independently of the codec.
func project(l *Layout, c *Codec, w *World, v *View, player uint32) *World {
	out := NewWorld(c)
	for i := range w.Len() {
		if v != nil && !v.All && !slices.Contains(v.IDs, w.ID(i)) {
			continue
		}
		j := out.Add(w.ID(i), w.Kind(i), w.Owner(i))
		owned := player != 0 && w.Owner(i) == player
		for f, fd := range l.Kinds[w.Kind(i)].Fields {
			if fd.OwnerOnly && !owned {
				continue
			}
			if fd.Type == FieldBytes {
				out.SetBytes(j, f, w.Bytes(i, f))
			} else {
				out.SetInt(j, f, w.Int(i, f))
			}
		}
	}
	return out
}

func mustCompile(t testing.TB, l Layout) *Codec {
	t.Helper()
	c, err := Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// genLayout returns a random valid layout: 1..4 kinds of 0..10 fields
// (now and then a kind of up to 63), ints of every width, signed or not,
// wrapping, predicted from another field, owner-only, and byte strings.
func genLayout(rng *rand.Rand) Layout {
	var l Layout
	for k := range 1 + rng.IntN(4) {
		n := rng.IntN(11)
		if rng.IntN(20) == 0 {
			n = 40 + rng.IntN(MaxFields-39)
		}
		kd := Kind{Name: string(rune('a' + k))}
		for f := range n {
			fd := Field{Name: string(rune('A'+f%26)) + string(rune('0'+f/26))}
			if rng.IntN(7) == 0 {
				fd.Type = FieldBytes
				fd.MaxLen = []int{0, 1, 5, 40}[rng.IntN(4)]
				fd.OwnerOnly = rng.IntN(5) == 0
				kd.Fields = append(kd.Fields, fd)
				continue
			}
			fd.Bits = []int{0, 1, 8, 16, 32, 64, 1 + rng.IntN(64)}[rng.IntN(7)]
			fd.Signed = rng.IntN(2) == 0
			fd.Wrap = rng.IntN(5) == 0
			fd.OwnerOnly = rng.IntN(7) == 0
			if !fd.Wrap && rng.IntN(6) == 0 { // a range within the bits
				lo, hi, full := fieldRange(fd)
				if full {
					lo, hi = -1<<63, 1<<63-1
					if !fd.Signed {
						lo = 0
					}
				}
				a, b := randValue(rng, Field{Min: lo, Max: hi}), randValue(rng, Field{Min: lo, Max: hi})
				fd.Min, fd.Max = min(a, b), max(a, b)
			}
			kd.Fields = append(kd.Fields, fd)
		}
		// Velocities: an int field predicted from another int field.
		for f := range kd.Fields {
			if kd.Fields[f].Type != FieldInt || rng.IntN(3) != 0 {
				continue
			}
			v := rng.IntN(len(kd.Fields))
			g := kd.Fields[v]
			if v == f || g.Type != FieldInt || g.OwnerOnly && !kd.Fields[f].OwnerOnly {
				continue
			}
			kd.Fields[f].Velocity = g.Name
		}
		l.Kinds = append(l.Kinds, kd)
	}
	return l
}

// fieldRange returns the range of an int field of l.
func fieldRange(fd Field) (lo, hi int64, full bool) {
	if fd.Min != 0 || fd.Max != 0 {
		return fd.Min, fd.Max, false
	}
	b := fd.Bits
	if b == 0 || b == 64 {
		return 0, 0, true
	}
	if fd.Signed {
		return -1 << (b - 1), 1<<(b-1) - 1, false
	}
	return 0, 1<<b - 1, false
}

// randValue returns a value of an int field: often small, sometimes at the
// edges of the range, sometimes anywhere in it.
func randValue(rng *rand.Rand, fd Field) int64 {
	lo, hi, full := fieldRange(fd)
	if full {
		lo, hi = -1<<63, 1<<63-1
	}
	switch rng.IntN(6) {
	case 0:
		return lo
	case 1:
		return hi
	case 2, 3:
		v := rng.Int64N(33) - 16
		return max(lo, min(hi, v))
	}
	if full {
		return int64(rng.Uint64())
	}
	n := uint64(hi-lo) + 1
	if n == 0 { // every int64
		return int64(rng.Uint64())
	}
	return lo + int64(rng.Uint64N(n))
}

func randBytes(rng *rand.Rand, fd Field) []byte {
	n := fd.MaxLen
	if n == 0 {
		n = DefaultMaxLen
	}
	b := make([]byte, rng.IntN(min(n, 12)+1))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	if rng.IntN(10) == 0 {
		b = make([]byte, n) // the longest value
	}
	return b
}

// genWorld returns a random sorted world of l with up to n entities.
func genWorld(rng *rand.Rand, l *Layout, c *Codec, n int) *World {
	w := NewWorld(c)
	id := uint32(0)
	for range rng.IntN(n + 1) {
		id += 1 + uint32(rng.IntN(4))
		i := w.Add(id, rng.IntN(len(l.Kinds)), uint32(rng.IntN(4)))
		fillEntity(rng, l, w, i)
	}
	return w
}

// fillEntity gives every field of entity i a random value.
func fillEntity(rng *rand.Rand, l *Layout, w *World, i int) {
	for f, fd := range l.Kinds[w.Kind(i)].Fields {
		if fd.Type == FieldBytes {
			w.SetBytes(i, f, randBytes(rng, fd))
		} else {
			w.SetInt(i, f, randValue(rng, fd))
		}
	}
}

// checkClientWorld checks what a client's world must be, from the layout
// alone: ids strictly ascending, every visible value within its field's
// range and length, hidden owner-only values 0 or empty.
func checkClientWorld(l *Layout, w *World, player uint32) error {
	for i := range w.Len() {
		if i > 0 && w.ID(i) <= w.ID(i-1) {
			return fmt.Errorf("id %d after %d", w.ID(i), w.ID(i-1))
		}
		owned := player != 0 && w.Owner(i) == player
		for f, fd := range l.Kinds[w.Kind(i)].Fields {
			hidden := fd.OwnerOnly && !owned
			if fd.Type == FieldBytes {
				n, maxLen := len(w.Bytes(i, f)), fd.MaxLen
				if maxLen == 0 {
					maxLen = DefaultMaxLen
				}
				if n > maxLen || hidden && n != 0 {
					return fmt.Errorf("entity %d field %d: %d bytes", w.ID(i), f, n)
				}
				continue
			}
			v := w.Int(i, f)
			lo, hi, full := fieldRange(fd)
			if hidden && v != 0 || !hidden && !full && (v < lo || v > hi) {
				return fmt.Errorf("entity %d field %d: %d", w.ID(i), f, v)
			}
		}
	}
	return nil
}
