package ws

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// The game's bytes on the wire: Input data, events, the schema hash and
// the Welcome's game fields, sent by a raw client to a real server.

// got returns copies of what reached the seat.
func (s *gameSeat) got() ([]schema.Input, []schema.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.inputs), slices.Clone(s.events)
}

// sendEvent sends a ClientEvent; errors are ignored (the server may have
// closed already: what it does then is the test's subject).
func (c *wsClient) sendEvent(seq uint32, data []byte) {
	_ = c.writeFrame(0x2, c.enc.Event(&schema.Event{Seq: seq, Data: data}))
}

// ---- inputs -------------------------------------------------------------

// TestGameInputData: an Input's data reaches the seat only when the game's
// schema accepts it; an Input without data is an acknowledgement; any
// other data closes the session with 1007.
func TestGameInputData(t *testing.T) {
	gs := loadCards(t)
	s := gs.Schema
	t.Run("valid data and an ack", func(t *testing.T) {
		j := &gameJoiner{gs: gs}
		ts := startGame(t, j, nil)
		c, _ := joinGame(t, ts, schema.Hello{})
		data := cardsInput(s, 7, true)
		c.send(c.enc.Input(&schema.Input{Seq: 1, Data: data}))
		c.send(c.enc.Input(&schema.Input{Seq: 2, EventAck: 4}))
		c.send(c.enc.Ping(99))
		c.mustNext(fb.ServerBodyPong) // still open
		var in []schema.Input
		testutil.CheckFor(t, 5*time.Second, func() error {
			if in, _ = j.seat(0).got(); len(in) != 2 {
				return fmt.Errorf("%d inputs reached the seat, want 2", len(in))
			}
			return nil
		})
		if in[0].Seq != 1 || !bytes.Equal(in[0].Data, data) {
			t.Fatalf("input 1: seq %d data %x, want %x", in[0].Seq, in[0].Data, data)
		}
		var v gameschema.Values
		if err := s.DecodeInput(in[0].Data, &v); err != nil || v.Int(s.Input.Field("hover").Index) != 7 || !v.Bool(s.Input.Field("grab").Index) {
			t.Fatalf("input 1 decodes to %v, %v", v, err)
		}
		if in[1].Seq != 2 || len(in[1].Data) != 0 || in[1].EventAck != 4 {
			t.Fatalf("ack-only input: %+v", in[1])
		}
	})
	garbage := []byte("this is not a cards.Input buffer")
	tests := []struct {
		name   string
		gs     *game.GameSchema
		data   []byte
		reason string
	}{
		{"out of range", gs, cardsInput(s, 100, false), reasonOutOfRange}, // hover: -1..51
		{"malformed", gs, garbage, reasonMalformed},
		{"data for a game without a schema", nil, cardsInput(s, 7, false), reasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &gameJoiner{gs: tt.gs}
			ts := startGame(t, j, nil)
			c, _ := joinGame(t, ts, schema.Hello{})
			c.send(c.enc.Input(&schema.Input{Seq: 1, Data: tt.data}))
			if _, reason := c.expectClose(CloseInvalidPayload, 5*time.Second); reason != tt.reason {
				t.Fatalf("close reason %q, want %q", reason, tt.reason)
			}
			waitCloses(t, ts, CloseInvalidPayload)
			if in, _ := j.seat(0).got(); len(in) != 0 {
				t.Fatalf("%d inputs reached the seat", len(in))
			}
		})
	}
}

// ---- events -------------------------------------------------------------

// TestGameEvents: events the schema accepts reach the seat in the order
// sent, whole; the others close the session.
func TestGameEvents(t *testing.T) {
	gs := loadCards(t)
	s := gs.Schema
	t.Run("in order", func(t *testing.T) {
		j := &gameJoiner{gs: gs}
		ts := startGame(t, j, nil)
		c, _ := joinGame(t, ts, schema.Hello{})
		const n = 30
		var sent [][]byte
		for i := range n {
			sent = append(sent, someEvent(s, i))
			c.sendEvent(uint32(i+1), sent[i])
		}
		c.send(c.enc.Ping(1))
		c.mustNext(fb.ServerBodyPong)
		var evs []schema.Event
		testutil.CheckFor(t, 5*time.Second, func() error {
			if _, evs = j.seat(0).got(); len(evs) != n {
				return fmt.Errorf("%d events reached the seat, want %d", len(evs), n)
			}
			return nil
		})
		for i, ev := range evs {
			if ev.Seq != uint32(i+1) || !bytes.Equal(ev.Data, sent[i]) {
				t.Fatalf("event %d: seq %d data %x, want seq %d data %x", i, ev.Seq, ev.Data, i+1, sent[i])
			}
			if _, err := s.VerifyEvent(ev.Data); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		if st := ts.Stats(); st.EventsIn != n || st.EventFloodsRate+st.EventFloodsQueue != 0 {
			t.Fatalf("stats: events in %d, floods %d+%d", st.EventsIn, st.EventFloodsRate, st.EventFloodsQueue)
		}
	})
	tests := []struct {
		name   string
		gs     *game.GameSchema
		hello  bool
		data   []byte
		code   CloseCode
		reason string
	}{
		{"out of range", gs, true, playCard(s, 14), CloseInvalidPayload, reasonOutOfRange}, // rank: 1..13
		{"malformed", gs, true, []byte("not an event"), CloseInvalidPayload, reasonMalformed},
		{"not a client event", gs, true, cardsInput(s, 1, true), CloseInvalidPayload, reasonMalformed},
		{"game without a schema", nil, true, playCard(s, 3), ClosePolicy, reasonNoEvents},
		{"before hello", gs, false, playCard(s, 3), ClosePolicy, reasonExpectHello},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &gameJoiner{gs: tt.gs}
			ts := startGame(t, j, nil)
			c := mustDial(t, ts.addr)
			if tt.hello {
				c.hello(schema.Hello{})
				c.mustNext(fb.ServerBodyWelcome)
			}
			c.sendEvent(1, tt.data)
			if _, reason := c.expectClose(tt.code, 5*time.Second); reason != tt.reason {
				t.Fatalf("close reason %q, want %q", reason, tt.reason)
			}
			st := waitCloses(t, ts, tt.code)
			if st.EventsIn != 0 {
				t.Fatalf("%d events counted in", st.EventsIn)
			}
			if seat := j.seat(0); seat != nil {
				if _, evs := seat.got(); len(evs) != 0 {
					t.Fatalf("%d events reached the seat", len(evs))
				}
			}
		})
	}
}

