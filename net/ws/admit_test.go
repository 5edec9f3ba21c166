package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// dialFrom opens a WebSocket to addr from the loopback address src
// (127.0.0.x: Linux routes all of 127/8 to lo), so that tests can play
// several source addresses.
func dialFrom(t testing.TB, addr, src string) (*wsClient, *http.Response, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	return dialWS(t, addr, dialOpts{conn: conn})
}

// refusedWith checks an HTTP refusal of the upgrade.
func refusedWith(t *testing.T, resp *http.Response, status int, body, retry string) {
	t.Helper()
	if resp == nil {
		t.Fatalf("upgraded, want HTTP %d", status)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || strings.TrimSpace(string(b)) != body || resp.Header.Get("Retry-After") != retry {
		t.Fatalf("refused with %d %q Retry-After %q, want %d %q %q", resp.StatusCode, b, resp.Header.Get("Retry-After"), status, body, retry)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q, want text/plain", ct)
	}
}

// TestConnsPerIP: one address holds at most MaxConnsPerIP connections; one
// more is refused with 503 before the upgrade while another address is
// not; a closed session gives its slot back.
func TestConnsPerIP(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxConnsPerIP = 3
		c.CloseLinger = 50 * time.Millisecond
	})
	var open []*wsClient
	for range 3 {
		c, resp, err := dialFrom(t, ts.addr, "127.0.0.1")
		if err != nil || c == nil {
			t.Fatalf("dial: %v %v", resp, err)
		}
		open = append(open, c)
	}
	for range 2 {
		c, resp, err := dialFrom(t, ts.addr, "127.0.0.1")
		if err != nil || c != nil {
			t.Fatalf("4th connection from one address: %v %v, want HTTP 503", c, err)
		}
		refusedWith(t, resp, http.StatusServiceUnavailable, bodyTooManyConns, "5")
	}
	if c, resp, err := dialFrom(t, ts.addr, "127.0.0.2"); err != nil || c == nil {
		t.Fatalf("another address refused: %v %v", resp, err)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if st := ts.Stats(); st.RefusedConnsPerIP != 2 || st.UpgradesRefused != 2 || st.Sessions != 4 {
			return fmt.Errorf("stats %+v, want 2 refused by conns_per_ip, 4 sessions", st)
		}
		return nil
	})
	// The open sessions are undisturbed by the refusals.
	for _, c := range open {
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
	}
	// A session that ends frees its slot.
	_ = open[1].conn.Close()
	testutil.CheckFor(t, 5*time.Second, func() error {
		c, resp, err := dialFrom(t, ts.addr, "127.0.0.1")
		if err != nil || c == nil {
			return fmt.Errorf("after a close: %v %v", resp, err)
		}
		return nil
	})
}

// TestUpgradesPerIP: one address may upgrade MaxUpgradesPerIP times a
// second (bursts of twice that); past it, 429 before the upgrade.
func TestUpgradesPerIP(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxUpgradesPerIP = 5 })
	for i := range 10 {
		if c, resp, err := dialFrom(t, ts.addr, "127.0.0.1"); err != nil || c == nil {
			t.Fatalf("upgrade %d of a burst of 10: %v %v", i+1, resp, err)
		}
	}
	c, resp, err := dialFrom(t, ts.addr, "127.0.0.1")
	if err != nil || c != nil {
		t.Fatalf("11th upgrade at once: %v %v, want HTTP 429", c, err)
	}
	refusedWith(t, resp, http.StatusTooManyRequests, bodyTooManyUpgrades, "1")
	if c, resp, err := dialFrom(t, ts.addr, "127.0.0.2"); err != nil || c == nil {
		t.Fatalf("another address refused: %v %v", resp, err)
	}
	if st := ts.Stats(); st.RefusedUpgradesPerIP != 1 {
		t.Fatalf("stats %+v, want 1 refused by upgrades_per_ip", st)
	}
	// A token comes back every 200 ms.
	testutil.CheckFor(t, 5*time.Second, func() error {
		c, resp, err := dialFrom(t, ts.addr, "127.0.0.1")
		if err != nil || c == nil {
			return fmt.Errorf("later: %v %v", resp, err)
		}
		return nil
	})
}

