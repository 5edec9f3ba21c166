package cards

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

func TestSchema(t *testing.T) {
	s := Schema()
	if s.Name != "cards" || len(s.Entities) != 3 || s.Input == nil || s.Join == nil || s.ClientEvents == nil || s.ServerEvents == nil {
		t.Fatalf("schema %q: %d entity kinds, input %v, join %v, events %v %v", s.Name, len(s.Entities), s.Input, s.Join, s.ClientEvents, s.ServerEvents)
	}
	if f := s.Entity(3).Field("pos.y"); f == nil || f.Quantum != 0.001 {
		t.Errorf("Card pos.y: %+v", f)
	}
	if f := s.Entity(2).Field("playable"); f == nil || !f.OwnerOnly {
		t.Errorf("Seat playable is not owner-only: %+v", f)
	}
}

func TestDeal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		players int
		mode    cardsfb.Mode
		hand    int
		ticks   int // from the last join to the deal
	}{
		{"two classic", 2, cardsfb.ModeClassic, HandClassic, StartSeconds * testHz},
		{"three quick", 3, cardsfb.ModeQuick, HandQuick, StartSeconds * testHz},
		{"four deal at once", 4, cardsfb.ModeClassic, HandClassic, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, o := newGame(t, 7)
			seatAll(t, g, tc.players, tc.mode)
			steps(g, tc.ticks-1)
			if g.phase != cardsfb.PhaseWaiting {
				t.Fatalf("dealt after %d ticks, want %d", tc.ticks-1, tc.ticks)
			}
			g.Step(0, nil)
			if g.phase != cardsfb.PhasePlaying {
				t.Fatalf("not dealt after %d ticks", tc.ticks)
			}
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
			for s := 1; s <= tc.players; s++ {
				hand := g.seats[s].hand
				if len(hand) != tc.hand {
					t.Errorf("seat %d holds %d cards, want %d", s, len(hand), tc.hand)
				}
				dealt := o.of(cardsfb.ServerEventDealt, uint32(s))
				if len(dealt) != 1 || !bytes.Equal(dealtOf(dealt[0]), hand) {
					t.Errorf("seat %d: Dealt events %d, want one with its hand %v", s, len(dealt), hand)
				}
			}
			if len(g.pile) != 1 || len(g.deck) != NumCards-1-tc.players*tc.hand {
				t.Errorf("pile %d deck %d", len(g.pile), len(g.deck))
			}
			turns := o.of(cardsfb.ServerEventTurnChanged, 0)
			if seat, played := turnOf(turns[len(turns)-1]); len(turns) != 1 || seat != 1 || played != -1 || g.turn != 1 {
				t.Errorf("turn: %d events, seat %d played %d; game's turn %d", len(turns), seat, played, g.turn)
			}
		})
	}
}

func TestTurnsGoRound(t *testing.T) {
	g, o := startGame(t, 11, 3, cardsfb.ModeClassic)
	want := []uint8{2, 3, 1, 2, 3, 1}
	for i, next := range want {
		if g.phase != cardsfb.PhasePlaying {
			t.Fatalf("game over after %d turns", i)
		}
		s := int(g.turn)
		before := len(g.seats[s].hand)
		played := act(t, g)
		seat, got := turnOf(o.last())
		if seat != next || g.turn != next || int(got) != played {
			t.Fatalf("turn %d: TurnChanged seat %d played %d, game turn %d; want seat %d played %d", i, seat, got, g.turn, next, played)
		}
		if played >= 0 && (len(g.seats[s].hand) != before-1 || g.pile[len(g.pile)-1] != uint8(played)) {
			t.Fatalf("turn %d: played %d: hand %d → %d, top %d", i, played, before, len(g.seats[s].hand), g.pile[len(g.pile)-1])
		}
		if played < 0 {
			if len(g.seats[s].hand) != before+1 {
				t.Fatalf("turn %d: drew: hand %d → %d", i, before, len(g.seats[s].hand))
			}
			if d := o.of(cardsfb.ServerEventDealt, g.seats[s].player); !bytes.Equal(dealtOf(d[len(d)-1]), g.seats[s].hand[before:]) {
				t.Fatalf("turn %d: Dealt %v, drew %v", i, dealtOf(d[len(d)-1]), g.seats[s].hand[before:])
			}
		}
	}
}

