package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/internal/testutil"
)

const testToken = "test-admin-token"

func testLogger(t testing.TB) zerolog.Logger {
	lvl := zerolog.WarnLevel
	if s := os.Getenv("TICKSYNC_TEST_LOG"); s != "" {
		if l, err := zerolog.ParseLevel(s); err == nil {
			lvl = l
		}
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(lvl).With().Timestamp().Logger()
}

// fakeHost is a game layer double: it records events and hands out states.
type fakeHost struct {
	mu     sync.Mutex
	frozen map[string]uint64
	thawed []string
	ticks  map[string]uint32
}

func newFakeHost() *fakeHost {
	return &fakeHost{frozen: make(map[string]uint64), ticks: make(map[string]uint32)}
}

func (h *fakeHost) Freeze(_ context.Context, id string, epoch uint64) (uint32, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frozen[id] = epoch
	tick := h.ticks[id]
	return tick, []byte(fmt.Sprintf("state of %s at %d", id, tick)), nil
}

func (h *fakeHost) Thaw(id string, _ uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.frozen, id)
	h.thawed = append(h.thawed, id)
}

func (h *fakeHost) Tick(id string) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.ticks[id]
	return t, ok
}

func (h *fakeHost) setTick(id string, tick uint32) {
	h.mu.Lock()
	h.ticks[id] = tick
	h.mu.Unlock()
}

// testNode is a Node with its node-to-node API on a loopback port (the
// operator API is package admin's, tested there).
type testNode struct {
	*Node
	t    testing.TB
	cfg  Config
	srv  *http.Server
	host *fakeHost
	done chan struct{} // closed when the event pump exits
	mu   sync.Mutex
	seen []OwnershipEvent
	down bool

	metrics *countMetrics // what the node reported to Config.Metrics
}

type nodeOpt func(*Config)

// startNode starts a node with id; dataDir "" means a fresh temp dir,
// raftAddr "" a free port. It stops when t ends.
func startNode(t testing.TB, id, dataDir, raftAddr, joinURL string, opts ...nodeOpt) *testNode {
	t.Helper()
	return startNodeOwned(t, t, id, dataDir, raftAddr, joinURL, opts...)
}

// startNodeOwned is startNode for a subtest whose node must outlive it: the
// node stops when owner ends.
func startNodeOwned(t, owner testing.TB, id, dataDir, raftAddr, joinURL string, opts ...nodeOpt) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if dataDir == "" {
		dataDir = filepath.Join(owner.TempDir(), id)
	}
	if raftAddr == "" {
		raftAddr = "127.0.0.1:0"
	}
	cfg := DefaultConfig()
	cfg.NodeID = id
	cfg.RaftAddr = raftAddr
	cfg.AdvertiseURL = "ws://" + ln.Addr().String() + "/ws"
	cfg.DataDir = dataDir
	cfg.JoinURL = joinURL
	cfg.AdminToken = testToken
	cfg.Logger = testLogger(t)
	cfg.InsecureCluster = true // loopback clusters; ignored with ClusterTLS
	host := newFakeHost()
	cfg.Host = host
	metrics := &countMetrics{}
	cfg.Metrics = metrics
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.wrapListener != nil {
		ln = cfg.wrapListener(ln)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tn := &testNode{Node: n, t: owner, cfg: cfg, host: host, metrics: metrics, done: make(chan struct{})}
	events := n.Ownership()
	if err := n.Start(context.Background()); err != nil {
		_ = ln.Close()
		t.Fatalf("start %s: %v", id, err)
	}
	tn.srv = &http.Server{Handler: n.PeerHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = tn.srv.Serve(ln) }()
	go func() { // the "game layer": record events until the node stops
		defer close(tn.done)
		for {
			select {
			case ev := <-events:
				tn.mu.Lock()
				tn.seen = append(tn.seen, ev)
				tn.mu.Unlock()
			case <-n.raftDone:
				return
			}
		}
	}()
	owner.Cleanup(func() { tn.stop() })
	if joinURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.JoinCluster(ctx, joinURL); err != nil {
			t.Fatalf("join %s via %s: %v", id, joinURL, err)
		}
	}
	return tn
}

