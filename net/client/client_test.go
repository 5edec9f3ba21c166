package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// recorder is a Handler that keeps what it saw, for assertions from the
// test goroutine.
type recorder struct {
	mu          sync.Mutex
	welcomes    []schema.Welcome
	resumed     []bool
	snapshots   int
	baselines   []uint32 // of every snapshot, in order
	welcomeAt   []int    // len(baselines) at each Welcome
	lastTick    uint32
	world       *World // a copy of the newest world
	errs        []error
	disconnects []error
	reconnect   []bool
	resumes     []time.Duration
	pongs       []time.Duration
}

func newRecorder() *recorder { return &recorder{} }

func (r *recorder) OnWelcome(_ *Client, w *schema.Welcome, resumed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.welcomes = append(r.welcomes, *w)
	r.welcomeAt = append(r.welcomeAt, len(r.baselines))
	r.resumed = append(r.resumed, resumed)
}

func (r *recorder) OnSnapshot(_ *Client, s *schema.Snapshot, w *World) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshots++
	r.baselines = append(r.baselines, s.BaselineTick)
	r.lastTick = s.Tick
	if r.world == nil {
		r.world = gamedelta.NewWorld(w.Codec())
	}
	r.world.CopyFrom(w)
}

func (r *recorder) OnResumed(_ *Client, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resumes = append(r.resumes, d)
}

func (r *recorder) OnPong(_ *Client, rtt time.Duration, _ uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pongs = append(r.pongs, rtt)
}

func (r *recorder) OnError(_ *Client, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *recorder) OnDisconnect(_ *Client, err error, reconnecting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconnects = append(r.disconnects, err)
	r.reconnect = append(r.reconnect, reconnecting)
}

// score returns the score of the player entity id in the newest world
// (the sum of its inputs' hover), and whether the world holds the entity.
func (r *recorder) score(t testing.TB, id uint32) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.world == nil {
		return 0, false
	}
	i := r.world.Find(id)
	if i < 0 {
		return 0, false
	}
	return r.world.Int(i, scoreField(t)), true
}

// owner returns the owner of the entity id in the newest world.
func (r *recorder) owner(id uint32) (uint32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.world == nil || r.world.Find(id) < 0 {
		return 0, false
	}
	return r.world.Owner(r.world.Find(id)), true
}

func (r *recorder) count(f func(r *recorder) int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return f(r)
}

// testConfig is a client of the fake server's game (the cards test game,
// its schema given: no fetch) on urls.
func testConfig(urls ...string) Config {
	g := loadTestGame(nil)
	cfg := DefaultConfig()
	cfg.URLs = urls
	cfg.Game = "cards"
	cfg.Schema, cfg.Codec = g.schema, g.codec
	cfg.DialTimeout = 2 * time.Second
	cfg.BackoffMin = 10 * time.Millisecond
	cfg.BackoffMax = 100 * time.Millisecond
	cfg.ReconnectTimeout = 5 * time.Second
	// The fake server ticks only when a test asks it to: silence is not a
	// stall here. The stall tests turn the watch on.
	cfg.StallTimeout = 0
	return cfg
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConfigValidate(t *testing.T) {
	ok := testConfig("ws://127.0.0.1:1/ws")
	tests := []struct {
		name string
		mod  func(c *Config)
		want bool
	}{
		{"default with url", func(*Config) {}, true},
		{"no urls", func(c *Config) { c.URLs = nil }, false},
		{"http url", func(c *Config) { c.URLs = []string{"http://x/ws"} }, false},
		{"no host", func(c *Config) { c.URLs = []string{"ws:///ws"} }, false},
		{"wss ok", func(c *Config) { c.URLs = []string{"wss://a:1/ws", "ws://b/ws"} }, true},
		{"zero dial timeout", func(c *Config) { c.DialTimeout = 0 }, false},
		{"backoff max < min", func(c *Config) { c.BackoffMax = c.BackoffMin / 2 }, false},
		{"backoff ignored without reconnect", func(c *Config) { c.Reconnect = false; c.BackoffMin = 0 }, true},
		{"long name", func(c *Config) { c.Name = string(make([]byte, 33)) }, false},
		{"redirects", func(c *Config) { c.MaxRedirects = 17 }, false},
		{"stall watch off", func(c *Config) { c.StallTimeout = 0 }, true},
		{"stall at the floor", func(c *Config) { c.StallTimeout = MinStallTimeout }, true},
		{"stall below the floor", func(c *Config) { c.StallTimeout = MinStallTimeout - time.Millisecond }, false},
		{"negative stall", func(c *Config) { c.StallTimeout = -time.Second }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if (err == nil) != tt.want {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.want)
			}
		})
	}
}

