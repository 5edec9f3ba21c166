package schema

import (
	"encoding/binary"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var (
	deltaSeed  = flag.Uint64("delta.seed", 0, "run TestDiffApplyProperty for this seed only (replays a failure)")
	deltaSeeds = flag.Int("delta.seeds", 3000, "number of seeds TestDiffApplyProperty runs")
)

// TestDiffApplyProperty: for random worlds and evolutions (spawns,
// despawns, constant-velocity moves, velocity, hp, angle, kind and owner
// changes, large jumps, dt 0..64), Apply(base, Diff(base, cur)) == cur
// exactly, also after a trip through Encoder.Snapshot and
// DecodeServerMessage. A failure names its seed; -delta.seed=N replays it.
func TestDiffApplyProperty(t *testing.T) {
	first, last := uint64(1), uint64(*deltaSeeds)
	if *deltaSeed != 0 {
		first, last = *deltaSeed, *deltaSeed
	}
	var d Delta
	var dst []Entity
	enc := NewEncoder(0)
	var m ServerMessage
	for seed := first; seed <= last; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0xde17a))
		idSpace := uint32(8 + rng.IntN(300))
		base := randWorld(rng, rng.IntN(100), idSpace)
		dt := uint32(rng.IntN(65))
		cur := evolve(rng, base, dt, idSpace)
		if rng.IntN(20) == 0 {
			cur = randWorld(rng, rng.IntN(100), idSpace) // unrelated worlds
		}
		Diff(&d, base, cur, dt)
		got, err := Apply(dst, base, dt, d.Spawned, d.Changes, d.Removed)
		if err != nil {
			t.Fatalf("seed %d (replay: go test ./schema -run TestDiffApplyProperty -delta.seed=%d): Apply: %v", seed, seed, err)
		}
		if !slices.Equal(got, cur) {
			t.Fatalf("seed %d (replay: -delta.seed=%d): Apply(base, Diff(base, cur)) != cur\nbase %v\ncur  %v\ngot  %v\ndelta %+v",
				seed, seed, base, cur, got, d)
		}
		dst = got

		if dt == 0 {
			continue // baseline_tick == tick cannot go on the wire
		}
		// The same through the wire.
		msg, _ := enc.Snapshot(&Snapshot{Tick: dt + 1, BaselineTick: 1, Spawned: d.Spawned, Changes: d.Changes, Removed: d.Removed})
		if err := DecodeServerMessage(msg, &m); err != nil {
			t.Fatalf("seed %d: decode: %v", seed, err)
		}
		s := &m.Snapshot
		got, err = Apply(dst, base, s.Tick-s.BaselineTick, s.Spawned, s.Changes, s.Removed)
		if err != nil || !slices.Equal(got, cur) {
			t.Fatalf("seed %d (replay: -delta.seed=%d): through the wire: err %v, equal %v", seed, seed, err, slices.Equal(got, cur))
		}
		dst = got
	}
}

