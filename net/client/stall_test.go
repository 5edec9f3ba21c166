package client

import (
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// stallConfig is testConfig with the stall watch on at its floor (1 s).
func stallConfig(urls ...string) Config {
	cfg := testConfig(urls...)
	cfg.StallTimeout = MinStallTimeout
	cfg.ReconnectTimeout = 20 * time.Second
	return cfg
}

// stallMargin is what a stall may take past its window (9/8 of the
// timeout) on a loaded machine: the client goroutine has to be scheduled,
// reconnect and get a snapshot.
const stallMargin = 2 * time.Second

func TestStallWindow(t *testing.T) {
	for _, tt := range []struct {
		name     string
		stall    time.Duration
		read     time.Duration
		tickRate uint16
		want     time.Duration
	}{
		{"default at 30 Hz", DefaultStallTimeout, DefaultReadTimeout, 30, DefaultStallTimeout},
		{"off", 0, DefaultReadTimeout, 30, 0},
		{"slow game: 8 ticks", 2 * time.Second, DefaultReadTimeout, 1, 8 * time.Second},
		{"at 2 Hz", 2 * time.Second, DefaultReadTimeout, 2, 4 * time.Second},
		{"no tick rate", 2 * time.Second, DefaultReadTimeout, 0, 2 * time.Second},
		{"read timeout first", 2 * time.Second, 2 * time.Second, 30, 0},
		{"slow game past the read timeout", 2 * time.Second, 5 * time.Second, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("ws://127.0.0.1:1/ws")
			cfg.StallTimeout, cfg.ReadTimeout = tt.stall, tt.read
			if got := newClient(cfg).stallWindow(tt.tickRate); got != tt.want {
				t.Fatalf("stallWindow(%d) = %v, want %v", tt.tickRate, got, tt.want)
			}
		})
	}
	if DefaultConfig().StallTimeout != DefaultStallTimeout || DefaultStallTimeout != 2*time.Second {
		t.Fatalf("default stall timeout %v", DefaultConfig().StallTimeout)
	}
}

func TestRotateAfter(t *testing.T) {
	urls := []string{"a", "b", "c"}
	for last, want := range map[string][]string{
		"a": {"b", "c", "a"},
		"b": {"c", "a", "b"},
		"c": {"a", "b", "c"},
		"x": {"a", "b", "c"},
	} {
		if got := rotateAfter(urls, last); !slices.Equal(got, want) {
			t.Errorf("rotateAfter(%q) = %v, want %v", last, got, want)
		}
	}
}

// TestStallReconnectsAndResumes: the node stops sending snapshots on an
// open connection (pongs still come). The client drops it once the stall
// timeout has passed since the last snapshot, resumes its seat on the same
// node and counts a stall, not a drop.
func TestStallReconnectsAndResumes(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(10 * time.Millisecond)
	rec := newRecorder()
	cfg := stallConfig(fs.url)
	cfg.Handler = rec
	c := dial(t, cfg)
	w0 := c.Welcome()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > 10 })

	fs.freeze()
	frozenAt := time.Now()
	// Pongs are messages, not snapshots: they must not hold the stall off.
	// A ping every 50 ms while waiting.
	lastPing := time.Time{}
	testutil.CheckTrue(t, cfg.StallTimeout*9/8+stallMargin, func() bool {
		if time.Since(lastPing) >= 50*time.Millisecond {
			lastPing = time.Now()
			if err := c.Ping(); err != nil && !errors.Is(err, ErrNotConnected) {
				t.Fatal(err)
			}
		}
		return c.Stats().Resumes == 1
	})
	back := time.Since(frozenAt)

	st := c.Stats()
	if st.Stalls != 1 || st.Drops != 0 || st.Reconnects != 1 {
		t.Fatalf("stats after a stall: stalls %d drops %d reconnects %d", st.Stalls, st.Drops, st.Reconnects)
	}
	if back < cfg.StallTimeout {
		t.Fatalf("back %v after the freeze: the stall fired before the stall timeout (%v)", back, cfg.StallTimeout)
	}
	if w := c.Welcome(); w.PlayerID != w0.PlayerID || w.EntityID != w0.EntityID {
		t.Fatalf("welcome after the stall %+v, before %+v", w, w0)
	}
	hellos := fs.helloList()
	if len(hellos) != 2 || hellos[1].ResumeToken != w0.ResumeToken || hellos[1].LastTick == 0 {
		t.Fatalf("hellos %+v", hellos)
	}
	rec.mu.Lock()
	disc, pongs := slices.Clone(rec.disconnects), len(rec.pongs)
	rec.mu.Unlock()
	if len(disc) != 1 || !errors.Is(disc[0], ErrStalled) {
		t.Fatalf("OnDisconnect errors %v: want one wrapping ErrStalled", disc)
	}
	if pongs == 0 {
		t.Fatal("no pong arrived during the freeze: the test did not show that pongs do not count")
	}
	// The resumed session ticks again and no second stall follows.
	tick := c.AckTick()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > tick+10 })
	if st := c.Stats(); st.Stalls != 1 {
		t.Fatalf("%d stalls after the resume", st.Stalls)
	}
	t.Logf("back %v after the freeze (stall timeout %v); %v", back, cfg.StallTimeout, disc[0])
}

