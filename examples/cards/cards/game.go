package cards

import (
	"math"
	"math/rand/v2"
	"strconv"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// Table and seat sizes, entity ids and clocks.
const (
	MinPlayers = 2
	MaxPlayers = 4
	NumCards   = 52

	HandClassic = 5 // cards dealt to each player
	HandQuick   = 3 // in the quick mode

	TableID  = 1   // the table entity
	seatBase = 10  // a seat's entity: 10 + seat (1..4)
	cardBase = 100 // a card's entity: 100 + code (0..51)

	StartSeconds = 5  // from the second player's arrival to the deal (the fourth deals at once)
	TurnSeconds  = 30 // a turn not taken by then is played for the player
	EndSeconds   = 5  // from the game's end to the match's

	defaultTickRate = 30
	maxNameLen      = 24  // Seat.name's max_len
	maxChatLen      = 120 // Chat.text's max_len
)

// SeatID is the entity id of seat s (1..4).
func SeatID(s int) uint32 { return seatBase + uint32(s) }

// CardID is the entity id of the card with code c: suit × 13 + rank − 1.
func CardID(c int) uint32 { return cardBase + uint32(c) }

// where a card lies: in the deck, in a seat's hand (1..4) or on the pile.
const (
	inDeck = 0
	onPile = MaxPlayers + 1
)

// seat is one place at the table.
type seat struct {
	player  uint32 // 0: free
	name    []byte
	color   uint32
	score   uint8
	hand    []uint8 // card codes, in the order received
	pointer [3]float32
}

// Game is one match of cards. Every method is called on the match's room
// goroutine only (package sim's contract); none reads the clock or a
// global random source.
type Game struct {
	pcg rand.PCG // shuffles; part of the state
	out sim.Outbox
	hz  int

	phase    cardsfb.Phase
	mode     cardsfb.Mode
	modeSet  bool // the first player chose the mode
	seats    [MaxPlayers + 1]seat
	deck     []uint8 // top at the end
	pile     []uint8 // top at the end
	turn     uint8   // the seat to play, 0 while no game runs
	winner   uint8
	startIn  int32 // ticks to the deal, 0: not counting
	turnLeft int32 // ticks left in the turn
	endIn    int32 // ticks to the end of the match once over
	passes   uint8 // turns in a row that ended with nothing to draw

	// Derived from the state by locate, not saved.
	where [NumCards]uint8
	pos   [NumCards][3]float32

	b     *flatbuffers.Builder // builds server events
	codes []byte               // scratch for GameOver
}

// The interfaces the game implements: game.Game (sim.World with
// MarshalState and UnmarshalState), game.TickRated, and the optional
// interfaces of a World with a game schema.
var (
	_ game.Game        = (*Game)(nil)
	_ game.TickRated   = (*Game)(nil)
	_ sim.StateWriter  = (*Game)(nil)
	_ sim.InfoJoiner   = (*Game)(nil)
	_ sim.EventHandler = (*Game)(nil)
	_ sim.OutboxUser   = (*Game)(nil)
	_ sim.Viewer       = (*Game)(nil)
)

// New creates a match from seed (game.Factory): an empty table, a deck
// in order, a generator seeded by seed.
func New(seed int64) *Game {
	g := &Game{out: nopOutbox{}, hz: defaultTickRate, b: flatbuffers.NewBuilder(256)}
	g.pcg.Seed(uint64(seed), 0x63617264730a) // the second word only separates this game's streams
	g.deck = make([]uint8, 0, NumCards)
	for c := range NumCards {
		g.deck = append(g.deck, uint8(c))
	}
	g.locate()
	return g
}

// SetTickRate takes the room's tick rate (game.TickRated): the clocks
// count ticks. It is called before the first Join, Step or UnmarshalState.
func (g *Game) SetTickRate(hz int) {
	if hz > 0 {
		g.hz = hz
	}
}

// SetOutbox takes the room's outbox (sim.OutboxUser).
func (g *Game) SetOutbox(o sim.Outbox) { g.out = o }

// Join seats a player without a join payload (sim.World).
func (g *Game) Join(player uint32) (uint32, error) {
	return g.JoinWith(sim.JoinInfo{Player: player})
}

// JoinWith seats a player at the lowest free seat, with the name, colour
// and mode of its join payload (the Hello's name when the payload has
// none). It refuses a fifth player, and anyone once the game has started.
func (g *Game) JoinWith(j sim.JoinInfo) (uint32, error) {
	if s := g.seatOf(j.Player); s != 0 {
		return SeatID(s), nil
	}
	switch g.phase {
	case cardsfb.PhasePlaying:
		return 0, sim.Refuse("the game has started")
	case cardsfb.PhaseOver:
		return 0, sim.Refuse("the game is over")
	}
	s := 0
	for i := 1; i <= MaxPlayers && s == 0; i++ {
		if g.seats[i].player == 0 {
			s = i
		}
	}
	if s == 0 {
		return 0, sim.Refuse("the table is full")
	}
	var name []byte
	var color uint32
	mode := cardsfb.ModeClassic
	if len(j.Payload) > 0 { // verified against the Join table by ticksync
		var jn cardsfb.Join
		jn.Init(j.Payload, flatbuffers.GetUOffsetT(j.Payload))
		name, color, mode = jn.Name(), jn.Color(), jn.Mode()
	}
	if len(name) == 0 {
		name = []byte(j.Name)
	}
	if len(name) == 0 {
		name = []byte("player " + strconv.Itoa(s))
	}
	st := &g.seats[s]
	st.player, st.color, st.score, st.pointer = j.Player, color, 0, [3]float32{}
	st.name = append(st.name[:0], truncate(name, maxNameLen)...)
	st.hand = st.hand[:0]
	if !g.modeSet {
		g.mode, g.modeSet = mode, true
	}
	switch n := g.seated(); {
	case n == MaxPlayers:
		g.startIn = 1 // deal at the next tick
	case n >= MinPlayers:
		g.startIn = int32(StartSeconds * g.hz)
	}
	g.announce(string(st.name) + " sits at seat " + strconv.Itoa(s))
	g.locate()
	return SeatID(s), nil
}

// Leave frees the player's seat; its cards go under the deck. A game
// left with one player is won by that player.
func (g *Game) Leave(player uint32) {
	s := g.seatOf(player)
	if s == 0 {
		return
	}
	st := &g.seats[s]
	g.deck = append(append([]uint8(nil), st.hand...), g.deck...)
	st.hand = st.hand[:0]
	st.player = 0
	g.announce(string(st.name) + " left")
	switch n := g.seated(); g.phase {
	case cardsfb.PhaseWaiting:
		if n < MinPlayers {
			g.startIn = 0
		}
	case cardsfb.PhasePlaying:
		switch {
		case n == 1:
			for i := 1; i <= MaxPlayers; i++ {
				if g.seats[i].player != 0 {
					g.finish(i)
				}
			}
		case n == 0:
			g.phase, g.turn, g.turnLeft, g.endIn = cardsfb.PhaseOver, 0, 0, 1
		case int(g.turn) == s:
			g.nextTurn(-1)
		}
	}
	g.locate()
}

// Step moves each player's pointer to its input's and runs the clocks:
// the deal, a turn's time limit, the end of the match.
func (g *Game) Step(_ uint32, inputs []sim.PlayerInput) {
	for i := range inputs {
		s, data := g.seatOf(inputs[i].Player), inputs[i].Input.Data
		if s == 0 || len(data) == 0 {
			continue
		}
		var in cardsfb.Input // verified against the Input table by ticksync
		in.Init(data, flatbuffers.GetUOffsetT(data))
		var p cardsfb.Vec3
		if in.Pointer(&p) != nil {
			g.seats[s].pointer = [3]float32{clampUnit(p.X()), clampUnit(p.Y()), clampUnit(p.Z())}
		}
	}
	switch g.phase {
	case cardsfb.PhaseWaiting:
		if g.startIn > 0 {
			if g.startIn--; g.startIn == 0 {
				g.deal()
			}
		}
	case cardsfb.PhasePlaying:
		if g.turnLeft > 0 {
			if g.turnLeft--; g.turnLeft == 0 {
				g.autoPlay()
			}
		}
	case cardsfb.PhaseOver:
		if g.endIn > 0 {
			if g.endIn--; g.endIn == 0 {
				g.out.End("game over")
			}
		}
	}
	g.locate()
}

// Event applies one client event (sim.EventHandler): data is the
// ClientEvents wrapper, verified by ticksync against the schema.
func (g *Game) Event(player uint32, data []byte) {
	s := g.seatOf(player)
	if s == 0 || len(data) == 0 {
		return
	}
	var ev cardsfb.ClientEvents
	ev.Init(data, flatbuffers.GetUOffsetT(data))
	var t flatbuffers.Table
	if !ev.Event(&t) {
		return
	}
	switch ev.EventType() {
	case cardsfb.ClientEventPlayCard:
		var p cardsfb.PlayCard
		p.Init(t.Bytes, t.Pos)
		g.play(s, p.Card())
	case cardsfb.ClientEventDraw:
		g.draw(s)
	case cardsfb.ClientEventChat:
		var c cardsfb.Chat
		c.Init(t.Bytes, t.Pos)
		g.out.Broadcast(g.chat(uint8(s), c.Text()))
	}
	g.locate()
}

// WriteState writes the table, the occupied seats and the 52 cards, ids
// ascending (sim.StateWriter). Floats go in as multiples of their quantum.
func (g *Game) WriteState(w *gamedelta.World) {
	l := fields
	i := w.Add(TableID, l.table, 0)
	w.SetInt(i, l.tPhase, int64(g.phase))
	w.SetInt(i, l.tMode, int64(g.mode))
	w.SetInt(i, l.tTurn, int64(g.turn))
	if n := len(g.pile); n > 0 {
		w.SetInt(i, l.tTop, int64(g.pile[n-1]))
	}
	w.SetInt(i, l.tDeck, int64(len(g.deck)))
	w.SetInt(i, l.tStartIn, int64(g.seconds(g.startIn)))
	w.SetInt(i, l.tTurnLeft, int64(g.seconds(g.turnLeft)))
	w.SetInt(i, l.tWinner, int64(g.winner))
	for s := 1; s <= MaxPlayers; s++ {
		st := &g.seats[s]
		if st.player == 0 {
			continue
		}
		i := w.Add(SeatID(s), l.seat, st.player)
		w.SetInt(i, l.sSeat, int64(s))
		w.SetBytes(i, l.sName, st.name)
		w.SetInt(i, l.sColor, int64(st.color))
		w.SetInt(i, l.sScore, int64(st.score))
		w.SetInt(i, l.sHandSize, int64(len(st.hand)))
		w.SetInt(i, l.sPlayable, int64(g.playable(s)))
		for k, f := range l.sPointer {
			w.SetInt(i, f, quantize(st.pointer[k], l.qPointer))
		}
	}
	for c := range NumCards {
		var owner uint32
		h := g.where[c]
		if h >= 1 && h <= MaxPlayers {
			owner = g.seats[h].player
		} else {
			h = 0
		}
		i := w.Add(CardID(c), l.card, owner)
		w.SetInt(i, l.cSuit, int64(c/13))
		w.SetInt(i, l.cRank, int64(c%13+1))
		w.SetInt(i, l.cHolder, int64(h))
		if g.where[c] == onPile {
			w.SetInt(i, l.cFaceUp, 1)
		}
		for k, f := range l.cPos {
			w.SetInt(i, f, quantize(g.pos[c][k], l.qPos))
		}
	}
}

// View shows a player the table, the seats, the pile and its own hand
// (sim.Viewer): never another hand, nor the deck.
func (g *Game) View(player uint32, v *gamedelta.View) {
	me := uint8(g.seatOf(player))
	ids := append(v.IDs[:0], TableID)
	for s := 1; s <= MaxPlayers; s++ {
		if g.seats[s].player != 0 {
			ids = append(ids, SeatID(s))
		}
	}
	for c, h := range g.where {
		if h == onPile || (me != 0 && h == me) {
			ids = append(ids, CardID(c))
		}
	}
	v.Key, v.All, v.IDs = 0, false, ids
}

// seatOf returns the seat of player, 0 when it has none.
func (g *Game) seatOf(player uint32) int {
	if player == 0 {
		return 0
	}
	for s := 1; s <= MaxPlayers; s++ {
		if g.seats[s].player == player {
			return s
		}
	}
	return 0
}

// seated counts the occupied seats.
func (g *Game) seated() int {
	n := 0
	for s := 1; s <= MaxPlayers; s++ {
		if g.seats[s].player != 0 {
			n++
		}
	}
	return n
}

// seconds rounds a tick count up to seconds.
func (g *Game) seconds(ticks int32) int32 { return (ticks + int32(g.hz) - 1) / int32(g.hz) }

// quantize is x in multiples of q, as ticksync sends a float with that quantum.
func quantize(x float32, q float64) int64 { return int64(math.Round(float64(x) / q)) }

// clampUnit keeps a coordinate on the table, within the schema's -2..2.
func clampUnit(x float32) float32 {
	if x != x { // NaN
		return 0
	}
	return min(max(x, -1.99), 1.99)
}

// truncate cuts b to at most n bytes without splitting a UTF-8 sequence.
func truncate(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[:n]
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	return b
}

// nopOutbox drops everything, until the room hands the game its own.
type nopOutbox struct{}

func (nopOutbox) Send(uint32, []byte) {}
func (nopOutbox) Broadcast([]byte)    {}
func (nopOutbox) End(string)          {}