func TestDiffShapes(t *testing.T) {
	moving := []Entity{{ID: 1, X: 100, VX: 5}, {ID: 2, Y: -7, VY: -3}, {ID: 3, X: math.MaxInt32 - 10, VX: 1}}
	later := func(dt int32) []Entity {
		w := slices.Clone(moving)
		for i := range w {
			w[i].X += int32(w[i].VX) * dt
			w[i].Y += int32(w[i].VY) * dt
		}
		return w
	}
	var d Delta
	t.Run("constant velocity costs nothing", func(t *testing.T) {
		Diff(&d, moving, later(10), 10)
		if len(d.Changes)+len(d.Spawned)+len(d.Removed) != 0 {
			t.Fatalf("delta %+v; want empty", d)
		}
	})
	t.Run("identical worlds at dt 0", func(t *testing.T) {
		Diff(&d, moving, moving, 0)
		if len(d.Changes) != 0 {
			t.Fatalf("changes %v; want none", d.Changes)
		}
	})
	t.Run("gap form for a few changes", func(t *testing.T) {
		cur := later(1)
		cur[1].HP = 9
		Diff(&d, moving, cur, 1)
		// H = index 1 + 1, mask hp, 9.
		if want := []byte{2, changeHP, 9}; !slices.Equal(d.Changes, want) {
			t.Fatalf("changes %v; want %v", d.Changes, want)
		}
	})
	t.Run("bitmap form when every entity changed", func(t *testing.T) {
		base := make([]Entity, 64)
		cur := make([]Entity, 64)
		for i := range base {
			base[i] = Entity{ID: uint32(i + 1)}
			cur[i] = Entity{ID: uint32(i + 1), HP: 1}
		}
		Diff(&d, base, cur, 1)
		if d.Changes[0] != 0 || len(d.Changes) != 1+8+64*2 {
			t.Fatalf("changes header %v, length %d; want bitmap form of %d bytes", d.Changes[:9], len(d.Changes), 1+8+64*2)
		}
	})
	t.Run("angle wraps the short way", func(t *testing.T) {
		base := []Entity{{ID: 1, Angle: 65535}}
		cur := []Entity{{ID: 1, Angle: 1}}
		Diff(&d, base, cur, 1)
		if want := []byte{1, changeAngle, 4}; !slices.Equal(d.Changes, want) { // +2 zigzagged
			t.Fatalf("changes %v; want %v", d.Changes, want)
		}
	})
}

func TestDiffAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	base := randWorld(rng, 64, 80)
	cur := evolve(rng, base, 2, 80)
	var d Delta
	Diff(&d, base, cur, 2)
	if n := testing.AllocsPerRun(100, func() { Diff(&d, base, cur, 2) }); n != 0 {
		t.Errorf("Diff: %v allocations; want 0", n)
	}
	dst := make([]Entity, 0, 128)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Apply(dst, base, 2, d.Spawned, d.Changes, d.Removed); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Apply: %v allocations; want 0", n)
	}
}

