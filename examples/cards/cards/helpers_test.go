package cards

import (
	"bytes"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// testHz is the tick rate of the tests' games: short clocks.
const testHz = 10

// sentEvent is one server event a game sent.
type sentEvent struct {
	to   uint32 // 0: broadcast
	typ  cardsfb.ServerEvent
	data []byte
}

// testOutbox records what a game sends, and fails the test on an event
// the game's own schema refuses (as ticksync's clients would).
type testOutbox struct {
	t      testing.TB
	events []sentEvent
	ended  []string
}

var _ sim.Outbox = (*testOutbox)(nil)

func (o *testOutbox) Send(player uint32, ev []byte) { o.add(player, ev) }
func (o *testOutbox) Broadcast(ev []byte)           { o.add(0, ev) }
func (o *testOutbox) End(reason string)             { o.ended = append(o.ended, reason) }

func (o *testOutbox) add(to uint32, ev []byte) {
	o.t.Helper()
	tab, err := Schema().VerifyServerEvent(ev)
	if err != nil {
		o.t.Fatalf("the game sent a server event its schema refuses: %v", err)
	}
	o.events = append(o.events, sentEvent{to: to, typ: cardsfb.ServerEvent(tab.Kind), data: bytes.Clone(ev)})
}

// of returns the events of type typ sent to player (0: broadcasts).
func (o *testOutbox) of(typ cardsfb.ServerEvent, to uint32) []sentEvent {
	var out []sentEvent
	for _, e := range o.events {
		if e.typ == typ && e.to == to {
			out = append(out, e)
		}
	}
	return out
}

// last returns the newest event, failing without one.
func (o *testOutbox) last() sentEvent {
	o.t.Helper()
	if len(o.events) == 0 {
		o.t.Fatal("no event sent")
	}
	return o.events[len(o.events)-1]
}

// serverEvent opens a ServerEvents buffer on its member table.
func serverEvent(data []byte) (cardsfb.ServerEvent, flatbuffers.Table) {
	ev := cardsfb.GetRootAsServerEvents(data, 0)
	var t flatbuffers.Table
	ev.Event(&t)
	return ev.EventType(), t
}

func chatOf(e sentEvent) (from uint8, text string) {
	_, t := serverEvent(e.data)
	var c cardsfb.Chat
	c.Init(t.Bytes, t.Pos)
	return c.From(), string(c.Text())
}

func dealtOf(e sentEvent) []byte {
	_, t := serverEvent(e.data)
	var d cardsfb.Dealt
	d.Init(t.Bytes, t.Pos)
	return d.CardsBytes()
}

func turnOf(e sentEvent) (seat uint8, played int8) {
	_, t := serverEvent(e.data)
	var c cardsfb.TurnChanged
	c.Init(t.Bytes, t.Pos)
	return c.Seat(), c.Played()
}

func gameOverOf(e sentEvent) (winner uint8, scores []byte) {
	_, t := serverEvent(e.data)
	var c cardsfb.GameOver
	c.Init(t.Bytes, t.Pos)
	return c.Winner(), c.ScoresBytes()
}

// newGame returns a game of seed at testHz with a recording outbox.
func newGame(t testing.TB, seed int64) (*Game, *testOutbox) {
	t.Helper()
	g := New(seed)
	g.SetTickRate(testHz)
	o := &testOutbox{t: t}
	g.SetOutbox(o)
	return g, o
}

// joinPayload builds a Join table as a client does, checked by the schema
// as ticksync checks Hello.join.
func joinPayload(t testing.TB, name string, color uint32, mode cardsfb.Mode) []byte {
	t.Helper()
	b := flatbuffers.NewBuilder(64)
	n := b.CreateString(name)
	cardsfb.JoinStart(b)
	cardsfb.JoinAddName(b, n)
	cardsfb.JoinAddColor(b, color)
	cardsfb.JoinAddMode(b, mode)
	b.Finish(cardsfb.JoinEnd(b))
	if err := Schema().VerifyJoin(b.FinishedBytes()); err != nil {
		t.Fatalf("join payload: %v", err)
	}
	return b.FinishedBytes()
}

// seatAll seats players 1..n in mode, each at the seat of its number.
func seatAll(t testing.TB, g *Game, n int, mode cardsfb.Mode) {
	t.Helper()
	for p := 1; p <= n; p++ {
		id, err := g.JoinWith(sim.JoinInfo{Player: uint32(p), Payload: joinPayload(t, "p"+string(rune('0'+p)), 0x336699, mode)})
		if err != nil || id != SeatID(p) {
			t.Fatalf("join player %d: entity %d, %v", p, id, err)
		}
	}
}

// steps runs n ticks without inputs.
func steps(g *Game, n int) {
	for range n {
		g.Step(0, nil)
	}
}

// startGame seats n players and runs the clock to the deal.
func startGame(t testing.TB, seed int64, n int, mode cardsfb.Mode) (*Game, *testOutbox) {
	t.Helper()
	g, o := newGame(t, seed)
	seatAll(t, g, n, mode)
	for i := 0; g.phase != cardsfb.PhasePlaying; i++ {
		if i > StartSeconds*testHz {
			t.Fatalf("no deal after %d ticks", i)
		}
		g.Step(0, nil)
	}
	return g, o
}

// clientEvent wraps an event in ClientEvents and checks it as ticksync
// checks a client's event.
func clientEvent(t testing.TB, typ cardsfb.ClientEvent, build func(b *flatbuffers.Builder) flatbuffers.UOffsetT) []byte {
	t.Helper()
	b := flatbuffers.NewBuilder(64)
	ev := build(b)
	cardsfb.ClientEventsStart(b)
	cardsfb.ClientEventsAddEventType(b, typ)
	cardsfb.ClientEventsAddEvent(b, ev)
	b.Finish(cardsfb.ClientEventsEnd(b))
	if _, err := Schema().VerifyEvent(b.FinishedBytes()); err != nil {
		t.Fatalf("client event: %v", err)
	}
	return b.FinishedBytes()
}

func playEvent(t testing.TB, card uint32) []byte {
	return clientEvent(t, cardsfb.ClientEventPlayCard, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		cardsfb.PlayCardStart(b)
		cardsfb.PlayCardAddCard(b, card)
		return cardsfb.PlayCardEnd(b)
	})
}

