package client

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// cut closes the client's TCP connection under it, as a network failure
// would: no close frame.
func (c *Client) cut() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != nil {
		_ = c.ws.NetConn().Close()
	}
}

func TestBackoffDelayBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	for n := 0; n < 70; n++ {
		d := hi
		if n < 30 && lo<<n < hi {
			d = lo << n
		}
		for _, r := range []float64{0, 0.5, 0.999999} {
			got := backoffDelay(lo, hi, n, r)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d r=%v: %v outside [%v, %v]", n, r, got, d/2, d)
			}
		}
	}
	if got := backoffDelay(lo, hi, 0, 0); got != 50*time.Millisecond {
		t.Fatalf("first attempt min %v", got)
	}
	if got := backoffDelay(lo, hi, 3, 0.999999); got > 800*time.Millisecond || got < 799*time.Millisecond {
		t.Fatalf("attempt 3 max %v", got)
	}
}

func TestRotate(t *testing.T) {
	urls := []string{"a", "b", "c"}
	for _, tt := range []struct {
		first string
		want  []string
	}{
		{"b", []string{"b", "c", "a"}},
		{"a", []string{"a", "b", "c"}},
		{"x", []string{"x", "a", "b", "c"}},
	} {
		got := rotate(urls, tt.first)
		if len(got) != len(tt.want) {
			t.Fatalf("rotate(%q) = %v", tt.first, got)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("rotate(%q) = %v", tt.first, got)
			}
		}
	}
}

// resumeScenario plays: inputs, a cut, more inputs; the player keeps its
// seat, entity and input seq.
// With deltas, the first snapshot after the resume is a delta against the
// tick the Hello named.
func resumeScenario(t *testing.T, deltas bool, cut func(fs *fakeServer, c *Client)) {
	fs := newFakeServer(t, "n1", false)
	fs.fullOnly = !deltas
	fs.startTicker(5 * time.Millisecond)
	rec := newRecorder()
	cfg := testConfig(fs.url)
	cfg.Handler = rec
	c := dial(t, cfg)
	w0 := c.Welcome()
	in := schema.Input{Data: fs.game.inputData(t, 10)}

	for range 10 {
		if err := c.SendInput(in); err != nil {
			t.Fatal(err)
		}
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool {
		score, ok := rec.score(t, w0.EntityID)
		return c.LastInputSeq() == 10 && ok && score == 100
	})
	tickBefore := c.AckTick()

	cut(fs, c)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 })

	w1 := c.Welcome()
	if w1.PlayerID != w0.PlayerID || w1.EntityID != w0.EntityID {
		t.Fatalf("after resume: %+v, before %+v", w1, w0)
	}
	hellos := fs.helloList()
	if len(hellos) != 2 || hellos[1].ResumeToken != w0.ResumeToken || hellos[1].LastTick < tickBefore || hellos[1].MatchID != "m1" {
		t.Fatalf("hellos %+v (token %q, tick before %d)", hellos, w0.ResumeToken, tickBefore)
	}
	for range 5 {
		if err := c.SendInput(in); err != nil {
			t.Fatal(err)
		}
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool {
		score, ok := rec.score(t, w0.EntityID)
		return c.LastInputSeq() == 15 && ok && score == 150
	})
	if c.InputSeq() != 15 {
		t.Fatalf("input seq %d", c.InputSeq())
	}
	fs.mu.Lock()
	seqErrs := fs.seqErrors
	fs.mu.Unlock()
	if len(seqErrs) > 0 {
		t.Fatalf("server saw seq errors: %v", seqErrs)
	}
	st := c.Stats()
	if st.Reconnects != 1 || st.Drops != 1 || st.Resumes != 1 || st.LastResume <= 0 || st.LastResume > 5*time.Second {
		t.Fatalf("stats %+v", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.resumed) != 2 || rec.resumed[0] || !rec.resumed[1] {
		t.Fatalf("welcomes resumed = %v", rec.resumed)
	}
	if len(rec.disconnects) != 1 || !rec.reconnect[0] || len(rec.resumes) != 1 {
		t.Fatalf("disconnects %v reconnect %v resumes %v", rec.disconnects, rec.reconnect, rec.resumes)
	}
	if first := rec.baselines[rec.welcomeAt[1]]; deltas && first != hellos[1].LastTick {
		t.Fatalf("first snapshot after the resume has baseline %d, want %d (the Hello's last tick)", first, hellos[1].LastTick)
	}
	if st.ApplyErrors != 0 {
		t.Fatalf("%d apply errors", st.ApplyErrors)
	}
	t.Logf("resume took %v (disconnect: %v)", rec.resumes[0], rec.disconnects[0])
}