func TestDialInputsSnapshots(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	rec := newRecorder()
	cfg := testConfig(fs.url)
	cfg.Name = "alice"
	cfg.Handler = rec
	c := dial(t, cfg)

	w := c.Welcome()
	if w.PlayerID != 1 || w.EntityID != 101 || w.NodeID != "n1" || w.ResumeToken == "" {
		t.Fatalf("welcome = %+v", w)
	}
	if h := fs.helloList(); len(h) != 1 || h[0].Name != "alice" || h[0].ResumeToken != "" {
		t.Fatalf("hellos = %+v", h)
	}
	in := schema.Input{Data: fs.game.inputData(t, 7)}
	if err := c.SendInput(in); err != nil {
		t.Fatal(err)
	}
	if err := c.SendInput(in); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool {
		st, ok := fs.seatOf(1)
		return ok && st.lastSeq == 2
	})
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.LastInputSeq() == 2 })
	score, ok := rec.score(t, 101)
	if owner, _ := rec.owner(101); !ok || score != 14 || owner != 1 {
		t.Fatalf("own entity: score %d owner %d, %v; want 14 (two inputs of 7), player 1", score, owner, ok)
	}
	if _, ok := rec.owner(1); !ok {
		t.Fatal("the board (entity 1) is missing")
	}
	fs.Tick()
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 3 })
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.SnapshotsFull != 3 || st.Inputs != 3 || st.TickGaps != 0 || st.MessagesIn != 4 || st.BytesOut == 0 || st.BytesIn == 0 {
		t.Fatalf("stats = %+v", st)
	}
	if c.InputSeq() != 3 {
		t.Fatalf("input seq %d", c.InputSeq())
	}
	if err := c.Ping(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { return rec.count(func(r *recorder) int { return len(r.pongs) }) == 1 })
}

func TestTickGaps(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	c := dial(t, testConfig(fs.url))
	fs.Tick()
	fs.tick += 4 // four snapshots "dropped"
	fs.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 6 })
	if g := c.Stats().TickGaps; g != 4 {
		t.Fatalf("tick gaps %d, want 4", g)
	}
}

func TestCloseSends1000AndStops(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	c := dial(t, testConfig(fs.url))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err() = %v", c.Err())
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { return len(fs.closeCodes()) == 1 })
	if got := fs.closeCodes(); got[0] != 1000 {
		t.Fatalf("server saw close %v, want 1000", got)
	}
	if err := c.SendInput(schema.Input{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendInput after Close = %v", err)
	}
	_ = c.Close() // idempotent
}

func TestLeave(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	c := dial(t, testConfig(fs.url))
	if err := c.Leave(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { _, ok := fs.seatOf(1); return !ok })
}

func TestContextCancelStops(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	ctx, cancel := context.WithCancel(context.Background())
	c, err := Dial(ctx, testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("client did not stop on context cancel")
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { c := fs.closeCodes(); return len(c) == 1 && c[0] == 1000 })
}

func TestDialContextCancelledWhileConnecting(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.hook = func(*fakeServer, *fakeSess, *schema.Hello) bool { return true } // never answers
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, testConfig(fs.url))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Dial took %v after its context ended", d)
	}
}

func TestWelcomeTimeout(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.hook = func(*fakeServer, *fakeSess, *schema.Hello) bool { return true } // never answers
	cfg := testConfig(fs.url)
	cfg.DialTimeout = 200 * time.Millisecond
	_, err := Dial(context.Background(), cfg)
	if err == nil {
		t.Fatal("dial succeeded")
	}
}

