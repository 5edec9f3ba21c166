package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/schema"
)

// wantUnavailable fails unless err is a JoinError{unavailable} whose
// message contains why.
func wantUnavailable(t *testing.T, err error, why string) {
	t.Helper()
	var je *game.JoinError
	if !errors.As(err, &je) || je.Code != schema.ErrCodeUnavailable || !strings.Contains(je.Message, why) {
		t.Fatalf("err %v, want unavailable saying %q", err, why)
	}
}

// wantRedirect fails unless err redirects to node's advertise URL for
// match.
func wantRedirect(t *testing.T, err error, node, match string) {
	t.Helper()
	var re *game.RedirectError
	if !errors.As(err, &re) || re.URL != "ws://"+node+".test/ws" || re.MatchID != match {
		t.Fatalf("err %v, want a redirect to %s for %s", err, node, match)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.NodeID = "" }, "node id"},
		{func(c *Config) { c.Seats = 0 }, "seats 0: must be 1..1024"},
		{func(c *Config) { c.LocateWait = 0 }, "locate wait"},
		{func(c *Config) { c.Poll = time.Hour }, "poll"},
		{func(c *Config) { c.ProbeTimeout = 0 }, "probe timeout"},
		{func(c *Config) { c.ProbeTTL = -1 }, "probe ttl"},
	} {
		cfg := DefaultConfig()
		cfg.NodeID = "n1"
		tt.mod(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err %v, want %q", err, tt.want)
		}
	}
}

// TestValid: a room may tick only while this node holds its lease and the
// directory names it the owner at the room's epoch.
func TestValid(t *testing.T) {
	f := newFakeFSM()
	r := newFakeReplica(f)
	m := f.put(replication.MatchInfo{ID: "m1", Owner: "n1"})
	f.put(replication.MatchInfo{ID: "m2", Owner: "n2"})
	if newAdapter(t, "n1", nil, nil).Valid("m1", m.Epoch) {
		t.Fatal("valid before a replica is attached")
	}
	a := newAdapter(t, "n1", r, nil)
	for _, tt := range []struct {
		match string
		epoch uint64
		lease bool
		want  bool
	}{
		{"m1", m.Epoch, true, true},
		{"m1", m.Epoch + 1, true, false},
		{"m1", m.Epoch, false, false},
		{"m2", m.Epoch, true, false},
		{"nope", m.Epoch, true, false},
	} {
		r.lease.Store(tt.lease)
		if got := a.Valid(tt.match, tt.epoch); got != tt.want {
			t.Errorf("Valid(%s, %d) with lease %v: %v, want %v", tt.match, tt.epoch, tt.lease, got, tt.want)
		}
	}
}

