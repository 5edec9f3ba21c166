// Package gametesting is a small game with a schema for the end-to-end
// tests of the generic path (a real node, real clients, real bots): a
// card table on the cards test schema (schema/gameschema/testdata/cards.fbs).
// Only tests import it.
//
// What the table does, so that a test can predict it:
//
//   - A player joins with the schema's join payload; its name is the
//     payload's name ("" without one). The name "refuse-me" is refused
//     (sim.Refuse) with the reason RefuseReason.
//   - Each tick every player's score grows by its input's hover when that
//     is ≥ 0 (a repeated input counts again, as the room repeats it).
//   - A Bid event from a player is answered to that player alone with a
//     Say "bid <amount>", and counts in its secret_bid (owner-only); a Say
//     event is broadcast back as a Say of the same text.
//   - Every BroadcastEvery ticks every player gets a Say "tick <tick>".
//   - The state: one Board (id 1, round = tick) and one Player per seated
//     player (id 100 + player id, owned by it).
package gametesting

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/sim"
)

// Name is the name the table registers under.
const Name = "cards"

// BroadcastEvery is the period in ticks of the table's Say broadcast.
const BroadcastEvery = 10

// RefuseReason is the reason the table gives a player named "refuse-me".
const RefuseReason = "this table does not seat refuse-me"

// Spec returns the table's game.Spec for bfbs, the cards test schema's
// .bfbs (schema/gameschema/testdata/cards.bfbs).
func Spec(bfbs []byte) (game.Spec, error) {
	s, err := gameschema.Load(bfbs)
	if err != nil {
		return game.Spec{}, err
	}
	l, err := newLayout(s)
	if err != nil {
		return game.Spec{}, err
	}
	return game.Spec{Name: Name, Schema: bfbs, New: func(seed int64) game.Game { return newTable(l) }}, nil
}

// layout is what the table knows of the schema: kinds and field indexes.
type layout struct {
	s                                          *gameschema.Schema
	kPlayer, kBoard                            int
	fSeat, fName, fScore, fHand, fBid, fHandSz int
	fPhase, fRound                             int
	fHover                                     int
	fJoinName                                  int
	bid, say, playSay                          *gameschema.Table // client Bid and Say, server Say
	fBidAmount, fSayText, fPlaySayText         int
}

func newLayout(s *gameschema.Schema) (*layout, error) {
	l := &layout{s: s, kPlayer: -1, kBoard: -1}
	for i, t := range s.Entities {
		switch t.Name {
		case "cards.Player":
			l.kPlayer = i
		case "cards.Board":
			l.kBoard = i
		}
	}
	if l.kPlayer < 0 || l.kBoard < 0 || s.ClientEvents == nil || s.ServerEvents == nil || s.Join == nil {
		return nil, errors.New("gametesting: not the cards schema")
	}
	var err error
	idx := func(t *gameschema.Table, name string) int {
		f := t.Field(name)
		if f == nil {
			err = fmt.Errorf("gametesting: %s has no field %s", t.Name, name)
			return -1
		}
		return f.Index
	}
	member := func(evs *gameschema.Events, name string) *gameschema.Table {
		for _, t := range evs.Tables {
			if t.Name == name {
				return t
			}
		}
		err = fmt.Errorf("gametesting: no event %s", name)
		return &gameschema.Table{}
	}
	p, b := s.Entities[l.kPlayer], s.Entities[l.kBoard]
	l.fSeat, l.fName, l.fScore = idx(p, "seat"), idx(p, "name"), idx(p, "score")
	l.fHand, l.fBid, l.fHandSz = idx(p, "hand"), idx(p, "secret_bid"), idx(p, "hand_size")
	l.fPhase, l.fRound = idx(b, "phase"), idx(b, "round")
	l.fHover = idx(s.Input, "hover")
	l.fJoinName = idx(s.Join, "name")
	l.bid, l.say = member(s.ClientEvents, "cards.Bid"), member(s.ClientEvents, "cards.Say")
	l.playSay = member(s.ServerEvents, "cards.Say")
	if err != nil {
		return nil, err
	}
	l.fBidAmount, l.fSayText, l.fPlaySayText = idx(l.bid, "amount"), idx(l.say, "text"), idx(l.playSay, "text")
	return l, err
}

// table is the game. Every method runs on the room goroutine.
type table struct {
	l    *layout
	st   state
	out  sim.Outbox
	vals gameschema.Values
	b    *flatbuffers.Builder
}

