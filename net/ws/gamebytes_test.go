package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/schema/token"
)

// ---- a generic game: the cards schema of gameschema's tests ---------------

var cardsSchema = sync.OnceValues(func() (*game.GameSchema, error) {
	bfbs, err := os.ReadFile("../../schema/gameschema/testdata/cards.bfbs")
	if err != nil {
		return nil, err
	}
	s, err := gameschema.Load(bfbs)
	if err != nil {
		return nil, err
	}
	return &game.GameSchema{Schema: s, BFBS: bfbs}, nil
})

func loadCards(t testing.TB) *game.GameSchema {
	t.Helper()
	gs, err := cardsSchema()
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// cardsInput builds a cards.Input buffer.
func cardsInput(s *gameschema.Schema, hover int64, grab bool) []byte {
	var v gameschema.Values
	v.Reset(s.Input)
	v.SetDefaults()
	v.SetInt(s.Input.Field("hover").Index, hover)
	v.SetBool(s.Input.Field("grab").Index, grab)
	v.SetFloat(s.Input.Field("pointer.x").Index, 1.25)
	b := flatbuffers.NewBuilder(64)
	b.Finish(s.Input.Build(b, &v))
	return b.FinishedBytes()
}

// cardsEvent builds a client event buffer of the member table name
// ("cards.PlayCard", "cards.Bid", "cards.Say"), its fields set by set.
func cardsEvent(s *gameschema.Schema, name string, set func(t *gameschema.Table, v *gameschema.Values)) []byte {
	var t *gameschema.Table
	for _, m := range s.ClientEvents.Tables {
		if m.Name == name {
			t = m
		}
	}
	if t == nil {
		panic("no client event " + name)
	}
	var v gameschema.Values
	v.Reset(t)
	v.SetDefaults()
	set(t, &v)
	b := flatbuffers.NewBuilder(64)
	b.Finish(s.ClientEvents.Build(b, &v))
	return b.FinishedBytes()
}

func playCard(s *gameschema.Schema, rank int64) []byte {
	return cardsEvent(s, "cards.PlayCard", func(t *gameschema.Table, v *gameschema.Values) {
		v.SetInt(t.Field("rank").Index, rank)
	})
}

// someEvent returns the i-th of a varied stream of valid events.
func someEvent(s *gameschema.Schema, i int) []byte {
	switch i % 3 {
	case 0:
		return playCard(s, int64(1+i%13))
	case 1:
		return cardsEvent(s, "cards.Bid", func(t *gameschema.Table, v *gameschema.Values) {
			v.SetInt(t.Field("amount").Index, int64(i))
		})
	default:
		return cardsEvent(s, "cards.Say", func(t *gameschema.Table, v *gameschema.Values) {
			v.SetBytes(t.Field("text").Index, fmt.Appendf(nil, "message %d", i))
		})
	}
}

// gameSeat is a seat in a match of a generic game: it keeps copies of what
// the session hands it.
type gameSeat struct {
	conn      game.Conn
	gs        *game.GameSchema
	welcome   schema.Welcome
	maxEvents int // Event refuses past this many (a full queue); 0: no bound

	mu     sync.Mutex
	inputs []schema.Input
	events []schema.Event
	left   atomic.Int32
}

func (s *gameSeat) Welcome() schema.Welcome  { return s.welcome }
func (s *gameSeat) Schema() *game.GameSchema { return s.gs }
func (s *gameSeat) Disconnect()              {}
func (s *gameSeat) Leave()                   { s.left.Add(1) }

func (s *gameSeat) Input(in *schema.Input) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *in
	cp.Data = bytes.Clone(in.Data)
	s.inputs = append(s.inputs, cp)
	return true
}

func (s *gameSeat) Event(ev *schema.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxEvents > 0 && len(s.events) >= s.maxEvents {
		return false
	}
	s.events = append(s.events, schema.Event{Seq: ev.Seq, Tick: ev.Tick, Data: bytes.Clone(ev.Data)})
	return true
}

// gameJoiner seats everyone in one match of the cards game (gs nil: a game
// without a schema), unless refuse says otherwise; it keeps each request's
// claims.
type gameJoiner struct {
	gs      *game.GameSchema
	refuse  func(req game.JoinRequest) error
	seatMod func(*gameSeat)

	mu     sync.Mutex
	seats  []*gameSeat
	claims [][]byte
}

