package arena

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// botInputs returns the inputs of players 1..n at tick: each bot changes
// direction every second (30 ticks), as in arena-8x64.
func botInputs(dst []sim.PlayerInput, n int, tick uint32) []sim.PlayerInput {
	dst = dst[:0]
	for p := uint32(1); p <= uint32(n); p++ {
		phase := (tick/30 + p) % 8
		dirs := [8][2]int8{{100, 0}, {71, 71}, {0, 100}, {-71, 71}, {-100, 0}, {-71, -71}, {0, -100}, {71, -71}}
		dst = append(dst, sim.PlayerInput{Player: p, Input: schema.Input{
			Seq: tick, Data: AppendInput(nil, Input{MoveX: dirs[phase][0], MoveY: dirs[phase][1], Aim: uint16(phase) * 8192}),
		}})
	}
	return dst
}

func run(t testing.TB, a *Arena, from, to uint32, players int) []Entity {
	t.Helper()
	var in []sim.PlayerInput
	for tick := from; tick <= to; tick++ {
		in = botInputs(in, players, tick)
		a.Step(tick, in)
	}
	return entities(a)
}

func joinN(t testing.TB, a *Arena, n int) {
	t.Helper()
	for p := uint32(1); p <= uint32(n); p++ {
		if _, err := a.Join(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestArenaScenario(t *testing.T) {
	a := New(1)
	joinN(t, a, 8)
	ents := entities(a)
	if len(ents) != 64 {
		t.Fatalf("%d entities, want 64 (8 avatars + 56 NPCs)", len(ents))
	}
	npcs, avatars := 0, 0
	for _, e := range ents {
		switch e.Kind {
		case KindNPC:
			npcs++
			if e.Owner != 0 {
				t.Fatalf("npc %d has owner %d", e.ID, e.Owner)
			}
			// 60 units/s at 30 Hz = 2 units = 32 quanta per tick.
			if s := math.Hypot(float64(e.VX), float64(e.VY)); math.Abs(s-32) > 1 {
				t.Fatalf("npc %d speed %.2f quanta/tick, want 32", e.ID, s)
			}
		case KindAvatar:
			avatars++
		}
	}
	if npcs != NPCs || avatars != 8 {
		t.Fatalf("%d npcs %d avatars", npcs, avatars)
	}

	// Heading changes: each NPC every 2 s = 60 ticks on its own timer;
	// bounces change it too. hp drops with probability 0.002 per tick.
	const ticks = 3000
	prev := entities(a)
	turns, drops, mispredicted := 0, 0, 0
	var in []sim.PlayerInput
	for tick := uint32(1); tick <= ticks; tick++ {
		in = botInputs(in, 8, tick)
		a.Step(tick, in)
		cur := entities(a)
		for i := range NPCs {
			p, c := prev[i], cur[i]
			if p.Angle != c.Angle {
				turns++
			}
			if c.HP == p.HP-1 || (p.HP == 1 && c.HP == MaxHP) {
				drops++
			}
			if int64(c.X) != int64(p.X)+int64(p.VX) || int64(c.Y) != int64(p.Y)+int64(p.VY) {
				mispredicted++
			}
		}
		prev = cur
	}
	// 56 × 3000 / 60 = 2800 timer turns plus bounces.
	if turns < 2600 || turns > 4500 {
		t.Errorf("%d heading changes in %d ticks, want about 2800 plus bounces", turns, ticks)
	}
	// Expect 56 × 3000 × 0.002 = 336.
	if drops < 250 || drops > 430 {
		t.Errorf("%d hp drops, want about 336", drops)
	}
	// Straight-line motion is exactly predictable from the last velocity;
	// only turns and bounces miss.
	if frac := float64(mispredicted) / (NPCs * ticks); frac > 0.03 {
		t.Errorf("%.3f of NPC steps not predicted by position + velocity", frac)
	}
}

func TestArenaAvatarMotion(t *testing.T) {
	tests := []struct {
		name           string
		mx, my         int8
		wantVX, wantVY int16
	}{
		{"right", 100, 0, 48, 0},
		{"half axis still full speed", 50, 0, 48, 0},
		{"up", 0, -100, 0, -48},
		{"diagonal normalised", 71, 71, 34, 34},
		{"stand still", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(7)
			id, _ := a.Join(1)
			a.avs[0].x, a.avs[0].y = MaxPos/2, MaxPos/2
			in := []sim.PlayerInput{{Player: 1, Input: input(Input{MoveX: tt.mx, MoveY: tt.my, Aim: 12345})}}
			a.Step(1, in)
			e := find(entities(a), id)
			if e.VX != tt.wantVX || e.VY != tt.wantVY {
				t.Fatalf("velocity (%d, %d), want (%d, %d)", e.VX, e.VY, tt.wantVX, tt.wantVY)
			}
			if e.X != MaxPos/2+int32(tt.wantVX) || e.Y != MaxPos/2+int32(tt.wantVY) {
				t.Fatalf("position (%d, %d) after one step", e.X, e.Y)
			}
			if e.Angle != 12345 || e.Owner != 1 || e.Kind != KindAvatar || e.HP != MaxHP {
				t.Fatalf("avatar %+v", e)
			}
		})
	}
}

// TestArenaAvatarAxesRepeated: an input repeating the previous axes keeps
// their velocity, at the current tick rate (a rate change, a restore,
// another input in between).
func TestArenaAvatarAxesRepeated(t *testing.T) {
	a := New(7)
	id, _ := a.Join(1)
	step := func(tick uint32, mx, my int8, wantVX, wantVY int16) {
		t.Helper()
		a.avs[0].x, a.avs[0].y = MaxPos/2, MaxPos/2
		a.Step(tick, []sim.PlayerInput{{Player: 1, Input: input(Input{MoveX: mx, MoveY: my})}})
		if e := find(entities(a), id); e.VX != wantVX || e.VY != wantVY {
			t.Fatalf("tick %d: velocity (%d, %d), want (%d, %d)", tick, e.VX, e.VY, wantVX, wantVY)
		}
	}
	step(1, 100, 0, 48, 0)
	step(2, 100, 0, 48, 0)
	step(3, 0, 100, 0, 48)
	step(4, 100, 0, 48, 0)
	a.SetTickRate(60)
	step(5, 100, 0, 24, 0)
	st, err := a.MarshalState(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := New(7)
	if err := b.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	b.SetTickRate(30)
	a = b
	step(6, 100, 0, 48, 0)
	step(7, 0, 0, 0, 0)
}

// TestArenaInputsFindTheirAvatars: each input moves its own player's
// avatar, whatever order the players joined in, with inputs of unknown
// players and players without an input between them.
func TestArenaInputsFindTheirAvatars(t *testing.T) {
	a := New(3)
	players := []uint32{5, 3, 9, 1, 7}
	ids := map[uint32]uint32{}
	for _, p := range players {
		id, err := a.Join(p)
		if err != nil {
			t.Fatal(err)
		}
		ids[p] = id
	}
	for i := range a.avs {
		a.avs[i].x, a.avs[i].y = MaxPos/2, MaxPos/2
	}
	moves := map[uint32]Input{1: {MoveX: 100}, 3: {MoveY: 100}, 5: {MoveX: -100}, 9: {MoveY: -100}}
	var in []sim.PlayerInput
	for _, p := range []uint32{1, 2, 3, 5, 9, 42} { // 7 sends nothing; 2 and 42 have no avatar
		in = append(in, sim.PlayerInput{Player: p, Input: input(moves[p])})
	}
	a.Step(1, in)
	ents := entities(a)
	for _, p := range players {
		want := moves[p]
		vx, vy := a.axes(want.MoveX, want.MoveY)
		if e := find(ents, ids[p]); e.VX != vx || e.VY != vy {
			t.Fatalf("player %d: velocity (%d, %d), want (%d, %d)", p, e.VX, e.VY, vx, vy)
		}
	}
}

func TestArenaAvatarHeldByWall(t *testing.T) {
	a := New(7)
	id, _ := a.Join(1)
	a.avs[0].x = MaxPos - 10
	in := []sim.PlayerInput{{Player: 1, Input: input(Input{MoveX: 100})}}
	a.Step(1, in)
	if e := find(entities(a), id); e.X != MaxPos || e.VX != 10 {
		t.Fatalf("at the wall: x %d vx %d, want %d and 10", e.X, e.VX, MaxPos)
	}
	a.Step(2, in)
	if e := find(entities(a), id); e.X != MaxPos || e.VX != 0 {
		t.Fatalf("held by the wall: x %d vx %d, want %d and 0", e.X, e.VX, MaxPos)
	}
}

func TestArenaJoinLeave(t *testing.T) {
	a := New(3)
	id1, _ := a.Join(10)
	id2, _ := a.Join(20)
	if id1 != NPCs+1 || id2 != NPCs+2 {
		t.Fatalf("avatar ids %d, %d; want %d, %d", id1, id2, NPCs+1, NPCs+2)
	}
	if _, err := a.Join(10); !errors.Is(err, ErrAlreadyJoined) {
		t.Fatalf("second Join: %v", err)
	}
	a.Leave(10)
	a.Leave(99) // unknown: nothing
	id3, _ := a.Join(10)
	if id3 != NPCs+3 {
		t.Fatalf("rejoin got id %d, want a fresh id %d", id3, NPCs+3)
	}
	checkWorld(t, entities(a), 2)
}

func TestArenaTickRate(t *testing.T) {
	a := New(1)
	a.SetTickRate(60)
	if a.npcSpeed != 16 || a.avatarSpeed != 24 || a.turnTicks != 120 {
		t.Fatalf("at 60 Hz: npc %d avatar %v turn %d", a.npcSpeed, a.avatarSpeed, a.turnTicks)
	}
	e := entities(a)[0]
	if s := math.Hypot(float64(e.VX), float64(e.VY)); math.Abs(s-16) > 1 {
		t.Fatalf("npc speed %.2f at 60 Hz, want 16", s)
	}
}

func TestArenaDeterminism(t *testing.T) {
	a, b, c := New(42), New(42), New(43)
	for _, g := range []*Arena{a, b, c} {
		joinN(t, g, 8)
	}
	ea, eb, ec := run(t, a, 1, 900, 8), run(t, b, 1, 900, 8), run(t, c, 1, 900, 8)
	if !equalEnts(ea, eb) {
		t.Fatal("same seed, same inputs: worlds differ")
	}
	if equalEnts(ea, ec) {
		t.Fatal("different seeds: identical worlds")
	}
}

func TestArenaStateRoundTrip(t *testing.T) {
	a := New(99)
	joinN(t, a, 5)
	a.Leave(3)
	run(t, a, 1, 450, 5)
	st, err := a.MarshalState(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := New(-1) // a different seed: everything must come from the state
	if err := b.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	st2, _ := b.MarshalState(nil)
	if !bytes.Equal(st, st2) {
		t.Fatal("state differs after a round trip")
	}
	if !equalEnts(entities(a), entities(b)) {
		t.Fatal("entities differ after restore")
	}
	// Both continue identically, including joins and the random source.
	for _, g := range []*Arena{a, b} {
		if _, err := g.Join(77); err != nil {
			t.Fatal(err)
		}
	}
	if !equalEnts(run(t, a, 451, 1200, 5), run(t, b, 451, 1200, 5)) {
		t.Fatal("restored arena diverged")
	}
}

func TestArenaStateRestoresRate(t *testing.T) {
	a := New(5)
	a.SetTickRate(20)
	st, _ := a.MarshalState(nil)
	b := New(5)
	if err := b.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	if b.TickRate() != 20 || b.npcSpeed != a.npcSpeed {
		t.Fatalf("restored rate %d speed %d, want 20 and %d", b.TickRate(), b.npcSpeed, a.npcSpeed)
	}
}

func TestArenaBadState(t *testing.T) {
	a := New(1)
	joinN(t, a, 2)
	st, _ := a.MarshalState(nil)
	before, _ := a.MarshalState(nil)
	// Every truncation, and trailing garbage, is refused without a panic.
	for n := range len(st) {
		if err := a.UnmarshalState(st[:n]); !errors.Is(err, ErrBadState) {
			t.Fatalf("truncated to %d: %v, want ErrBadState", n, err)
		}
	}
	if err := a.UnmarshalState(append(append([]byte(nil), st...), 0)); !errors.Is(err, ErrBadState) {
		t.Fatalf("trailing byte: %v", err)
	}
	bad := append([]byte(nil), st...)
	bad[len(stateMagic)+2+4+1+20+2+4] = 0xff // first npc's x: far outside
	bad[len(stateMagic)+2+4+1+20+2+4+3] = 0x7f
	if err := a.UnmarshalState(bad); !errors.Is(err, ErrBadState) {
		t.Fatalf("npc outside the arena: %v", err)
	}
	after, _ := a.MarshalState(nil)
	if !bytes.Equal(before, after) {
		t.Fatal("a refused state changed the arena")
	}
}

// FuzzArena plays a random game from a seed: joins, leaves, random inputs,
// and checks the invariants every tick. A failing seed replays exactly.
func FuzzArena(f *testing.F) {
	for _, s := range []int64{0, 1, 42, -7, math.MaxInt64} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		a := New(seed)
		ctl := New(^seed).rng // a second, independent stream drives the players
		a.SetTickRate(1 + ctl.IntN(128))
		seated := map[uint32]bool{}
		var in []sim.PlayerInput
		for tick := uint32(1); tick <= 400; tick++ {
			switch ctl.IntN(20) {
			case 0:
				p := uint32(1 + ctl.IntN(12))
				if !seated[p] {
					if _, err := a.Join(p); err != nil {
						t.Fatal(err)
					}
					seated[p] = true
				}
			case 1:
				p := uint32(1 + ctl.IntN(12))
				a.Leave(p)
				delete(seated, p)
			}
			in = in[:0]
			for p := uint32(1); p <= 12; p++ {
				if seated[p] {
					in = append(in, sim.PlayerInput{Player: p, Input: input(Input{
						MoveX: int8(ctl.IntN(201) - 100), MoveY: int8(ctl.IntN(201) - 100), Aim: uint16(ctl.Uint32()),
					})})
				}
			}
			a.Step(tick, in)
			checkWorld(t, entities(a), len(seated))
		}
	})
}

func checkWorld(t *testing.T, ents []Entity, avatars int) {
	t.Helper()
	if len(ents) != NPCs+avatars {
		t.Fatalf("%d entities, want %d", len(ents), NPCs+avatars)
	}
	for i, e := range ents {
		if i > 0 && e.ID <= ents[i-1].ID {
			t.Fatalf("ids not unique and ascending: %d after %d", e.ID, ents[i-1].ID)
		}
		if e.X < 0 || e.X > MaxPos || e.Y < 0 || e.Y > MaxPos {
			t.Fatalf("entity %d at (%d, %d): outside the arena", e.ID, e.X, e.Y)
		}
		if e.HP < 1 || e.HP > MaxHP {
			t.Fatalf("entity %d hp %d", e.ID, e.HP)
		}
	}
}

// entities returns the arena's world as a client reads it: WriteState into
// a world of Codec(), read back with AppendEntities.
func entities(a *Arena) []Entity {
	w := gamedelta.NewWorld(Codec())
	a.WriteState(w)
	return AppendEntities(nil, w)
}

// input is an envelope input carrying in.
func input(in Input) schema.Input {
	return schema.Input{Data: AppendInput(nil, in)}
}

func find(ents []Entity, id uint32) Entity {
	for _, e := range ents {
		if e.ID == id {
			return e
		}
	}
	return Entity{}
}

func equalEnts(a, b []Entity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