// TestMessageRateLimit: a session sending faster than MaxMessageRate is
// closed with Error rate limited and 4012; a neighbour at one message per
// tick (30 Hz) is not.
func TestMessageRateLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageRate = MessageRateFor(30) })
	calm := mustDial(t, ts.addr)
	calm.hello(schema.Hello{})
	calm.mustNext(fb.ServerBodyWelcome)
	flood := mustDial(t, ts.addr)
	flood.hello(schema.Hello{})
	flood.mustNext(fb.ServerBodyWelcome)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		in := schema.Input{}
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			in.Seq = uint32(i + 1)
			if flood.writeFrame(0x2, flood.enc.Input(&in)) != nil {
				return
			}
		}
	})
	msgs, reason := flood.expectClose(CloseRateLimited, 10*time.Second)
	close(done)
	wg.Wait()
	if reason != "rate limited" {
		t.Fatalf("close reason %q, want %q", reason, "rate limited")
	}
	if last := msgs[len(msgs)-1]; last.kind != fb.ServerBodyError || last.errCode != uint16(schema.ErrCodeRateLimited) || last.errMsg != "rate limited" {
		t.Fatalf("last message before the close: %+v", last)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if st := ts.Stats(); st.RateLimited != 1 || st.Closes[CloseRateLimited] != 1 {
			return fmt.Errorf("stats %+v, want 1 rate-limited close", st)
		}
		return nil
	})
	// The calm neighbour, 30 messages a second for 2 s, stays.
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for i := range 60 {
		<-tick.C
		calm.send(calm.enc.Ping(uint64(i)))
	}
	calm.send(calm.enc.Ping(999))
	for {
		m, err := calm.next(5 * time.Second)
		if err != nil {
			t.Fatalf("calm neighbour: %v", err)
		}
		if m.kind == fb.ServerBodyPong && m.clientTs == 999 {
			break
		}
	}
	if st := ts.Stats(); st.RateLimited != 1 {
		t.Fatalf("%d rate-limited sessions, want the flooder's only", st.RateLimited)
	}
}

// TestMessageRateFollowsTickRate: a session's message budget is never below
// what its match's tick rate needs (MessageRateFor), whatever
// MaxMessageRate says: a burst of 300 messages in a 100 Hz match (budget
// 410 a second) passes with MaxMessageRate 20.
func TestMessageRateFollowsTickRate(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageRate = 20 })
	ts.joiner.join = func(_ context.Context, req game.JoinRequest) (game.Seat, error) {
		return &fakeSeat{conn: req.Conn, inputs: make(chan schema.Input, 1024),
			welcome: schema.Welcome{SessionID: "s", PlayerID: 1, TickRate: 100, MatchID: "m1"}}, nil
	}
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	for i := range 300 {
		c.send(c.enc.Ping(uint64(i)))
	}
	// Pongs give way in a full control queue: ask again until one of the
	// late pings is answered (a closed session would answer with 4012).
	deadline := time.Now().Add(5 * time.Second)
	for k := uint64(1000); ; k++ {
		c.send(c.enc.Ping(k))
		m, err := c.next(time.Second)
		for err == nil && !(m.kind == fb.ServerBodyPong && m.clientTs >= 1000) {
			m, err = c.next(time.Second)
		}
		if err == nil {
			break
		}
		var ce *closeErr
		if errors.As(err, &ce) || time.Now().After(deadline) {
			t.Fatalf("after 300 messages: %v", err)
		}
	}
	if n := ts.Stats().RateLimited; n != 0 {
		t.Fatalf("%d sessions rate limited, want 0", n)
	}
}

