package cards

import (
	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
)

// deal shuffles the deck, deals each seated player its hand, turns the
// next card onto the pile and gives the turn to the lowest seat.
func (g *Game) deal() {
	g.shuffle(g.deck)
	n := HandClassic
	if g.mode == cardsfb.ModeQuick {
		n = HandQuick
	}
	for range n {
		for s := 1; s <= MaxPlayers; s++ {
			if st := &g.seats[s]; st.player != 0 {
				st.hand = append(st.hand, g.pop())
			}
		}
	}
	g.pile = append(g.pile[:0], g.pop())
	g.phase, g.passes = cardsfb.PhasePlaying, 0
	for s := 1; s <= MaxPlayers; s++ {
		if st := &g.seats[s]; st.player != 0 {
			g.out.Send(st.player, g.dealt(st.hand))
		}
	}
	g.turn = 0
	g.nextTurn(-1)
}

// play moves card id from seat s's hand onto the pile, if the rules allow;
// otherwise s is told why.
func (g *Game) play(s int, id uint32) {
	if !g.canAct(s) {
		return
	}
	c := int(id) - cardBase
	if c < 0 || c >= NumCards || int(g.where[c]) != s {
		g.tell(s, "that card is not in your hand")
		return
	}
	if !g.matches(uint8(c)) {
		g.tell(s, "play a card of the top card's suit or rank")
		return
	}
	st := &g.seats[s]
	for i, h := range st.hand {
		if int(h) == c {
			st.hand = append(st.hand[:i], st.hand[i+1:]...)
			break
		}
	}
	g.pile = append(g.pile, uint8(c))
	g.passes = 0
	if len(st.hand) == 0 {
		g.finish(s)
		return
	}
	g.nextTurn(int8(c))
}

// draw gives seat s the deck's top card and ends its turn, when it holds
// no card it could play.
func (g *Game) draw(s int) {
	if !g.canAct(s) {
		return
	}
	if g.playable(s) > 0 {
		g.tell(s, "you have a card to play")
		return
	}
	if len(g.deck) == 0 && len(g.pile) > 1 { // the pile under its top card becomes the deck
		top := g.pile[len(g.pile)-1]
		g.deck = append(g.deck, g.pile[:len(g.pile)-1]...)
		g.pile = append(g.pile[:0], top)
		g.shuffle(g.deck)
	}
	if len(g.deck) == 0 {
		// Nothing to draw: the turn passes. When no one could play or
		// draw for a whole round, the fewest cards win.
		if g.passes++; int(g.passes) >= g.seated() {
			g.finish(g.fewest())
			return
		}
		g.nextTurn(-1)
		return
	}
	st := &g.seats[s]
	c := g.pop()
	st.hand = append(st.hand, c)
	g.passes = 0
	g.out.Send(st.player, g.dealt(st.hand[len(st.hand)-1:]))
	g.nextTurn(-1)
}

// canAct reports whether it is seat s's turn in a running game, telling s
// why not.
func (g *Game) canAct(s int) bool {
	switch {
	case g.phase != cardsfb.PhasePlaying:
		g.tell(s, "no game is running")
		return false
	case int(g.turn) != s:
		g.tell(s, "it is not your turn")
		return false
	}
	return true
}

// autoPlay takes the turn of a player whose time ran out: its first
// playable card, else a draw.
func (g *Game) autoPlay() {
	s := int(g.turn)
	for _, c := range g.seats[s].hand {
		if g.matches(c) {
			g.play(s, CardID(int(c)))
			return
		}
	}
	g.draw(s)
}

// nextTurn gives the turn to the next occupied seat and tells everyone;
// played is the card the last seat played, -1 for none.
func (g *Game) nextTurn(played int8) {
	n := int(g.turn)
	for range MaxPlayers {
		if n = n%MaxPlayers + 1; g.seats[n].player != 0 {
			break
		}
	}
	g.turn, g.turnLeft = uint8(n), int32(TurnSeconds*g.hz)
	g.out.Broadcast(g.turnChanged(uint8(n), played))
}