func TestLocate(t *testing.T) {
	var n2Status, n3Status atomic.Int32
	n2Status.Store(http.StatusOK)
	n3Status.Store(http.StatusServiceUnavailable)
	f := newFakeFSM()
	f.addNode("n1", "", replication.NodeAlive)
	f.addNode("n2", readyServer(t, &n2Status), replication.NodeAlive)
	f.addNode("n3", readyServer(t, &n3Status), replication.NodeAlive)
	f.addNode("n4", "http://127.0.0.1:1", replication.NodeDead)
	here := f.put(replication.MatchInfo{ID: "here", Owner: "n1"})
	closed := f.put(replication.MatchInfo{ID: "closed", Owner: "n1"})
	f.put(replication.MatchInfo{ID: "on-n2", Owner: "n2"})
	f.put(replication.MatchInfo{ID: "on-n3", Owner: "n3"})
	f.put(replication.MatchInfo{ID: "on-n4", Owner: "n4"})
	f.put(replication.MatchInfo{ID: "orphan", Status: replication.MatchOrphaned})
	r := newFakeReplica(f)
	a := newAdapter(t, "n1", r, nil)
	a.markAdopted(closed.ID, closed.Epoch)
	ctx := context.Background()

	t.Run("unknown: not found after one catch-up", func(t *testing.T) {
		before := r.catchUps.Load()
		local, err := a.Locate(ctx, "nope")
		if local || err != nil || r.catchUps.Load() != before+1 {
			t.Fatalf("%v %v, %d catch-ups", local, err, r.catchUps.Load()-before)
		}
	})
	t.Run("placed here, not adopted yet: local", func(t *testing.T) {
		if local, err := a.Locate(ctx, here.ID); !local || err != nil {
			t.Fatalf("%v %v", local, err)
		}
	})
	t.Run("adopted here and closed: not found", func(t *testing.T) {
		if local, err := a.Locate(ctx, closed.ID); local || err != nil {
			t.Fatalf("%v %v", local, err)
		}
	})
	t.Run("on a ready node: redirect", func(t *testing.T) {
		_, err := a.Locate(ctx, "on-n2")
		wantRedirect(t, err, "n2", "on-n2")
	})
	t.Run("owner not ready: unavailable after the wait", func(t *testing.T) {
		start := time.Now()
		_, err := a.Locate(ctx, "on-n3")
		wantUnavailable(t, err, "n3 does not answer")
		if d := time.Since(start); d < a.cfg.LocateWait {
			t.Fatalf("answered after %v, before the locate wait", d)
		}
	})
	t.Run("owner dead: unavailable", func(t *testing.T) {
		_, err := a.Locate(ctx, "on-n4")
		wantUnavailable(t, err, "n4 is gone")
	})
	t.Run("orphan: unavailable", func(t *testing.T) {
		_, err := a.Locate(ctx, "orphan")
		wantUnavailable(t, err, "no live node owns it")
	})
	t.Run("no lease: unavailable", func(t *testing.T) {
		r.lease.Store(false)
		defer r.lease.Store(true)
		_, err := a.Locate(ctx, here.ID)
		wantUnavailable(t, err, "not in contact with the cluster")
	})
	t.Run("not attached: unavailable", func(t *testing.T) {
		b := newAdapter(t, "n1", nil, nil)
		b.cfg.LocateWait = 50 * time.Millisecond
		_, err := b.Locate(ctx, here.ID)
		wantUnavailable(t, err, "starting")
	})
	t.Run("ctx ends: its error", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := a.Locate(cctx, "on-n3"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("orphan placed during the wait: redirect", func(t *testing.T) {
		a.cfg.LocateWait = 10 * time.Second
		done := make(chan error, 1)
		looked := r.lookups.Load()
		go func() {
			_, err := a.Locate(ctx, "orphan")
			done <- err
		}()
		testutil.CheckTrue(t, 5*time.Second, func() bool { return r.lookups.Load() > looked+1 }) // it found the orphan and polls
		m, _ := r.Lookup("orphan")
		m.Owner, m.Status = "n2", replication.MatchRunning
		f.put(m)
		select {
		case err := <-done:
			wantRedirect(t, err, "n2", "orphan")
		case <-time.After(10 * time.Second):
			t.Fatal("Locate did not see the new owner")
		}
	})
	t.Run("owner ready again: redirect", func(t *testing.T) {
		n3Status.Store(http.StatusOK)
		testutil.CheckTrue(t, 5*time.Second, func() bool { // the probe's cached answer expires
			_, err := a.Locate(ctx, "on-n3")
			var re *game.RedirectError
			return errors.As(err, &re)
		})
	})
}

func TestAdmit(t *testing.T) {
	var ok atomic.Int32
	ok.Store(http.StatusOK)
	api := readyServer(t, &ok)
	setup := func(t *testing.T) (*fakeFSM, *fakeReplica, *Adapter) {
		f := newFakeFSM()
		f.addNode("n1", "", replication.NodeAlive)
		f.addNode("n2", api, replication.NodeAlive)
		f.addNode("n3", api, replication.NodeDraining)
		f.placeOn = "n1"
		r := newFakeReplica(f)
		return f, r, newAdapter(t, "n1", r, nil)
	}
	ctx := context.Background()

	t.Run("no lease: unavailable", func(t *testing.T) {
		_, r, a := setup(t)
		r.lease.Store(false)
		_, err := a.Admit(ctx, toyName, "")
		wantUnavailable(t, err, "not in contact")
	})
	t.Run("oldest open match elsewhere: redirect", func(t *testing.T) {
		f, r, a := setup(t)
		f.put(replication.MatchInfo{ID: "full", Owner: "n2", Players: 4})
		f.put(replication.MatchInfo{ID: "draining", Owner: "n3"})
		f.put(replication.MatchInfo{ID: "other-game", Owner: "n2", Game: "chess"})
		f.put(replication.MatchInfo{ID: "old", Owner: "n2", Players: 3})
		f.put(replication.MatchInfo{ID: "new", Owner: "n2"})
		_, err := a.Admit(ctx, toyName, "")
		wantRedirect(t, err, "n2", "old")
		if r.catchUps.Load() != 1 || f.creates.Load() != 0 {
			t.Fatalf("%d catch-ups, %d creates", r.catchUps.Load(), f.creates.Load())
		}
	})
	t.Run("placed here, not adopted: that match", func(t *testing.T) {
		f, _, a := setup(t)
		m := f.put(replication.MatchInfo{ID: "mine", Owner: "n1"})
		if id, err := a.Admit(ctx, toyName, ""); id != "mine" || err != nil {
			t.Fatalf("%q %v", id, err)
		}
		a.markAdopted(m.ID, m.Epoch) // running here: the Manager found it full
		id, err := a.Admit(ctx, toyName, "")
		if id == "" || id == "mine" || err != nil || f.creates.Load() != 1 {
			t.Fatalf("%q %v, %d creates", id, err, f.creates.Load())
		}
	})
	t.Run("none open: created here", func(t *testing.T) {
		f, r, a := setup(t)
		id, err := a.Admit(ctx, toyName, "")
		m, found := r.Lookup(id)
		if err != nil || !found || m.Owner != "n1" || f.creates.Load() != 1 {
			t.Fatalf("%q %v %+v", id, err, m)
		}
		if r.waited.Load() != m.Created {
			t.Fatalf("waited for index %d, the match was created at %d", r.waited.Load(), m.Created)
		}
	})
	t.Run("none open: created elsewhere, redirect", func(t *testing.T) {
		f, _, a := setup(t)
		f.placeOn = "n2"
		id, err := a.Admit(ctx, toyName, "")
		var re *game.RedirectError
		if id != "" || !errors.As(err, &re) || re.URL != "ws://n2.test/ws" || re.MatchID == "" {
			t.Fatalf("%q %v", id, err)
		}
	})
	t.Run("create fails: unavailable", func(t *testing.T) {
		f, _, a := setup(t)
		f.createErr = replication.ErrNoLeader
		_, err := a.Admit(ctx, toyName, "")
		wantUnavailable(t, err, "cannot create a match now")
	})
	t.Run("a burst fills one new match", func(t *testing.T) {
		f, _, a := setup(t)
		f.createGate = make(chan struct{})
		var wg sync.WaitGroup
		ids := make([]string, 5)
		errs := make([]error, 5)
		for i := range ids {
			wg.Go(func() { ids[i], errs[i] = a.Admit(ctx, toyName, "") })
		}
		testutil.CheckTrue(t, 5*time.Second, func() bool { return f.creates.Load() == 1 })
		close(f.createGate)
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("admit %d: %q %v; the first got %q", i, ids[i], errs[i], ids[0])
			}
		}
		if n := f.creates.Load(); n != 1 {
			t.Fatalf("%d matches created for one burst", n)
		}
	})
	t.Run("ctx ends while waiting for the lock", func(t *testing.T) {
		f, _, a := setup(t)
		f.createGate = make(chan struct{})
		defer close(f.createGate)
		go func() { _, _ = a.Admit(ctx, toyName, "") }()
		testutil.CheckTrue(t, 5*time.Second, func() bool { return f.creates.Load() == 1 })
		cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := a.Admit(cctx, toyName, ""); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestAdmitGameSeats: Admit counts a remote match's free seats against
// its game's seat count (SeatsOf), not the node-wide Seats; a game
// without one (SeatsOf answers 0) and a nil SeatsOf fall back to Seats.
func TestAdmitGameSeats(t *testing.T) {
	var ok atomic.Int32
	ok.Store(http.StatusOK)
	api := readyServer(t, &ok)
	const cards, free = "cards", "free" // 4 seats; no seat count of its own
	seatsOf := func(game string) int {
		if game == cards {
			return 4
		}
		return 0
	}
	for _, tt := range []struct {
		name    string
		seatsOf func(string) int
		game    string
		players []int // of the remote matches, oldest first
		want    int   // index of the match Admit redirects to; -1: it creates one
	}{
		{"4-seat game: full table skipped", seatsOf, cards, []int{4, 3}, 1},
		{"4-seat game: only full tables", seatsOf, cards, []int{4, 4}, -1},
		{"4-seat game: free seat taken", seatsOf, cards, []int{3}, 0},
		{"game without seats: node's seats", seatsOf, free, []int{4, 3}, 0},
		{"no SeatsOf: node's seats", nil, cards, []int{4, 3}, 0},
		{"no SeatsOf: full at node's seats", nil, cards, []int{8, 7}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFSM()
			f.addNode("n1", "", replication.NodeAlive)
			f.addNode("n2", api, replication.NodeAlive)
			f.placeOn = "n1"
			r := newFakeReplica(f)
			a := newAdapterWith(t, "n1", r, nil, func(c *Config) {
				c.Seats = 8
				c.SeatsOf = tt.seatsOf
			})
			ids := make([]string, len(tt.players))
			for i, p := range tt.players {
				ids[i] = fmt.Sprintf("m%d", i)
				f.put(replication.MatchInfo{ID: ids[i], Owner: "n2", Game: tt.game, Players: p})
			}
			id, err := a.Admit(context.Background(), tt.game, "")
			if tt.want >= 0 {
				wantRedirect(t, err, "n2", ids[tt.want])
				return
			}
			m, found := r.Lookup(id)
			if err != nil || !found || m.Owner != "n1" || m.Game != tt.game || f.creates.Load() != 1 {
				t.Fatalf("%q %v %+v, %d creates; want a new match here", id, err, m, f.creates.Load())
			}
		})
	}
}

func TestEnd(t *testing.T) {
	f := newFakeFSM()
	r := newFakeReplica(f)
	if err := newAdapter(t, "n1", nil, nil).End(context.Background(), "m1", 3); err == nil {
		t.Fatal("End before attach succeeded")
	}
	a := newAdapter(t, "n1", r, nil)
	if err := a.End(context.Background(), "m1", 3); err != nil || len(f.ended) != 1 {
		t.Fatalf("%v, ended %v", err, f.ended)
	}
	f.endErr = replication.ErrStaleEpoch
	if err := a.End(context.Background(), "m1", 3); err != nil {
		t.Fatalf("stale epoch: %v, want nil (the match moved)", err)
	}
	f.endErr = replication.ErrNoLeader
	if err := a.End(context.Background(), "m1", 3); !errors.Is(err, replication.ErrNoLeader) {
		t.Fatalf("err %v", err)
	}
}

func TestCheckpointsBeforeAttachDropped(t *testing.T) {
	f := newFakeFSM()
	cp := &fakeCheckpointer{fsm: f}
	a := newAdapter(t, "n1", nil, nil)
	a.Checkpoint("m1", 1, 10, []byte("x"))
	a.SetPlayers("m1", 1, 2)
	a.Forget("m1")
	a.TickLog().Append("m1", 1, 10, []byte("r"))
	a.TickLog().Forget("m1")
	a.Attach(newFakeReplica(f), cp, nil)
	a.TickLog().Append("m1", 1, 11, []byte("r")) // no tick logger: dropped
	a.Checkpoint("m1", 1, 11, []byte("y"))
	if cp.n.Load() != 1 {
		t.Fatalf("%d checkpoints reached the checkpointer, want 1", cp.n.Load())
	}
	if got, _ := newFakeReplica(f).LatestCheckpoint("m1"); got.Tick != 11 {
		t.Fatalf("latest checkpoint %+v", got)
	}
}
