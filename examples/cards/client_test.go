package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/examples/cards/cards"
	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// cardsLayout is where the cards game's kinds and fields are in its delta
// codec, compiled from its schema as the node compiles it.
type cardsLayout struct {
	codec                      *gamedelta.Codec
	table, seat, card          int
	tPhase, tTurn, tTop, tDeck int
	sSeat                      int
	cFaceUp                    int
}

func loadLayout(t testing.TB) *cardsLayout {
	t.Helper()
	s := cards.Schema()
	dl, err := s.DeltaLayout()
	if err != nil {
		t.Fatal(err)
	}
	c, err := gamedelta.Compile(dl)
	if err != nil {
		t.Fatal(err)
	}
	kind := func(name string) int {
		for i, e := range s.Entities {
			if e.Name == name {
				return i
			}
		}
		t.Fatalf("no entity %s in cards.bfbs", name)
		return 0
	}
	l := &cardsLayout{codec: c, table: kind("cards.Table"), seat: kind("cards.Seat"), card: kind("cards.Card")}
	field := func(k int, name string) int {
		i := c.FieldIndex(k, name)
		if i < 0 {
			t.Fatalf("kind %d has no field %s", k, name)
		}
		return i
	}
	l.tPhase, l.tTurn, l.tTop, l.tDeck = field(l.table, "phase"), field(l.table, "turn"), field(l.table, "top"), field(l.table, "deck")
	l.sSeat = field(l.seat, "seat")
	l.cFaceUp = field(l.card, "face_up")
	return l
}

// tableState is what one player's newest world shows.
type tableState struct {
	Tick    uint32
	Node    string // the node whose snapshot it is
	Phase   int
	Turn    int // the seat to play
	Top     int // the pile's top card's code
	Deck    int
	Seat    int   // the player's own seat
	Hand    []int // the codes of the player's cards, ascending
	Foreign int   // cards of another hand or of the deck in the world: never
}

// cardsClient is one player of the cards game: a Go client of ticksync's
// envelope over WebSocket. It joins with a Join payload, decodes each
// snapshot's state with a gamedelta.Receiver, acknowledges snapshots and
// server events with an input per snapshot, sends PlayCard and Draw as
// client events (kept until the match has applied them, and sent again
// after a resume), and when its connection is lost resumes its seat
// through the cluster's nodes, following redirects. Its goroutine ends
// with the context given to start.
type cardsClient struct {
	name string
	urls []string // tried in this order, round robin
	l    *cardsLayout
	join []byte

	mu       sync.Mutex
	enc      *schema.Encoder
	conn     *gws.Conn
	welcome  schema.Welcome
	welcomes int // Welcomes received
	rx       *gamedelta.Receiver
	state    tableState
	evAck    uint32 // newest server event seq received
	evIn     int    // server events delivered (each seq once)
	inSeq    uint32
	evSeq    uint32         // newest client event seq sent
	pending  []schema.Event // sent, not yet applied by the match
	redirect string
	lastErr  schema.ErrorMsg
	problems []string // what went wrong on the client's goroutine
	done     chan struct{}
}

// newCardsClient returns a player named name, in the quick mode, that
// tries urls in order.
func newCardsClient(t testing.TB, l *cardsLayout, name string, urls []string) *cardsClient {
	b := flatbuffers.NewBuilder(64)
	n := b.CreateString(name)
	cardsfb.JoinStart(b)
	cardsfb.JoinAddName(b, n)
	cardsfb.JoinAddColor(b, 0x3366ff)
	cardsfb.JoinAddMode(b, cardsfb.ModeQuick)
	b.Finish(cardsfb.JoinEnd(b))
	if err := cards.Schema().VerifyJoin(b.FinishedBytes()); err != nil {
		t.Fatal(err)
	}
	return &cardsClient{name: name, urls: urls, l: l, join: b.FinishedBytes(), enc: schema.NewEncoder(512), done: make(chan struct{})}
}

// start runs the client until ctx ends; Cleanup waits for its goroutine.
func (c *cardsClient) start(t testing.TB, ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	go c.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-c.done
	})
}

