package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// gameConfig is testConfig (the cards test game) with g's schema.
func gameConfig(g testGame, urls ...string) Config {
	cfg := testConfig(urls...)
	cfg.Schema, cfg.Codec = g.schema, g.codec
	return cfg
}

// gameLog is a Handler that copies the client's game state at every
// snapshot and keeps the server events it is given.
type gameLog struct {
	NopHandler
	g         testGame
	mu        sync.Mutex
	worlds    map[uint32]*gamedelta.World
	baselines map[uint32]uint32
	events    []schema.Event // copies, in delivery order
	texts     []string       // each event's Say text
	welcomeAt []int          // len(events) at each Welcome
	errs      []error
	vals      gameschema.Values
}

func newGameLog(g testGame) *gameLog {
	return &gameLog{g: g, worlds: map[uint32]*gamedelta.World{}, baselines: map[uint32]uint32{}}
}

var _ EventHandler = (*gameLog)(nil)

func (l *gameLog) OnSnapshot(c *Client, s *schema.Snapshot, _ *World) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := c.World(); w != nil {
		cp := gamedelta.NewWorld(l.g.codec)
		cp.CopyFrom(w)
		l.worlds[s.Tick] = cp
		l.baselines[s.Tick] = s.BaselineTick
	}
}

func (l *gameLog) OnWelcome(*Client, *schema.Welcome, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.welcomeAt = append(l.welcomeAt, len(l.events))
}

func (l *gameLog) OnEvent(_ *Client, ev *schema.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, schema.Event{Seq: ev.Seq, Tick: ev.Tick, Data: bytes.Clone(ev.Data)})
	text := "?"
	if tb, err := l.g.schema.DecodeServerEvent(ev.Data, &l.vals); err == nil && tb.Name == "cards.Say" {
		text = l.vals.Text(0)
	}
	l.texts = append(l.texts, text)
}

func (l *gameLog) OnError(_ *Client, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *gameLog) eventCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

func TestGameStateMatchesServer(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	log := newGameLog(g.testGame)
	cfg := gameConfig(g.testGame, fs.url)
	cfg.JoinPayload = g.joinPayload(t, "ada")
	cfg.Handler = log
	c := dial(t, cfg)
	// A second player: the world holds an entity whose owner-only fields
	// the first must not see.
	c2 := dial(t, gameConfig(g.testGame, fs.url))

	hover, score := int64(0), int64(0) // score: what the newest tick holds
	for i := range 40 {
		fs.Tick()
		score = hover // the inputs before this tick
		want := uint32(i + 1)
		testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == want && c2.AckTick() == want })
		if i%3 != 2 { // some acks are late: deltas against older baselines
			if err := c.SendInput(schema.Input{TargetTick: want + 1, Data: g.inputData(t, int64(i%5))}); err != nil {
				t.Fatal(err)
			}
			hover += int64(i % 5)
			testutil.CheckTrue(t, 2*time.Second, func() bool { return fs.gameSeatOf(1).inputs == int(c.InputSeq()) })
		}
	}
	if errs := fs.gameErrs(); len(errs) > 0 {
		t.Fatalf("the fake game saw: %v", errs)
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	deltas := 0
	for tick, got := range log.worlds {
		want, ok := g.worldFor(tick, 1)
		if !ok {
			t.Fatalf("tick %d not in the server's history", tick)
		}
		if !gamedelta.Equal(got, want) {
			t.Fatalf("tick %d (baseline %d): client world\n%v\nserver's for player 1\n%v", tick, log.baselines[tick], got, want)
		}
		if log.baselines[tick] != 0 {
			deltas++
		}
	}
	st := c.Stats()
	if len(log.worlds) != 40 || deltas < 30 || st.SnapshotsDelta != uint64(deltas) || st.ApplyErrors != 0 || st.SnapshotsFull != 1 {
		t.Fatalf("%d worlds, %d deltas; stats %+v; errors %v", len(log.worlds), deltas, st, log.errs)
	}

	// The inputs' data reached the game (its score sums their hover), and
	// the owner-only fields are this player's only.
	last := log.worlds[40]
	own, other := last.Find(101), last.Find(102)
	if own < 0 || other < 0 {
		t.Fatalf("world %v: players 101 and 102 missing", last)
	}
	if got := last.Int(own, g.fScore); got != score {
		t.Fatalf("score %d, the inputs' hover sum to %d", got, score)
	}
	if len(last.Bytes(own, g.fHand)) != 2 || len(last.Bytes(other, g.fHand)) != 0 || last.Int(other, g.fBid) != 0 || last.Int(own, g.fBid) != 7 {
		t.Fatalf("owner-only fields: own hand %v bid %d, other's hand %v bid %d",
			last.Bytes(own, g.fHand), last.Int(own, g.fBid), last.Bytes(other, g.fHand), last.Int(other, g.fBid))
	}

	// The Hello named the game, its schema and the join payload.
	h := fs.hellos[0]
	if h.Game != "cards" || h.SchemaHash != g.schema.HashString() || !bytes.Equal(h.Join, cfg.JoinPayload) {
		t.Fatalf("hello %+v: want game cards, hash %s, join %x", h, g.schema.HashString(), cfg.JoinPayload)
	}
	if w := c.Welcome(); w.Game != "cards" || w.SchemaHash != g.schema.HashString() {
		t.Fatalf("welcome %+v", w)
	}
}