func (j *gameJoiner) Join(_ context.Context, req game.JoinRequest) (game.Seat, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.claims = append(j.claims, bytes.Clone(req.Claims))
	if j.refuse != nil {
		if err := j.refuse(req); err != nil {
			return nil, err
		}
	}
	n := uint32(len(j.seats) + 1)
	seat := &gameSeat{conn: req.Conn, gs: j.gs,
		welcome: schema.Welcome{SessionID: fmt.Sprint("s", n), PlayerID: n, EntityID: 100 + n, TickRate: 30, MatchID: "m1"}}
	if j.gs != nil {
		seat.welcome.Game, seat.welcome.SchemaHash, seat.welcome.EventSeq = "cards", j.gs.Schema.HashString(), 3
	}
	if j.seatMod != nil {
		j.seatMod(seat)
	}
	j.seats = append(j.seats, seat)
	return seat, nil
}

func (j *gameJoiner) seat(i int) *gameSeat {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i >= len(j.seats) {
		return nil
	}
	return j.seats[i]
}

func (j *gameJoiner) claimsOf(i int) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.claims[i]
}

// startGame runs a Server whose Joiner is j.
func startGame(t *testing.T, j *gameJoiner, mod func(*Config)) *testServer {
	t.Helper()
	return startServer(t, func(c *Config) {
		c.Joiner = j
		if mod != nil {
			mod(c)
		}
	})
}

// joinGame dials ts and sends a Hello; it returns the client once the
// Welcome arrived.
func joinGame(t *testing.T, ts *testServer, h schema.Hello) (*wsClient, serverMsg) {
	t.Helper()
	c := mustDial(t, ts.addr)
	c.hello(h)
	return c, c.mustNext(fb.ServerBodyWelcome)
}

// waitCloses waits until the server has counted one close with code and
// no session is left.
func waitCloses(t *testing.T, ts *testServer, code CloseCode) Stats {
	t.Helper()
	var st Stats
	testutil.CheckFor(t, 5*time.Second, func() error {
		if st = ts.Stats(); st.Sessions != 0 || st.Closes[code] != 1 {
			return fmt.Errorf("sessions %d, closes %v", st.Sessions, st.Closes)
		}
		return nil
	})
	return st
}

// ---- join -----------------------------------------------------------------

// TestJoinRefusalText: a public JoinError's message reaches the client
// (valid UTF-8, at most 256 bytes); any other JoinError's does not; a join
// payload the game's schema refuses closes with 1007.
func TestJoinRefusalText(t *testing.T) {
	gs := loadCards(t)
	long := strings.Repeat("é", 200) + "\xff" // 401 bytes, the last one invalid
	tests := []struct {
		name string
		err  error
		code CloseCode
		want string // the Error's message; "" when no Error precedes the close
	}{
		{"public refusal", &game.JoinError{Code: schema.ErrCodeJoinRefused, Message: "the table seats 4: try the next one", Public: true},
			4015, "the table seats 4: try the next one"},
		{"schema mismatch", &game.JoinError{Code: schema.ErrCodeSchemaMismatch, Message: "schema mismatch: the match speaks cards " + gs.Schema.HashString(), Public: true},
			4016, "schema mismatch: the match speaks cards " + gs.Schema.HashString()},
		{"private", &game.JoinError{Code: schema.ErrCodeMatchFull, Message: "match m9 on 10.0.0.7 has 8 of 8 seats"}, 4004, "match full"},
		{"public and empty", &game.JoinError{Code: schema.ErrCodeJoinRefused, Public: true}, 4015, "join refused"},
		{"public and too long", &game.JoinError{Code: schema.ErrCodeJoinRefused, Message: long, Public: true}, 4015, strings.Repeat("é", 128)},
		{"join payload refused", fmt.Errorf("join: %w", gs.Schema.VerifyJoin([]byte("garbage join payload"))), CloseInvalidPayload, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &gameJoiner{gs: gs, refuse: func(game.JoinRequest) error { return tt.err }}
			ts := startGame(t, j, nil)
			c := mustDial(t, ts.addr)
			c.hello(schema.Hello{Game: "cards"})
			msgs, reason := c.expectClose(tt.code, 5*time.Second)
			if tt.want == "" {
				if len(msgs) != 0 || reason != reasonMalformed {
					t.Fatalf("messages %+v, reason %q", msgs, reason)
				}
				waitCloses(t, ts, tt.code)
				return
			}
			if len(msgs) != 1 || msgs[0].kind != fb.ServerBodyError || msgs[0].errCode != uint16(tt.code-CloseErrorBase) {
				t.Fatalf("messages before the close: %+v", msgs)
			}
			if got := msgs[0].errMsg; got != tt.want || !utf8.ValidString(got) || len(got) > 256 {
				t.Fatalf("error message %q (%d bytes), want %q", got, len(got), tt.want)
			}
			if want := schema.ErrorCode(tt.code - CloseErrorBase).String(); reason != want {
				t.Fatalf("close reason %q, want the fixed %q", reason, want)
			}
			waitCloses(t, ts, tt.code)
		})
	}
}

