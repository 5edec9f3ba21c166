package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.NodeID = "n1"
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no id", func(c *Config) { c.NodeID = "" }, "node id"},
		{"lease not shorter than failover", func(c *Config) { c.OwnerLease = c.FailoverAfter }, "owner lease 750ms: must be > 0 and shorter than failover-after"},
		{"lease margin too small", func(c *Config) { c.OwnerLease = c.FailoverAfter - 100*time.Millisecond }, "failover-after 750ms: must exceed the owner lease (650ms) by at least 165ms"},
		{"heartbeat too slow for the lease", func(c *Config) { c.HeartbeatInterval = 600 * time.Millisecond }, "heartbeat interval"},
		{"bad raft addr", func(c *Config) { c.RaftAddr = "nope" }, "raft addr"},
		{"bad advertise", func(c *Config) { c.AdvertiseURL = "ftp://x" }, "advertise url"},
		{"join without certificates", func(c *Config) { c.JoinURL = "http://n1:7350" }, "no cluster certificates"},
		{"insecure join without token", func(c *Config) { c.JoinURL, c.InsecureCluster = "http://n1:7350", true }, "needs an admin token"},
		{"leader lease over heartbeat timeout", func(c *Config) { c.Raft.LeaderLeaseTimeout = time.Second }, "leader lease timeout"},
		{"election below heartbeat", func(c *Config) { c.Raft.ElectionTimeout = 100 * time.Millisecond }, "election timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"n1:7350":                       "http://n1:7350",
		"http://n1:7350/admin/v1":       "http://n1:7350",
		"ws://127.0.0.1:7350/ws":        "http://127.0.0.1:7350",
		"wss://game.example.com/ws":     "https://game.example.com",
		"https://n1.example.com:8443/x": "https://n1.example.com:8443",
	} {
		if got, err := APIBase(in); err != nil || got != want {
			t.Errorf("APIBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := APIBase("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}

// TestOneNodeDevCluster: no -bootstrap and no -join on an empty data dir
// forms a one-node cluster; a restart from the same dir (after a snapshot
// and more entries) restores the same state and does not bootstrap again.
func TestOneNodeDevCluster(t *testing.T) {
	tn := startNode(t, "dev", "", "", "")
	c := cluster{tn}
	c.waitLeader(t, 5*time.Second)
	c.waitConverged(t, 5*time.Second)
	m, err := tn.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "a", Game: "arena"})
	if err != nil || m.Owner != "dev" {
		t.Fatalf("create: %+v %v", m, err)
	}
	tn.Checkpointer().Checkpoint("a", m.Epoch, 10, []byte("tick ten"))
	if err := tn.Checkpointer().Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := tn.r().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := tn.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "b", Game: "arena"}); err != nil {
		t.Fatal(err)
	}
	before, nodesBefore := tn.Matches(), tn.Nodes()
	dir, addr := tn.cfg.DataDir, tn.RaftAddr()
	tn.stop()

	back := startNode(t, "dev", dir, addr, "")
	cluster{back}.waitLeader(t, 5*time.Second)
	if got := back.Matches(); !reflect.DeepEqual(got, before) {
		t.Fatalf("after restart:\n%+v\nwant\n%+v", got, before)
	}
	if got := back.Nodes(); len(got) != 1 || got[0].ID != nodesBefore[0].ID {
		t.Fatalf("nodes after restart %+v", got)
	}
	cp, ok := back.LatestCheckpoint("a")
	if st, err := cp.State(); !ok || err != nil || string(st) != "tick ten" {
		t.Fatalf("checkpoint after restart: %q %v", st, err)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if len(back.owned()) != 2 {
			return errors.New("restarted node's game layer not told of its 2 matches")
		}
		if !back.LeaseValid() {
			return errors.New("no lease")
		}
		return nil
	})
}