func TestGameEventsInOrderOnceAcrossResume(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	g.emitEvery = 1
	fs.startTicker(5 * time.Millisecond)
	log := newGameLog(g.testGame)
	cfg := gameConfig(g.testGame, fs.url)
	cfg.Handler = log
	c := dial(t, cfg)
	input := func() { _ = c.SendInput(schema.Input{Data: g.inputData(t, 1)}) }

	// No input yet: nothing is acknowledged, and every snapshot repeats
	// every event so far.
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.eventCount() >= 10 })
	if c.Stats().EventsDuplicate == 0 {
		t.Fatalf("no repeated event dropped: %+v", c.Stats())
	}
	// Inputs acknowledge them; the node stops repeating.
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		input()
		return fs.gameSeatOf(1).evAck >= 10
	})
	// Events received and not acknowledged (no input), then a cut: the
	// resumed session repeats them, and more come.
	n0 := log.eventCount()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.eventCount() >= n0+5 })
	dup0 := c.Stats().EventsDuplicate
	held := c.EventAck()
	c.cut()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 })
	// The resume says which server events the client holds (a node that
	// adopted the match numbers its events after them).
	if h := fs.helloList(); len(h) != 2 || h[0].EventAck != 0 || h[1].EventAck < held || h[1].EventAck > fs.gameSeatOf(1).evSeq {
		t.Fatalf("hellos %+v; want the resume's event_ack at least %d", h, held)
	}
	n1 := log.eventCount()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.eventCount() >= n1+5 })
	if c.Stats().EventsDuplicate == dup0 {
		t.Fatalf("the resumed session repeated no event: %+v", c.Stats())
	}
	// The node stops emitting; inputs acknowledge everything.
	fs.mu.Lock()
	g.emitEvery = 0
	fs.mu.Unlock()
	n := fs.gameSeatOf(1).evSeq
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		input()
		gs := fs.gameSeatOf(1)
		return len(gs.events) == 0 && gs.evAck == n && log.eventCount() == int(n)
	})

	log.mu.Lock()
	defer log.mu.Unlock()
	for i, ev := range log.events {
		if ev.Seq != uint32(i+1) || log.texts[i] != fmt.Sprintf("ev %d", i+1) || ev.Tick == 0 {
			t.Fatalf("event %d: seq %d tick %d text %q (all: %d events)", i, ev.Seq, ev.Tick, log.texts[i], len(log.events))
		}
	}
	if st := c.Stats(); st.EventsIn != uint64(n) || c.EventAck() != n {
		t.Fatalf("%d events emitted; stats %+v, ack %d", n, st, c.EventAck())
	}
	if errs := fs.gameErrs(); len(errs) > 0 || len(log.errs) > 0 {
		t.Fatalf("fake game: %v; client: %v", errs, log.errs)
	}
}

