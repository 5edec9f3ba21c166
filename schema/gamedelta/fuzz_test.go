package gamedelta

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzApply feeds the decoder random bytes against random layouts and
// baselines: the layout and the baseline come from seed, the player and dt
// from their arguments. Its seed corpus in testdata/fuzz/FuzzApply is
// written by TestFuzzCorpus (-gencorpus) from valid snapshots; other files
// there are crashers found by fuzzing, kept as regression seeds. The
// layout and baseline of a seed come from the test's generators
// (genLayout, genWorld): changing those changes what every seed means, so
// regenerate the corpus then, and turn a crasher into a TestApplyRefuses
// case before it goes stale.
//
//	go test ./schema/gamedelta -run '^$' -fuzz FuzzApply -fuzztime 1m
var genCorpus = flag.Bool("gencorpus", false, "rewrite the seed-* files of testdata/fuzz")

func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, seed uint64, player uint8, dt uint16, full bool, data []byte) {
		if _, err := checkApply(seed, player, dt, full, data); err != nil {
			t.Fatal(err)
		}
	})
}

// fuzzCase returns the layout, codec and client baseline of a fuzz seed.
func fuzzCase(seed uint64, player uint8) (*Layout, *Codec, *World) {
	rng := rand.New(rand.NewPCG(seed, 0xf022))
	l := genLayout(rng)
	c, err := Compile(l)
	if err != nil {
		panic(fmt.Sprintf("generated layout refused: %v", err))
	}
	return &l, c, project(&l, c, genWorld(rng, &l, c, 12), nil, uint32(player%4))
}

// checkApply applies data and checks the outcome: refused with
// ErrBadDelta, or accepted as a valid client world (ids ascending, values
// that fit, owner-only fields of others' entities empty) that the
// canonical encoding rebuilds exactly.
func checkApply(seed uint64, player uint8, dt uint16, full bool, data []byte) (accepted bool, err error) {
	l, c, base := fuzzCase(seed, player)
	p := uint32(player % 4)
	if full {
		base = nil
	}
	dst := NewWorld(c)
	if err := NewDecoder(c, p).Apply(dst, base, uint32(dt), data); err != nil {
		if !errors.Is(err, ErrBadDelta) {
			return false, fmt.Errorf("error %v does not wrap ErrBadDelta", err)
		}
		return false, checkRef(l, p, base, uint32(dt), data, nil)
	}
	if err := checkRef(l, p, base, uint32(dt), data, dst); err != nil {
		return true, err
	}
	if err := checkClientWorld(l, dst, p); err != nil {
		return true, fmt.Errorf("accepted an invalid world: %w", err)
	}
	if want := project(l, c, dst, nil, p); !Equal(dst, want) {
		return true, fmt.Errorf("accepted owner-only values of an entity the player does not own: %v", dst)
	}
	var d Delta
	canon := d.Append(nil, base, nil, dst, nil, p, uint32(dt))
	again := NewWorld(c)
	if err := NewDecoder(c, p).Apply(again, base, uint32(dt), canon); err != nil {
		return true, fmt.Errorf("canonical encoding % x of the result refused: %w", canon, err)
	}
	if !Equal(again, dst) {
		return true, fmt.Errorf("canonical encoding rebuilds %v, not %v", again, dst)
	}
	if re := d.Append(nil, base, nil, again, nil, p, uint32(dt)); !bytes.Equal(re, canon) {
		return true, fmt.Errorf("canonical encoding not stable: % x then % x", canon, re)
	}
	return true, nil
}

// TestApplyRandom runs FuzzApply's checks in the default test run: valid
// snapshots between random worlds, the same with random bytes changed,
// cut, or appended, and random bytes.
func TestApplyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(*propSeed), 99))
	accepted, refused := 0, 0
	for i := range 20000 {
		seed, player, dt := rng.Uint64(), uint8(rng.IntN(4)), uint16(1+rng.IntN(5))
		full := rng.IntN(5) == 0
		data := validSnapshot(seed, player, dt, full, rng.Uint64())
		switch i % 5 {
		case 1: // a byte changed
			if len(data) > 0 {
				data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
			}
		case 2: // cut
			data = data[:rng.IntN(len(data)+1)]
		case 3: // bytes appended
			data = append(data, byte(rng.Uint32()), byte(rng.Uint32()))
		case 4: // random
			data = make([]byte, rng.IntN(40))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		ok, err := checkApply(seed, player, dt, full, data)
		if err != nil {
			t.Fatalf("case %d (seed %d player %d dt %d full %t data % x): %v", i, seed, player, dt, full, data, err)
		}
		if ok {
			accepted++
		} else {
			refused++
		}
	}
	t.Logf("%d accepted, %d refused", accepted, refused)
	if accepted < 4000 || refused < 4000 {
		t.Errorf("%d accepted, %d refused: the cases do not exercise both outcomes", accepted, refused)
	}
}

// validSnapshot returns a valid snapshot from fuzzCase's baseline to a
// random next world derived from it (from the empty world when full).
func validSnapshot(seed uint64, player uint8, dt uint16, full bool, next uint64) []byte {
	l, c, base := fuzzCase(seed, player)
	rng := rand.New(rand.NewPCG(next, 1))
	sim := &propWorld{rng: rng, l: l, c: c, w: cloneWorld(base)}
	sim.step(&propStats{})
	cur := project(l, c, sim.w, nil, uint32(player%4))
	var d Delta
	if full {
		return d.Append(nil, nil, nil, cur, nil, uint32(player%4), uint32(dt))
	}
	return d.Append(nil, base, nil, cur, nil, uint32(player%4), uint32(dt))
}

type fuzzSeed struct {
	seed   uint64
	player uint8
	dt     uint16
	full   bool
	data   []byte
}

func (s fuzzSeed) file() []byte {
	return fmt.Appendf(nil, "go test fuzz v1\nuint64(%d)\nbyte(%q)\nuint16(%d)\nbool(%t)\n[]byte(%q)\n",
		s.seed, s.player, s.dt, s.full, s.data)
}

// corpusSeeds returns FuzzApply's generated seeds: valid snapshots of
// random layouts, full and delta, for each kind of player.
func corpusSeeds() map[string]fuzzSeed {
	seeds := map[string]fuzzSeed{}
	rng := rand.New(rand.NewPCG(21, 21))
	for i := range 16 {
		s := fuzzSeed{seed: rng.Uint64(), player: uint8(i % 4), dt: uint16(1 + i%3), full: i%5 == 0}
		s.data = validSnapshot(s.seed, s.player, s.dt, s.full, rng.Uint64())
		seeds[fmt.Sprintf("snapshot-%02d", i)] = s
	}
	return seeds
}

// TestFuzzCorpus checks that the committed seed corpus is what the
// generator writes (and with -gencorpus writes it), and that every seed is
// accepted, so that fuzzing starts from valid snapshots.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzApply")
	if *genCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range corpusSeeds() {
		_, c, base := fuzzCase(s.seed, s.player)
		if s.full {
			base = nil
		}
		if err := NewDecoder(c, uint32(s.player%4)).Apply(NewWorld(c), base, uint32(s.dt), s.data); err != nil {
			t.Errorf("seed %s refused: %v", name, err)
		}
		path := filepath.Join(dir, "seed-"+name)
		if *genCorpus {
			if err := os.WriteFile(path, s.file(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, s.file()) {
			t.Errorf("%s is missing or stale (err %v): run go test ./schema/gamedelta -run TestFuzzCorpus -gencorpus", path, err)
		}
	}
}