// run connects, and connects again after each loss: to a redirect's
// target at once, else to the next URL after a short pause. It stops on
// an error that ends the seat (the match ended, the join refused).
func (c *cardsClient) run(ctx context.Context) {
	defer close(c.done)
	for i := 0; ctx.Err() == nil; {
		u := c.urls[i%len(c.urls)]
		c.mu.Lock()
		if c.redirect != "" {
			u, c.redirect = c.redirect, ""
		} else {
			i++
		}
		c.mu.Unlock()
		c.session(ctx, u)
		c.mu.Lock()
		code, redirected := c.lastErr.Code, c.redirect != ""
		c.lastErr = schema.ErrorMsg{}
		c.mu.Unlock()
		switch code {
		case schema.ErrCodeMatchEnded, schema.ErrCodeJoinRefused, schema.ErrCodeResumeRefused, schema.ErrCodeSchemaMismatch, schema.ErrCodeKicked:
			c.fail("stopped by error %d", code)
			return
		}
		if redirected {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// session is one connection to u, until it closes or ctx ends.
func (c *cardsClient) session(ctx context.Context, u string) {
	pu, err := url.Parse(u)
	if err != nil {
		c.fail("url %s: %v", u, err)
		return
	}
	ws, _, err := gws.NewClient((*clientEvents)(c), &gws.ClientOption{
		Addr:             u,
		RequestHeader:    http.Header{"Origin": {"http://" + pu.Host}},
		HandshakeTimeout: 3 * time.Second,
	})
	if err != nil {
		return // a dead node: the next one
	}
	stop := context.AfterFunc(ctx, func() { _ = ws.NetConn().Close() })
	defer stop()
	c.mu.Lock()
	c.conn = ws
	h := schema.Hello{Name: c.name, Game: cards.Name, SchemaHash: cards.Schema().HashString()}
	if c.welcomes == 0 {
		h.Join = c.join
	} else { // resume the seat; the held worlds are dropped (the new owner's ticks are not the old one's)
		// event_ack: a new owner numbers the seat's events after the
		// newest held, even if it lost some the old owner sent.
		h.ResumeToken, h.MatchID, h.EventAck = c.welcome.ResumeToken, c.welcome.MatchID, c.evAck
	}
	err = ws.WriteMessage(gws.OpcodeBinary, c.enc.Hello(&h))
	c.mu.Unlock()
	if err == nil {
		// A read deadline renewed by every message: a silent node is lost.
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		ws.ReadLoop()
	}
	c.mu.Lock()
	c.conn = nil
	c.mu.Unlock()
}

// fail records a problem the test reports.
func (c *cardsClient) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// clientEvents adapts cardsClient to gws.Event.
type clientEvents cardsClient

func (e *clientEvents) OnOpen(*gws.Conn)                    {}
func (e *clientEvents) OnClose(*gws.Conn, error)            {}
func (e *clientEvents) OnPing(ws *gws.Conn, payload []byte) { _ = ws.WritePong(payload) }
func (e *clientEvents) OnPong(*gws.Conn, []byte)            {}

func (e *clientEvents) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	c := (*cardsClient)(e)
	var msg schema.ServerMessage
	if err := schema.DecodeServerMessage(m.Bytes(), &msg); err != nil {
		c.fail("decode: %v", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch msg.Kind {
	case schema.ServerWelcome:
		c.onWelcome(ws, &msg.Welcome)
	case schema.ServerSnapshot:
		c.onSnapshot(ws, &msg.Snapshot)
	case schema.ServerRedirect:
		c.redirect = msg.Redirect.URL
		_ = ws.NetConn().Close()
	case schema.ServerError:
		c.lastErr = schema.ErrorMsg{Code: msg.Error.Code, Message: msg.Error.Message}
	}
}

func (c *cardsClient) onWelcome(ws *gws.Conn, w *schema.Welcome) {
	if c.welcomes > 0 && (w.PlayerID != c.welcome.PlayerID || w.MatchID != c.welcome.MatchID) {
		c.problems = append(c.problems, fmt.Sprintf("resumed as player %d of %s, was %d of %s", w.PlayerID, w.MatchID, c.welcome.PlayerID, c.welcome.MatchID))
	}
	c.welcome = *w
	c.welcomes++
	if c.rx == nil {
		rx, err := gamedelta.NewReceiver(c.l.codec, gamedelta.DefaultReceiverConfig(w.PlayerID))
		if err != nil {
			c.problems = append(c.problems, err.Error())
			return
		}
		c.rx = rx
	}
	c.rx.Reset()
	// Events the match has not applied go again, in order.
	c.pending = slices.DeleteFunc(c.pending, func(ev schema.Event) bool { return ev.Seq <= w.EventSeq })
	for i := range c.pending {
		_ = ws.WriteMessage(gws.OpcodeBinary, c.enc.Event(&c.pending[i]))
	}
}

func (c *cardsClient) onSnapshot(ws *gws.Conn, sn *schema.Snapshot) {
	if c.rx == nil {
		return
	}
	for _, ev := range sn.Events {
		if ev.Seq > c.evAck {
			if _, err := cards.Schema().VerifyServerEvent(ev.Data); err != nil {
				c.problems = append(c.problems, fmt.Sprintf("server event %d: %v", ev.Seq, err))
			}
			c.evAck = ev.Seq
			c.evIn++
		}
	}
	c.pending = slices.DeleteFunc(c.pending, func(ev schema.Event) bool { return ev.Seq <= sn.EventSeq })
	w, err := c.rx.Apply(sn.Tick, sn.BaselineTick, sn.State)
	switch {
	case errors.Is(err, gamedelta.ErrStale), errors.Is(err, gamedelta.ErrNoBaseline):
	case err != nil:
		c.problems = append(c.problems, fmt.Sprintf("snapshot %d: %v", sn.Tick, err))
	default:
		c.read(w, sn.Tick)
	}
	c.inSeq++
	newest := c.rx.Newest()
	in := schema.Input{Seq: c.inSeq, TargetTick: newest + 1, AckTick: newest, Data: pointerInput(), EventAck: c.evAck}
	_ = ws.WriteMessage(gws.OpcodeBinary, c.enc.Input(&in))
}

// read takes the table state out of the world of tick.
func (c *cardsClient) read(w *gamedelta.World, tick uint32) {
	l, me := c.l, c.welcome.PlayerID
	st := tableState{Tick: tick, Node: c.welcome.NodeID}
	for i := range w.Len() {
		switch w.Kind(i) {
		case l.table:
			st.Phase, st.Turn = int(w.Int(i, l.tPhase)), int(w.Int(i, l.tTurn))
			st.Top, st.Deck = int(w.Int(i, l.tTop)), int(w.Int(i, l.tDeck))
		case l.seat:
			if w.Owner(i) == me {
				st.Seat = int(w.Int(i, l.sSeat))
			}
		case l.card:
			switch {
			case w.Int(i, l.cFaceUp) != 0:
			case w.Owner(i) == me:
				st.Hand = append(st.Hand, int(w.ID(i))-int(cards.CardID(0)))
			default:
				st.Foreign++
			}
		}
	}
	slices.Sort(st.Hand)
	c.state = st
}

// pointerInput is the Input table every input carries.
func pointerInput() []byte {
	b := flatbuffers.NewBuilder(32)
	cardsfb.InputStart(b)
	cardsfb.InputAddPointer(b, cardsfb.CreateVec3(b, 0.5, 0, -0.5))
	b.Finish(cardsfb.InputEnd(b))
	return b.FinishedBytes()
}

// send queues a client event (a ClientEvents buffer) and sends it.
func (c *cardsClient) send(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evSeq++
	ev := schema.Event{Seq: c.evSeq, Data: bytes.Clone(data)}
	c.pending = append(c.pending, ev)
	if c.conn != nil {
		_ = c.conn.WriteMessage(gws.OpcodeBinary, c.enc.Event(&ev))
	}
}

// playOrDraw plays the first card of st.Hand that matches the pile's top
// card, or draws when none does; it returns the card played, -1 for a draw.
func (c *cardsClient) playOrDraw(st tableState) int {
	b := flatbuffers.NewBuilder(64)
	card := -1
	for _, h := range st.Hand {
		if h/13 == st.Top/13 || h%13 == st.Top%13 {
			card = h
			break
		}
	}
	var ev flatbuffers.UOffsetT
	typ := cardsfb.ClientEventDraw
	if card >= 0 {
		cardsfb.PlayCardStart(b)
		cardsfb.PlayCardAddCard(b, cards.CardID(card))
		ev, typ = cardsfb.PlayCardEnd(b), cardsfb.ClientEventPlayCard
	} else {
		cardsfb.DrawStart(b)
		ev = cardsfb.DrawEnd(b)
	}
	cardsfb.ClientEventsStart(b)
	cardsfb.ClientEventsAddEventType(b, typ)
	cardsfb.ClientEventsAddEvent(b, ev)
	b.Finish(cardsfb.ClientEventsEnd(b))
	c.send(b.FinishedBytes())
	return card
}

// snapshot returns the client's welcome, newest table state and problems.
// eventsIn returns how many server events the client was delivered.
func (c *cardsClient) eventsIn() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evIn
}

func (c *cardsClient) snapshot() (schema.Welcome, tableState, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state
	st.Hand = slices.Clone(st.Hand)
	return c.welcome, st, slices.Clone(c.problems)
}