func TestGameClientEventsResentUntilAcked(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	fs.startTicker(5 * time.Millisecond)
	c := dial(t, gameConfig(g.testGame, fs.url))
	send := func(amount int64) {
		t.Helper()
		seq, err := c.SendEvent(g.bidEvent(t, amount))
		if err != nil || seq != uint32(amount) {
			t.Fatalf("SendEvent(%d) = %d, %v", amount, seq, err)
		}
	}

	// Three events applied and acknowledged (Snapshot.event_seq).
	for i := range 3 {
		send(int64(i + 1))
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.PendingEvents() == 0 })

	// Two more lost on the way: the match applies nothing.
	fs.mu.Lock()
	g.dropEvents = true
	fs.mu.Unlock()
	send(4)
	send(5)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return fs.gameSeatOf(1).received == 5 })
	if p := c.PendingEvents(); p != 2 {
		t.Fatalf("%d events pending, want 2", p)
	}

	// A reconnect: the Welcome says 3 applied; 4 and 5 go again, not 1..3.
	fs.mu.Lock()
	g.dropEvents = false
	fs.mu.Unlock()
	c.cut()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 && c.PendingEvents() == 0 })
	gs := fs.gameSeatOf(1)
	if gs.received != 7 || gs.applied != 5 || len(gs.appliedLog) != 5 {
		t.Fatalf("after the resume: %d received, %d applied (%d logged), want 7, 5", gs.received, gs.applied, len(gs.appliedLog))
	}
	for i, ev := range gs.appliedLog {
		if ev.Seq != uint32(i+1) || !bytes.Equal(ev.Data, g.bidEvent(t, int64(i+1))) {
			t.Fatalf("applied event %d: seq %d data %x", i, ev.Seq, ev.Data)
		}
	}

	// Another reconnect: everything was acknowledged, nothing goes again.
	// An event sent meanwhile goes once.
	c.cut()
	send(6)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 2 && c.PendingEvents() == 0 })
	gs = fs.gameSeatOf(1)
	if gs.applied != 6 || gs.received != 8 {
		t.Fatalf("after the second resume: %d received, %d applied, want 8, 6", gs.received, gs.applied)
	}
	st := c.Stats()
	if st.EventsOut != 6 || st.EventsDropped != 0 || st.EventsResent < 2 || st.EventsResent > 3 {
		t.Fatalf("stats %+v", st)
	}
	if errs := fs.gameErrs(); len(errs) > 0 {
		t.Fatalf("fake game: %v", errs)
	}
}

// A rejoin after a refused resume is a new seat: the unacknowledged
// client events of the old one are dropped, and both event streams start
// again at seq 1.
func TestGameRejoinStartsEventsAfresh(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	g.emitEvery = 2
	g.dropEvents = true
	fs.startTicker(5 * time.Millisecond)
	log := newGameLog(g.testGame)
	cfg := gameConfig(g.testGame, fs.url)
	cfg.RejoinOnRefused = true
	cfg.Handler = log
	c := dial(t, cfg)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.eventCount() >= 3 })
	for i := range 2 {
		if _, err := c.SendEvent(g.bidEvent(t, int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	fs.forgetSeats() // the resume is refused: the seat is gone
	fs.mu.Lock()
	g.dropEvents = false
	fs.mu.Unlock()
	c.cut()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 })
	if w := c.Welcome(); w.PlayerID != 2 {
		t.Fatalf("rejoined as %+v, want player 2", w)
	}
	if st := c.Stats(); st.EventsDropped != 2 || c.PendingEvents() != 0 {
		t.Fatalf("after the rejoin: stats %+v, %d pending", st, c.PendingEvents())
	}
	if seq, err := c.SendEvent(g.bidEvent(t, 7)); err != nil || seq != 1 {
		t.Fatalf("first event of the new seat: seq %d, %v", seq, err)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return fs.gameSeatOf(2).applied == 1 })

	log.mu.Lock()
	n0 := log.welcomeAt[1]
	log.mu.Unlock()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.eventCount() >= n0+2 })
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.welcomeAt) != 2 {
		t.Fatalf("%d welcomes", len(log.welcomeAt))
	}
	for i, ev := range log.events[n0:] {
		if ev.Seq != uint32(i+1) {
			t.Fatalf("event %d of the new seat has seq %d", i, ev.Seq)
		}
	}
}