// TestApplyRefuses: every inconsistency is an ErrBadDelta, never a panic.
func TestApplyRefuses(t *testing.T) {
	base := []Entity{{ID: 2, X: 10, VX: 1}, {ID: 4}, {ID: 6, HP: 5}, {ID: 8}, {ID: 10}, {ID: 12}, {ID: 14}, {ID: 16}, {ID: 18}}
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }
	cases := []struct {
		name     string
		base     []Entity
		dt       uint32
		spawned  []Entity
		changes  []byte
		removed  []uint32
		contains string
	}{
		{"more removed than base", base[:1], 1, nil, nil, []uint32{2, 4}, "2 ids removed from a baseline of 1"},
		{"removed id absent", base, 1, nil, nil, []uint32{3}, "removed id 3 not in the baseline"},
		{"removed id past the end", base, 1, nil, nil, []uint32{40}, "removed id 40 not in the baseline"},
		{"removed unsorted", base, 1, nil, nil, []uint32{6, 4}, "removed id 4 not in the baseline"},
		{"removed duplicate", base, 1, nil, nil, []uint32{4, 4}, "removed id 4 not in the baseline"},
		{"spawned id present", base, 1, []Entity{{ID: 6}}, nil, nil, "spawned id 6 already in the baseline"},
		{"spawned id being removed", base, 1, []Entity{{ID: 6}}, nil, []uint32{6}, "spawned id 6 already in the baseline"},
		{"spawned unsorted", base, 1, []Entity{{ID: 7}, {ID: 5}}, nil, nil, "result not sorted"},
		{"spawned duplicate", base, 1, []Entity{{ID: 7}, {ID: 7}}, nil, nil, "result not sorted"},
		{"base unsorted", []Entity{{ID: 5}, {ID: 3}}, 1, nil, nil, nil, "result not sorted"},
		{"header varint overflow", base, 1, nil, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, nil, "bad header varint"},
		{"header varint truncated", base, 1, nil, []byte{0x80}, nil, "bad header varint"},
		{"first index past the end", base, 1, nil, cat(uv(10), []byte{changeHP, 1}), nil, "first changed index 9 of 9"},
		{"changes with no common entity", nil, 1, nil, []byte{1, changeHP, 1}, nil, "first changed index 0 of 0"},
		{"gap past the end", base, 1, nil, []byte{1, changeHP, 1, 8, changeHP, 1}, nil, "gap 8 after index 0 of 9"},
		{"gap huge", base, 1, nil, cat([]byte{1, changeHP, 1}, uv(math.MaxUint64)), nil, "gap 18446744073709551615"},
		{"gap varint overflow", base, 1, nil, []byte{1, changeHP, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, nil, "bad gap varint"},
		{"trailing gap without record", base, 1, nil, []byte{1, changeHP, 1, 0}, nil, "change record missing"},
		{"record missing", base, 1, nil, []byte{3}, nil, "entity 6: change record missing"},
		{"empty mask", base, 1, nil, []byte{1, 0}, nil, "entity 2: empty change mask"},
		{"hp truncated", base, 1, nil, []byte{1, changeHP}, nil, "record truncated"},
		{"hp and kind truncated", base, 1, nil, []byte{1, changeHP | changeKind, 3}, nil, "record truncated"},
		{"x truncated", base, 1, nil, []byte{1, changeX, 0x80}, nil, "entity 2: x: bad varint"},
		{"x residual huge", base, 1, nil, cat([]byte{1, changeX}, uv(zigzag(1<<50))), nil, "entity 2: x change"},
		{"x out of int32", base, 1, nil, cat([]byte{1, changeX}, uv(zigzag(math.MaxInt32))), nil, "entity 2: position"},
		{"prediction out of int32", []Entity{{ID: 1, X: math.MaxInt32, VX: 1}}, 1, nil, nil, nil, "entity 1: position (2147483648, 0)"},
		{"vx out of int16", base, 1, nil, cat([]byte{1, changeVX}, uv(zigzag(math.MaxInt16))), nil, "entity 2: vx 32768"},
		{"vy change huge", base, 1, nil, cat([]byte{1, changeVY}, uv(zigzag(1<<20))), nil, "entity 2: vy change"},
		{"angle change out of int16", base, 1, nil, cat([]byte{1, changeAngle}, uv(zigzag(32768))), nil, "angle change 32768"},
		{"owner over uint32", base, 1, nil, cat([]byte{1, changeOwner}, uv(1<<32)), nil, "bad owner varint"},
		{"owner truncated", base, 1, nil, []byte{1, changeOwner}, nil, "bad owner varint"},
		{"bitmap short", base, 1, nil, []byte{0, 1}, nil, "bitmap of 2 bytes for 9 entities, 1 bytes left"},
		{"bitmap padding bits", base, 1, nil, []byte{0, 0, 2}, nil, "bitmap bits set past 9"},
		{"bitmap record missing", base, 1, nil, []byte{0, 1, 0}, nil, "entity 2: change record missing"},
		{"bitmap trailing bytes", base, 1, nil, []byte{0, 1, 0, changeHP, 1, 7}, nil, "1 trailing bytes"},
		{"bitmap for no entity, trailing", nil, 1, nil, []byte{0, 5}, nil, "1 trailing bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Apply(nil, c.base, c.dt, c.spawned, c.changes, c.removed)
			if !errors.Is(err, ErrBadDelta) || !strings.Contains(err.Error(), c.contains) {
				t.Fatalf("error %v: want ErrBadDelta containing %q", err, c.contains)
			}
		})
	}
}

// TestApplyAcceptsNonCanonical documents what Apply lets through because it
// is unambiguous: the bitmap form where gaps were shorter, a set bit whose
// value equals the prediction, a non-minimal varint.
func TestApplyAcceptsNonCanonical(t *testing.T) {
	base := []Entity{{ID: 1, HP: 3}, {ID: 2, HP: 4}}
	want := []Entity{{ID: 1, HP: 3}, {ID: 2, HP: 9}}
	for name, changes := range map[string][]byte{
		"gaps":            {2, changeHP, 9},
		"bitmap":          {0, 2, changeHP, 9},
		"zero residual":   {2, changeHP | changeX, 0, 9},
		"non-minimal gap": {0x82, 0x00, changeHP, 9},
	} {
		got, err := Apply(nil, base, 1, nil, changes, nil)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: got %v, %v; want %v", name, got, err, want)
		}
	}
}