// TestClaimsReachJoin: with an Auth that returns claims (schema/token's),
// the token's payload reaches the Joiner; with a plain Authenticator, or
// none, there are none.
func TestClaimsReachJoin(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	auth := token.NewAuth(secret)
	tok, err := auth.Mint(77, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		auth   Authenticator
		claims bool
	}{
		{"token auth", auth, true},
		{"plain authenticator", AuthenticatorFunc(func(string) (uint32, error) { return 77, nil }), false},
		{"guests", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &gameJoiner{gs: loadCards(t)}
			ts := startGame(t, j, func(c *Config) { c.Auth = tt.auth })
			joinGame(t, ts, schema.Hello{Token: tok})
			got := j.claimsOf(0)
			if !tt.claims {
				if got != nil {
					t.Fatalf("claims %q, want none", got)
				}
				return
			}
			var claims struct {
				Sub string `json:"sub"`
				Exp int64  `json:"exp"`
			}
			if err := json.Unmarshal(got, &claims); err != nil || claims.Sub != "77" || claims.Exp == 0 {
				t.Fatalf("claims %q (%v)", got, err)
			}
		})
	}
}

// ---- welcome, overflow --------------------------------------------------

// TestOverflow: a room that closes a client for its overflowing server
// events gets a slow-consumer close, counted once.
func TestOverflow(t *testing.T) {
	j := &gameJoiner{gs: loadCards(t)}
	ts := startGame(t, j, nil)
	c, _ := joinGame(t, ts, schema.Hello{})
	o, ok := j.seat(0).conn.(interface{ Overflow() })
	if !ok {
		t.Fatal("the session has no Overflow method")
	}
	o.Overflow()
	o.Overflow()
	if _, reason := c.expectClose(CloseSlowConsumer, 5*time.Second); reason != reasonSlowConsumer {
		t.Fatalf("close reason %q", reason)
	}
	if st := waitCloses(t, ts, CloseSlowConsumer); st.SlowConsumers != 1 {
		t.Fatalf("slow consumers %d, want 1", st.SlowConsumers)
	}
}

// ---- the read path allocates nothing ------------------------------------

type nopSeat struct{ gs *game.GameSchema }

func (s nopSeat) Welcome() schema.Welcome  { return schema.Welcome{} }
func (s nopSeat) Input(*schema.Input) bool { return true }
func (s nopSeat) Event(*schema.Event) bool { return true }
func (s nopSeat) Schema() *game.GameSchema { return s.gs }
func (s nopSeat) Disconnect()              {}
func (s nopSeat) Leave()                   {}

// TestGameBytesAllocateNothing: verifying a valid input's data and a valid
// event, the event budget and the hand-over allocate nothing.
func TestGameBytesAllocateNothing(t *testing.T) {
	gs := loadCards(t)
	cfg := DefaultConfig()
	cfg.MaxEventRate, cfg.MaxEventBurst = 1_000_000, 1_000_000
	s := &session{srv: &Server{cfg: cfg}, game: gs, seat: nopSeat{gs}, log: zerolog.Nop(), state: stateJoined}
	in := schema.Input{Seq: 1, Data: cardsInput(gs.Schema, 3, true)}
	ev := schema.Event{Seq: 1, Data: someEvent(gs.Schema, 2)}
	allocs := testing.AllocsPerRun(200, func() {
		if !s.inputDataOK(&in) {
			t.Fatal("valid input refused")
		}
		s.event(&ev)
	})
	if allocs != 0 || s.closing.Load() {
		t.Fatalf("%.1f allocations per input and event (closing %v)", allocs, s.closing.Load())
	}
}

// BenchmarkGameBytes: the read path's cost for one Input with data and one
// event of the cards game: verification, the event budget, the hand-over.
func BenchmarkGameBytes(b *testing.B) {
	gs := loadCards(b)
	cfg := DefaultConfig()
	cfg.MaxEventRate, cfg.MaxEventBurst = 1_000_000, 1_000_000
	s := &session{srv: &Server{cfg: cfg}, game: gs, seat: nopSeat{gs}, log: zerolog.Nop(), state: stateJoined}
	in := schema.Input{Seq: 1, Data: cardsInput(gs.Schema, 3, true)}
	ev := schema.Event{Seq: 1, Data: someEvent(gs.Schema, 2)}
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Data) + len(ev.Data)))
	for b.Loop() {
		if !s.inputDataOK(&in) {
			b.Fatal("valid input refused")
		}
		s.event(&ev)
	}
	if s.closing.Load() {
		b.Fatal("closed")
	}
}