func TestIllegalActionsRefused(t *testing.T) {
	clubs2, clubs9, hearts5, hearts2 := code(cardsfb.SuitClubs, 2), code(cardsfb.SuitClubs, 9), code(cardsfb.SuitHearts, 5), code(cardsfb.SuitHearts, 2)
	spades7, spades13 := code(cardsfb.SuitSpades, 7), code(cardsfb.SuitSpades, 13)
	for _, tc := range []struct {
		name   string
		player uint32
		event  []byte
		why    string
	}{
		{"not your turn", 2, playEvent(t, CardID(int(hearts2))), "it is not your turn"},
		{"draw out of turn", 2, drawEvent(t), "it is not your turn"},
		{"another's card", 1, playEvent(t, CardID(int(hearts2))), "that card is not in your hand"},
		{"a card of the deck", 1, playEvent(t, CardID(int(spades13))), "that card is not in your hand"},
		{"the pile's card", 1, playEvent(t, CardID(int(clubs2))), "that card is not in your hand"},
		{"neither suit nor rank", 1, playEvent(t, CardID(int(hearts5))), "play a card of the top card's suit or rank"},
		{"draw with a card to play", 1, drawEvent(t), "you have a card to play"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, o := startGame(t, 3, 2, cardsfb.ModeClassic)
			arrange(g, []uint8{clubs2}, []uint8{hearts5, clubs9}, []uint8{hearts2, spades7})
			before, n := state(t, g), len(o.events)
			g.Event(tc.player, tc.event)
			if !bytes.Equal(state(t, g), before) {
				t.Error("a refused action changed the game")
			}
			if len(o.events) != n+1 {
				t.Fatalf("%d events sent, want 1", len(o.events)-n)
			}
			e := o.last()
			if from, text := chatOf(e); e.typ != cardsfb.ServerEventChat || e.to != tc.player || from != 0 || text != tc.why {
				t.Errorf("sent %v to %d from %d: %q; want a Chat to %d from the table: %q", e.typ, e.to, from, text, tc.player, tc.why)
			}
		})
	}
	t.Run("before the deal", func(t *testing.T) {
		g, o := newGame(t, 3)
		seatAll(t, g, 2, cardsfb.ModeClassic)
		before := state(t, g)
		g.Event(1, drawEvent(t))
		if _, text := chatOf(o.last()); !bytes.Equal(state(t, g), before) || text != "no game is running" {
			t.Errorf("draw before the deal: told %q", text)
		}
	})
	t.Run("matching rank or suit is allowed", func(t *testing.T) {
		g, _ := startGame(t, 3, 2, cardsfb.ModeClassic)
		arrange(g, []uint8{clubs2}, []uint8{hearts2, clubs9}, []uint8{hearts5, spades7})
		g.Event(1, playEvent(t, CardID(int(hearts2)))) // rank
		g.Event(2, playEvent(t, CardID(int(hearts5)))) // suit
		if !slices.Equal(g.pile, []uint8{clubs2, hearts2, hearts5}) || g.turn != 1 {
			t.Errorf("pile %v turn %d", g.pile, g.turn)
		}
	})
}

func TestJoinRefused(t *testing.T) {
	g, _ := newGame(t, 1)
	seatAll(t, g, MaxPlayers, cardsfb.ModeClassic)
	var refuse *sim.RefuseError
	if _, err := g.JoinWith(sim.JoinInfo{Player: 9, Name: "late"}); !errors.As(err, &refuse) || refuse.Reason != "the table is full" {
		t.Fatalf("fifth join: %v", err)
	}
	g.Leave(2)
	if id, err := g.JoinWith(sim.JoinInfo{Player: 9, Name: "late"}); err != nil || id != SeatID(2) || string(g.seats[2].name) != "late" {
		t.Fatalf("join into the freed seat: entity %d, %v, name %q", id, err, g.seats[2].name)
	}
	g.Step(0, nil)
	if g.phase != cardsfb.PhasePlaying {
		t.Fatal("four players: not dealt at the next tick")
	}
	g.Leave(9)
	if _, err := g.JoinWith(sim.JoinInfo{Player: 10}); !errors.As(err, &refuse) || refuse.Reason != "the game has started" {
		t.Fatalf("join during the game: %v", err)
	}
}

func TestGameOver(t *testing.T) {
	g, o := startGame(t, 5, 3, cardsfb.ModeClassic)
	clubs2, clubs9 := code(cardsfb.SuitClubs, 2), code(cardsfb.SuitClubs, 9)
	arrange(g, []uint8{clubs2}, []uint8{clubs9}, []uint8{20, 21, 22}, []uint8{30, 31})
	g.Event(1, playEvent(t, CardID(int(clubs9))))
	if g.phase != cardsfb.PhaseOver || g.winner != 1 || g.turn != 0 {
		t.Fatalf("phase %v winner %d turn %d", g.phase, g.winner, g.turn)
	}
	over := o.of(cardsfb.ServerEventGameOver, 0)
	if len(over) != 1 {
		t.Fatalf("%d GameOver broadcasts", len(over))
	}
	if w, scores := gameOverOf(over[0]); w != 1 || !bytes.Equal(scores, []byte{5, 0, 0, 0}) {
		t.Errorf("GameOver winner %d scores %v, want 1 [5 0 0 0]", w, scores)
	}
	if _, err := g.JoinWith(sim.JoinInfo{Player: 9}); err == nil {
		t.Error("a join after the game was taken")
	}
	steps(g, EndSeconds*testHz-1)
	if len(o.ended) != 0 {
		t.Fatalf("the match ended before its %d s pause: %q", EndSeconds, o.ended)
	}
	steps(g, 1)
	steps(g, 10)
	if !slices.Equal(o.ended, []string{"game over"}) {
		t.Fatalf("End calls %q, want one", o.ended)
	}
}

