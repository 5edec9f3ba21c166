package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

func TestSessionFlow(t *testing.T) {
	ts := startServer(t, nil)
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{Name: "ann"})
	w := c.mustNext(fb.ServerBodyWelcome)
	if w.welcome.PlayerID != 1 || w.welcome.NodeID != "n1" || w.welcome.MatchID != "m1" {
		t.Fatalf("welcome %+v", w.welcome)
	}
	seat := ts.joiner.seat(0)

	want := arena.Input{MoveX: 50, MoveY: -100, Aim: 7}
	c.send(c.enc.Input(&schema.Input{Seq: 1, Data: arena.AppendInput(nil, want)}))
	select {
	case in := <-seat.inputs:
		if in.Seq != 1 || arena.ReadInput(in.Data) != want {
			t.Fatalf("input %+v (%+v)", in, arena.ReadInput(in.Data))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no input reached the seat")
	}

	c.send(c.enc.Ping(12345))
	if p := c.mustNext(fb.ServerBodyPong); p.clientTs != 12345 {
		t.Fatalf("pong client time %d", p.clientTs)
	}

	seat.conn.SendSnapshot(snapshotBytes(42, 3))
	if s := c.mustNext(fb.ServerBodySnapshot); s.tick != 42 {
		t.Fatalf("snapshot tick %d", s.tick)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if st := ts.Stats(); st.Sessions != 1 || st.SnapshotsOut != 1 || st.ControlOut != 2 || st.MessagesIn != 3 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
}

// TestCloseCodes drives every close code of the table with a raw client.
func TestCloseCodes(t *testing.T) {
	joined := func(t *testing.T, c *wsClient) {
		t.Helper()
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
	}
	badInput := func() []byte {
		// move_x 120: well formed, out of the arena's range (-100..100).
		data := arena.AppendInput(nil, arena.Input{MoveX: 120})
		return append([]byte(nil), schema.NewEncoder(64).Input(&schema.Input{Seq: 1, Data: data})...)
	}
	tests := []struct {
		name   string
		mod    func(*Config)
		join   func(context.Context, game.JoinRequest) (game.Seat, error)
		drive  func(t *testing.T, ts *testServer, c *wsClient)
		code   CloseCode
		before []fb.ServerBody // messages expected before the close
		errNo  uint16          // Error code expected, if any
	}{
		{name: "text frame", code: CloseUnsupportedData, drive: func(t *testing.T, _ *testServer, c *wsClient) {
			_ = c.writeFrame(0x1, []byte("hello"))
		}},
		{name: "garbage", code: CloseInvalidPayload, drive: func(t *testing.T, _ *testServer, c *wsClient) {
			c.send([]byte("this is not a flatbuffer at all"))
		}},
		{name: "value out of range", code: CloseInvalidPayload, before: []fb.ServerBody{fb.ServerBodyWelcome},
			drive: func(t *testing.T, _ *testServer, c *wsClient) {
				c.hello(schema.Hello{})
				c.send(badInput())
			}},
		{name: "no hello in time", code: ClosePolicy, mod: func(c *Config) { c.HelloTimeout = 200 * time.Millisecond },
			drive: func(t *testing.T, _ *testServer, c *wsClient) {}},
		{name: "input before hello", code: ClosePolicy, drive: func(t *testing.T, _ *testServer, c *wsClient) {
			c.send(c.enc.Input(&schema.Input{Seq: 1}))
		}},
		{name: "ping before hello", code: ClosePolicy, drive: func(t *testing.T, _ *testServer, c *wsClient) {
			c.send(c.enc.Ping(1))
		}},
		{name: "second hello", code: ClosePolicy, before: []fb.ServerBody{fb.ServerBodyWelcome},
			drive: func(t *testing.T, _ *testServer, c *wsClient) {
				c.hello(schema.Hello{})
				c.hello(schema.Hello{})
			}},
		{name: "too big", code: CloseTooBig, drive: func(t *testing.T, _ *testServer, c *wsClient) {
			_ = c.writeFrame(0x2, make([]byte, 4097))
		}},
		{name: "too big after hello", code: CloseTooBig,
			drive: func(t *testing.T, _ *testServer, c *wsClient) {
				joined(t, c)
				_ = c.writeFrame(0x2, make([]byte, 64<<10))
			}},
		{name: "leave", code: CloseNormal, before: []fb.ServerBody{fb.ServerBodyWelcome},
			drive: func(t *testing.T, ts *testServer, c *wsClient) {
				c.hello(schema.Hello{})
				c.send(c.enc.Leave())
			}},
		{name: "unauthorized", code: 4002, errNo: 2, before: []fb.ServerBody{fb.ServerBodyError},
			mod: func(c *Config) {
				c.Auth = AuthenticatorFunc(func(tok string) (uint32, error) {
					if tok == "good" {
						return 7, nil
					}
					return 0, errors.New("bad token")
				})
			},
			drive: func(t *testing.T, _ *testServer, c *wsClient) { c.hello(schema.Hello{Token: "forged"}) }},
		{name: "match full", code: 4004, errNo: 4, before: []fb.ServerBody{fb.ServerBodyError},
			join: func(context.Context, game.JoinRequest) (game.Seat, error) {
				return nil, &game.JoinError{Code: schema.ErrCodeMatchFull, Message: "match full"}
			},
			drive: func(t *testing.T, _ *testServer, c *wsClient) { c.hello(schema.Hello{MatchID: "m9"}) }},
		{name: "redirect", code: CloseRedirect, before: []fb.ServerBody{fb.ServerBodyRedirect},
			join: func(context.Context, game.JoinRequest) (game.Seat, error) {
				return nil, &game.RedirectError{URL: "ws://n2.example:7350/ws", MatchID: "m2"}
			},
			drive: func(t *testing.T, _ *testServer, c *wsClient) { c.hello(schema.Hello{MatchID: "m2"}) }},
		{name: "join fails", code: 4007, errNo: 7, before: []fb.ServerBody{fb.ServerBodyError},
			join:  func(context.Context, game.JoinRequest) (game.Seat, error) { return nil, errors.New("disk on fire") },
			drive: func(t *testing.T, _ *testServer, c *wsClient) { c.hello(schema.Hello{}) }},
		{name: "kick", code: 4006, errNo: 6, before: []fb.ServerBody{fb.ServerBodyError},
			drive: func(t *testing.T, ts *testServer, c *wsClient) {
				joined(t, c)
				ts.joiner.seat(0).conn.Kick(schema.ErrCodeReplaced, "replaced by a newer connection")
			}},
		{name: "panic in join", code: CloseInternal,
			join:  func(context.Context, game.JoinRequest) (game.Seat, error) { panic("game bug") },
			drive: func(t *testing.T, _ *testServer, c *wsClient) { c.hello(schema.Hello{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.mod)
			ts.joiner.join = tt.join
			c := mustDial(t, ts.addr)
			tt.drive(t, ts, c)
			msgs, reason := c.expectClose(tt.code, 5*time.Second)
			if reason == "" {
				t.Errorf("close %d without a reason", tt.code)
			}
			if len(msgs) < len(tt.before) {
				t.Fatalf("got %d messages before the close, want %v", len(msgs), tt.before)
			}
			msgs = msgs[len(msgs)-len(tt.before):] // welcome may precede
			for i, k := range tt.before {
				if msgs[i].kind != k {
					t.Fatalf("message %d before close: %v, want %v", i, fb.EnumNamesServerBody[msgs[i].kind], fb.EnumNamesServerBody[k])
				}
				if k == fb.ServerBodyError && msgs[i].errCode != tt.errNo {
					t.Fatalf("error code %d, want %d", msgs[i].errCode, tt.errNo)
				}
				if k == fb.ServerBodyRedirect && (msgs[i].url != "ws://n2.example:7350/ws" || msgs[i].matchID != "m2") {
					t.Fatalf("redirect %+v", msgs[i])
				}
			}
			testutil.CheckFor(t, 5*time.Second, func() error {
				if st := ts.Stats(); st.Sessions != 0 || st.Closes[tt.code] != 1 {
					return fmt.Errorf("sessions %d, closes %v", st.Sessions, st.Closes)
				}
				return nil
			})
			if tt.code == CloseNormal {
				seat := ts.joiner.seat(0)
				if seat.left.Load() != 1 || seat.disconnected.Load() != 0 {
					t.Fatalf("leave: left %d disconnected %d", seat.left.Load(), seat.disconnected.Load())
				}
			}
		})
	}
}

// TestTooBigSeenReliably: the client sees 1009 every time, although its
// oversize payload is still unread when the server closes (a plain close
// would reset the connection and could destroy the close frame).
func TestTooBigSeenReliably(t *testing.T) {
	ts := startServer(t, nil)
	for i := 0; i < 20; i++ {
		c := mustDial(t, ts.addr)
		_ = c.writeFrame(0x2, make([]byte, 200<<10))
		c.expectClose(CloseTooBig, 5*time.Second)
	}
}

func TestAuthenticatedPlayerID(t *testing.T) {
	var got uint32
	ts := startServer(t, func(c *Config) {
		c.Auth = AuthenticatorFunc(func(tok string) (uint32, error) {
			if tok == "good" {
				return 7, nil
			}
			return 0, errors.New("bad token")
		})
	})
	ts.joiner.join = func(_ context.Context, req game.JoinRequest) (game.Seat, error) {
		got = req.PlayerID
		return nil, nil
	}
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{Token: "good"})
	c.mustNext(fb.ServerBodyWelcome)
	if got != 7 {
		t.Fatalf("player id %d, want 7", got)
	}
}

func TestPanicKeepsServing(t *testing.T) {
	ts := startServer(t, nil)
	ts.joiner.join = func(_ context.Context, req game.JoinRequest) (game.Seat, error) {
		if req.Hello.MatchID == "boom" {
			panic("game bug")
		}
		return nil, nil
	}
	for i := 0; i < 3; i++ {
		c := mustDial(t, ts.addr)
		c.hello(schema.Hello{MatchID: "boom"})
		c.expectClose(CloseInternal, 5*time.Second)
	}
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	if p := ts.Stats().Panics; p != 3 {
		t.Fatalf("panics %d, want 3", p)
	}
}

func TestHeartbeat(t *testing.T) {
	mod := func(c *Config) {
		c.PingInterval = 50 * time.Millisecond
		c.PeerTimeout = 300 * time.Millisecond
	}
	t.Run("silent peer closed", func(t *testing.T) {
		ts := startServer(t, mod)
		c := mustDial(t, ts.addr)
		c.hello(schema.Hello{})
		start := time.Now()
		pings := 0
		for {
			f, err := c.readFrame(5 * time.Second) // never answers pings
			if err != nil {
				t.Fatalf("want a close frame: %v", err)
			}
			if f.op == 0x9 {
				pings++
			}
			if f.op == 0x8 {
				code, reason := parseClose(f.payload)
				if code != uint16(CloseGoingAway) || reason != reasonHeartbeat {
					t.Fatalf("close %d %q", code, reason)
				}
				break
			}
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Fatalf("closed after %v, want about 300ms", d)
		}
		if pings < 2 {
			t.Fatalf("%d pings before the close", pings)
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			if d := ts.joiner.seat(0).disconnected.Load(); d != 1 {
				return fmt.Errorf("seat disconnected %d times", d)
			}
			return nil
		})
	})
	t.Run("peer answering pings stays", func(t *testing.T) {
		ts := startServer(t, mod)
		c := mustDial(t, ts.addr)
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
		// next answers pings; nothing else arrives for 4 peer timeouts.
		if _, err := c.next(1200 * time.Millisecond); !isTimeout(err) {
			t.Fatalf("want a read timeout (still open), got %v", err)
		}
		if ts.Stats().Sessions != 1 {
			t.Fatal("session gone")
		}
	})
}