// TestCheckpointerKeepsLatestOnFailure: a failed batch is put back unless a
// newer checkpoint of the same match arrived meanwhile.
func TestCheckpointerKeepsLatestOnFailure(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	n, err := New(cfg) // never started: every Apply fails with ErrShutdown
	if err != nil {
		t.Fatal(err)
	}
	c := n.Checkpointer()
	c.Checkpoint("a", 5, 10, []byte("a10"))
	c.SetPlayers("a", 5, 3)
	c.Checkpoint("b", 7, 20, []byte("b20"))
	if err := c.Flush(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Fatalf("flush: %v", err)
	}
	c.mu.Lock()
	a, b := *c.pending["a"], *c.pending["b"]
	c.mu.Unlock()
	if a.tick != 10 || a.players != 3 || string(a.state) != "a10" || b.tick != 20 {
		t.Fatalf("requeued: %+v %+v", a, b)
	}
	// A newer checkpoint replaces the pending one; an epoch change resets players.
	c.Checkpoint("a", 6, 12, []byte("a12"))
	c.mu.Lock()
	a = *c.pending["a"]
	c.mu.Unlock()
	if a.epoch != 6 || a.tick != 12 || a.players != -1 || string(a.state) != "a12" {
		t.Fatalf("after newer: %+v", a)
	}
	c.Forget("a")
	if _, ok := c.pending["a"]; ok {
		t.Fatal("forget kept a")
	}
	if st := c.Stats(); st.Failures != 1 || st.BytesIn != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// capturingHost is a Host that is also a Capturer: once told which match
// to capture (setMatch), each capture checkpoints it at the next tick, and
// records when.
type capturingHost struct {
	*fakeHost
	mu    sync.Mutex
	n     *Node
	id    string
	epoch uint64
	tick  uint32
	at    map[uint32]time.Time
}

func (h *capturingHost) setMatch(n *Node, id string, epoch uint64) {
	h.mu.Lock()
	h.n, h.id, h.epoch = n, id, epoch
	h.mu.Unlock()
}

func (h *capturingHost) CaptureCheckpoints(context.Context) int {
	h.mu.Lock()
	if h.n == nil {
		h.mu.Unlock()
		return 0
	}
	h.tick++
	n, id, epoch, tick := h.n, h.id, h.epoch, h.tick
	h.at[tick] = time.Now()
	h.mu.Unlock()
	n.Checkpointer().Checkpoint(id, epoch, tick, []byte(fmt.Sprintf("tick %d", tick)))
	return 0
}

// TestCheckpointerCapturesBeforeFlush: with a Host that is a Capturer, every
// periodic flush carries a capture taken just before it, so the newest
// committed checkpoint is never older than one CheckpointInterval plus the
// apply latency.
func TestCheckpointerCapturesBeforeFlush(t *testing.T) {
	h := &capturingHost{fakeHost: newFakeHost(), at: make(map[uint32]time.Time)}
	tn := startNode(t, "dev", "", "", "", func(c *Config) {
		c.CheckpointInterval = 100 * time.Millisecond
		c.Host = h
	})
	cluster{tn}.waitLeader(t, 5*time.Second)
	m, err := tn.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "a", Game: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	h.setMatch(tn.Node, "a", m.Epoch)
	// Sample the committed checkpoint's age for a while.
	var worst time.Duration
	deadline := time.Now().Add(2 * time.Second)
	sample := time.NewTicker(2 * time.Millisecond)
	defer sample.Stop()
	for now := range sample.C {
		if now.After(deadline) {
			break
		}
		if cp, ok := tn.LatestCheckpoint("a"); ok {
			h.mu.Lock()
			at, known := h.at[cp.Tick]
			h.mu.Unlock()
			if known {
				worst = max(worst, time.Since(at))
			}
		}
	}
	st := tn.Checkpointer().Stats()
	t.Logf("captures %d, batches %d; newest committed checkpoint at most %v old (interval %v, apply max %v)",
		st.Captures, st.Batches, worst.Round(time.Millisecond), tn.cfg.CheckpointInterval, st.ApplyMax.Round(time.Millisecond))
	if st.Captures < 10 || worst == 0 {
		t.Fatalf("captures %d, worst age %v", st.Captures, worst)
	}
	if limit := tn.cfg.CheckpointInterval + st.ApplyMax + 50*time.Millisecond; worst > limit {
		t.Fatalf("committed checkpoint %v old, more than the interval + apply max + 50ms (%v)", worst, limit)
	}
}

// TestDataDirOfEarlierVersionLoads starts a node on a copy of a data
// directory that an earlier version wrote (testdata/datadir-v1: a snapshot
// and log entries after it, commands of every common kind), at new
// addresses: the state must come back as it was.
func TestDataDirOfEarlierVersionLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fixture")
	if err := os.CopyFS(dir, os.DirFS("testdata/datadir-v1")); err != nil {
		t.Fatal(err)
	}
	tn := startNode(t, "fixture", dir, "", "")
	c := cluster{tn}
	c.waitLeader(t, 10*time.Second)
	c.waitConverged(t, 10*time.Second)
	want := []MatchInfo{
		{ID: "a", Game: "arena", Owner: "fixture", Epoch: 5, Players: 2, Status: MatchRunning, Seed: 11, Created: 5,
			CheckpointEpoch: 5, CheckpointTick: 30, CheckpointBytes: 26},
		{ID: "b", Game: "arena", Owner: "fixture", Epoch: 7, Players: 4, Status: MatchRunning, Seed: 22, Created: 7,
			CheckpointEpoch: 7, CheckpointTick: 45, CheckpointBytes: 26},
	}
	if got := tn.Matches(); !reflect.DeepEqual(got, want) {
		t.Fatalf("matches:\n%+v\nwant\n%+v", got, want)
	}
	for id, st := range map[string]string{"a": "state a at 30", "b": "state b at 45"} {
		cp, ok := tn.LatestCheckpoint(id)
		if got, err := cp.State(); !ok || err != nil || string(got) != st {
			t.Fatalf("checkpoint of %s: %q %v", id, got, err)
		}
	}
	if tn.AppliedIndex() < 12 {
		t.Fatalf("applied index %d, want at least 12", tn.AppliedIndex())
	}
	testutil.CheckFor(t, 5*time.Second, func() error { // the leader re-registers itself
		if self, ok := tn.Member("fixture"); !ok || self.RaftAddr != tn.RaftAddr() || self.API != tn.api() {
			return fmt.Errorf("self %+v: want the new addresses %s and %s", self, tn.RaftAddr(), tn.api())
		}
		return nil
	})
}