func TestServerErrorSurfaced(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.hook = func(fs *fakeServer, s *fakeSess, _ *schema.Hello) bool {
		fs.refuse(s, schema.ErrCodeMatchFull, "no seat")
		return true
	}
	_, err := Dial(context.Background(), testConfig(fs.url))
	var se *ServerError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if se.Code != schema.ErrCodeMatchFull || se.CloseCode != 4004 || se.Message != "no seat" {
		t.Fatalf("server error = %+v", se)
	}
}

func TestUnavailableMovesToNextURL(t *testing.T) {
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	a.hook = func(fs *fakeServer, s *fakeSess, _ *schema.Hello) bool {
		fs.refuse(s, schema.ErrCodeUnavailable, "busy")
		return true
	}
	c := dial(t, testConfig(a.url, b.url))
	if n := c.Welcome().NodeID; n != "b" {
		t.Fatalf("node %q", n)
	}
}

func TestDeadURLMovesToNext(t *testing.T) {
	b := newFakeServer(t, "b", false)
	c := dial(t, testConfig("ws://127.0.0.1:1/ws", b.url))
	if n := c.Welcome().NodeID; n != "b" {
		t.Fatalf("node %q", n)
	}
}

func TestHTTPRefusal(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.refuseHTTP = 403
	_, err := Dial(context.Background(), testConfig(fs.url))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("err = %v", err)
	}
}

func TestRedirectFollowed(t *testing.T) {
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	a.hook = func(fs *fakeServer, s *fakeSess, _ *schema.Hello) bool {
		fs.redirect(s, b.url)
		return true
	}
	cfg := testConfig(a.url)
	cfg.Name = "bob"
	c := dial(t, cfg)
	if n := c.Welcome().NodeID; n != "b" {
		t.Fatalf("node %q", n)
	}
	if st := c.Stats(); st.Redirects != 1 || st.Dials != 2 {
		t.Fatalf("stats %+v", st)
	}
	if h := b.helloList(); len(h) != 1 || h[0].Name != "bob" {
		t.Fatalf("hello at b: %+v", h)
	}
}

func TestRedirectLoopBounded(t *testing.T) {
	a := newFakeServer(t, "a", false)
	a.hook = func(fs *fakeServer, s *fakeSess, _ *schema.Hello) bool {
		fs.redirect(s, a.url)
		return true
	}
	cfg := testConfig(a.url)
	cfg.MaxRedirects = 2
	_, err := Dial(context.Background(), cfg)
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("err = %v", err)
	}
	if n := len(a.helloList()); n != 3 {
		t.Fatalf("%d hellos, want 3 (1 + 2 hops)", n)
	}
}

func TestWSS(t *testing.T) {
	fs := newFakeServer(t, "tls", true)
	t.Run("insecure", func(t *testing.T) {
		cfg := testConfig(fs.url)
		cfg.TLSConfig = &tls.Config{InsecureSkipVerify: true}
		c := dial(t, cfg)
		fs.Tick()
		testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() > 0 })
	})
	t.Run("roots", func(t *testing.T) {
		cfg := testConfig(fs.url)
		// The test server's own roots, shared by reference: the client must
		// not write into it (it clones per connection).
		cfg.TLSConfig = fs.hs.Client().Transport.(*http.Transport).TLSClientConfig
		c := dial(t, cfg)
		fs.Tick()
		testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() > 0 })
		if cfg.TLSConfig.ServerName != "" {
			t.Fatal("the shared TLS config was modified")
		}
	})
	t.Run("unverified refused", func(t *testing.T) {
		cfg := testConfig(fs.url)
		_, err := Dial(context.Background(), cfg)
		if err == nil {
			t.Fatal("dial with an unknown self-signed cert succeeded")
		}
	})
}

func TestNoGoroutineLeak(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(10 * time.Millisecond)
	base := runtime.NumGoroutine()
	const n = 20
	clients := make([]*Client, n)
	for i := range clients {
		c, err := Dial(context.Background(), testConfig(fs.url))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	for _, c := range clients {
		testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() > 0 })
	}
	// One goroutine per client, one per server connection.
	if g := runtime.NumGoroutine() - base; g > 2*n+2 {
		t.Fatalf("%d goroutines for %d clients and their server connections", g, n)
	}
	for _, c := range clients {
		_ = c.Close()
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= base })
}
