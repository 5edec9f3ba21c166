package client

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// TestDefaultBackoffCap: by default a resume never waits more than 500 ms
// between attempts (the cluster's takeover target is p99 under 2 s).
func TestDefaultBackoffCap(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.BackoffMax > 500*time.Millisecond || cfg.BackoffMin > 100*time.Millisecond {
		t.Fatalf("default backoff %v..%v, want a start ≤ 100 ms and a cap ≤ 500 ms", cfg.BackoffMin, cfg.BackoffMax)
	}
	for n := range 40 {
		if d := backoffDelay(cfg.BackoffMin, cfg.BackoffMax, n, 0.999); d > cfg.BackoffMax {
			t.Fatalf("attempt %d waits %v, over the cap", n, d)
		}
	}
}

// TestRedirectToDeadNodeKeepsBackoffCapped: after a drop, a node keeps
// redirecting the client to a node that refuses connections (its owner died
// and the cluster has not moved the match yet). The client retries at most
// BackoffMax apart, cycling through its URLs, and resumes on the node that
// finally seats it.
func TestRedirectToDeadNodeKeepsBackoffCapped(t *testing.T) {
	// A port nothing listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ws://" + ln.Addr().String() + "/ws"
	ln.Close()

	owner := newFakeServer(t, "owner", false)
	other := newFakeServer(t, "other", false)
	cfg := testConfig(owner.url, other.url)
	// Long enough that a loaded machine's scheduling delays stay below what
	// an uncapped backoff would add (min·2ⁿ passes 2·max + slack by the
	// fifth attempt).
	cfg.BackoffMin, cfg.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
	cfg.ReconnectTimeout = 10 * time.Second
	c := dial(t, cfg)
	w := c.Welcome()

	// The owner dies; the other node redirects every Hello to it.
	moved := make(chan struct{})
	other.mu.Lock()
	defer func() { other.mu.Lock(); other.hook = nil; other.mu.Unlock() }()
	other.hook = func(fs *fakeServer, s *fakeSess, h *schema.Hello) bool {
		select {
		case <-moved:
			// The match moved here: seat the resume as the new owner.
			fs.mu.Lock()
			fs.seats[h.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: h.ResumeToken}
			fs.mu.Unlock()
			return false
		default:
			fs.redirect(s, dead)
			return true
		}
	}
	other.mu.Unlock()
	owner.close()
	testutil.CheckTrue(t, 15*time.Second, func() bool {
		other.mu.Lock()
		defer other.mu.Unlock()
		return len(other.requests) >= 8
	})
	other.mu.Lock()
	reqs := append([]time.Time(nil), other.requests...)
	other.mu.Unlock()
	// Each round: the dead owner refuses, the other node redirects to it,
	// the redirect target refuses. The gap between two visits to the other
	// node covers two backoffs (one per failed URL) and the dials. The
	// bound is loose, for a loaded machine: twice that; an uncapped backoff
	// (min·2ⁿ, n growing by two a round) passes it by the third round.
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].Sub(reqs[i-1]); gap > 4*cfg.BackoffMax+300*time.Millisecond {
			t.Fatalf("gap %v between attempts %d and %d: the backoff escalated past the cap", gap, i, i+1)
		}
	}
	close(moved)
	testutil.CheckTrue(t, 3*time.Second, func() bool { return c.Stats().Reconnects == 1 })
	if got := c.Welcome(); got.NodeID != "other" || got.PlayerID != w.PlayerID || got.EntityID != w.EntityID {
		t.Fatalf("welcome after the failover %+v", got)
	}
}

// TestRedirectedURLTriedOnceAfterDrop: the client knows one entry URL (a
// proxy in front of the cluster) and was redirected to the owner's own path
// behind it. The owner dies and the proxy answers its path with 502 from
// then on. The client tries that path once, then only the entry URL, where
// the cluster says Unavailable while the match is between nodes and then
// redirects to the new owner; the player resumes there in its seat.
func TestRedirectedURLTriedOnceAfterDrop(t *testing.T) {
	entry := newFakeServer(t, "entry", false)
	owner := newFakeServer(t, "owner", false)
	next := newFakeServer(t, "next", false)
	var moved atomic.Bool
	entry.mu.Lock()
	entry.hook = func(fs *fakeServer, s *fakeSess, h *schema.Hello) bool {
		switch {
		case h.ResumeToken == "":
			fs.redirect(s, owner.url)
		case moved.Load():
			fs.redirect(s, next.url)
		default:
			fs.refuse(s, schema.ErrCodeUnavailable, "the match is between nodes")
		}
		return true
	}
	entry.mu.Unlock()
	cfg := testConfig(entry.url)
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 30*time.Millisecond
	c := dial(t, cfg)
	w := c.Welcome()
	if w.NodeID != "owner" {
		t.Fatalf("seated on %q, want the owner (through the entry's redirect)", w.NodeID)
	}
	next.mu.Lock()
	next.seats[w.ResumeToken] = &seat{player: w.PlayerID, entity: w.EntityID, token: w.ResumeToken}
	next.mu.Unlock()

	owner.mu.Lock()
	owner.refuseHTTP = http.StatusBadGateway
	before := len(owner.requests)
	entry.mu.Lock()
	entryBefore := len(entry.requests)
	entry.mu.Unlock()
	owner.mu.Unlock()
	owner.cutAll()
	// Several rounds while the match is between nodes.
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		entry.mu.Lock()
		defer entry.mu.Unlock()
		return len(entry.requests)-entryBefore >= 6
	})
	moved.Store(true)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Reconnects == 1 })
	if got := c.Welcome(); got.NodeID != "next" || got.PlayerID != w.PlayerID || got.EntityID != w.EntityID {
		t.Fatalf("welcome after the failover %+v, before %+v", got, w)
	}
	owner.mu.Lock()
	tries := len(owner.requests) - before
	owner.mu.Unlock()
	if tries != 1 {
		t.Fatalf("the dead owner's path was tried %d times after the drop, want once", tries)
	}
}