// TestWaitApplied: a waiter wakes when the FSM applies the index it waits
// for; it returns at once for an index already applied, with ctx's error
// when ctx ends first, and with ErrShutdown when the node stops first.
func TestWaitApplied(t *testing.T) {
	tn := startNode(t, "dev", "", "", "")
	cluster{tn}.waitLeader(t, 5*time.Second)
	if err := tn.WaitApplied(ctxT(t, time.Second), tn.AppliedIndex()); err != nil {
		t.Fatalf("applied index: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := tn.WaitApplied(short, tn.AppliedIndex()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("never applied: %v", err)
	}

	next := tn.AppliedIndex() + 1
	woken := make(chan error, 1)
	go func() { woken <- tn.WaitApplied(ctxT(t, 10*time.Second), next) }()
	m, err := tn.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "a", Game: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-woken; err != nil || tn.AppliedIndex() < next || m.Created < next {
		t.Fatalf("waiter for %d: %v (applied %d, created at %d)", next, err, tn.AppliedIndex(), m.Created)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- tn.WaitApplied(context.Background(), tn.AppliedIndex()+1000) }()
	tn.stop()
	if err := <-stopped; !errors.Is(err, ErrShutdown) {
		t.Fatalf("waiter at shutdown: %v", err)
	}
}

// TestCatchUp: a follower whose FSM lags (held on its FSM goroutine) does
// not return from CatchUp before it has applied a match the leader created
// before the call, and returns once it has; the leader's own CatchUp returns
// at once.
func TestCatchUp(t *testing.T) {
	var hold atomic.Bool
	release := make(chan struct{})
	lagging := func(c *Config) {
		c.beforeApply = func() {
			if hold.Load() {
				<-release
			}
		}
	}
	c := startCluster(t, 3, func(i int) []nodeOpt {
		if i == 2 {
			return []nodeOpt{lagging}
		}
		return nil
	})
	leader := c.waitLeader(t, 10*time.Second)
	f := c[2]
	if f == leader {
		if err := leader.LeadershipTransfer(ctxT(t, 5*time.Second), c[0].ID()); err != nil {
			t.Fatal(err)
		}
		leader = c.waitLeader(t, 10*time.Second)
	}
	if err := leader.CatchUp(ctxT(t, time.Second)); err != nil {
		t.Fatalf("leader: %v", err)
	}

	hold.Store(true)
	m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "late", Game: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.CatchUp(ctxT(t, 20*time.Second)) }()
	select {
	case err := <-done:
		t.Fatalf("CatchUp returned (%v) while the FSM had not applied %d (at %d)", err, m.Created, f.AppliedIndex())
	case <-time.After(200 * time.Millisecond):
	}
	if _, ok := f.Lookup("late"); ok {
		t.Fatal("the held FSM applied the match")
	}
	hold.Store(false)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup("late"); !ok || f.AppliedIndex() < m.Created {
		t.Fatalf("after CatchUp: match visible %v, applied %d, created at %d", ok, f.AppliedIndex(), m.Created)
	}
}
