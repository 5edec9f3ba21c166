package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// testGame is the cards test game of schema/gameschema/testdata: its
// compiled schema, loaded, and delta codec.
type testGame struct {
	bfbs   []byte
	schema *gameschema.Schema
	codec  *gamedelta.Codec
}

// readTestSchema reads the cards test game's compiled schema.
func readTestSchema() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "schema", "gameschema", "testdata", "cards.bfbs"))
}

var (
	testGameOnce sync.Once
	testGameVal  testGame
	testGameErr  error
)

// loadTestGame loads the test game once per test binary: every fake
// server and test config shares it (schemas and codecs are immutable).
// With t nil a failure panics.
func loadTestGame(t testing.TB) testGame {
	testGameOnce.Do(func() {
		b, err := readTestSchema()
		if err != nil {
			testGameErr = err
			return
		}
		s, err := gameschema.Load(b)
		if err != nil {
			testGameErr = err
			return
		}
		c, err := GameCodec(s)
		if err != nil {
			testGameErr = err
			return
		}
		testGameVal = testGame{bfbs: b, schema: s, codec: c}
	})
	if testGameErr != nil {
		if t == nil {
			panic(testGameErr)
		}
		t.Fatal(testGameErr)
	}
	return testGameVal
}

// scoreField is the index of cards.Player's score field.
func scoreField(t testing.TB) int {
	g := loadTestGame(t)
	return field(t, table(t, g.schema.Entities, "cards.Player"), "score")
}

// table returns the table named name among ts.
func table(t testing.TB, ts []*gameschema.Table, name string) *gameschema.Table {
	t.Helper()
	for _, tb := range ts {
		if tb.Name == name {
			return tb
		}
	}
	t.Fatalf("no table %s", name)
	return nil
}

// field returns the index of the field named name in tb.
func field(t testing.TB, tb *gameschema.Table, name string) int {
	t.Helper()
	f := tb.Field(name)
	if f == nil {
		t.Fatalf("%s has no field %s", tb.Name, name)
	}
	return f.Index
}

// finish builds v with build into a fresh buffer.
func finish(build func(b *flatbuffers.Builder, v *gameschema.Values) flatbuffers.UOffsetT, v *gameschema.Values) []byte {
	b := flatbuffers.NewBuilder(64)
	b.Finish(build(b, v))
	return bytes.Clone(b.FinishedBytes())
}

// inputData is a cards input that hovers card hover.
func (g testGame) inputData(t testing.TB, hover int64) []byte {
	var v gameschema.Values
	v.Reset(g.schema.Input)
	v.SetDefaults()
	v.SetInt(field(t, g.schema.Input, "hover"), hover)
	return finish(g.schema.Input.Build, &v)
}

// bidEvent is a cards client event: a Bid of amount.
func (g testGame) bidEvent(t testing.TB, amount int64) []byte {
	bid := table(t, g.schema.ClientEvents.Tables, "cards.Bid")
	var v gameschema.Values
	v.Reset(bid)
	v.SetInt(field(t, bid, "amount"), amount)
	return finish(g.schema.ClientEvents.Build, &v)
}

// sayEvent is a cards server event: a Say of text.
func (g testGame) sayEvent(t testing.TB, text string) []byte {
	say := table(t, g.schema.ServerEvents.Tables, "cards.Say")
	var v gameschema.Values
	v.Reset(say)
	v.SetBytes(field(t, say, "text"), []byte(text))
	return finish(g.schema.ServerEvents.Build, &v)
}

// joinPayload is a cards join payload.
func (g testGame) joinPayload(t testing.TB, name string) []byte {
	var v gameschema.Values
	v.Reset(g.schema.Join)
	v.SetDefaults()
	v.SetBytes(field(t, g.schema.Join, "name"), []byte(name))
	return finish(g.schema.Join.Build, &v)
}

// fakeGame is what a fakeServer plays (the cards test game): one Board
// entity and one Player entity per seat, encoded with a
// gamedelta.Encoder; server events to every seat; client events applied
// in seq order. Everything runs under fs.mu.
type fakeGame struct {
	t testing.TB
	testGame
	name    string
	enc     *gamedelta.Encoder
	world   *gamedelta.World
	history map[uint32]*gamedelta.World // every tick's world

	// Switches (under fs.mu).
	emitEvery  uint32 // a server event to every seat every emitEvery ticks; 0: none
	dropEvents bool   // client events that arrive are lost: not applied
	hash       string // the Welcome's schema hash ("": the schema's)

	in                                                   gameschema.Values
	kPlayer, kBoard                                      int
	fSeat, fName, fScore, fReady, fHand, fHandSize, fBid int
	fPointerX, fPhase, fRound, fClock, fHover            int
	errs                                                 []string
}

