package gamedelta_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors/*.json from the encoder")

// The cross-language vectors: for a few layouts, the snapshots the Encoder
// writes for one player over a lossy, reordering link, in the order the
// client receives them, with what gamedelta.Receiver makes of each (the
// world, or the error class). clients/ts decodes them and must build the
// same worlds. TestVectorsCurrent keeps them equal to what the encoder
// writes today.

type vecFile struct {
	Name    string     `json:"name"`
	Schema  string     `json:"schema,omitempty"` // the .bfbs (in schema/gameschema/testdata) the layout comes from
	Layout  vecLayout  `json:"layout"`
	Player  uint32     `json:"player"`
	History int        `json:"history"`
	Steps   []vecStep  `json:"steps"`
	Final   [][]string `json:"-"`
}

type vecLayout struct {
	Kinds []vecKind `json:"kinds"`
}

type vecKind struct {
	Name   string     `json:"name"`
	Fields []vecField `json:"fields"`
}

// vecField is a gamedelta.Field with its defaults resolved (bits 1..64,
// max_len set), 64-bit bounds as decimal strings.
type vecField struct {
	Name      string `json:"name"`
	Type      string `json:"type"` // "int" or "bytes"
	Bits      int    `json:"bits,omitempty"`
	Signed    bool   `json:"signed,omitempty"`
	Wrap      bool   `json:"wrap,omitempty"`
	Min       string `json:"min,omitempty"`
	Max       string `json:"max,omitempty"`
	Velocity  string `json:"velocity,omitempty"`
	OwnerOnly bool   `json:"ownerOnly,omitempty"`
	MaxLen    int    `json:"maxLen,omitempty"`
}

// vecStep is one snapshot as the client receives it. Result is "applied",
// "stale", "nobaseline" or "bad"; World (applied only) is the receiver's
// world after it: entities by ascending id, int values as decimal strings,
// bytes values as hex.
type vecStep struct {
	Tick     uint32      `json:"tick"`
	Baseline uint32      `json:"baseline"`
	Data     string      `json:"data"`
	Result   string      `json:"result"`
	Newest   uint32      `json:"newest"`
	World    []vecEntity `json:"world,omitempty"`
	// Mutants: damaged copies of Data, each decoded against the baseline
	// (before this step), whether Go accepts it and the world it builds.
	Mutants []vecMutant `json:"mutants,omitempty"`
}

type vecMutant struct {
	Data  string      `json:"data"`
	OK    bool        `json:"ok"`
	World []vecEntity `json:"world,omitempty"`
}

// mutate returns a damaged copy of b: truncated, extended, a bit flipped,
// a byte replaced, or a varint made longer.
func mutate(r *rand.Rand, b []byte) []byte {
	m := append([]byte(nil), b...)
	switch op := r.IntN(6); {
	case op == 0 && len(m) > 0:
		return m[:r.IntN(len(m))]
	case op == 1:
		return append(m, byte(r.IntN(256)))
	case op == 2 && len(m) > 0:
		m[r.IntN(len(m))] ^= 1 << r.IntN(8)
	case op == 3 && len(m) > 0:
		m[r.IntN(len(m))] = []byte{0x00, 0x01, 0x7f, 0x80, 0xff}[r.IntN(5)]
	case op == 4 && len(m) > 0:
		i := r.IntN(len(m))
		m = append(m[:i:i], append([]byte{m[i] | 0x80, 0x00}, m[i+1:]...)...) // non-minimal varint if m[i] ended one
	default:
		i := r.IntN(len(m) + 1)
		m = append(m[:i:i], append([]byte{byte(r.IntN(256))}, m[i:]...)...)
	}
	return m
}

type vecEntity struct {
	ID     uint32   `json:"id"`
	Kind   int      `json:"kind"`
	Owner  uint32   `json:"owner"`
	Values []string `json:"values"`
}

func toVecLayout(l gamedelta.Layout) vecLayout {
	var out vecLayout
	for _, k := range l.Kinds {
		vk := vecKind{Name: k.Name}
		for _, f := range k.Fields {
			vf := vecField{Name: f.Name, Velocity: f.Velocity, OwnerOnly: f.OwnerOnly}
			if f.Type == gamedelta.FieldBytes {
				vf.Type, vf.MaxLen = "bytes", f.MaxLen
				if vf.MaxLen == 0 {
					vf.MaxLen = gamedelta.DefaultMaxLen
				}
			} else {
				vf.Type, vf.Bits, vf.Signed, vf.Wrap = "int", f.Bits, f.Signed, f.Wrap
				if vf.Bits == 0 {
					vf.Bits = 64
				}
				if f.Min != 0 || f.Max != 0 {
					vf.Min, vf.Max = strconv.FormatInt(f.Min, 10), strconv.FormatInt(f.Max, 10)
				}
			}
			vk.Fields = append(vk.Fields, vf)
		}
		out.Kinds = append(out.Kinds, vk)
	}
	return out
}

// layoutFromSchema is the production mapping of a game schema's entity
// kinds onto a delta layout (gameschema's DeltaLayout), which clients/ts's
// layoutFromSchema must agree with: its tests compare it with the layouts
// of these vectors.
func layoutFromSchema(t *testing.T, s *gameschema.Schema) gamedelta.Layout {
	t.Helper()
	l, err := s.DeltaLayout()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// specLayout is the worked example's layout of DELTA.md, with a wrapping
// angle and an owner-only field, plus a kind with a bytes field and 64-bit
// values.
func specLayout() gamedelta.Layout {
	return gamedelta.Layout{Kinds: []gamedelta.Kind{
		{Name: "ship", Fields: []gamedelta.Field{
			{Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
			{Name: "y", Bits: 32, Signed: true, Velocity: "vy"},
			{Name: "vx", Bits: 16, Signed: true},
			{Name: "vy", Bits: 16, Signed: true},
			{Name: "angle", Bits: 16, Wrap: true},
			{Name: "hp", Bits: 8},
			{Name: "secret", Bits: 16, OwnerOnly: true},
		}},
		{Name: "big", Fields: []gamedelta.Field{
			{Name: "a", Bits: 64, Signed: true, Velocity: "da"},
			{Name: "da", Bits: 64, Signed: true},
			{Name: "u", Bits: 64},
			{Name: "turn", Bits: 12, Signed: true, Wrap: true, Velocity: "spin"},
			{Name: "spin", Bits: 8, Signed: true},
			{Name: "tag", Type: gamedelta.FieldBytes, MaxLen: 6},
			{Name: "key", Type: gamedelta.FieldBytes, MaxLen: 4, OwnerOnly: true},
		}},
	}}
}

func loadSchemaFile(t *testing.T, name string) *gameschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "gameschema", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type vecCase struct {
	name, schema string
	layout       gamedelta.Layout
	seed         uint64
}

func vecCases(t *testing.T) []vecCase {
	return []vecCase{
		{name: "spec", layout: specLayout(), seed: 1},
		{name: "arena", schema: "arena.bfbs", layout: layoutFromSchema(t, loadSchemaFile(t, "arena.bfbs")), seed: 2},
		{name: "cards", schema: "cards.bfbs", layout: layoutFromSchema(t, loadSchemaFile(t, "cards.bfbs")), seed: 6},
	}
}

// fieldRange returns the values a generated int field takes.
func fieldRange(f gamedelta.Field) (lo, hi int64) {
	b := f.Bits
	if b == 0 {
		b = 64
	}
	switch {
	case f.Min != 0 || f.Max != 0:
		return f.Min, f.Max
	case b == 64 && f.Signed:
		return math.MinInt64, math.MaxInt64
	case b == 64:
		return math.MinInt64, math.MaxInt64 // any bits
	case f.Signed:
		return -1 << (b - 1), 1<<(b-1) - 1
	}
	return 0, 1<<b - 1
}

// randValue is mostly small, sometimes an extreme of the field.
func randValue(r *rand.Rand, f gamedelta.Field) int64 {
	lo, hi := fieldRange(f)
	switch r.IntN(8) {
	case 0:
		return lo
	case 1:
		return hi
	}
	v := int64(r.IntN(41)) - 20
	if f.Bits == 0 || f.Bits == 64 {
		v *= 1 << 40 // exercise values past 2^53
		if r.IntN(2) == 0 {
			v = int64(r.IntN(41)) - 20
		}
	}
	return max(lo, min(hi, v))
}

func fits(f gamedelta.Field, v int64) bool {
	lo, hi := fieldRange(f)
	return v >= lo && v <= hi
}

// simulate plays a room for the client of player p and returns the steps.
func simulate(t *testing.T, c vecCase) vecFile {
	t.Helper()
	codec, err := gamedelta.Compile(c.layout)
	if err != nil {
		t.Fatal(err)
	}
	const player, history, ticks = 7, 4, 80
	enc, err := gamedelta.NewEncoder(codec, gamedelta.EncoderConfig{History: 8})
	if err != nil {
		t.Fatal(err)
	}
	rcfg := gamedelta.DefaultReceiverConfig(player)
	rcfg.History = history
	rx, err := gamedelta.NewReceiver(codec, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	cl := enc.NewClient(player)
	r := rand.New(rand.NewPCG(c.seed, 99))

	type ent struct {
		kind  int
		owner uint32
		ints  []int64
		blobs [][]byte
	}
	ents := map[uint32]*ent{}
	owners := []uint32{0, player, 3}
	spawn := func(id uint32) {
		k := r.IntN(len(c.layout.Kinds))
		e := &ent{kind: k, owner: owners[r.IntN(len(owners))]}
		for _, f := range c.layout.Kinds[k].Fields {
			var v int64
			var b []byte
			if f.Type == gamedelta.FieldBytes {
				b = make([]byte, r.IntN(min(f.MaxLen, 5)+1))
				for i := range b {
					b[i] = byte(r.IntN(256))
				}
			} else {
				v = randValue(r, f)
			}
			e.ints, e.blobs = append(e.ints, v), append(e.blobs, b)
		}
		ents[id] = e
	}
	for id := uint32(1); id <= 6; id++ {
		spawn(id * 3)
	}

	type packet struct {
		at             int
		tick, baseline uint32
		data           []byte
	}
	var inflight []packet
	type ack struct {
		at   int
		tick uint32
	}
	var acks []ack
	out := vecFile{Name: c.name, Schema: c.schema, Layout: toVecLayout(c.layout), Player: player, History: history}
	dec := gamedelta.NewDecoder(codec, player)
	scratch := gamedelta.NewWorld(codec)
	deliver := func(p packet) {
		st := vecStep{Tick: p.tick, Baseline: p.baseline, Data: hex.EncodeToString(p.data)}
		// Mutants of the bytes, decoded against the same baseline: a
		// client must accept and refuse exactly what Go does.
		if base := rx.World(p.baseline); (base != nil || p.baseline == 0) && p.tick > p.baseline {
			for range 4 {
				m := mutate(r, p.data)
				mv := vecMutant{Data: hex.EncodeToString(m)}
				if err := dec.Apply(scratch, base, p.tick-p.baseline, m); err == nil {
					mv.OK, mv.World = true, vecWorld(codec, c.layout, scratch)
				} else if !errors.Is(err, gamedelta.ErrBadDelta) {
					t.Fatalf("mutant: %v", err)
				}
				st.Mutants = append(st.Mutants, mv)
			}
		}
		w, err := rx.Apply(p.tick, p.baseline, p.data)
		switch {
		case err == nil:
			st.Result, st.World = "applied", vecWorld(codec, c.layout, w)
		case errors.Is(err, gamedelta.ErrStale):
			st.Result = "stale"
		case errors.Is(err, gamedelta.ErrNoBaseline):
			st.Result = "nobaseline"
		case errors.Is(err, gamedelta.ErrBadDelta):
			st.Result = "bad"
		default:
			t.Fatalf("apply: %v", err)
		}
		st.Newest = rx.Newest()
		out.Steps = append(out.Steps, st)
	}
	world := gamedelta.NewWorld(codec)
	for tick := 1; tick <= ticks; tick++ {
		// Arrivals up to now, in arrival order (ties in send order).
		var later []packet
		for _, p := range inflight {
			if p.at <= tick {
				// Now and then a damaged copy first: Go decides its fate too.
				if len(p.data) > 1 && r.IntN(6) == 0 {
					bad := append([]byte(nil), p.data...)
					switch r.IntN(3) {
					case 0:
						bad = bad[:len(bad)-1]
					case 1:
						bad = append(bad, 0)
					default:
						bad[r.IntN(len(bad))] ^= 1 << r.IntN(8)
					}
					deliver(packet{tick: p.tick, baseline: p.baseline, data: bad})
				}
				deliver(p)
			} else {
				later = append(later, p)
			}
		}
		inflight = later
		// Acknowledgements travel too, some slower than others.
		acks = append(acks, ack{at: tick + r.IntN(5), tick: rx.Newest()})
		var pending []ack
		for _, a := range acks {
			if a.at <= tick {
				cl.Ack(a.tick)
			} else {
				pending = append(pending, a)
			}
		}
		acks = pending

		// The room moves on.
		for _, id := range slices.Sorted(maps.Keys(ents)) {
			e := ents[id]
			fields := c.layout.Kinds[e.kind].Fields
			for f, fd := range fields {
				if fd.Type == gamedelta.FieldBytes {
					if r.IntN(10) == 0 {
						e.blobs[f] = []byte(fmt.Sprintf("t%d", tick))[:min(fd.MaxLen, 3)]
					}
					continue
				}
				if fd.Velocity != "" {
					v := e.ints[codec.FieldIndex(e.kind, fd.Velocity)]
					n := e.ints[f] + v
					if fd.Wrap {
						n = wrapTo(fd, n)
					}
					if fits(fd, n) && r.IntN(5) != 0 {
						e.ints[f] = n
						continue
					}
				}
				if r.IntN(6) == 0 {
					e.ints[f] = randValue(r, fd)
				}
			}
			switch r.IntN(40) {
			case 0:
				delete(ents, id)
			case 1:
				e.owner = owners[r.IntN(len(owners))]
			}
		}
		if r.IntN(5) == 0 {
			spawn(uint32(1 + r.IntN(24)))
		}
		world.Reset()
		for id := uint32(0); id <= 100; id++ {
			e, ok := ents[id]
			if !ok {
				continue
			}
			i := world.Add(id, e.kind, e.owner)
			for f, fd := range c.layout.Kinds[e.kind].Fields {
				if fd.Type == gamedelta.FieldBytes {
					world.SetBytes(i, f, e.blobs[f])
				} else {
					world.SetInt(i, f, e.ints[f])
				}
			}
		}
		if err := enc.Record(uint32(tick), world); err != nil {
			t.Fatal(err)
		}
		var view *gamedelta.View
		if tick%10 >= 6 { // a window of ids
			lo := uint32(r.IntN(12))
			view = &gamedelta.View{}
			for id := lo; id < lo+12; id++ {
				view.IDs = append(view.IDs, id)
			}
		}
		snap, err := enc.Encode(cl, view)
		if err != nil {
			t.Fatal(err)
		}
		if r.IntN(7) == 0 {
			continue // lost
		}
		p := packet{at: tick + 1 + r.IntN(4), tick: uint32(tick), baseline: snap.Baseline, data: append([]byte(nil), snap.Data...)}
		inflight = append(inflight, p)
		if r.IntN(12) == 0 {
			d := p
			d.at++
			inflight = append(inflight, d) // duplicated
		}
	}
	for _, p := range inflight {
		deliver(p)
	}
	return out
}

func wrapTo(f gamedelta.Field, v int64) int64 {
	b := uint(f.Bits)
	if b == 0 || b == 64 {
		return v
	}
	if f.Signed {
		return v << (64 - b) >> (64 - b)
	}
	return v & (1<<b - 1)
}

func vecWorld(c *gamedelta.Codec, l gamedelta.Layout, w *gamedelta.World) []vecEntity {
	out := []vecEntity{}
	for i := range w.Len() {
		e := vecEntity{ID: w.ID(i), Kind: w.Kind(i), Owner: w.Owner(i), Values: []string{}}
		for f, fd := range l.Kinds[e.Kind].Fields {
			if fd.Type == gamedelta.FieldBytes {
				e.Values = append(e.Values, hex.EncodeToString(w.Bytes(i, f)))
			} else {
				e.Values = append(e.Values, strconv.FormatInt(w.Int(i, f), 10))
			}
		}
		out = append(out, e)
	}
	return out
}

func vectorBytes(t *testing.T, c vecCase) []byte {
	b, err := json.MarshalIndent(simulate(t, c), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestVectorsCurrent checks that testdata/vectors holds what the encoder
// and receiver produce today (go test -run TestVectorsCurrent -update
// rewrites them), and that they cover every outcome.
func TestVectorsCurrent(t *testing.T) {
	for _, c := range vecCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got := vectorBytes(t, c)
			path := filepath.Join("testdata", "vectors", c.name+".json")
			if *updateVectors {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s is stale: run go test ./schema/gamedelta -run TestVectorsCurrent -update", path)
			}
			var f vecFile
			if err := json.Unmarshal(want, &f); err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			full, empty := 0, 0
			for _, s := range f.Steps {
				seen[s.Result]++
				if s.Result == "applied" && s.Baseline == 0 {
					full++
				}
				if s.Result == "applied" && s.Data == "" {
					empty++
				}
			}
			for _, r := range []string{"applied", "stale", "nobaseline", "bad"} {
				if seen[r] == 0 {
					t.Errorf("no %q step in %d steps: %v", r, len(f.Steps), seen)
				}
			}
			if full < 2 {
				t.Errorf("%d full snapshots applied, want at least 2", full)
			}
			t.Logf("%d steps %v, %d full, %d empty", len(f.Steps), seen, full, empty)
		})
	}
}

// TestTypeScriptClient runs clients/ts's tests (npm test), which decode
// the vectors above and load the gameschema test schemas. Without node and
// npm it skips, except on CI (CI or TICKSYNC_REQUIRE_BROWSER=1 set), where
// it fails. On CI it installs clients/ts/node_modules (npm ci) when they
// are missing; elsewhere it asks for them.
func TestTypeScriptClient(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "clients", "ts"))
	if err != nil {
		t.Fatal(err)
	}
	ci := os.Getenv("CI") != "" || os.Getenv("TICKSYNC_REQUIRE_BROWSER") == "1"
	missing := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("CI: "+format, args...)
		}
		t.Skipf(format+" (skipped here; fails on CI)", args...)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing("npm not found: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node not found: %v", err)
	}
	npmRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command(npm, args...)
		cmd.Dir = dir
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %v in clients/ts: %v\n%s", args, err, b)
		}
		t.Logf("npm %v:\n%s", args, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "esbuild", "package.json")); err != nil {
		if !ci {
			missing("clients/ts/node_modules missing: run `npm ci` in clients/ts")
		}
		npmRun("ci", "--no-audit", "--no-fund", "--loglevel=error")
	}
	npmRun("test")
}