func TestTurnTimeout(t *testing.T) {
	g, o := startGame(t, 9, 2, cardsfb.ModeClassic)
	clubs2, clubs9 := code(cardsfb.SuitClubs, 2), code(cardsfb.SuitClubs, 9)
	arrange(g, []uint8{clubs2}, []uint8{20, clubs9, 30}, []uint8{40, 41})
	g.turnLeft = TurnSeconds * testHz
	steps(g, TurnSeconds*testHz-1)
	if g.turn != 1 {
		t.Fatal("the turn passed before its time")
	}
	steps(g, 1)
	if seat, played := turnOf(o.last()); g.turn != 2 || seat != 2 || played != int8(clubs9) {
		t.Fatalf("after the timeout: turn %d, TurnChanged seat %d played %d; want the playable card %d played", g.turn, seat, played, clubs9)
	}
}

func TestLeave(t *testing.T) {
	g, o := startGame(t, 13, 3, cardsfb.ModeClassic)
	hand := slices.Clone(g.seats[1].hand)
	g.Leave(1) // seat 1 had the turn
	if g.turn != 2 || len(g.seats[1].hand) != 0 || g.seats[1].player != 0 {
		t.Fatalf("after seat 1 left: turn %d, its hand %v", g.turn, g.seats[1].hand)
	}
	if !slices.Equal(g.deck[:len(hand)], hand) {
		t.Errorf("its cards %v are not under the deck %v", hand, g.deck[:len(hand)])
	}
	if err := g.check(); err != nil {
		t.Fatal(err)
	}
	g.Leave(2)
	if g.phase != cardsfb.PhaseOver || g.winner != 3 {
		t.Fatalf("the last player left: phase %v winner %d", g.phase, g.winner)
	}
	if w, _ := gameOverOf(o.of(cardsfb.ServerEventGameOver, 0)[0]); w != 3 {
		t.Errorf("GameOver winner %d", w)
	}
}

func TestChatAndPointer(t *testing.T) {
	g, o := newGame(t, 2)
	seatAll(t, g, 2, cardsfb.ModeClassic)
	g.Event(2, chatEvent(t, "hello table"))
	if e := o.last(); e.to != 0 {
		t.Fatalf("chat sent to %d, want everyone", e.to)
	} else if from, text := chatOf(e); from != 2 || text != "hello table" {
		t.Fatalf("chat from %d: %q", from, text)
	}
	g.Step(1, []sim.PlayerInput{{Player: 1, Input: inputOf(t, 0.5, 0, -0.25)}, {Player: 2, Input: inputOf(t, 2, 0, -2)}})
	if g.seats[1].pointer != [3]float32{0.5, 0, -0.25} || g.seats[2].pointer != [3]float32{1.99, 0, -1.99} {
		t.Fatalf("pointers %v %v", g.seats[1].pointer, g.seats[2].pointer)
	}
}

// TestViewsHideHands: whatever happens, a player's view holds the table,
// the seats, the pile and exactly its own hand: never a card of another
// hand or of the deck.
func TestViewsHideHands(t *testing.T) {
	g, _ := startGame(t, 21, 4, cardsfb.ModeClassic)
	var v gamedelta.View
	for turn := 0; turn < 40 && g.phase == cardsfb.PhasePlaying; turn++ {
		for p := uint32(1); p <= 4; p++ {
			g.View(p, &v)
			if v.All || !slices.IsSorted(v.IDs) {
				t.Fatalf("player %d: view all %v, ids not ascending: %v", p, v.All, v.IDs)
			}
			want := []uint32{TableID}
			for s := 1; s <= MaxPlayers; s++ {
				if g.seats[s].player != 0 {
					want = append(want, SeatID(s))
				}
			}
			for c := range NumCards {
				if g.where[c] == onPile || (int(g.where[c]) == g.seatOf(p) && g.seatOf(p) != 0) {
					want = append(want, CardID(c))
				}
			}
			if !slices.Equal(v.IDs, want) {
				t.Fatalf("turn %d player %d sees %v, want %v", turn, p, v.IDs, want)
			}
			for _, id := range v.IDs {
				if c := int(id) - cardBase; c >= 0 && c < NumCards && g.where[c] != onPile && !slices.Contains(g.seats[g.seatOf(p)].hand, uint8(c)) {
					t.Fatalf("turn %d: player %d sees card %d of %d", turn, p, c, g.where[c])
				}
			}
		}
		act(t, g)
	}
}