func TestResumeAfterClientSideCut(t *testing.T) {
	for _, deltas := range []bool{false, true} {
		t.Run(fmt.Sprintf("deltas=%v", deltas), func(t *testing.T) {
			resumeScenario(t, deltas, func(_ *fakeServer, c *Client) { c.cut() })
		})
	}
}

func TestResumeAfterServerSideCut(t *testing.T) {
	resumeScenario(t, true, func(fs *fakeServer, _ *Client) { fs.cutAll() })
}

func TestResumeAfterServerGoingAway(t *testing.T) {
	resumeScenario(t, true, func(fs *fakeServer, _ *Client) {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for s := range fs.sessions {
			_ = s.ws.WriteClose(1001, nil)
		}
	})
}

func TestSendInputWhileDisconnected(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	cfg := testConfig(fs.url)
	cfg.BackoffMin, cfg.BackoffMax = 300*time.Millisecond, 300*time.Millisecond
	c := dial(t, cfg)
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	fs.cutAll()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.Stats().Drops == 1 })
	if err := c.SendInput(schema.Input{}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("SendInput while reconnecting = %v", err)
	}
	testutil.CheckTrue(t, 3*time.Second, func() bool { return c.Stats().Reconnects == 1 })
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	if c.InputSeq() != 2 {
		t.Fatalf("seq %d: an unsent input took a seq", c.InputSeq())
	}
}

func TestResumeRefusedStops(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	rec := newRecorder()
	cfg := testConfig(fs.url)
	cfg.Handler = rec
	c := dial(t, cfg)
	fs.forgetSeats()
	fs.cutAll()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not stop")
	}
	var se *ServerError
	if !errors.As(c.Err(), &se) || se.Code != schema.ErrCodeResumeRefused || se.CloseCode != 4005 {
		t.Fatalf("Err() = %v", c.Err())
	}
	if n := rec.count(func(r *recorder) int { return len(r.errs) }); n != 1 {
		t.Fatalf("OnError calls %d", n)
	}
}

func TestRejoinOnRefused(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	rec := newRecorder()
	cfg := testConfig(fs.url)
	cfg.Handler = rec
	cfg.RejoinOnRefused = true
	c := dial(t, cfg)
	for range 3 {
		_ = c.SendInput(schema.Input{Data: fs.game.inputData(t, 1)})
	}
	fs.forgetSeats()
	fs.cutAll()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Welcome().PlayerID == 2 })
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	if c.InputSeq() != 1 {
		t.Fatalf("seq %d after rejoin, want 1", c.InputSeq())
	}
	if h := fs.helloList(); len(h) != 3 || h[2].ResumeToken != "" {
		t.Fatalf("hellos %+v", h)
	}
	if c.Stats().Reconnects != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
}

func TestReplacedIsNotRetried(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	rec := newRecorder()
	cfg := testConfig(fs.url)
	cfg.Handler = rec
	c := dial(t, cfg)
	fs.mu.Lock()
	for s := range fs.sessions {
		_ = s.ws.WriteMessage(2, fs.enc.Error(schema.ErrCodeReplaced, "replaced"))
		_ = s.ws.WriteClose(4006, nil)
	}
	fs.mu.Unlock()
	<-c.Done()
	var se *ServerError
	if !errors.As(c.Err(), &se) || se.Code != schema.ErrCodeReplaced {
		t.Fatalf("Err() = %v", c.Err())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reconnect) != 1 || rec.reconnect[0] {
		t.Fatalf("OnDisconnect reconnecting = %v", rec.reconnect)
	}
}

