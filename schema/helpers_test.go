package schema

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Buffer surgery for hand-corrupted messages. The helpers read a valid
// buffer the way the FlatBuffers layout defines it, independently of the
// verifier.

func rd16(b []byte, p int) int      { return int(binary.LittleEndian.Uint16(b[p:])) }
func rd32(b []byte, p int) int      { return int(binary.LittleEndian.Uint32(b[p:])) }
func wr16(b []byte, p int, v int)   { binary.LittleEndian.PutUint16(b[p:], uint16(v)) }
func wr32(b []byte, p int, v int64) { binary.LittleEndian.PutUint32(b[p:], uint32(v)) }

// rootPos is the position of the root table.
func rootPos(b []byte) int { return rd32(b, 0) }

// vtPos is the position of the vtable of the table at t.
func vtPos(b []byte, t int) int { return t - int(int32(rd32(b, t))) }

// slotEntry is the position of the vtable entry of field slot of table t.
func slotEntry(b []byte, t, slot int) int { return vtPos(b, t) + 4 + 2*slot }

// fieldPos is the absolute position of field slot of table t (it must be
// present).
func fieldPos(tb testing.TB, b []byte, t, slot int) int {
	tb.Helper()
	e := slotEntry(b, t, slot)
	if e+2 > vtPos(b, t)+rd16(b, vtPos(b, t)) || rd16(b, e) == 0 {
		tb.Fatalf("field %d of table at %d absent", slot, t)
	}
	return t + rd16(b, e)
}

// deref follows the uoffset at p.
func deref(b []byte, p int) int { return p + rd32(b, p) }

// bodyPos is the position of the union body table of a message.
func bodyPos(tb testing.TB, b []byte) int {
	tb.Helper()
	return deref(b, fieldPos(tb, b, rootPos(b), 1))
}

// clone copies an Encoder's output (which aliases its builder).
func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Random worlds for the delta property test.

// randEntity returns an entity with id, mixing everyday values and extremes.
func randEntity(rng *rand.Rand, id uint32) Entity {
	e := Entity{ID: id, Kind: uint8(rng.IntN(4)), HP: uint8(rng.IntN(256)), Angle: uint16(rng.Uint32())}
	if rng.IntN(4) == 0 {
		e.Owner = rng.Uint32N(16)
	}
	switch rng.IntN(8) {
	case 0: // anywhere, extremes included
		e.X, e.Y = randInt32(rng), randInt32(rng)
		e.VX, e.VY = int16(rng.Uint32()), int16(rng.Uint32())
	default: // arena-like
		e.X, e.Y = rng.Int32N(1<<16)-1<<15, rng.Int32N(1<<16)-1<<15
		e.VX, e.VY = int16(rng.IntN(129)-64), int16(rng.IntN(129)-64)
	}
	return e
}

func randInt32(rng *rand.Rand) int32 {
	switch rng.IntN(6) {
	case 0:
		return math.MaxInt32 - rng.Int32N(4)
	case 1:
		return math.MinInt32 + rng.Int32N(4)
	}
	return int32(rng.Uint32())
}

// randWorld returns a world of up to n entities with ids in 1..idSpace,
// sorted by ID.
func randWorld(rng *rand.Rand, n int, idSpace uint32) []Entity {
	ids := make(map[uint32]bool)
	for range n {
		ids[1+rng.Uint32N(idSpace)] = true
	}
	w := make([]Entity, 0, len(ids))
	for id := range ids {
		w = append(w, randEntity(rng, id))
	}
	slices.SortFunc(w, func(a, b Entity) int { return cmp.Compare(a.ID, b.ID) })
	return w
}

// evolve returns the world dt ticks after base: despawns, spawns (with
// fresh or reused ids), constant-velocity moves, velocity, hp, angle, kind
// and owner changes, small corrections and large jumps.
func evolve(rng *rand.Rand, base []Entity, dt uint32, idSpace uint32) []Entity {
	cur := make([]Entity, 0, len(base)+8)
	present := make(map[uint32]bool, len(base))
	for _, b := range base {
		present[b.ID] = true
		if rng.IntN(12) == 0 {
			continue // despawned
		}
		e := b
		e.X = int32(predict(b.X, b.VX, dt)) // wraps when it leaves int32
		e.Y = int32(predict(b.Y, b.VY, dt))
		for range rng.IntN(3) {
			switch rng.IntN(9) {
			case 0:
				e.VX, e.VY = int16(rng.IntN(129)-64), int16(rng.IntN(129)-64)
			case 1:
				e.VX = int16(rng.Uint32())
			case 2:
				e.HP = uint8(rng.IntN(256))
			case 3:
				e.Angle += uint16(rng.IntN(8193) - 4096)
			case 4:
				e.Angle = uint16(rng.Uint32())
			case 5:
				e.Kind = uint8(rng.IntN(256))
			case 6:
				e.Owner = rng.Uint32()
			case 7:
				e.X += int32(rng.IntN(65) - 32)
				e.Y += int32(rng.IntN(65) - 32)
			case 8:
				e.X, e.Y = randInt32(rng), randInt32(rng)
			}
		}
		cur = append(cur, e)
	}
	for range rng.IntN(6) {
		id := 1 + rng.Uint32N(idSpace)
		if present[id] {
			continue // the id of a live entity (or one just removed): skip
		}
		present[id] = true
		cur = append(cur, randEntity(rng, id))
	}
	slices.SortFunc(cur, func(a, b Entity) int { return cmp.Compare(a.ID, b.ID) })
	return cur
}