func TestGameSchemaMismatchStops(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	g.hash = strings.Repeat("0", 64)
	_, err := Dial(context.Background(), gameConfig(g.testGame, fs.url))
	if !errors.Is(err, ErrSchemaMismatch) || retryable(err) {
		t.Fatalf("dial: %v", err)
	}
	if n := len(fs.helloList()); n != 1 {
		t.Fatalf("%d hellos: the mismatch was retried", n)
	}
}

func TestGameConfigValidate(t *testing.T) {
	g := loadTestGame(t)
	ok := gameConfig(g, "ws://127.0.0.1:1/ws")
	ok.JoinPayload = g.joinPayload(t, "bo")
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"codec without schema", func(c *Config) { c.Schema = nil; c.JoinPayload = nil }, "codec"},
		{"join without schema", func(c *Config) { c.Schema, c.Codec = nil, nil }, "join payload"},
		{"bad join", func(c *Config) { c.JoinPayload = []byte{1, 2, 3} }, "join payload"},
		{"long join", func(c *Config) { c.JoinPayload = make([]byte, schema.MaxJoinLen+1) }, "join payload"},
		{"pending", func(c *Config) { c.MaxPendingEvents = -1 }, "max pending events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSendEventRefusals(t *testing.T) {
	// A client that fetches its schema has none before its first Welcome.
	noSchema := testConfig("ws://127.0.0.1:1/ws")
	noSchema.Schema, noSchema.Codec = nil, nil
	if _, err := newClient(noSchema).SendEvent([]byte{1}); !errors.Is(err, ErrNoSchema) {
		t.Fatalf("client without its schema yet: %v", err)
	}

	fs := newFakeServer(t, "n2", false)
	g := fs.game
	g.dropEvents = true // nothing is ever acknowledged
	fs.startTicker(5 * time.Millisecond)
	cfg := gameConfig(g.testGame, fs.url)
	cfg.MaxPendingEvents = 2
	c := dial(t, cfg)
	if _, err := c.SendEvent([]byte("not a flatbuffer")); err == nil || errors.Is(err, ErrEventQueueFull) {
		t.Fatalf("garbage sent as a client event: %v", err)
	}
	for i := range 2 {
		if _, err := c.SendEvent(g.bidEvent(t, int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendEvent(g.bidEvent(t, 9)); !errors.Is(err, ErrEventQueueFull) {
		t.Fatalf("third event with two pending: %v", err)
	}
	_ = c.Close()
	if _, err := c.SendEvent(g.bidEvent(t, 9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestFetchSchema(t *testing.T) {
	g := loadTestGame(t)
	bfbs, err := readTestSchema()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/games/cards/schema":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("ETag", `"`+g.schema.HashString()+`"`)
			_, _ = w.Write(bfbs)
		case "/games/liar/schema":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("ETag", `"`+strings.Repeat("ab", 32)+`"`)
			_, _ = w.Write(bfbs)
		case "/games/page/schema":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<html></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer hs.Close()
	ws := "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/ws"
	ctx := context.Background()

	s, err := FetchSchema(ctx, ws, "cards", nil)
	if err != nil || s.Hash != g.schema.Hash {
		t.Fatalf("FetchSchema(cards) = %v, %v", s, err)
	}
	for _, name := range []string{"arena", "page"} {
		if _, err := FetchSchema(ctx, ws, name, nil); !errors.Is(err, ErrSchemaNotServed) {
			t.Fatalf("FetchSchema(%s) = %v, want ErrSchemaNotServed", name, err)
		}
	}
	if _, err := FetchSchema(ctx, ws, "liar", nil); err == nil || errors.Is(err, ErrSchemaNotServed) {
		t.Fatalf("FetchSchema(liar) = %v, want a hash mismatch", err)
	}
	if u, err := SchemaURL("wss://n1.example.com:7350/ws", "cards"); err != nil || u != "https://n1.example.com:7350/games/cards/schema" {
		t.Fatalf("SchemaURL = %q, %v", u, err)
	}
}

// raceBuild is set under -race (race_test.go).
var raceBuild bool

// The generic receive path allocates nothing once its buffers have grown:
// applying the state, dropping repeated events, trimming acknowledged
// client events.
func TestGameReceiveAllocatesNothing(t *testing.T) {
	g := loadTestGame(t)
	cfg := gameConfig(g, "ws://127.0.0.1:1/ws")
	c := newClient(cfg)
	if err := c.gameWelcome(&schema.Welcome{PlayerID: 1}, true, false); err != nil {
		t.Fatal(err)
	}
	enc, err := gamedelta.NewEncoder(g.codec, gamedelta.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	cl := enc.NewClient(1)
	player := table(t, g.schema.Entities, "cards.Player")
	kPlayer, fScore := g.codec.KindIndex(player.Name), field(t, player, "score")
	w := gamedelta.NewWorld(g.codec)
	events := []schema.Event{{Seq: 1, Tick: 1, Data: g.sayEvent(t, "one")}, {Seq: 2, Tick: 1, Data: g.sayEvent(t, "two")}}
	var sn schema.Snapshot
	tick := uint32(0)
	step := func() {
		tick++
		w.Reset()
		for id := uint32(1); id <= 16; id++ {
			i := w.Add(100+id, kPlayer, id)
			w.SetInt(i, fScore, int64(tick*id))
		}
		if err := enc.Record(tick, w); err != nil {
			t.Fatal(err)
		}
		e, err := enc.Encode(cl, nil)
		if err != nil {
			t.Fatal(err)
		}
		sn = schema.Snapshot{Tick: tick, BaselineTick: e.Baseline, State: e.Data, Events: events, EventSeq: tick}
		c.onSnapshot(&sn)
		cl.Ack(c.AckTick())
	}
	for range 100 { // grow every buffer
		step()
	}
	want := 0.0
	if raceBuild {
		want = 1000 // counted, but the instrumentation's own allocations are not ours
	}
	if allocs := testing.AllocsPerRun(200, step); allocs > want {
		t.Errorf("%.1f allocations per snapshot, want %v", allocs, want)
	}
	st := c.Stats()
	if st.ApplyErrors != 0 || st.EventsIn != 2 || st.SnapshotsDelta < 290 || c.World().Len() != 16 {
		t.Fatalf("stats %+v, world %v", st, c.World())
	}
}

// SkipWorld on the generic path: no state is built, the ticks are still
// acknowledged (the node keeps sending deltas) and the events delivered.
func TestGameSkipWorld(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	g.emitEvery = 3
	log := newGameLog(g.testGame)
	cfg := gameConfig(g.testGame, fs.url)
	cfg.SkipWorld = true
	cfg.Handler = log
	c := dial(t, cfg)
	for i := range 10 {
		fs.Tick()
		want := uint32(i + 1)
		testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == want })
		if err := c.SendInput(schema.Input{Data: g.inputData(t, 1)}); err != nil {
			t.Fatal(err)
		}
		testutil.CheckTrue(t, 2*time.Second, func() bool { return fs.gameSeatOf(1).inputs == i+1 })
	}
	if st := c.Stats(); st.SnapshotsDelta != 9 || st.SnapshotsFull != 1 || st.ApplyErrors != 0 || st.EventsIn != 3 {
		t.Fatalf("stats %+v", st)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.worlds) != 0 || len(log.events) != 3 {
		t.Fatalf("%d worlds, %d events: want none and 3", len(log.worlds), len(log.events))
	}
}

// A client without Config.Schema fetches the schema the first Welcome
// names from the node that sent it, plays with it, and names its hash in
// the Hellos that follow (a resume here).
func TestSchemaFetchedOnFirstWelcome(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	fs.startTicker(5 * time.Millisecond)
	log := newGameLog(g.testGame)
	cfg := testConfig(fs.url)
	cfg.Game, cfg.Schema, cfg.Codec = "", nil, nil // the node's default game, whatever it is
	cfg.Handler = log
	c := dial(t, cfg)
	if s := c.Schema(); s == nil || s.Hash != g.schema.Hash {
		t.Fatalf("schema after Dial: %v", s)
	}
	if err := c.SendInput(schema.Input{Data: g.inputData(t, 3)}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.worlds) > 5 && fs.gameSeatOf(1).hover == 3
	})
	c.cut()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 })
	h := fs.helloList()
	if len(h) != 2 || h[0].SchemaHash != "" || h[0].Game != "" || h[1].SchemaHash != g.schema.HashString() {
		t.Fatalf("hellos %+v: want no hash first (not known yet), then the fetched schema's", h)
	}
	if st := c.Stats(); st.ApplyErrors != 0 || st.SnapshotsDelta == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A node that serves no schema for the game the Welcome names: the client
// cannot read the game and stops, without trying again.
func TestSchemaNotServedStops(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.noSchema = true
	cfg := testConfig(fs.url)
	cfg.Schema, cfg.Codec = nil, nil
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, ErrSchemaNotServed) || retryable(err) {
		t.Fatalf("dial: %v", err)
	}
	if n := len(fs.helloList()); n != 1 {
		t.Fatalf("%d hellos: a node without the schema was tried again", n)
	}
}

// Config.WorldRing: Validate bounds it (and ReadBufferSize); the receiver
// keeps that many worlds (at least 2, its floor).
func TestConfigWorldRing(t *testing.T) {
	for _, tc := range []struct {
		ring, readBuf int
		wantErr       bool
		wantHistory   int
	}{
		{ring: 0, wantHistory: DefaultWorldRing},
		{ring: 1, wantHistory: 2},
		{ring: 8, readBuf: 1024, wantHistory: 8},
		{ring: MaxWorldRing, wantHistory: MaxWorldRing},
		{ring: -1, wantErr: true},
		{ring: MaxWorldRing + 1, wantErr: true},
		{ring: 8, readBuf: 100, wantErr: true},
		{ring: 8, readBuf: 2 << 20, wantErr: true},
	} {
		t.Run(fmt.Sprintf("ring=%d/readbuf=%d", tc.ring, tc.readBuf), func(t *testing.T) {
			cfg := testConfig("ws://127.0.0.1:1/ws")
			cfg.WorldRing, cfg.ReadBufferSize = tc.ring, tc.readBuf
			if err := cfg.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && receiverHistory(cfg.WorldRing) != tc.wantHistory {
				t.Errorf("receiver history %d, want %d", receiverHistory(cfg.WorldRing), tc.wantHistory)
			}
		})
	}
	if got := DefaultConfig().WorldRing; got != DefaultWorldRing {
		t.Errorf("DefaultConfig().WorldRing = %d, want %d", got, DefaultWorldRing)
	}
}

// A ring of 2 worlds on a link whose acks lag: some deltas name a
// baseline already dropped (ErrNoBaseline, not applied, the world
// unchanged) and the next ones, against the newest world acked, apply.
func TestSmallRingHeals(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	g := fs.game
	log := newGameLog(g.testGame)
	cfg := testConfig(fs.url)
	cfg.WorldRing = 2
	cfg.Handler = log
	c := dial(t, cfg)
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 1 })
	// Ack tick 1, then no input for 3 ticks: ticks 2 and 3 apply against
	// 1, and the ring of 2 then holds 2 and 3 only, so tick 4's delta
	// (against 1 still) is refused until an input acks a newer tick.
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { return fs.gameSeatOf(1).inputs == 1 })
	fs.Tick()
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 3 })
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.Stats().ApplyErrors == 1 })
	if c.AckTick() != 3 {
		t.Fatalf("ack %d after a refused snapshot, want 3", c.AckTick())
	}
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { return fs.gameSeatOf(1).inputs == 2 })
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 5 })
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.errs) != 1 || !errors.Is(log.errs[0], ErrNoBaseline) || log.baselines[5] != 3 {
		t.Fatalf("errors %v, baseline of tick 5 %d: want one ErrNoBaseline, then a delta against 3", log.errs, log.baselines[5])
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	want, _ := g.worldFor(5, 1)
	if !gamedelta.Equal(log.worlds[5], want) {
		t.Fatalf("world 5\n%v\nwant\n%v", log.worlds[5], want)
	}
}
