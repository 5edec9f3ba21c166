package schema

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// Fuzz targets for everything that reads untrusted bytes. Their seed corpus
// lives in testdata/fuzz/<FuzzName>/: files named seed-* are written by
// TestFuzzCorpus (go test ./schema -run TestFuzzCorpus -gencorpus) from
// valid messages; other files are crashers found by fuzzing, kept as
// regression seeds.

var genCorpus = flag.Bool("gencorpus", false, "rewrite the seed-* files of testdata/fuzz")

func FuzzDecodeClientMessage(f *testing.F) {
	var m, again ClientMessage
	e := NewEncoder(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := DecodeClientMessage(data, &m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrOutOfRange", err)
			}
			return
		}
		// Accepted: re-encoding gives a message that decodes the same.
		var out []byte
		switch m.Kind {
		case ClientHello:
			out = e.Hello(&m.Hello)
		case ClientInput:
			out = e.Input(&m.Input)
		case ClientLeave:
			out = e.Leave()
		case ClientPing:
			out = e.Ping(m.ClientTime)
		case ClientEvent:
			out = e.Event(&m.Event)
		default:
			t.Fatalf("accepted with kind %d", m.Kind)
		}
		if err := DecodeClientMessage(out, &again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if !clientEqual(&again, &m) {
			t.Fatalf("round trip: %+v became %+v", m, again)
		}
	})
}

func FuzzDecodeServerMessage(f *testing.F) {
	var m, again ServerMessage
	e := NewEncoder(0)
	f.Fuzz(func(t *testing.T, data []byte) {
		err := DecodeServerMessage(data, &m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrOutOfRange", err)
			}
			return
		}
		var out []byte
		switch m.Kind {
		case ServerWelcome:
			out = e.Welcome(&m.Welcome)
		case ServerSnapshot:
			out, _ = e.Snapshot(&m.Snapshot)
		case ServerRedirect:
			out = e.Redirect(m.Redirect.URL, m.Redirect.MatchID)
		case ServerError:
			out = e.Error(m.Error.Code, m.Error.Message)
		case ServerPong:
			out = e.Pong(m.ClientTime, m.ServerTime)
		default:
			t.Fatalf("accepted with kind %d", m.Kind)
		}
		if err := DecodeServerMessage(out, &again); err != nil {
			t.Fatalf("re-encoded %+v does not decode: %v", m, err)
		}
		if !serverEqual(&again, &m) {
			t.Fatalf("round trip: %+v became %+v", m, again)
		}
	})
}

// fuzzBase is the fixed baseline of FuzzApply: 40 entities with arena-like
// values and a few at the edges of their ranges, so that predictions can
// leave int32.
func fuzzBase() []Entity {
	rng := rand.New(rand.NewPCG(7, 7))
	w := make([]Entity, 40)
	for i := range w {
		w[i] = randEntity(rng, uint32(2*i+2)) // even ids: odd ones are free to spawn
	}
	w[5].X, w[5].VX = math.MaxInt32-3, 1000
	w[6].Y, w[6].VY = math.MinInt32+3, math.MinInt16
	return w
}

// fuzzDelta splits FuzzApply's input: data[0] is dt; data[1] removes the
// first data[1]&15 ids at indexes 0, 3, 6, … (mod len(base): past 13 they
// come back unsorted, which Apply must refuse) of the base and spawns
// data[1]>>4 entities with odd ids; the rest is the changes.
func fuzzDelta(base []Entity, data []byte) (dt uint32, spawned []Entity, changes []byte, removed []uint32) {
	if len(data) < 2 {
		return 0, nil, data, nil
	}
	dt = uint32(data[0])
	for i := range int(data[1] & 15) {
		removed = append(removed, base[3*i%len(base)].ID)
	}
	for i := range int(data[1] >> 4) {
		spawned = append(spawned, Entity{ID: uint32(4*i + 1), X: int32(i), HP: 100})
	}
	return dt, spawned, data[2:], removed
}

func FuzzApply(f *testing.F) {
	base := fuzzBase()
	var dst, again []Entity
	var d Delta
	f.Fuzz(func(t *testing.T, data []byte) {
		dt, spawned, changes, removed := fuzzDelta(base, data)
		got, err := Apply(dst, base, dt, spawned, changes, removed)
		dst = got
		if err != nil {
			if !errors.Is(err, ErrBadDelta) {
				t.Fatalf("error %v does not wrap ErrBadDelta", err)
			}
			return
		}
		// Accepted: a sorted world of the right size, which the canonical
		// delta rebuilds exactly.
		if want := len(base) - len(removed) + len(spawned); len(got) != want {
			t.Fatalf("result of %d entities; want %d", len(got), want)
		}
		if !slices.IsSortedFunc(got, func(a, b Entity) int { return cmp.Compare(a.ID, b.ID) }) {
			t.Fatalf("result not sorted")
		}
		Diff(&d, base, got, dt)
		again, err = Apply(again, base, dt, d.Spawned, d.Changes, d.Removed)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("canonical delta does not rebuild the result: %v", err)
		}
	})
}