func TestNoReconnectWhenDisabled(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	cfg := testConfig(fs.url)
	cfg.Reconnect = false
	c := dial(t, cfg)
	fs.cutAll()
	<-c.Done()
	if c.Err() == nil || errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err() = %v", c.Err())
	}
	if n := len(fs.helloList()); n != 1 {
		t.Fatalf("%d hellos", n)
	}
}

func TestReconnectToOtherNode(t *testing.T) {
	// Node a dies; node b holds the seat (in the real cluster, after a
	// takeover). The client gives up on a and resumes on b.
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	cfg := testConfig(a.url, b.url)
	c := dial(t, cfg)
	w := c.Welcome()
	for range 5 {
		a.Tick()
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 5 })
	b.mu.Lock()
	b.seats[w.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: w.ResumeToken}
	b.mu.Unlock()
	a.close()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Reconnects == 1 })
	if n := c.Welcome().NodeID; n != "b" {
		t.Fatalf("resumed on %q", n)
	}
	if c.Welcome().PlayerID != w.PlayerID {
		t.Fatal("new player id")
	}
	// b's ticks start below a's: the World was reset, so b's tick 1 is
	// taken (not ignored as old) and acked.
	if h := b.helloList(); len(h) != 1 || h[0].LastTick != 5 {
		t.Fatalf("hello at b: %+v", h)
	}
	b.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 1 })
	if err := c.SendInput(schema.Input{}); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 2*time.Second, func() bool { st, _ := b.seatOf(w.PlayerID); return st.lastSeq == 1 })
	b.Tick()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.AckTick() == 2 })
	if st := c.Stats(); st.SnapshotsStale != 0 || st.ApplyErrors != 0 || st.SnapshotsDelta != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRedirectAfterJoin(t *testing.T) {
	// The match moves: the node sends Redirect to a seated client, which
	// resumes at the new owner at once.
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	cfg := testConfig(a.url)
	cfg.BackoffMin, cfg.BackoffMax = time.Second, time.Second // a backoff would show
	c := dial(t, cfg)
	w := c.Welcome()
	b.mu.Lock()
	b.seats[w.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: w.ResumeToken}
	b.mu.Unlock()
	start := time.Now()
	a.mu.Lock()
	for s := range a.sessions {
		_ = s.ws.WriteMessage(2, a.enc.Redirect(b.url, "m1"))
		_ = s.ws.WriteClose(4011, nil)
	}
	a.mu.Unlock()
	testutil.CheckTrue(t, 3*time.Second, func() bool { return c.Stats().Reconnects == 1 })
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("redirect took %v: it waited a backoff", d)
	}
	if c.Welcome().NodeID != "b" || c.Stats().Redirects != 1 {
		t.Fatalf("welcome %+v stats %+v", c.Welcome(), c.Stats())
	}
}