// stop shuts the node down gracefully (idempotent).
func (tn *testNode) stop() {
	if tn.down {
		return
	}
	tn.down = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tn.srv.Close()
	if err := tn.Shutdown(ctx); err != nil && !errors.Is(err, ErrShutdown) {
		tn.t.Logf("shutdown %s: %v", tn.ID(), err)
	}
	<-tn.done
}

// crash stops the node as kill -9 would look from outside: no leadership
// transfer, no final checkpoint, its API gone at once.
func (tn *testNode) crash() {
	if tn.down {
		return
	}
	tn.down = true
	_ = tn.srv.Close()
	n := tn.Node
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	n.cancel()
	_ = n.r().Shutdown().Error()
	close(n.raftDone)
	n.wg.Wait()
	n.closeStores()
	<-tn.done
}

func (tn *testNode) api() string { return tn.APIURL() }

func (tn *testNode) events() []OwnershipEvent {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return append([]OwnershipEvent(nil), tn.seen...)
}

// owned returns the matches this node's game layer was told it owns.
func (tn *testNode) owned() map[string]uint64 {
	out := make(map[string]uint64)
	for _, ev := range tn.events() {
		if ev.Kind == Acquired {
			out[ev.Match.ID] = ev.Epoch
		} else if out[ev.Match.ID] == ev.Epoch {
			delete(out, ev.Match.ID)
		}
	}
	return out
}

// cluster is a set of test nodes.
type cluster []*testNode

// startCluster bootstraps nodes[0] and joins the others through the admin
// API of the previous node (so joins through a follower are forwarded).
// perNode, if given, adds options for node i (0-based).
func startCluster(t testing.TB, size int, perNode func(i int) []nodeOpt, opts ...nodeOpt) cluster {
	t.Helper()
	optsOf := func(i int) []nodeOpt {
		if perNode == nil {
			return opts
		}
		return append(append([]nodeOpt(nil), opts...), perNode(i)...)
	}
	c := cluster{startNode(t, "n1", "", "", "", optsOf(0)...)}
	c.waitLeader(t, 5*time.Second)
	for i := 2; i <= size; i++ {
		c = append(c, startNode(t, fmt.Sprintf("n%d", i), "", "", c[len(c)-1].api(), optsOf(i-1)...))
	}
	c.waitConverged(t, 10*time.Second)
	return c
}

func (c cluster) up() cluster {
	var out cluster
	for _, n := range c {
		if !n.down {
			out = append(out, n)
		}
	}
	return out
}

func (c cluster) leader() *testNode {
	for _, n := range c.up() {
		if n.IsLeader() {
			return n
		}
	}
	return nil
}

func (c cluster) waitLeader(t testing.TB, timeout time.Duration) *testNode {
	t.Helper()
	var l *testNode
	testutil.CheckFor(t, timeout, func() error {
		if l = c.leader(); l == nil {
			return errors.New("no leader")
		}
		if sup := l.sup.Load(); sup == nil || !sup.ready.Load() {
			return errors.New("leader supervisor not ready")
		}
		return nil
	})
	return l
}

// waitConverged waits until every running node sees every running node
// alive and holds a valid lease.
func (c cluster) waitConverged(t testing.TB, timeout time.Duration) {
	t.Helper()
	up := c.up()
	testutil.CheckFor(t, timeout, func() error {
		for _, n := range up {
			for _, m := range up {
				info, ok := n.fsm.Node(m.ID())
				if !ok || info.State != NodeAlive {
					return fmt.Errorf("%s sees %s as %+v", n.ID(), m.ID(), info)
				}
			}
			if !n.LeaseValid() {
				return fmt.Errorf("%s has no lease", n.ID())
			}
		}
		return nil
	})
}

func (c cluster) byID(id string) *testNode {
	for _, n := range c {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

// countMetrics counts what a node reports to its Config.Metrics.
type countMetrics struct {
	applies, failovers, failedNodes, handovers atomic.Int64
}

func (m *countMetrics) ApplyDuration(d time.Duration) {
	if d > 0 {
		m.applies.Add(1)
	}
}
func (m *countMetrics) Failover(matches int) { m.failedNodes.Add(1); m.failovers.Add(int64(matches)) }
func (m *countMetrics) Handover()            { m.handovers.Add(1) }
