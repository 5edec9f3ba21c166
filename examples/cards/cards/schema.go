package cards

import (
	_ "embed"
	"fmt"

	"github.com/ticksync/ticksync/schema/gameschema"
)

// Name is the game's name: Hello.game, and the name it is registered under.
const Name = "cards"

//go:embed cards.bfbs
var bfbs []byte

// BFBS returns the compiled schema (cards.bfbs), for game.Spec.Schema. The
// caller must not modify it.
func BFBS() []byte { return bfbs }

// model is the loaded schema and fields its indexes, resolved once by
// name: a schema that lacks one of them fails every test of the package.
var model, fields = mustLoad()

// Schema returns the game's schema as ticksync loads it.
func Schema() *gameschema.Schema { return model }

// layout is where the game's fields are in the schema: kind indexes of
// gamedelta (the schema's entities in kind order) and field indexes
// (gameschema's Field.Index, which gamedelta shares).
type layout struct {
	table, seat, card int // kinds

	tPhase, tMode, tTurn, tTop, tDeck, tStartIn, tTurnLeft, tWinner int

	sSeat, sName, sColor, sScore, sHandSize, sPlayable int
	sPointer                                           [3]int
	qPointer                                           float64

	cSuit, cRank, cHolder, cFaceUp int
	cPos                           [3]int
	qPos                           float64
}

func mustLoad() (*gameschema.Schema, *layout) {
	s, err := gameschema.Load(bfbs)
	if err != nil {
		panic(fmt.Sprintf("cards: load cards.bfbs: %v", err))
	}
	l, err := resolve(s)
	if err != nil {
		panic(fmt.Sprintf("cards: cards.bfbs: %v", err))
	}
	return s, l
}

// resolve finds the game's kinds and fields in s by name.
func resolve(s *gameschema.Schema) (*layout, error) {
	var err error
	kind := func(name string) (*gameschema.Table, int) {
		for i, t := range s.Entities {
			if t.Name == name {
				return t, i
			}
		}
		if err == nil {
			err = fmt.Errorf("no entity table %s", name)
		}
		return nil, 0
	}
	field := func(t *gameschema.Table, name string) int {
		if t == nil {
			return 0
		}
		if f := t.Field(name); f != nil {
			return f.Index
		}
		if err == nil {
			err = fmt.Errorf("%s has no field %s", t.Name, name)
		}
		return 0
	}
	quantum := func(t *gameschema.Table, name string) float64 {
		if t == nil || t.Field(name) == nil || t.Field(name).Quantum <= 0 {
			if err == nil {
				err = fmt.Errorf("field %s has no quantum", name)
			}
			return 1
		}
		return t.Field(name).Quantum
	}
	var l layout
	var tt, st, ct *gameschema.Table
	tt, l.table = kind("cards.Table")
	st, l.seat = kind("cards.Seat")
	ct, l.card = kind("cards.Card")

	l.tPhase, l.tMode, l.tTurn = field(tt, "phase"), field(tt, "mode"), field(tt, "turn")
	l.tTop, l.tDeck = field(tt, "top"), field(tt, "deck")
	l.tStartIn, l.tTurnLeft, l.tWinner = field(tt, "start_in"), field(tt, "turn_left"), field(tt, "winner")

	l.sSeat, l.sName, l.sColor = field(st, "seat"), field(st, "name"), field(st, "color")
	l.sScore, l.sHandSize, l.sPlayable = field(st, "score"), field(st, "hand_size"), field(st, "playable")
	l.sPointer = [3]int{field(st, "pointer.x"), field(st, "pointer.y"), field(st, "pointer.z")}
	l.qPointer = quantum(st, "pointer.x")

	l.cSuit, l.cRank, l.cHolder, l.cFaceUp = field(ct, "suit"), field(ct, "rank"), field(ct, "holder"), field(ct, "face_up")
	l.cPos = [3]int{field(ct, "pos.x"), field(ct, "pos.y"), field(ct, "pos.z")}
	l.qPos = quantum(ct, "pos.x")
	if err != nil {
		return nil, err
	}
	return &l, nil
}
