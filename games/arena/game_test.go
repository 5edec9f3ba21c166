package arena

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// schemaHash pins the schema's wire contract (gameschema.Schema.Hash):
// clients built for the arena name it in their Hello. Change it only with
// the schema, deliberately.
const schemaHash = "4c47db9717399baaf7805c88516d608f9d3ee592be6b26d4cf88fdf9e2d8421d"

func TestSchema(t *testing.T) {
	s := Schema()
	if err := check(s); err != nil {
		t.Fatal(err)
	}
	if s.HashString() != schemaHash {
		t.Errorf("schema hash %s, want %s", s.HashString(), schemaHash)
	}
	for k, name := range map[int]string{KindAvatar: "arena.Avatar", KindNPC: "arena.Npc"} {
		for f, fname := range map[int]string{FieldX: "x", FieldY: "y", FieldVX: "vx", FieldVY: "vy", FieldAngle: "angle", FieldHP: "hp"} {
			if got := Codec().FieldIndex(k, fname); got != f {
				t.Errorf("codec: %s.%s is field %d, want %d", name, fname, got, f)
			}
		}
	}
	reg := game.NewRegistry()
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	gs := reg.Schema(Name)
	if gs == nil || gs.Schema.Hash != s.Hash || !bytes.Equal(gs.BFBS, BFBS()) {
		t.Fatalf("registered schema %+v, want the arena's", gs)
	}
	if sp := Spec(); sp.Name != Name || sp.New == nil || !bytes.Equal(sp.Schema, BFBS()) {
		t.Fatalf("Spec() = %+v", sp)
	}
	g, err := reg.New(Name, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := g.(sim.StateWriter); !ok {
		t.Fatalf("%T is not a sim.StateWriter", g)
	}
}

// TestSchemaFresh: the committed arena.bfbs and arenafb are what flatc
// writes from arena.fbs (what `go generate` runs), so the hash clients
// compute from arena.fbs is the node's.
func TestSchemaFresh(t *testing.T) {
	flatc, err := exec.LookPath("flatc")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("flatc not found; CI installs flatbuffers-compiler")
		}
		t.Skip("flatc not found")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(flatc, append(args, "-o", dir, "arena.fbs")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("flatc %v: %v: %s", args, err, out)
		}
	}
	run("--binary", "--schema")
	got, err := os.ReadFile(filepath.Join(dir, "arena.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, BFBS()) {
		t.Errorf("arena.bfbs differs from flatc's output for arena.fbs: run go generate")
	}
	run("--go", "--go-namespace", "arenafb")
	gofmt := exec.Command("gofmt", "-w", filepath.Join(dir, "arenafb"))
	if out, err := gofmt.CombinedOutput(); err != nil {
		t.Fatalf("gofmt: %v: %s", err, out)
	}
	files, err := filepath.Glob(filepath.Join(dir, "arenafb", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("flatc wrote no Go files: %v", err)
	}
	committed, err := filepath.Glob("arenafb/*.go")
	if err != nil || len(committed) != len(files) {
		t.Errorf("arenafb has %d files, flatc writes %d: run go generate", len(committed), len(files))
	}
	for _, f := range files {
		want, _ := os.ReadFile(f)
		have, err := os.ReadFile(filepath.Join("arenafb", filepath.Base(f)))
		if err != nil || !bytes.Equal(have, want) {
			t.Errorf("arenafb/%s differs from flatc's output: run go generate", filepath.Base(f))
		}
	}
}

// TestScenarioGolden pins the scenario: 8 players on three seeds for
// 1,800 ticks (one leaves, one joins) end in exactly these states, the
// ones the arena produced before it moved onto its own schema.
func TestScenarioGolden(t *testing.T) {
	want := map[int64]string{
		1:  "1f3882e98bac4170d5e6a7cbf0fb88e5f5404d901ebff4f0aec610a2241ebe4f",
		42: "6c4400836e2c651a79db1c0cc5a5768fd6e522a9d58dfd1f3505840138e36a6d",
		-9: "76db6fb8fde578057c0bae05b3a63db916efe2ff1827eb2a54bc2a57c1065608",
	}
	for seed, h := range want {
		a := New(seed)
		a.SetTickRate(30)
		joinN(t, a, 8)
		var in []sim.PlayerInput
		for tick := uint32(1); tick <= 1800; tick++ {
			in = botInputs(in, 8, tick)
			if tick == 600 {
				a.Leave(3)
			}
			if tick == 900 {
				if _, err := a.Join(20); err != nil {
					t.Fatal(err)
				}
			}
			a.Step(tick, in)
		}
		st, err := a.MarshalState(nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(st); hex.EncodeToString(sum[:]) != h {
			t.Errorf("seed %d: state %x, want %s", seed, sum, h)
		}
	}
}

// TestWriteState: the world WriteState writes is valid for the codec and
// reads back (AppendEntities) as the arena's own entities.
func TestWriteState(t *testing.T) {
	a := New(11)
	joinN(t, a, 6)
	a.Leave(2)
	w := gamedelta.NewWorld(Codec())
	var in []sim.PlayerInput
	for tick := uint32(1); tick <= 300; tick++ {
		in = botInputs(in, 6, tick)
		a.Step(tick, in)
		w.Reset()
		a.WriteState(w)
		if err := w.Check(); err != nil {
			t.Fatalf("tick %d: %v", tick, err)
		}
		got := AppendEntities(nil, w)
		if want := own(a); !equalEnts(got, want) {
			t.Fatalf("tick %d: AppendEntities(WriteState) = %+v, want %+v", tick, got, want)
		}
	}
	checkWorld(t, AppendEntities(nil, w), 5)
}

// raceBuild is set in race builds (race_test.go), whose instrumentation
// allocates.
var raceBuild bool

func TestWriteStateAllocs(t *testing.T) {
	if raceBuild {
		t.Skip("allocation counts are checked without -race")
	}
	a := New(3)
	joinN(t, a, 8)
	w := gamedelta.NewWorld(Codec())
	a.WriteState(w)
	in := botInputs(nil, 8, 1)
	if n := testing.AllocsPerRun(50, func() {
		a.Step(1, in)
		w.Reset()
		a.WriteState(w)
	}); n != 0 {
		t.Errorf("Step + WriteState: %v allocs", n)
	}
}

// own lists the arena's entities from its own fields, as WriteState must
// write them.
func own(a *Arena) []Entity {
	var ents []Entity
	add := func(b *body, id, owner uint32, kind int) {
		ents = append(ents, Entity{ID: id, Owner: owner, Kind: kind, X: b.x, Y: b.y, VX: b.vx, VY: b.vy, Angle: b.angle, HP: b.hp})
	}
	for i := range a.npcs {
		add(&a.npcs[i].body, a.npcs[i].id, 0, KindNPC)
	}
	for i := range a.avs {
		add(&a.avs[i].body, a.avs[i].id, a.avs[i].player, KindAvatar)
	}
	return ents
}