func TestConnectionLossDisconnectsSeat(t *testing.T) {
	ts := startServer(t, nil)
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	c.conn.Close()
	testutil.CheckFor(t, 5*time.Second, func() error {
		seat := ts.joiner.seat(0)
		if seat.disconnected.Load() != 1 || seat.left.Load() != 0 {
			return fmt.Errorf("disconnected %d left %d", seat.disconnected.Load(), seat.left.Load())
		}
		if n := ts.Stats().Sessions; n != 0 {
			return fmt.Errorf("%d sessions", n)
		}
		return nil
	})
	// Snapshots to a gone session are ignored.
	ts.joiner.seat(0).conn.SendSnapshot(snapshotBytes(1, 1))
}

func TestOriginRefused(t *testing.T) {
	tests := []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no origin", nil, "", true},
		{"localhost any port", nil, "http://localhost:5173", true},
		{"127.0.0.1", nil, "http://127.0.0.1:9", true},
		{"ipv6 loopback", nil, "http://[::1]:8080", true},
		{"same host", nil, "http://SELF", true},
		{"other site", nil, "https://evil.example", false},
		{"null", nil, "null", false},
		{"listed", []string{"https://game.example.com"}, "https://game.example.com", true},
		{"listed, default port", []string{"https://game.example.com:443"}, "https://game.example.com", true},
		{"listed, other scheme", []string{"https://game.example.com"}, "http://game.example.com", false},
		{"host entry", []string{"game.example.com"}, "http://game.example.com:8080", true},
		{"wildcard", []string{"*.example.com"}, "https://a.b.example.com", true},
		{"wildcard, bare", []string{"*.example.com"}, "https://example.com", false},
		{"list drops loopback default", []string{"game.example.com"}, "http://localhost:1", false},
		{"list keeps same host", []string{"game.example.com"}, "http://SELF", true},
		{"star", []string{"*"}, "https://anything.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) { c.AllowedOrigins = tt.allowed })
			origin := strings.Replace(tt.origin, "SELF", ts.addr, 1)
			c, resp, err := dialWS(t, ts.addr, dialOpts{origin: origin})
			if err != nil {
				t.Fatal(err)
			}
			if tt.ok {
				if c == nil {
					t.Fatalf("refused with %d", resp.StatusCode)
				}
				return
			}
			if c != nil {
				t.Fatal("upgraded")
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "origin not allowed") {
				t.Fatalf("status %d body %q", resp.StatusCode, body)
			}
		})
	}
}