// TestJoinTimeoutAnswersUnavailable: a Join that runs out of JoinTimeout
// (here after the Hello deadline has passed, so the read deadline has
// fired too) answers Error unavailable and close 4007 "unavailable", not
// gws's close 1000 with the read error's text.
func TestJoinTimeoutAnswersUnavailable(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.HelloTimeout = 200 * time.Millisecond
		c.JoinTimeout = 400 * time.Millisecond
	})
	ts.joiner.join = func(ctx context.Context, _ game.JoinRequest) (game.Seat, error) {
		<-ctx.Done() // a node too busy to seat anyone in time
		return nil, ctx.Err()
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		c := mustDial(t, ts.addr)
		wg.Go(func() {
			c.hello(schema.Hello{})
			var last serverMsg
			for {
				m, err := c.next(5 * time.Second)
				var ce *closeErr
				if errors.As(err, &ce) {
					if ce.code != uint16(CloseCodeFor(schema.ErrCodeUnavailable)) || ce.reason != "unavailable" {
						errs <- fmt.Errorf("closed with %d %q, want 4007 %q", ce.code, ce.reason, "unavailable")
					} else if last.kind != fb.ServerBodyError || last.errCode != uint16(schema.ErrCodeUnavailable) || last.errMsg != "unavailable" {
						errs <- fmt.Errorf("before the close: %+v, want Error unavailable", last)
					}
					return
				}
				if err != nil {
					errs <- err
					return
				}
				last = m
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if got := ts.Stats().Closes[CloseCodeFor(schema.ErrCodeUnavailable)]; got != n {
			return fmt.Errorf("%d closes with 4007 counted, want %d", got, n)
		}
		return nil
	})
}

// TestNoInternalTextReachesClients: whatever a Joiner or a Kick says, the
// client gets the error table's fixed text in the Error and in the close
// reason: no address, no Go error string.
func TestNoInternalTextReachesClients(t *testing.T) {
	const leak = "dial tcp 10.1.2.3:7351: connect: connection refused"
	ts := startServer(t, nil)
	cases := []struct {
		name string
		err  error
		code schema.ErrorCode
	}{
		{"join error", &game.JoinError{Code: schema.ErrCodeUnavailable, Message: "cannot create a match now: " + leak}, schema.ErrCodeUnavailable},
		{"match full", &game.JoinError{Code: schema.ErrCodeMatchFull, Message: "match 3f2a is full (8 seats)"}, schema.ErrCodeMatchFull},
		{"plain error", errors.New("locate: " + leak), schema.ErrCodeUnavailable},
		{"kick", nil, schema.ErrCodeReplaced},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ts.joiner.join = func(_ context.Context, req game.JoinRequest) (game.Seat, error) {
				if tt.err == nil {
					req.Conn.Kick(tt.code, "replaced: "+leak)
					return nil, nil // the default seat
				}
				return nil, tt.err
			}
			c := mustDial(t, ts.addr)
			c.hello(schema.Hello{})
			msgs, reason := c.expectClose(CloseCodeFor(tt.code), 5*time.Second)
			want := tt.code.String()
			var errMsg string
			for _, m := range msgs {
				if m.kind == fb.ServerBodyError {
					errMsg = m.errMsg
				}
			}
			if reason != want || errMsg != want {
				t.Fatalf("Error %q, close reason %q; want both %q", errMsg, reason, want)
			}
		})
	}
}

// TestReadErrorTextIsFixed: when gws closes a session because a read
// failed, its close frame carries a fixed reason, not the error's text.
func TestReadErrorTextIsFixed(t *testing.T) {
	ts := startServer(t, nil)
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	// Half-close: the server reads EOF and answers with gws's close frame.
	if err := c.conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := c.next(5 * time.Second)
		var ce *closeErr
		if errors.As(err, &ce) {
			if ce.reason != reasonConnLost {
				t.Fatalf("close %d %q, want the reason %q", ce.code, ce.reason, reasonConnLost)
			}
			return
		}
		if err != nil {
			t.Fatalf("want a close frame: %v", err)
		}
	}
}