// corpusSeeds returns the generated seed corpus of each fuzz target.
func corpusSeeds() map[string]map[string][]byte {
	seeds := map[string]map[string][]byte{
		"FuzzDecodeClientMessage": validClient(),
		"FuzzDecodeServerMessage": validServer(),
		"FuzzApply":               {},
	}
	// Snapshots with realistic deltas.
	enc := NewEncoder(0)
	a := newArenaSim(3)
	prev := slices.Clone(a.ents)
	var d Delta
	for dt := 1; dt <= 3; dt++ {
		for range dt {
			a.step()
		}
		Diff(&d, prev, a.ents, uint32(dt))
		msg, off := enc.Snapshot(&Snapshot{Tick: 100 + uint32(dt), BaselineTick: 100, Spawned: d.Spawned, Changes: d.Changes, Removed: d.Removed, ServerTimeMS: 1})
		PatchLastInputSeq(msg, off, 77)
		seeds["FuzzDecodeServerMessage"][fmt.Sprintf("snapshot-arena-dt%d", dt)] = clone(msg)
		prev = slices.Clone(a.ents)
	}
	msg, _ := enc.Snapshot(&Snapshot{Tick: 1, Spawned: a.ents})
	seeds["FuzzDecodeServerMessage"]["snapshot-arena-full"] = clone(msg)

	// Deltas against FuzzApply's base, in the framing of fuzzDelta.
	base := fuzzBase()
	rng := rand.New(rand.NewPCG(11, 11))
	for i := range 12 {
		dt := uint32(rng.IntN(65))
		nRemoved, nSpawned := i%4, (i/2)%4
		if i == 0 {
			dt, nRemoved, nSpawned = 1, 0, 0
		}
		var cur []Entity
		for j, b := range base {
			if j%3 == 0 && j/3 < nRemoved {
				continue
			}
			e := b
			e.X, e.Y = int32(predict(b.X, b.VX, dt)), int32(predict(b.Y, b.VY, dt))
			if rng.IntN(4+i) == 0 { // from a few changes to many (bitmap form)
				e.VX, e.HP, e.Angle, e.Owner = e.VX+1, e.HP^1, e.Angle+1000, e.Owner+1
			}
			if i == 11 {
				e.X, e.Y, e.Kind = randInt32(rng), randInt32(rng), 9
			}
			cur = append(cur, e)
		}
		_, sp, _, _ := fuzzDelta(base, []byte{0, byte(nSpawned << 4)})
		cur = append(cur, sp...)
		sort.Slice(cur, func(x, y int) bool { return cur[x].ID < cur[y].ID })
		Diff(&d, base, cur, dt)
		data := append([]byte{byte(dt), byte(nRemoved | nSpawned<<4)}, d.Changes...)
		if _, sp, _, rm := fuzzDelta(base, data); !slices.Equal(sp, d.Spawned) || !slices.Equal(rm, d.Removed) {
			panic(fmt.Sprintf("FuzzApply seed %d: framing does not match the delta", i))
		}
		seeds["FuzzApply"][fmt.Sprintf("delta-%02d", i)] = data
	}
	return seeds
}

func corpusFile(data []byte) []byte {
	return fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data)
}

// TestFuzzCorpus checks that the committed seed corpus is what the
// generator writes (and with -gencorpus writes it), and that every seed is
// valid, so that fuzzing starts from accepted inputs.
func TestFuzzCorpus(t *testing.T) {
	all := corpusSeeds()
	for name, data := range all["FuzzApply"] {
		dt, sp, ch, rm := fuzzDelta(fuzzBase(), data)
		if _, err := Apply(nil, fuzzBase(), dt, sp, ch, rm); err != nil {
			t.Errorf("FuzzApply seed %s: %v", name, err)
		}
	}
	for target, seeds := range all {
		dir := filepath.Join("testdata", "fuzz", target)
		if *genCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, data := range seeds {
			path := filepath.Join(dir, "seed-"+name)
			want := corpusFile(data)
			if *genCorpus {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(want) {
				t.Errorf("%s is missing or stale (err %v): run go test ./schema -run TestFuzzCorpus -gencorpus", path, err)
			}
		}
	}
}