func TestBadUpgrades(t *testing.T) {
	ts := startServer(t, nil)
	get := func(method string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+ts.addr+"/ws", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ws := map[string]string{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range ws {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name   string
		method string
		hdr    map[string]string
		status int
	}{
		{"plain GET", "GET", nil, 400},
		{"POST", "POST", ws, 405},
		{"no upgrade header", "GET", with("Upgrade", ""), 400},
		{"no key", "GET", with("Sec-WebSocket-Key", ""), 400},
		{"short key", "GET", with("Sec-WebSocket-Key", "abc"), 400},
		{"old version", "GET", with("Sec-WebSocket-Version", "8"), 426},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := get(tt.method, tt.hdr); status != tt.status || body == "" {
				t.Fatalf("status %d body %q, want %d", status, body, tt.status)
			}
		})
	}
	t.Run("frames before the handshake response", func(t *testing.T) {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n\x82\x80abcd"
		_, _ = conn.Write([]byte(req))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		if !strings.HasPrefix(string(b), "HTTP/1.1 400") {
			t.Fatalf("got %q", b)
		}
	})
	t.Run("garbage request line", func(t *testing.T) {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("\x16\x03\x01 garbage\r\n\r\n"))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(conn)
		if !strings.HasPrefix(string(b), "HTTP/1.1 400") {
			t.Fatalf("got %q", b)
		}
	})
	// The server is still fine.
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
}

