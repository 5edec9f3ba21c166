package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// This file is a small generic game for the room's tests: the cards game
// of schema/gameschema/testdata (players with a hidden hand, a board,
// cards that only their holder sees until they are face up), written
// against the generic contract (StateWriter, InfoJoiner, EventHandler,
// OutboxUser; Viewer in viewCards).

// cardsCodec loads cards.bfbs and compiles its entities' delta layout.
var cardsCodec = sync.OnceValues(func() (*gamedelta.Codec, error) {
	b, err := os.ReadFile("../schema/gameschema/testdata/cards.bfbs")
	if err != nil {
		return nil, err
	}
	s, err := gameschema.Load(b)
	if err != nil {
		return nil, err
	}
	return gamedelta.Compile(deltaLayout(s))
})

func mustCodec(t testing.TB) *gamedelta.Codec {
	t.Helper()
	c, err := cardsCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deltaLayout maps a game schema's entities onto a gamedelta layout: kinds
// in the schema's order, each kind's leaf fields in order; bools 1 bit,
// integers and enums their width (narrowed to a declared range), floats
// signed 64-bit quanta, strings and byte vectors bytes of their max_len;
// predict and owner_only carried over.
func deltaLayout(s *gameschema.Schema) gamedelta.Layout {
	var l gamedelta.Layout
	for _, t := range s.Entities {
		k := gamedelta.Kind{Name: t.Name}
		for _, f := range t.Fields {
			g := gamedelta.Field{Name: f.Name, OwnerOnly: f.OwnerOnly}
			if f.Predict >= 0 {
				g.Velocity = t.Fields[f.Predict].Name
			}
			switch {
			case f.Type == gameschema.String || f.Type == gameschema.Bytes:
				g.Type, g.MaxLen = gamedelta.FieldBytes, f.MaxLen
			case f.Type.IsFloat():
				g.Bits, g.Signed = 64, true
				if f.HasRange {
					g.Min, g.Max = int64(math.Ceil(f.FMin/f.Quantum)), int64(math.Floor(f.FMax/f.Quantum))
				}
			case f.Type == gameschema.Bool:
				g.Bits = 1
			default:
				g.Bits, g.Signed = 8*f.Type.Size(), f.Type.IsSigned()
				if f.HasRange && f.Type != gameschema.Uint64 {
					g.Min, g.Max = f.Min, f.Max
				}
			}
			k.Fields = append(k.Fields, g)
		}
		l.Kinds = append(l.Kinds, k)
	}
	return l
}

// Entity ids: the board, then one per player, then the cards.
const (
	boardID   = 1
	playerID0 = 10        // + player
	cardID0   = 1_000_000 // + card index
)

// cardsGame is the test game. Its state is exported for MarshalState.
type cardsGame struct {
	c   *gamedelta.Codec
	out Outbox
	f   cardsFields

	Players []cardPlayer // by ID
	Cards   []card
	Round   int64
	// Heard is every client event handed to the game, "p<player>:<data>",
	// in order.
	Heard []string
}

type cardPlayer struct {
	ID     uint32
	Name   string
	Avatar []byte
	Score  int64
	Hand   []byte
	X, VX  int64
	Bid    int64
}

type card struct {
	Holder uint32
	Rank   int64
	FaceUp bool
}

// cardsFields are the field indexes the game writes, by kind.
type cardsFields struct {
	player, board, card                                    int // kinds
	seat, name, score, ready, hand, handSize, px, pvx, bid int
	phase, round, dealer                                   int
	rank, faceUp, holder                                   int
}

func newCardsGame(c *gamedelta.Codec) *cardsGame {
	g := &cardsGame{c: c}
	f := &g.f
	f.player, f.board, f.card = c.KindIndex("cards.Player"), c.KindIndex("cards.Board"), c.KindIndex("cards.Card")
	fi := func(k int, name string) int {
		i := c.FieldIndex(k, name)
		if i < 0 {
			panic("cards: no field " + name)
		}
		return i
	}
	f.seat, f.name, f.score, f.ready = fi(f.player, "seat"), fi(f.player, "name"), fi(f.player, "score"), fi(f.player, "ready")
	f.hand, f.handSize, f.px, f.pvx, f.bid = fi(f.player, "hand"), fi(f.player, "hand_size"), fi(f.player, "pointer.x"), fi(f.player, "pointer_vel.x"), fi(f.player, "secret_bid")
	f.phase, f.round, f.dealer = fi(f.board, "phase"), fi(f.board, "round"), fi(f.board, "dealer_seat")
	f.rank, f.faceUp, f.holder = fi(f.card, "rank"), fi(f.card, "face_up"), fi(f.card, "holder")
	// Sixteen cards on the table, two of them face up: fourteen players
	// each get a card of their own, and a view of their own.
	for i := range 16 {
		g.Cards = append(g.Cards, card{Rank: int64(i%13 + 1), FaceUp: i < 2})
	}
	return g
}

func (g *cardsGame) SetOutbox(o Outbox) { g.out = o }

func (g *cardsGame) find(player uint32) int {
	for i := range g.Players {
		if g.Players[i].ID == player {
			return i
		}
	}
	return -1
}

func (g *cardsGame) Join(player uint32) (uint32, error) {
	return g.JoinWith(JoinInfo{Player: player})
}

// JoinWith seats a player named by the join (refused for "refuse"), deals
// it the first free face-down card, welcomes it and tells everyone.
func (g *cardsGame) JoinWith(j JoinInfo) (uint32, error) {
	g.out.Send(j.Player, []byte("hello "+j.Name)) // dropped if refused
	if j.Name == "refuse" {
		return 0, Refuse("no seat for you")
	}
	p := cardPlayer{ID: j.Player, Name: j.Name, Avatar: slices.Clone(j.Payload), Hand: []byte{}}
	if len(j.Claims) > 0 {
		p.Score = int64(len(j.Claims))
	}
	for i := range g.Cards {
		if c := &g.Cards[i]; c.Holder == 0 && !c.FaceUp {
			c.Holder = j.Player
			p.Hand = append(p.Hand, byte(c.Rank))
			break
		}
	}
	i, _ := slices.BinarySearchFunc(g.Players, p.ID, func(a cardPlayer, id uint32) int { return int(a.ID) - int(id) })
	g.Players = slices.Insert(g.Players, i, p)
	g.out.Broadcast([]byte("joined " + j.Name))
	return playerID0 + j.Player, nil
}

func (g *cardsGame) Leave(player uint32) {
	if i := g.find(player); i >= 0 {
		g.Players = slices.Delete(g.Players, i, i+1)
	}
	for i := range g.Cards {
		if g.Cards[i].Holder == player {
			g.Cards[i].Holder = 0
		}
	}
}

// Event: "echo:X" sends X back, "all:X" broadcasts X, "burst:N" sends N
// events, "end:X" ends the match, "flip" turns the player's cards up.
func (g *cardsGame) Event(player uint32, data []byte) {
	g.Heard = append(g.Heard, fmt.Sprintf("p%d:%s", player, data))
	cmd, arg, _ := bytes.Cut(data, []byte(":"))
	switch string(cmd) {
	case "echo":
		g.out.Send(player, arg)
	case "all":
		g.out.Broadcast(arg)
	case "burst":
		n, _ := strconv.Atoi(string(arg))
		for i := range n {
			g.out.Send(player, fmt.Appendf(nil, "burst %d", i+1))
		}
	case "end":
		g.out.End(string(arg))
	case "flip":
		for i := range g.Cards {
			if g.Cards[i].Holder == player {
				g.Cards[i].FaceUp = true
			}
		}
	}
}

// Step: an input's data moves the player's pointer (velocity: its first
// byte as int8) and scores its length.
func (g *cardsGame) Step(_ uint32, inputs []PlayerInput) {
	g.Round++
	for _, in := range inputs {
		i := g.find(in.Player)
		if i < 0 {
			continue
		}
		p := &g.Players[i]
		if d := in.Input.Data; len(d) > 0 {
			p.VX = int64(int8(d[0]))
			p.Score += int64(len(d))
			p.Bid = int64(d[len(d)-1])
		}
		p.X += p.VX
	}
}

func (g *cardsGame) WriteState(w *gamedelta.World) {
	f := &g.f
	b := w.Add(boardID, f.board, 0)
	w.SetInt(b, f.phase, 2)
	w.SetInt(b, f.round, g.Round%65536)
	w.SetInt(b, f.dealer, -1)
	for s, p := range g.Players {
		i := w.Add(playerID0+p.ID, f.player, p.ID)
		w.SetInt(i, f.seat, int64(s%8))
		w.SetBytes(i, f.name, []byte(p.Name))
		w.SetInt(i, f.score, p.Score)
		w.SetInt(i, f.ready, 1)
		w.SetBytes(i, f.hand, p.Hand)
		w.SetInt(i, f.handSize, int64(len(p.Hand)))
		w.SetInt(i, f.px, p.X)
		w.SetInt(i, f.pvx, p.VX)
		w.SetInt(i, f.bid, p.Bid)
	}
	for n, c := range g.Cards {
		i := w.Add(cardID0+uint32(n), f.card, 0)
		w.SetInt(i, f.rank, c.Rank)
		if c.FaceUp {
			w.SetInt(i, f.faceUp, 1)
		}
		w.SetInt(i, f.holder, int64(c.Holder))
	}
}

// sees reports whether player sees entity id (viewCards): everything but
// the cards face down in another player's hand or on the table.
func (g *cardsGame) sees(player, id uint32) bool {
	if id < cardID0 {
		return true
	}
	c := &g.Cards[id-cardID0]
	return c.FaceUp || c.Holder == player
}

func (g *cardsGame) MarshalState(dst []byte) ([]byte, error) {
	b, err := json.Marshal(g)
	return append(dst, b...), err
}

func (g *cardsGame) UnmarshalState(b []byte) error { return json.Unmarshal(b, g) }

// viewCards is cardsGame with per-player views.
type viewCards struct{ *cardsGame }

func (v viewCards) View(player uint32, view *gamedelta.View) {
	view.IDs = append(view.IDs, boardID)
	for _, p := range v.Players {
		view.IDs = append(view.IDs, playerID0+p.ID)
	}
	for n := range v.Cards {
		if id := cardID0 + uint32(n); v.sees(player, id) {
			view.IDs = append(view.IDs, id)
		}
	}
}

// seenBy returns the world of g as player's view and ownership let it see:
// the entities it sees, their owner-only fields blank unless it owns them.
func (v viewCards) seenBy(player uint32) *gamedelta.World {
	full := gamedelta.NewWorld(v.c)
	v.WriteState(full)
	out := gamedelta.NewWorld(v.c)
	layout := cardsOwnerOnly()
	for i := range full.Len() {
		id, k, owner := full.ID(i), full.Kind(i), full.Owner(i)
		if !v.sees(player, id) {
			continue
		}
		j := out.Add(id, k, owner)
		for f := range v.c.NumFields(k) {
			if layout[k][f] && owner != player {
				continue
			}
			if v.c.FieldType(k, f) == gamedelta.FieldBytes {
				out.SetBytes(j, f, full.Bytes(i, f))
			} else {
				out.SetInt(j, f, full.Int(i, f))
			}
		}
	}
	return out
}

// cardsOwnerOnly marks, by kind and field, the owner-only fields of the
// cards layout.
var cardsOwnerOnly = sync.OnceValue(func() [][]bool {
	b, err := os.ReadFile("../schema/gameschema/testdata/cards.bfbs")
	if err != nil {
		panic(err)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		panic(err)
	}
	l := deltaLayout(s)
	out := make([][]bool, len(l.Kinds))
	for k, kd := range l.Kinds {
		out[k] = make([]bool, len(kd.Fields))
		for f, fd := range kd.Fields {
			out[k][f] = fd.OwnerOnly
		}
	}
	return out
})
