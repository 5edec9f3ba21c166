package gameschema

import (
	"bytes"
	"math/rand/v2"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/gameschema/internal/testgame/arena"
	"github.com/ticksync/ticksync/schema/gameschema/internal/testgame/cards"
)

// The generic code must agree with what flatc generates for the same .fbs:
// buffers built by flatc's Go builders decode to their values, and buffers
// built by Table.Build read back through flatc's accessors.

func TestInteropFlatcToGeneric(t *testing.T) {
	s := loadFile(t, "cards")
	b := flatbuffers.NewBuilder(0)
	name := b.CreateString("ada")
	hand := b.CreateByteVector([]byte{3, 14, 27})
	cards.PlayerStart(b)
	cards.PlayerAddSeat(b, 5)
	cards.PlayerAddName(b, name)
	cards.PlayerAddScore(b, -1<<40)
	cards.PlayerAddReady(b, true)
	cards.PlayerAddHand(b, hand)
	cards.PlayerAddHandSize(b, 3)
	cards.PlayerAddPointer(b, cards.CreateVec3(b, 1.5, -2.25, 0.5))
	cards.PlayerAddPointerVel(b, cards.CreateVec3(b, 0.25, 0, -0.75))
	cards.PlayerAddSecretBid(b, 420)
	b.Finish(cards.PlayerEnd(b))
	p := s.Entity(1)
	var v Values
	if err := p.Decode(b.FinishedBytes(), &v); err != nil {
		t.Fatal(err)
	}
	ints := map[string]int64{"seat": 5, "score": -1 << 40, "ready": 1, "hand_size": 3, "secret_bid": 420}
	for n, want := range ints {
		if got := v.Int(p.Field(n).Index); got != want {
			t.Errorf("%s = %d, want %d", n, got, want)
		}
	}
	floats := map[string]float64{"pointer.x": 1.5, "pointer.y": -2.25, "pointer.z": 0.5, "pointer_vel.x": 0.25, "pointer_vel.y": 0, "pointer_vel.z": -0.75}
	for n, want := range floats {
		if got := v.Float(p.Field(n).Index); got != want {
			t.Errorf("%s = %v, want %v", n, got, want)
		}
	}
	if v.Text(p.Field("name").Index) != "ada" || !bytes.Equal(v.Bytes(p.Field("hand").Index), []byte{3, 14, 27}) {
		t.Errorf("name %q hand %v", v.Bytes(p.Field("name").Index), v.Bytes(p.Field("hand").Index))
	}

	// An event in its wrapper.
	b.Reset()
	text := b.CreateString("gg")
	cards.SayStart(b)
	cards.SayAddText(b, text)
	say := cards.SayEnd(b)
	cards.ClientEventsStart(b)
	cards.ClientEventsAddEventType(b, cards.ClientEventSay)
	cards.ClientEventsAddEvent(b, say)
	b.Finish(cards.ClientEventsEnd(b))
	tb, err := s.DecodeEvent(b.FinishedBytes(), &v)
	if err != nil || tb.Name != "cards.Say" || v.Text(0) != "gg" {
		t.Fatalf("event: %v %v %q", tb, err, v.Bytes(0))
	}

	// An arena input with a bit set of buttons.
	a := loadFile(t, "arena")
	b.Reset()
	arena.InputStart(b)
	arena.InputAddMoveX(b, -100)
	arena.InputAddMoveY(b, 100)
	arena.InputAddAim(b, 65535)
	arena.InputAddButtons(b, arena.ButtonsFire|arena.ButtonsShield)
	b.Finish(arena.InputEnd(b))
	if err := a.DecodeInput(b.FinishedBytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Int(0) != -100 || v.Int(1) != 100 || v.Int(2) != 65535 || v.Int(3) != 5 {
		t.Errorf("arena input %v", v.nums)
	}

	// An entity with a deprecated field before the last one.
	b.Reset()
	arena.NpcStart(b)
	arena.NpcAddX(b, -5000)
	arena.NpcAddVy(b, 3)
	arena.NpcAddArmor(b, 50)
	b.Finish(arena.NpcEnd(b))
	npc := a.Entity(2)
	if err := npc.Decode(b.FinishedBytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Int(npc.Field("x").Index) != -5000 || v.Int(npc.Field("vy").Index) != 3 || v.Int(npc.Field("armor").Index) != 50 || v.Float(npc.Field("x").Index) != -312.5 {
		t.Errorf("npc %v", v.nums)
	}
}

func TestInteropGenericToFlatc(t *testing.T) {
	s := loadFile(t, "cards")
	p := s.Entity(1)
	idx := func(n string) int { return p.Field(n).Index }
	b := flatbuffers.NewBuilder(0)
	rng := rand.New(rand.NewPCG(9, 9))
	var v Values
	var vec cards.Vec3
	for range 200 {
		randValues(rng, p, &v)
		b.Reset()
		b.Finish(p.Build(b, &v))
		r := cards.GetRootAsPlayer(b.FinishedBytes(), 0)
		ptr, vel := r.Pointer(&vec), cards.Vec3{}
		got := map[string]float64{"pointer.x": float64(ptr.X()), "pointer.y": float64(ptr.Y()), "pointer.z": float64(ptr.Z())}
		r.PointerVel(&vel)
		got["pointer_vel.x"], got["pointer_vel.y"], got["pointer_vel.z"] = float64(vel.X()), float64(vel.Y()), float64(vel.Z())
		for n, x := range got {
			if x != v.Float(idx(n)) {
				t.Fatalf("%s: flatc reads %v, built %v", n, x, v.Float(idx(n)))
			}
		}
		if int64(r.Seat()) != v.Int(idx("seat")) || r.Score() != v.Int(idx("score")) || r.Ready() != v.Bool(idx("ready")) ||
			int64(r.HandSize()) != v.Int(idx("hand_size")) || int64(r.SecretBid()) != v.Int(idx("secret_bid")) {
			t.Fatalf("scalars differ: flatc %d %d %v %d %d, built %v", r.Seat(), r.Score(), r.Ready(), r.HandSize(), r.SecretBid(), v.nums)
		}
		if !bytes.Equal(r.Name(), v.Bytes(idx("name"))) || !bytes.Equal(r.HandBytes(), v.Bytes(idx("hand"))) {
			t.Fatalf("name %q hand %v, built %q %v", r.Name(), r.HandBytes(), v.Bytes(idx("name")), v.Bytes(idx("hand")))
		}
	}
	// Board: enums, a default of -1, ulong and double.
	bd := s.Entity(2)
	for range 200 {
		randValues(rng, bd, &v)
		b.Reset()
		b.Finish(bd.Build(b, &v))
		r := cards.GetRootAsBoard(b.FinishedBytes(), 0)
		if int64(r.Phase()) != v.Int(bd.Field("phase").Index) || int64(r.Trump()) != v.Int(bd.Field("trump").Index) ||
			r.Pot() != v.Uint(bd.Field("pot").Index) || r.Clock() != v.Float(bd.Field("clock").Index) ||
			int64(r.DealerSeat()) != v.Int(bd.Field("dealer_seat").Index) || int64(r.Round()) != v.Int(bd.Field("round").Index) {
			t.Fatalf("board differs: flatc %v %v %d %v %d, built %v", r.Phase(), r.Trump(), r.Pot(), r.Clock(), r.DealerSeat(), v.nums)
		}
	}
}