// gameSeat is a seat's state in a fakeGame.
type gameSeat struct {
	cl         *gamedelta.Client
	hover      int64          // sum of the inputs' hover
	inputs     int            // inputs received (with data or without)
	events     []schema.Event // server events not acknowledged, ascending seq
	evSeq      uint32         // newest server event seq emitted
	evAck      uint32         // newest Input.event_ack
	applied    uint32         // newest client event seq applied
	appliedLog []schema.Event // the client events applied, in order
	received   int            // client Event messages received, copies included
}

func newFakeGame(t testing.TB, fs *fakeServer) *fakeGame {
	t.Helper()
	tg := loadTestGame(t)
	enc, err := gamedelta.NewEncoder(tg.codec, gamedelta.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := tg.schema
	player, board := table(t, s.Entities, "cards.Player"), table(t, s.Entities, "cards.Board")
	g := &fakeGame{
		t: t, testGame: tg, name: "cards", enc: enc,
		world:   gamedelta.NewWorld(tg.codec),
		history: map[uint32]*gamedelta.World{},
		kPlayer: tg.codec.KindIndex(player.Name), kBoard: tg.codec.KindIndex(board.Name),
		fSeat: field(t, player, "seat"), fName: field(t, player, "name"), fScore: field(t, player, "score"),
		fReady: field(t, player, "ready"), fHand: field(t, player, "hand"), fHandSize: field(t, player, "hand_size"),
		fBid: field(t, player, "secret_bid"), fPointerX: field(t, player, "pointer.x"),
		fPhase: field(t, board, "phase"), fRound: field(t, board, "round"), fClock: field(t, board, "clock"),
		fHover: field(t, s.Input, "hover"),
	}
	if g.kPlayer < 0 || g.kBoard < 0 {
		t.Fatalf("kinds %d %d", g.kPlayer, g.kBoard)
	}
	fs.game = g
	return g
}

func (g *fakeGame) fail(format string, args ...any) {
	g.errs = append(g.errs, fmt.Sprintf(format, args...))
}

// seat fills the Welcome of st's new session.
func (g *fakeGame) seat(st *seat, h *schema.Hello, w *schema.Welcome, now uint32) {
	if st.g == nil {
		st.g = &gameSeat{cl: g.enc.NewClient(st.player)}
	}
	if h.LastTick == 0 || h.LastTick > now {
		// Nothing held, or a tick of another node (after a failover).
		st.g.cl.Reset()
	} else {
		st.g.cl.Ack(h.LastTick)
	}
	w.Game, w.SchemaHash, w.EventSeq = g.name, g.schema.HashString(), st.g.applied
	if g.hash != "" {
		w.SchemaHash = g.hash
	}
}

// input applies one input of st.
func (g *fakeGame) input(st *seat, in *schema.Input) {
	st.g.cl.Ack(in.AckTick)
	st.g.evAck = max(st.g.evAck, in.EventAck)
	i := 0
	for i < len(st.g.events) && st.g.events[i].Seq <= st.g.evAck {
		i++
	}
	st.g.events = st.g.events[i:]
	st.g.inputs++
	if len(in.Data) == 0 {
		return // the game's zero input
	}
	if err := g.schema.DecodeInput(in.Data, &g.in); err != nil {
		g.fail("player %d: input %d: %v", st.player, in.Seq, err)
		return
	}
	st.g.hover += g.in.Int(g.fHover)
}

// event applies one client event of st.
func (g *fakeGame) event(st *seat, ev *schema.Event) {
	st.g.received++
	if g.dropEvents {
		return
	}
	if _, err := g.schema.VerifyEvent(ev.Data); err != nil {
		g.fail("player %d: event %d: %v", st.player, ev.Seq, err)
		return
	}
	if ev.Seq <= st.g.applied {
		return // a copy
	}
	if ev.Seq != st.g.applied+1 {
		g.fail("player %d: event %d after %d", st.player, ev.Seq, st.g.applied)
	}
	st.g.applied = ev.Seq
	st.g.appliedLog = append(st.g.appliedLog, schema.Event{Seq: ev.Seq, Data: bytes.Clone(ev.Data)})
}

// tick builds tick t's world, records it and sends every seated
// connection its snapshot.
func (g *fakeGame) tick(fs *fakeServer, t uint32) {
	seats := make([]*seat, 0, len(fs.seats))
	for _, st := range fs.seats {
		if st.g != nil {
			seats = append(seats, st)
		}
	}
	sort.Slice(seats, func(i, j int) bool { return seats[i].entity < seats[j].entity })
	w := g.world
	w.Reset()
	i := w.Add(1, g.kBoard, 0)
	w.SetInt(i, g.fPhase, 1) // Dealing: 0 is not a Phase
	w.SetInt(i, g.fRound, int64(t))
	w.SetInt(i, g.fClock, int64(t%7200))
	for _, st := range seats {
		i := w.Add(st.entity, g.kPlayer, st.player)
		w.SetInt(i, g.fSeat, int64(st.player%8))
		w.SetBytes(i, g.fName, fmt.Appendf(nil, "p%d", st.player))
		w.SetInt(i, g.fScore, st.g.hover)
		w.SetInt(i, g.fReady, int64(t%2))
		w.SetBytes(i, g.fHand, []byte{byte(st.player), byte(t % 13)})
		w.SetInt(i, g.fHandSize, int64(t%14))
		w.SetInt(i, g.fBid, int64(st.player*7))
		w.SetInt(i, g.fPointerX, int64(t/3))
		if g.emitEvery > 0 && t%g.emitEvery == 0 {
			st.g.evSeq++
			st.g.events = append(st.g.events, schema.Event{Seq: st.g.evSeq, Tick: t, Data: g.sayEvent(g.t, fmt.Sprintf("ev %d", st.g.evSeq))})
		}
	}
	if err := g.enc.Record(t, w); err != nil {
		g.fail("record %d: %v", t, err)
		return
	}
	h := gamedelta.NewWorld(g.codec)
	h.CopyFrom(w)
	g.history[t] = h
	for s := range fs.sessions {
		st := s.seat
		if st == nil || st.sess != s || s.frozen || st.g == nil {
			continue
		}
		if fs.fullOnly {
			st.g.cl.Reset()
		}
		e, err := g.enc.Encode(st.g.cl, nil)
		if err != nil {
			g.fail("encode %d: %v", t, err)
			continue
		}
		snap := schema.Snapshot{
			Tick: t, BaselineTick: e.Baseline, LastInputSeq: st.lastSeq, ServerTimeMS: uint64(time.Now().UnixMilli()),
			State: e.Data, Events: st.g.events, EventSeq: st.g.applied,
		}
		msg, _ := fs.enc.Snapshot(&snap)
		_ = s.ws.WriteMessage(gws.OpcodeBinary, msg)
	}
}

// worldFor returns the world of tick t as player should see it: the
// owner-only fields of the entities it does not own are zero or empty.
func (g *fakeGame) worldFor(t, player uint32) (*gamedelta.World, bool) {
	h, ok := g.history[t]
	if !ok {
		return nil, false
	}
	w := gamedelta.NewWorld(g.codec)
	w.CopyFrom(h)
	for i := range w.Len() {
		if w.Owner(i) == player {
			continue
		}
		for f, fd := range g.schema.Entities[w.Kind(i)].Fields {
			switch {
			case !fd.OwnerOnly:
			case fd.Type == gameschema.String || fd.Type == gameschema.Bytes:
				w.SetBytes(i, f, nil)
			default:
				w.SetInt(i, f, 0)
			}
		}
	}
	return w, true
}

// gameSeatOf returns a copy of player's game seat.
func (fs *fakeServer) gameSeatOf(player uint32) gameSeat {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, st := range fs.seats {
		if st.player == player && st.g != nil {
			c := *st.g
			c.events = append([]schema.Event(nil), c.events...)
			c.appliedLog = append([]schema.Event(nil), c.appliedLog...)
			return c
		}
	}
	return gameSeat{}
}

// gameErrs returns what the fake game found wrong.
func (fs *fakeServer) gameErrs() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.game.errs...)
}