func TestReconnectBackoffAndTimeout(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	cfg := testConfig(fs.url)
	// Long enough that a loaded machine's scheduling delays (a few hundred
	// ms) stay below what an uncapped backoff would add (min·2ⁿ grows past
	// max + slack by the fifth attempt).
	cfg.BackoffMin, cfg.BackoffMax = 100*time.Millisecond, 400*time.Millisecond
	cfg.ReconnectTimeout = 3 * time.Second
	c := dial(t, cfg)
	fs.mu.Lock()
	fs.refuseHTTP = 503
	fs.mu.Unlock()
	fs.cutAll()
	<-c.Done()
	if !errors.Is(c.Err(), ErrReconnectTimeout) {
		t.Fatalf("Err() = %v", c.Err())
	}
	var he *HTTPError
	if !errors.As(c.Err(), &he) || he.StatusCode != 503 {
		t.Fatalf("Err() = %v: the last attempt's error should be wrapped", c.Err())
	}
	fs.mu.Lock()
	reqs := append([]time.Time(nil), fs.requests[1:]...) // [0] was the first dial
	fs.mu.Unlock()
	if len(reqs) < 4 {
		t.Fatalf("%d reconnect attempts", len(reqs))
	}
	// Attempt n+1 waits at least half of min(max, min·2ⁿ) after attempt n
	// failed; the upper bound is loose (a shared 2-core machine). The last
	// wait is cut short by the reconnect timeout.
	for i := 1; i < len(reqs)-1; i++ {
		gap := reqs[i].Sub(reqs[i-1])
		d := min(cfg.BackoffMax, cfg.BackoffMin<<i)
		if gap < d/2 || gap > d+300*time.Millisecond {
			t.Errorf("gap before attempt %d: %v, want within [%v, %v]", i+1, gap, d/2, d)
		}
	}
	// The fake server stamps an attempt when its handler runs, which a
	// loaded machine delays by up to a second; a client that ignored the
	// timeout would try for twice as long or never stop.
	if last := reqs[len(reqs)-1].Sub(reqs[0]); last > cfg.ReconnectTimeout+1500*time.Millisecond {
		t.Fatalf("attempts went on %v, past the reconnect timeout", last)
	}
}

func TestCloseDuringBackoff(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	cfg := testConfig(fs.url)
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Second, 10*time.Second
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fs.cutAll()
	testutil.CheckTrue(t, 2*time.Second, func() bool { return c.Stats().Drops == 1 })
	start := time.Now()
	_ = c.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v during a backoff", d)
	}
}

// TestInputsAcrossRepeatedCuts: one goroutine sends inputs without pause
// while the server cuts every connection again and again. The server never
// sees a seq go backwards, every cut is resumed, and nothing is left
// running after Close.
func TestInputsAcrossRepeatedCuts(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(2 * time.Millisecond)
	base := runtime.NumGoroutine()
	cfg := testConfig(fs.url)
	cfg.BackoffMin, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan int)
	in := schema.Input{Data: fs.game.inputData(t, 1)}
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			if err := c.SendInput(in); err == nil {
				n++
			} else if !errors.Is(err, ErrNotConnected) {
				t.Error(err)
			}
		}
	}()
	const cuts = 10
	for i := 1; i <= cuts; i++ {
		fs.cutAll()
		want := uint64(i)
		testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes >= want })
	}
	close(stop)
	n := <-sent
	if got := c.InputSeq(); got != uint32(n) {
		t.Fatalf("input seq %d after %d inputs written", got, n)
	}
	// Inputs written just before a cut may be lost; the last ones went
	// through the last connection (the fake server may read them late on a
	// loaded machine: wait as long as for a resume).
	testutil.CheckTrue(t, 5*time.Second, func() bool { st, _ := fs.seatOf(1); return st.lastSeq == uint32(n) })
	fs.mu.Lock()
	seqErrs := fs.seqErrors
	fs.mu.Unlock()
	if len(seqErrs) > 0 {
		t.Fatalf("seq went backwards: %v", seqErrs)
	}
	st := c.Stats()
	if st.ApplyErrors != 0 || st.Resumes != cuts {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d inputs, %d cuts, mean downtime %v", n, cuts, st.ResumeTotal/cuts)
	_ = c.Close()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return runtime.NumGoroutine() <= base })
}

type panicker struct{ NopHandler }

func (panicker) OnSnapshot(*Client, *schema.Snapshot, *World) { panic("boom") }

func TestHandlerPanicStopsClient(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	cfg := testConfig(fs.url)
	cfg.Handler = panicker{}
	c := dial(t, cfg)
	fs.Tick()
	<-c.Done()
	if !errors.Is(c.Err(), ErrHandlerPanic) {
		t.Fatalf("Err() = %v", c.Err())
	}
	if n := len(fs.helloList()); n != 1 {
		t.Fatalf("%d hellos: the client reconnected after a panic", n)
	}
}