// TestEventFlood: a client over the event rate, or one whose events fill
// its queue in the match, gets Error too many events and close 4017.
func TestEventFlood(t *testing.T) {
	gs := loadCards(t)
	s := gs.Schema
	tests := []struct {
		name      string
		mod       func(*Config)
		maxEvents int
		want      func(st Stats, got int) error
	}{
		{"rate", func(c *Config) { c.MaxEventRate, c.MaxEventBurst = 1, 5 }, 0, func(st Stats, got int) error {
			// The burst, and at most a token or two that refilled meanwhile.
			if st.EventFloodsRate != 1 || got < 5 || got > 7 {
				return fmt.Errorf("floods %d (rate), %d events reached the seat, want 5", st.EventFloodsRate, got)
			}
			return nil
		}},
		{"queue", nil, 3, func(st Stats, got int) error {
			if st.EventFloodsQueue != 1 || got != 3 {
				return fmt.Errorf("floods %d (queue), %d events reached the seat, want 3", st.EventFloodsQueue, got)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &gameJoiner{gs: gs, seatMod: func(st *gameSeat) { st.maxEvents = tt.maxEvents }}
			ts := startGame(t, j, tt.mod)
			c, _ := joinGame(t, ts, schema.Hello{})
			ev := playCard(s, 5)
			for i := range 50 {
				c.sendEvent(uint32(i+1), ev)
			}
			msgs, reason := c.expectClose(CloseEventFlood, 5*time.Second)
			if reason != "too many events" {
				t.Fatalf("close reason %q", reason)
			}
			if len(msgs) == 0 || msgs[len(msgs)-1].kind != fb.ServerBodyError || msgs[len(msgs)-1].errCode != uint16(schema.ErrCodeEventFlood) ||
				msgs[len(msgs)-1].errMsg != "too many events" {
				t.Fatalf("messages before the close: %+v", msgs)
			}
			st := waitCloses(t, ts, CloseEventFlood)
			_, evs := j.seat(0).got()
			if err := tt.want(st, len(evs)); err != nil {
				t.Fatal(err)
			}
			if st.EventsIn != uint64(len(evs)) {
				t.Fatalf("events in %d, the seat has %d", st.EventsIn, len(evs))
			}
		})
	}
}

// TestSchemaHashGuard: a Joiner that seats a client built for another
// schema does not get to keep it: the session frees the seat and answers
// schema mismatch.
func TestSchemaHashGuard(t *testing.T) {
	gs := loadCards(t)
	hash := gs.Schema.HashString()
	j := &gameJoiner{gs: gs}
	ts := startGame(t, j, nil)

	// The right hash joins.
	c, _ := joinGame(t, ts, schema.Hello{SchemaHash: hash})
	c.send(c.enc.Leave())
	c.expectClose(CloseNormal, 5*time.Second)

	c = mustDial(t, ts.addr)
	c.hello(schema.Hello{SchemaHash: strings.Repeat("0", 64)})
	msgs, _ := c.expectClose(4016, 5*time.Second)
	if len(msgs) != 1 || msgs[0].errCode != uint16(schema.ErrCodeSchemaMismatch) || msgs[0].errMsg != "schema mismatch: the match speaks cards "+hash {
		t.Fatalf("messages before the close: %+v", msgs)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return j.seat(1).left.Load() == 1 })
}

// TestWelcomeCarriesGame: the Welcome reaches the client with the match's
// game, schema hash and event seq; a seat that left the hash out gets it
// filled from its schema.
func TestWelcomeCarriesGame(t *testing.T) {
	gs := loadCards(t)
	for _, blank := range []bool{false, true} {
		t.Run(fmt.Sprint("blank hash ", blank), func(t *testing.T) {
			j := &gameJoiner{gs: gs, seatMod: func(s *gameSeat) {
				if blank {
					s.welcome.SchemaHash = ""
				}
			}}
			ts := startGame(t, j, nil)
			_, w := joinGame(t, ts, schema.Hello{})
			var m schema.ServerMessage
			if err := schema.DecodeServerMessage(w.raw, &m); err != nil {
				t.Fatal(err)
			}
			if got := m.Welcome; got.Game != "cards" || got.SchemaHash != gs.Schema.HashString() || got.EventSeq != 3 || got.NodeID != "n1" {
				t.Fatalf("welcome %+v", got)
			}
		})
	}
}