// finish ends the game won by seat w: it scores a point per card left in
// the other hands; everyone gets GameOver, and the match ends EndSeconds
// later.
func (g *Game) finish(w int) {
	points := 0
	for s := 1; s <= MaxPlayers; s++ {
		if s != w {
			points += len(g.seats[s].hand)
		}
	}
	g.seats[w].score = uint8(min(points, NumCards))
	g.phase, g.winner, g.turn, g.turnLeft = cardsfb.PhaseOver, uint8(w), 0, 0
	g.endIn = int32(EndSeconds * g.hz)
	g.out.Broadcast(g.gameOver())
	g.announce(string(g.seats[w].name) + " wins")
}

// fewest is the occupied seat with the fewest cards (the lowest on a tie).
func (g *Game) fewest() int {
	best := 0
	for s := 1; s <= MaxPlayers; s++ {
		if g.seats[s].player != 0 && (best == 0 || len(g.seats[s].hand) < len(g.seats[best].hand)) {
			best = s
		}
	}
	return best
}

// matches reports whether card c may go on the pile: the top card's suit
// or rank.
func (g *Game) matches(c uint8) bool {
	if len(g.pile) == 0 {
		return true
	}
	top := g.pile[len(g.pile)-1]
	return c/13 == top/13 || c%13 == top%13
}

// playable counts the cards of seat s that may go on the pile now.
func (g *Game) playable(s int) int {
	if g.phase != cardsfb.PhasePlaying {
		return 0
	}
	n := 0
	for _, c := range g.seats[s].hand {
		if g.matches(c) {
			n++
		}
	}
	return n
}

// pop takes the deck's top card; the caller checked the deck is not empty.
func (g *Game) pop() uint8 {
	c := g.deck[len(g.deck)-1]
	g.deck = g.deck[:len(g.deck)-1]
	return c
}

// shuffle is a Fisher–Yates shuffle from the game's own generator (its
// algorithm is fixed here, so a saved state replays the same on every
// version of Go).
func (g *Game) shuffle(cards []uint8) {
	for i := len(cards) - 1; i > 0; i-- {
		j := int(g.pcg.Uint64() % uint64(i+1))
		cards[i], cards[j] = cards[j], cards[i]
	}
}

// Where the cards lie on the table, in table units: the deck left of the
// centre, the pile right of it, each hand in front of its seat, spread
// along the table's edge.
var (
	seatCentre = [MaxPlayers + 1][3]float32{{}, {0, 0, 0.8}, {-0.8, 0, 0}, {0, 0, -0.8}, {0.8, 0, 0}}
	seatAlong  = [MaxPlayers + 1][3]float32{{}, {1, 0, 0}, {0, 0, 1}, {-1, 0, 0}, {0, 0, -1}}
)

const cardThickness = 0.002

// locate derives where each card lies and its position from the deck, the
// pile and the hands. Every method that changes them ends with it.
func (g *Game) locate() {
	for i, c := range g.deck {
		g.where[c] = inDeck
		g.pos[c] = [3]float32{-0.15, cardThickness * float32(i), 0}
	}
	for i, c := range g.pile {
		g.where[c] = onPile
		// A little disorder on the pile, the same for a card every time.
		g.pos[c] = [3]float32{0.15 + 0.01*float32(int(c%7)-3), cardThickness * float32(i), 0.01 * float32(int(c%5)-2)}
	}
	for s := 1; s <= MaxPlayers; s++ {
		hand := g.seats[s].hand
		step := min(float32(0.1), 1.4/float32(max(len(hand), 1)))
		for i, c := range hand {
			d := step * (float32(i) - float32(len(hand)-1)/2)
			o, a := seatCentre[s], seatAlong[s]
			g.where[c] = uint8(s)
			g.pos[c] = [3]float32{o[0] + d*a[0], 0, o[2] + d*a[2]}
		}
	}
}