func drawEvent(t testing.TB) []byte {
	return clientEvent(t, cardsfb.ClientEventDraw, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		cardsfb.DrawStart(b)
		return cardsfb.DrawEnd(b)
	})
}

func chatEvent(t testing.TB, text string) []byte {
	return clientEvent(t, cardsfb.ClientEventChat, func(b *flatbuffers.Builder) flatbuffers.UOffsetT {
		s := b.CreateString(text)
		cardsfb.ChatStart(b)
		cardsfb.ChatAddText(b, s)
		return cardsfb.ChatEnd(b)
	})
}

// inputOf builds an Input with the pointer at x, y, z.
func inputOf(t testing.TB, x, y, z float32) schema.Input {
	t.Helper()
	b := flatbuffers.NewBuilder(64)
	cardsfb.InputStart(b)
	cardsfb.InputAddPointer(b, cardsfb.CreateVec3(b, x, y, z))
	b.Finish(cardsfb.InputEnd(b))
	if err := Schema().VerifyInput(b.FinishedBytes()); err != nil {
		t.Fatalf("input: %v", err)
	}
	return schema.Input{Data: b.FinishedBytes()}
}

// act takes the turn for the seat to play, as a simple player would: its
// first playable card, else a draw. It returns the card played, -1 for a
// draw.
func act(t testing.TB, g *Game) int {
	t.Helper()
	s := int(g.turn)
	for _, c := range g.seats[s].hand {
		if g.matches(c) {
			g.Event(g.seats[s].player, playEvent(t, CardID(int(c))))
			return int(c)
		}
	}
	g.Event(g.seats[s].player, drawEvent(t))
	return -1
}

// choose is act's choice as an event, without applying it.
func choose(t testing.TB, g *Game) (player uint32, event []byte) {
	t.Helper()
	s := int(g.turn)
	for _, c := range g.seats[s].hand {
		if g.matches(c) {
			return g.seats[s].player, playEvent(t, CardID(int(c)))
		}
	}
	return g.seats[s].player, drawEvent(t)
}

// state is the game's MarshalState.
func state(t testing.TB, g *Game) []byte {
	t.Helper()
	b, err := g.MarshalState(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// code is the code of the card of suit and rank.
func code(suit cardsfb.Suit, rank int) uint8 { return uint8(int(suit)*13 + rank - 1) }

// arrange sets the hands and the pile (the rest goes to the deck) with
// seat 1 to play.
func arrange(g *Game, pile []uint8, hands ...[]uint8) {
	used := map[uint8]bool{}
	g.pile = append(g.pile[:0], pile...)
	for _, c := range pile {
		used[c] = true
	}
	for s, h := range hands {
		g.seats[s+1].hand = append(g.seats[s+1].hand[:0], h...)
		for _, c := range h {
			used[c] = true
		}
	}
	g.deck = g.deck[:0]
	for c := range uint8(NumCards) {
		if !used[c] {
			g.deck = append(g.deck, c)
		}
	}
	g.turn, g.phase, g.passes = 1, cardsfb.PhasePlaying, 0
	g.locate()
}