func TestShutdownClosesSessions(t *testing.T) {
	ts := startServer(t, nil)
	var clients []*wsClient
	for i := 0; i < 3; i++ {
		c := mustDial(t, ts.addr)
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
		clients = append(clients, c)
	}
	waiting := mustDial(t, ts.addr) // no Hello yet
	// The client has its 101 before the server registers the session; a
	// Shutdown in between refuses it (upgrades_total{result=shutting_down})
	// instead of closing a session, so wait for the registration.
	testutil.CheckFor(t, 5*time.Second, func() error {
		if n := ts.Stats().Sessions; n != 4 {
			return fmt.Errorf("%d sessions registered, want 4", n)
		}
		return nil
	})
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	for _, c := range append(clients, waiting) {
		c.expectClose(CloseGoingAway, 5*time.Second)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := ts.Stats(); st.Sessions != 0 || st.Closes[CloseGoingAway] != 4 {
		t.Fatalf("stats %+v", st)
	}
	for i := 0; i < 3; i++ {
		if ts.joiner.seat(i).disconnected.Load() != 1 {
			t.Fatalf("seat %d not disconnected", i)
		}
	}
	_, resp, err := dialWS(t, ts.addr, dialOpts{})
	if err != nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v", resp, err)
	}
}

func TestShutdownDeadlineCutsStuckSockets(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.CloseLinger = 5 * time.Second })
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	// The client never answers the close: the socket would linger 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if n := ts.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions", n)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Joiner = &fakeJoiner{}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no joiner", func(c *Config) { c.Joiner = nil }, "joiner"},
		{"tiny limit", func(c *Config) { c.MaxMessageSize = 10 }, "max message size 10: must be 64.."},
		{"peer timeout", func(c *Config) { c.PeerTimeout = c.PingInterval }, "peer timeout"},
		{"zero hello", func(c *Config) { c.HelloTimeout = 0 }, "hello timeout"},
		{"origin", func(c *Config) { c.AllowedOrigins = []string{"https://a.com/path"} }, "allowed origin"},
		{"send buffer", func(c *Config) { c.SendBufferBytes = 10 }, "send buffer"},
		{"event rate", func(c *Config) { c.MaxEventRate = -1 }, "max event rate -1: must be 0 (no limit) or 1..1000000"},
		{"event burst", func(c *Config) { c.MaxEventBurst = 0 }, "max event burst 0: must be 1..1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
	// No event limit: the burst does not matter.
	c := ok
	c.MaxEventRate, c.MaxEventBurst = 0, 0
	if err := c.Validate(); err != nil {
		t.Fatalf("no event limit: %v", err)
	}
}

func TestParseOrigins(t *testing.T) {
	if l, err := ParseOrigins(""); err != nil || l != nil {
		t.Fatal(l, err)
	}
	l, err := ParseOrigins(" https://a.example , b.example:8080,*.c.example ")
	if err != nil || len(l) != 3 || l[0] != "https://a.example" {
		t.Fatal(l, err)
	}
	for _, bad := range []string{"a,,b", "https://", "*.x/y", "a b"} {
		if _, err := ParseOrigins(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
