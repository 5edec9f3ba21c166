package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
)

const testToken = "test-admin-token"

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fakeHost is the game layer of a test node: rooms with ticks and named
// players, frozen on hand-over. It is the node's replication.Host and the
// admin API's Ticker and Games (game "arena" only).
type fakeHost struct {
	mu      sync.Mutex
	ticks   map[string]uint32
	frozen  map[string]uint64
	players map[string]map[uint32]string // match → player → name
}

func newFakeHost() *fakeHost {
	return &fakeHost{ticks: make(map[string]uint32), frozen: make(map[string]uint64), players: make(map[string]map[uint32]string)}
}

func (h *fakeHost) GameNames() []string { return []string{"arena"} }

func (h *fakeHost) Live(id string) (Live, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.ticks[id]
	if !ok {
		return Live{}, false
	}
	l := Live{Tick: t, TickRate: 30, Seats: 8}
	for _, p := range slices.Sorted(maps.Keys(h.players[id])) {
		l.Players = append(l.Players, Player{ID: p, Name: h.players[id][p], Entity: 100 + p, Connected: true})
		l.Connected++
	}
	return l, true
}

func (h *fakeHost) Kick(id string, player uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.ticks[id]; !ok {
		return fmt.Errorf("%w: %s does not run here", replication.ErrMatchNotFound, id)
	}
	if _, ok := h.players[id][player]; !ok {
		return fmt.Errorf("%w: player %d in match %s", replication.ErrPlayerNotFound, player, id)
	}
	delete(h.players[id], player)
	return nil
}

func (h *fakeHost) seat(id string, player uint32, name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.players[id] == nil {
		h.players[id] = make(map[uint32]string)
	}
	h.players[id][player] = name
}

func (h *fakeHost) Freeze(_ context.Context, id string, epoch uint64) (uint32, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frozen[id] = epoch
	return h.ticks[id], []byte(fmt.Sprintf("state of %s at %d", id, h.ticks[id])), nil
}

func (h *fakeHost) Thaw(id string, _ uint64) {
	h.mu.Lock()
	delete(h.frozen, id)
	h.mu.Unlock()
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

func (h *fakeHost) frozenAt(id string) (uint64, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.frozen[id]
	return e, ok
}

// testNode is a replication node serving the admin API (with the
// node-to-node endpoints, as the node mounts it) on a loopback port.
type testNode struct {
	*replication.Node
	api    string
	host   *fakeHost
	client *Client
}

// startNode starts node id (bootstrapping when join is "", else joining
// through join) and stops it when t ends.
func startNode(t testing.TB, id, join string) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := newFakeHost()
	cfg := replication.DefaultConfig()
	cfg.NodeID = id
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.AdvertiseURL = "ws://" + ln.Addr().String() + "/ws"
	cfg.DataDir = filepath.Join(t.TempDir(), id)
	cfg.JoinURL = join
	cfg.AdminToken = testToken
	cfg.InsecureCluster = true // a loopback cluster
	cfg.Host = host
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	n, err := replication.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		_ = ln.Close()
		t.Fatalf("start %s: %v", id, err)
	}
	srv, err := New(Config{Node: n, Token: testToken, Ticks: host, Games: host})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		_ = hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil && !errors.Is(err, replication.ErrShutdown) {
			t.Logf("shutdown %s: %v", id, err)
		}
	})
	tn := &testNode{Node: n, api: n.APIURL(), host: host}
	if tn.client, err = NewClient(tn.api, testToken); err != nil {
		t.Fatal(err)
	}
	if join != "" {
		if err := n.JoinCluster(ctxT(t, 20*time.Second), join); err != nil {
			t.Fatalf("join %s via %s: %v", id, join, err)
		}
	}
	return tn
}

type cluster []*testNode

// startCluster bootstraps n1 and joins the others through the previous
// node's admin server (the third join goes to a follower, which proxies it).
func startCluster(t testing.TB, size int) cluster {
	t.Helper()
	c := cluster{startNode(t, "n1", "")}
	c.waitConverged(t)
	for i := 2; i <= size; i++ {
		c = append(c, startNode(t, fmt.Sprintf("n%d", i), c[len(c)-1].api))
	}
	c.waitConverged(t)
	return c
}

// waitConverged waits until every node sees every node alive and holds a
// valid lease (a leader's lease means its supervisor is ready).
func (c cluster) waitConverged(t testing.TB) {
	t.Helper()
	testutil.CheckFor(t, 15*time.Second, func() error {
		for _, n := range c {
			for _, m := range c {
				if info, ok := n.Member(m.ID()); !ok || info.State != replication.NodeAlive {
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

func (c cluster) waitLeader(t testing.TB) *testNode {
	t.Helper()
	var l *testNode
	testutil.CheckFor(t, 10*time.Second, func() error {
		for _, n := range c {
			if n.IsLeader() && n.LeaseValid() {
				l = n
				return nil
			}
		}
		return errors.New("no leader with a lease")
	})
	return l
}

func (c cluster) byID(id string) *testNode {
	for _, n := range c {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

func (c cluster) other(than ...*testNode) *testNode {
	for _, n := range c {
		skip := false
		for _, x := range than {
			skip = skip || n == x
		}
		if !skip {
			return n
		}
	}
	return nil
}

// wantError checks that err is an *Error with status and code that
// errors.Is matches to sentinel.
func wantError(t testing.TB, err error, status int, code string, sentinel error) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code || ae.Message == "" || !errors.Is(err, sentinel) {
		t.Fatalf("got %v (%#v), want HTTP %d %s (%v)", err, ae, status, code, sentinel)
	}
}