// TestNoStallWhileSnapshotsFlow: at 30 Hz for several stall timeouts, with
// nothing else arriving, the client never drops the connection.
func TestNoStallWhileSnapshotsFlow(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(time.Second / 30)
	c := dial(t, stallConfig(fs.url))
	end := time.Now().Add(4 * MinStallTimeout)
	testutil.CheckTrue(t, 10*time.Second, func() bool { return time.Now().After(end) })
	// The fake server's ticker may run late on a loaded machine: the count
	// only shows that snapshots flowed.
	if st := c.Stats(); st.Stalls != 0 || st.Drops != 0 || st.Reconnects != 0 || st.SnapshotsFull < 10 {
		t.Fatalf("stats %+v: want no stall, no drop and snapshots", st)
	}
}

// TestStallBeforeFirstSnapshot: a Welcome and then nothing. The first
// snapshot is due within the stall window of the Welcome.
func TestStallBeforeFirstSnapshot(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(10 * time.Millisecond)
	var seated atomic.Bool
	fs.hook = func(fs *fakeServer, s *fakeSess, h *schema.Hello) bool {
		if !seated.Swap(true) {
			fs.mu.Lock()
			s.frozen = true
			fs.mu.Unlock()
		}
		return false
	}
	c := dial(t, stallConfig(fs.url))
	testutil.CheckTrue(t, MinStallTimeout*9/8+stallMargin, func() bool { return c.Stats().Resumes == 1 })
	if st := c.Stats(); st.Stalls != 1 || st.Drops != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStallTriesOtherNodesFirst: a frozen node (its connections silent,
// its new upgrades never answered) is tried last after a stall; the client
// resumes on the node that holds its seat without going back to it.
func TestStallTriesOtherNodesFirst(t *testing.T) {
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	a.startTicker(10 * time.Millisecond)
	b.startTicker(10 * time.Millisecond)
	cfg := stallConfig(a.url, b.url)
	c := dial(t, cfg)
	w := c.Welcome()
	b.mu.Lock()
	b.seats[w.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: w.ResumeToken}
	b.mu.Unlock()

	a.mu.Lock()
	a.hang = true
	a.mu.Unlock()
	a.freeze()
	testutil.CheckTrue(t, cfg.StallTimeout*9/8+stallMargin, func() bool { return c.Stats().Resumes == 1 })
	if got := c.Welcome(); got.NodeID != "b" || got.PlayerID != w.PlayerID {
		t.Fatalf("resumed on %q as player %d, want b as %d", got.NodeID, got.PlayerID, w.PlayerID)
	}
	if n := a.requestCount(); n != 1 {
		t.Fatalf("%d upgrade requests on the frozen node: want only the first", n)
	}
}

// TestStallBoundsAttemptsOnStalledNode: after a stall the other node still
// redirects to the frozen one (the cluster has not moved the match yet).
// Each attempt there waits the stall timeout, not DialTimeout, for an
// answer; once the other node seats the player, it is back.
func TestStallBoundsAttemptsOnStalledNode(t *testing.T) {
	a := newFakeServer(t, "a", false)
	b := newFakeServer(t, "b", false)
	a.startTicker(10 * time.Millisecond)
	b.startTicker(10 * time.Millisecond)
	cfg := stallConfig(b.url, a.url)
	cfg.DialTimeout = 30 * time.Second // an attempt bounded by it would show
	// The client starts on b, which sends it to a.
	b.hook = func(fs *fakeServer, s *fakeSess, h *schema.Hello) bool {
		fs.redirect(s, a.url)
		return true
	}
	c := dial(t, cfg)
	w := c.Welcome()
	if w.NodeID != "a" {
		t.Fatalf("joined on %q", w.NodeID)
	}

	a.mu.Lock()
	a.hang = true
	a.mu.Unlock()
	a.freeze()
	// Stalled, then b (redirect to a), a (held until the stall timeout),
	// b again: the second visit to b comes well within DialTimeout.
	testutil.CheckTrue(t, 2*cfg.StallTimeout+2*stallMargin, func() bool { return b.requestCount() >= 3 })
	if n := a.requestCount(); n < 2 {
		t.Fatalf("%d requests on a: the redirect to it was not followed", n)
	}
	b.mu.Lock()
	b.hook = nil
	b.seats[w.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: w.ResumeToken}
	b.mu.Unlock()
	testutil.CheckTrue(t, 2*cfg.StallTimeout+2*stallMargin, func() bool { return c.Stats().Resumes == 1 })
	if got := c.Welcome(); got.NodeID != "b" || got.PlayerID != w.PlayerID {
		t.Fatalf("resumed on %q as player %d", got.NodeID, got.PlayerID)
	}
	if st := c.Stats(); st.Stalls != 1 || st.Drops != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStallWatchOff: with StallTimeout 0 a silent connection is kept (the
// read timeout alone bounds it).
func TestStallWatchOff(t *testing.T) {
	fs := newFakeServer(t, "n1", false)
	fs.startTicker(10 * time.Millisecond)
	cfg := testConfig(fs.url) // StallTimeout 0
	c := dial(t, cfg)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > 5 })
	fs.freeze()
	end := time.Now().Add(2 * MinStallTimeout)
	testutil.CheckTrue(t, 10*time.Second, func() bool { return time.Now().After(end) })
	if st := c.Stats(); st.Stalls != 0 || st.Drops != 0 || st.Reconnects != 0 {
		t.Fatalf("stats %+v with the watch off", st)
	}
}
