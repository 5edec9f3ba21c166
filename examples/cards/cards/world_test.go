package cards

import (
	"slices"
	"testing"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// codec is the game's delta codec, compiled from its schema as the node
// compiles it when the game is registered.
func codec(t testing.TB) *gamedelta.Codec {
	t.Helper()
	l, err := Schema().DeltaLayout()
	if err != nil {
		t.Fatal(err)
	}
	c, err := gamedelta.Compile(l)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWholeGames plays games to their end from many seeds: every game ends,
// its winner emptied its hand (or the game stalled and the fewest cards
// won), every state is consistent, and every world fits the schema.
func TestWholeGames(t *testing.T) {
	c := codec(t)
	w := gamedelta.NewWorld(c)
	for seed := int64(1); seed <= 40; seed++ {
		players := 2 + int(seed%3)
		g, o := startGame(t, seed, players, cardsfb.Mode(seed%2))
		for turn := 0; g.phase == cardsfb.PhasePlaying; turn++ {
			if turn > 2000 {
				t.Fatalf("seed %d: no end after %d turns", seed, turn)
			}
			act(t, g)
			g.Step(0, nil)
			if err := g.check(); err != nil {
				t.Fatalf("seed %d turn %d: %v", seed, turn, err)
			}
			w.Reset()
			g.WriteState(w)
			if err := w.Check(); err != nil {
				t.Fatalf("seed %d turn %d: world: %v", seed, turn, err)
			}
		}
		win := int(g.winner)
		if win == 0 || (len(g.seats[win].hand) != 0 && g.fewest() != win) {
			t.Fatalf("seed %d: winner %d holds %d cards", seed, win, len(g.seats[win].hand))
		}
		if len(o.of(cardsfb.ServerEventGameOver, 0)) != 1 {
			t.Fatalf("seed %d: no GameOver", seed)
		}
	}
}

func TestWriteState(t *testing.T) {
	c := codec(t)
	g, _ := startGame(t, 31, 2, cardsfb.ModeClassic)
	g.Step(0, []sim.PlayerInput{{Player: 2, Input: inputOf(t, 0.5, 0, -0.25)}})
	w := gamedelta.NewWorld(c)
	g.WriteState(w)
	if err := w.Check(); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 1+2+NumCards {
		t.Fatalf("%d entities, want the table, 2 seats and %d cards", w.Len(), NumCards)
	}
	seat := w.Find(SeatID(2))
	x, z := c.FieldIndex(fields.seat, "pointer.x"), c.FieldIndex(fields.seat, "pointer.z")
	if w.Owner(seat) != 2 || w.Int(seat, x) != 50 || w.Int(seat, z) != -25 || string(w.Bytes(seat, fields.sName)) != "p2" {
		t.Errorf("seat 2: owner %d pointer %d,%d name %q", w.Owner(seat), w.Int(seat, x), w.Int(seat, z), w.Bytes(seat, fields.sName))
	}
	for _, h := range g.seats[1].hand {
		i := w.Find(CardID(int(h)))
		if w.Owner(i) != 1 || w.Int(i, fields.cHolder) != 1 || w.Int(i, fields.cFaceUp) != 0 ||
			w.Int(i, fields.cSuit) != int64(h/13) || w.Int(i, fields.cRank) != int64(h%13+1) {
			t.Errorf("card %d in seat 1's hand: %s", h, w)
		}
	}
	top := w.Find(CardID(int(g.pile[0])))
	if w.Owner(top) != 0 || w.Int(top, fields.cHolder) != 0 || w.Int(top, fields.cFaceUp) != 1 {
		t.Errorf("the pile's card: owner %d holder %d face up %d", w.Owner(top), w.Int(top, fields.cHolder), w.Int(top, fields.cFaceUp))
	}
}

// TestViewsThroughTheCodec encodes the game for each player as a room does
// (its view, deltas against what it acknowledged) and decodes it as a
// client does: no client ever holds a card of another hand or of the
// deck, or another seat's owner-only hint.
func TestViewsThroughTheCodec(t *testing.T) {
	c := codec(t)
	g, _ := startGame(t, 55, 3, cardsfb.ModeClassic)
	enc, err := gamedelta.NewEncoder(c, gamedelta.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	type client struct {
		cl *gamedelta.Client
		rx *gamedelta.Receiver
		v  gamedelta.View
	}
	clients := map[uint32]*client{}
	for p := uint32(1); p <= 3; p++ {
		rx, err := gamedelta.NewReceiver(c, gamedelta.DefaultReceiverConfig(p))
		if err != nil {
			t.Fatal(err)
		}
		clients[p] = &client{cl: enc.NewClient(p), rx: rx}
	}
	w := gamedelta.NewWorld(c)
	for tick := uint32(1); tick <= 200 && g.phase == cardsfb.PhasePlaying; tick++ {
		if tick%2 == 0 {
			act(t, g)
		}
		g.Step(tick, nil)
		w.Reset()
		g.WriteState(w)
		if err := enc.Record(tick, w); err != nil {
			t.Fatal(err)
		}
		for p := uint32(1); p <= 3; p++ {
			cl := clients[p]
			g.View(p, &cl.v)
			e, err := enc.Encode(cl.cl, &cl.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.rx.Apply(tick, e.Baseline, e.Data)
			if err != nil {
				t.Fatalf("tick %d player %d: %v", tick, p, err)
			}
			cl.cl.Ack(cl.rx.Newest())
			me := g.seatOf(p)
			for i := range got.Len() {
				id := got.ID(i)
				switch got.Kind(i) {
				case fields.card:
					cd := int(id) - cardBase
					if g.where[cd] != onPile && !slices.Contains(g.seats[me].hand, uint8(cd)) {
						t.Fatalf("tick %d: player %d received card %d, held by %d", tick, p, cd, g.where[cd])
					}
				case fields.seat:
					if s := int(id - seatBase); s != me && got.Int(i, fields.sPlayable) != 0 {
						t.Fatalf("tick %d: player %d received seat %d's playable hint", tick, p, s)
					}
				}
			}
			if got.Len() != len(cl.v.IDs) {
				t.Fatalf("tick %d: player %d holds %d entities, its view %d", tick, p, got.Len(), len(cl.v.IDs))
			}
			if i := got.Find(SeatID(me)); got.Int(i, fields.sPlayable) != int64(g.playable(me)) {
				t.Fatalf("tick %d: player %d's playable hint %d, want %d", tick, p, got.Int(i, fields.sPlayable), g.playable(me))
			}
		}
	}
}

// BenchmarkTick is one tick of a four-player game as a room runs it: Step
// with every player's input, WriteState, and each player's View.
func BenchmarkTick(b *testing.B) {
	c := codec(b)
	g, _ := startGame(b, 1, 4, cardsfb.ModeClassic)
	w := gamedelta.NewWorld(c)
	in := make([]sim.PlayerInput, 4)
	for p := range in {
		in[p] = sim.PlayerInput{Player: uint32(p + 1), Input: inputOf(b, 0.25*float32(p), 0, -0.5)}
	}
	var views [4]gamedelta.View
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.Step(uint32(i), in)
		w.Reset()
		g.WriteState(w)
		for p := range views {
			g.View(uint32(p+1), &views[p])
		}
	}
}

func TestTickAllocatesNothing(t *testing.T) {
	c := codec(t)
	g, _ := startGame(t, 1, 4, cardsfb.ModeClassic)
	w := gamedelta.NewWorld(c)
	in := []sim.PlayerInput{{Player: 1, Input: inputOf(t, 0.5, 0, 0.5)}, {Player: 2, Input: inputOf(t, -0.5, 0, 0.5)}}
	var v gamedelta.View
	tick := func() {
		g.Step(0, in)
		w.Reset()
		g.WriteState(w)
		for p := uint32(1); p <= 4; p++ {
			g.View(p, &v)
		}
	}
	tick() // grow the buffers
	if n := testing.AllocsPerRun(100, tick); n != 0 {
		t.Fatalf("a tick allocates %v times", n)
	}
}

// TestMatchKey: players are matched by the Join table's mode.
func TestMatchKey(t *testing.T) {
	for _, f := range Schema().Join.Fields {
		if f.MatchKey != (f.Name == "mode") {
			t.Errorf("Join.%s: match key %v", f.Name, f.MatchKey)
		}
	}
}