// state is what MarshalState keeps.
type state struct {
	Tick    uint32             `json:"tick"`
	Players map[uint32]*player `json:"players"`
}

type player struct {
	Name  string `json:"name"`
	Score int64  `json:"score"`
	Bids  int64  `json:"bids"`
}

func newTable(l *layout) *table {
	return &table{l: l, st: state{Players: map[uint32]*player{}}, b: flatbuffers.NewBuilder(128)}
}

var (
	_ game.Game        = (*table)(nil)
	_ sim.StateWriter  = (*table)(nil)
	_ sim.InfoJoiner   = (*table)(nil)
	_ sim.EventHandler = (*table)(nil)
	_ sim.OutboxUser   = (*table)(nil)
)

// Entity returns the entity id of player.
func Entity(player uint32) uint32 { return 100 + player }

func (t *table) SetOutbox(o sim.Outbox) { t.out = o }

func (t *table) Join(p uint32) (uint32, error) {
	return t.JoinWith(sim.JoinInfo{Player: p})
}

func (t *table) JoinWith(j sim.JoinInfo) (uint32, error) {
	name := ""
	if len(j.Payload) > 0 {
		if err := t.l.s.DecodeJoin(j.Payload, &t.vals); err != nil {
			return 0, err
		}
		name = t.vals.Text(t.l.fJoinName)
	}
	if name == "refuse-me" {
		return 0, sim.Refuse(RefuseReason)
	}
	if p := t.st.Players[j.Player]; p != nil {
		return Entity(j.Player), nil
	}
	t.st.Players[j.Player] = &player{Name: name}
	return Entity(j.Player), nil
}

func (t *table) Leave(p uint32) { delete(t.st.Players, p) }

func (t *table) Step(tick uint32, inputs []sim.PlayerInput) {
	t.st.Tick = tick
	for i := range inputs {
		in := &inputs[i]
		p := t.st.Players[in.Player]
		if p == nil || len(in.Input.Data) == 0 {
			continue
		}
		if err := t.l.s.DecodeInput(in.Input.Data, &t.vals); err != nil {
			continue
		}
		if h := t.vals.Int(t.l.fHover); h >= 0 {
			p.Score += h
		}
	}
	if tick%BroadcastEvery == 0 && t.out != nil {
		t.out.Broadcast(t.sayEvent("tick " + strconv.FormatUint(uint64(tick), 10)))
	}
}

func (t *table) Event(p uint32, data []byte) {
	pl := t.st.Players[p]
	tb, err := t.l.s.DecodeEvent(data, &t.vals)
	if err != nil || pl == nil || t.out == nil {
		return
	}
	switch tb {
	case t.l.bid:
		amount := t.vals.Int(t.l.fBidAmount)
		pl.Bids++
		t.out.Send(p, t.sayEvent("bid "+strconv.FormatInt(amount, 10)))
	case t.l.say:
		t.out.Broadcast(t.sayEvent(t.vals.Text(t.l.fSayText)))
	}
}

// sayEvent builds a server Say; the bytes are valid until the next call
// (the outbox copies them).
func (t *table) sayEvent(text string) []byte {
	t.vals.Reset(t.l.playSay)
	t.vals.SetBytes(t.l.fPlaySayText, []byte(text))
	t.b.Reset()
	t.b.Finish(t.l.s.ServerEvents.Build(t.b, &t.vals))
	return t.b.FinishedBytes()
}

func (t *table) WriteState(w *gamedelta.World) {
	i := w.Add(1, t.l.kBoard, 0)
	w.SetInt(i, t.l.fPhase, 1)
	w.SetInt(i, t.l.fRound, int64(t.st.Tick%65536))
	ids := make([]uint32, 0, len(t.st.Players))
	for id := range t.st.Players {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := t.st.Players[id]
		i := w.Add(Entity(id), t.l.kPlayer, id)
		w.SetInt(i, t.l.fSeat, int64(id%8))
		w.SetBytes(i, t.l.fName, []byte(p.Name)) // the join name's max_len is the player name's
		w.SetInt(i, t.l.fScore, p.Score)
		w.SetInt(i, t.l.fBid, p.Bids%65536)
		w.SetInt(i, t.l.fHandSz, p.Bids%14)
		w.SetBytes(i, t.l.fHand, []byte{byte(p.Bids)})
	}
}

func (t *table) MarshalState(dst []byte) ([]byte, error) {
	b, err := json.Marshal(&t.st)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (t *table) UnmarshalState(b []byte) error {
	st := state{Players: map[uint32]*player{}}
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	t.st = st
	return nil
}
