package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// faultNode can cut one node off the network: its Raft links and its HTTP,
// both directions. Isolating closes every connection it tracks; while
// isolated, dials fail and accepted connections fail on first use.
type faultNode struct {
	isolated atomic.Bool
	mu       sync.Mutex
	conns    map[*faultConn]struct{}
}

var errCut = errors.New("fault: network cut")

func newFaultNode() *faultNode { return &faultNode{conns: make(map[*faultConn]struct{})} }

func (f *faultNode) track(c net.Conn) net.Conn {
	fc := &faultConn{Conn: c, f: f}
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.mu.Unlock()
	if f.isolated.Load() {
		_ = c.Close()
	}
	return fc
}

func (f *faultNode) isolate() {
	f.isolated.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.conns {
		_ = c.Conn.Close()
	}
}

func (f *faultNode) heal() { f.isolated.Store(false) }

type faultConn struct {
	net.Conn
	f *faultNode
}

func (c *faultConn) Read(p []byte) (int, error) {
	if c.f.isolated.Load() {
		_ = c.Conn.Close()
		return 0, errCut
	}
	return c.Conn.Read(p)
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.f.isolated.Load() {
		_ = c.Conn.Close()
		return 0, errCut
	}
	return c.Conn.Write(p)
}

func (c *faultConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}

type faultStream struct {
	raft.StreamLayer
	f *faultNode
}

func (s *faultStream) Accept() (net.Conn, error) {
	c, err := s.StreamLayer.Accept()
	if err != nil {
		return nil, err
	}
	return s.f.track(c), nil
}

func (s *faultStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.f.isolated.Load() {
		return nil, errCut
	}
	c, err := s.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	return s.f.track(c), nil
}

type faultListener struct {
	net.Listener
	f *faultNode
}

func (l *faultListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.f.track(c), nil
}

// opts returns the node options that route its Raft and HTTP client through f.
func (f *faultNode) opt() nodeOpt {
	return func(cfg *Config) {
		cfg.wrapStream = func(s raft.StreamLayer) raft.StreamLayer { return &faultStream{StreamLayer: s, f: f} }
		d := &net.Dialer{Timeout: time.Second}
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if f.isolated.Load() {
					return nil, errCut
				}
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return f.track(c), nil
			},
		}}
		cfg.wrapListener = func(ln net.Listener) net.Listener { return &faultListener{Listener: ln, f: f} }
	}
}

// ownershipChecker samples every node every millisecond and records any
// moment when two nodes both hold a valid lease and both own the same match
// in their own FSM — i.e. both would tick it.
type ownershipChecker struct {
	nodes      func() cluster
	stop, done chan struct{}
	samples    int
	violations []string
	// runs[match] = node ids that ran it, in order of first appearance
	runs map[string][]string
}

func startChecker(nodes func() cluster) *ownershipChecker {
	oc := &ownershipChecker{nodes: nodes, stop: make(chan struct{}), done: make(chan struct{}), runs: make(map[string][]string)}
	go oc.run()
	return oc
}

func (oc *ownershipChecker) run() {
	defer close(oc.done)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-oc.stop:
			return
		case <-t.C:
		}
		oc.samples++
		runners := make(map[string][]string)
		for _, n := range oc.nodes() {
			if !n.LeaseValid() {
				continue
			}
			owned, _ := n.fsm.ownedBy(n.ID())
			for id := range owned {
				runners[id] = append(runners[id], n.ID())
			}
		}
		for id, rs := range runners {
			if len(rs) > 1 && len(oc.violations) < 20 {
				sort.Strings(rs)
				oc.violations = append(oc.violations, fmt.Sprintf("%s run by %s at sample %d", id, strings.Join(rs, "+"), oc.samples))
			}
			if h := oc.runs[id]; len(h) == 0 || h[len(h)-1] != rs[0] {
				oc.runs[id] = append(h, rs[0])
			}
		}
	}
}

func (oc *ownershipChecker) finish(t testing.TB) {
	t.Helper()
	close(oc.stop)
	<-oc.done
	if len(oc.violations) > 0 {
		t.Fatalf("two nodes ran the same match at once (%d samples): %v", oc.samples, oc.violations)
	}
	t.Logf("ownership checker: %d samples, no overlap; runners per match: %v", oc.samples, oc.runs)
}