func TestDeterministicFromSeed(t *testing.T) {
	run := func(seed int64) ([]byte, []sentEvent) {
		g, o := startGame(t, seed, 3, cardsfb.ModeClassic)
		for range 30 {
			if g.phase != cardsfb.PhasePlaying {
				break
			}
			act(t, g)
			g.Step(0, nil)
		}
		return state(t, g), o.events
	}
	s1, e1 := run(42)
	s2, e2 := run(42)
	if !bytes.Equal(s1, s2) || !slices.EqualFunc(e1, e2, sameEvent) {
		t.Fatal("two games of one seed differ")
	}
	a, _ := startGame(t, 42, 3, cardsfb.ModeClassic)
	b, _ := startGame(t, 43, 3, cardsfb.ModeClassic)
	if slices.Equal(a.seats[1].hand, b.seats[1].hand) && slices.Equal(a.seats[2].hand, b.seats[2].hand) {
		t.Error("seeds 42 and 43 dealt the same hands")
	}
}

func sameEvent(a, b sentEvent) bool {
	return a.to == b.to && a.typ == b.typ && bytes.Equal(a.data, b.data)
}

// TestMarshalRoundTrip: a game restored from its state (into a game of
// another seed) goes on exactly as the original: same states, same events.
func TestMarshalRoundTrip(t *testing.T) {
	g, _ := startGame(t, 77, 4, cardsfb.ModeQuick)
	for range 5 {
		act(t, g)
		g.Step(0, nil)
	}
	g.Step(0, []sim.PlayerInput{{Player: 3, Input: inputOf(t, -0.5, 0.25, 1)}})
	saved := state(t, g)
	h, ho := newGame(t, 1000)
	if err := h.UnmarshalState(saved); err != nil {
		t.Fatal(err)
	}
	if got := state(t, h); !bytes.Equal(got, saved) {
		t.Fatal("the restored game marshals differently")
	}
	go1 := &testOutbox{t: t}
	g.SetOutbox(go1)
	for i := 0; len(go1.ended) == 0; i++ {
		if i > 3000 {
			t.Fatal("the match did not end")
		}
		if g.phase == cardsfb.PhasePlaying && i%3 == 0 {
			p, ev := choose(t, g)
			for _, x := range []*Game{g, h} {
				x.Event(p, ev)
				if i%2 == 0 {
					x.Event(p, chatEvent(t, "gg"))
				}
			}
		}
		in := []sim.PlayerInput{{Player: 1, Input: inputOf(t, float32(i%10)/10, 0, 0)}}
		g.Step(uint32(i), in)
		h.Step(uint32(i), in)
		if !bytes.Equal(state(t, g), state(t, h)) {
			t.Fatalf("tick %d after the restore: states differ", i)
		}
	}
	if !slices.EqualFunc(go1.events, ho.events, sameEvent) || !slices.Equal(go1.ended, ho.ended) {
		t.Fatalf("events after the restore differ: %d and %d, ended %q and %q", len(go1.events), len(ho.events), go1.ended, ho.ended)
	}
}

func TestUnmarshalRefusesDamage(t *testing.T) {
	g, _ := startGame(t, 8, 2, cardsfb.ModeClassic)
	act(t, g)
	good := state(t, g)
	h, _ := startGame(t, 9, 3, cardsfb.ModeClassic)
	keep := state(t, h)
	for n := range len(good) {
		if err := h.UnmarshalState(good[:n]); err == nil {
			t.Fatalf("a state cut to %d of %d bytes was taken", n, len(good))
		}
	}
	for _, bad := range [][]byte{append(slices.Clone(good), 0), {2}, nil} {
		if err := h.UnmarshalState(bad); err == nil {
			t.Fatalf("state %x taken", bad)
		}
	}
	// States that decode but break the rules: a card in two places, a
	// card missing, a game whose turn belongs to an empty seat.
	for name, spoil := range map[string]func(b *Game){
		"card twice":   func(b *Game) { b.deck[0] = b.pile[0] },
		"card missing": func(b *Game) { b.deck = b.deck[1:] },
		"empty turn":   func(b *Game) { b.turn = 4 },
	} {
		b, _ := newGame(t, 0)
		if err := b.UnmarshalState(good); err != nil {
			t.Fatal(err)
		}
		spoil(b)
		if err := h.UnmarshalState(state(t, b)); !errors.Is(err, errState) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !bytes.Equal(state(t, h), keep) {
		t.Fatal("a refused state changed the game")
	}
}
