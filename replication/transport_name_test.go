package replication

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// testResolver maps host names to loopback IPs, like a cluster's DNS that
// follows pods to their new IPs.
type testResolver struct {
	mu    sync.Mutex
	hosts map[string][]netip.Addr
}

func newTestResolver() *testResolver {
	return &testResolver{hosts: make(map[string][]netip.Addr)}
}

func (r *testResolver) set(host string, ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts[host] = nil
	for _, ip := range ips {
		r.hosts[host] = append(r.hosts[host], netip.MustParseAddr(ip))
	}
}

func (r *testResolver) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ips, ok := r.hosts[host]; ok {
		return ips, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// withNamedRaft advertises Raft under a host name that peers resolve
// through r when they dial.
func withNamedRaft(r *testResolver, advertise string) nodeOpt {
	return func(c *Config) {
		c.RaftAdvertise = advertise
		c.wrapStream = func(s raft.StreamLayer) raft.StreamLayer {
			s.(*tcpStream).lookup = r.lookup
			return s
		}
	}
}

// freePortOn returns a free port on ip, or skips the test where loopback
// IPs other than 127.0.0.1 cannot be bound (not Linux).
func freePortOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot bind %s (not Linux?): %v", ip, err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestRaftAdvertiseName: an advertised host name is the stream's address
// as given (what Raft stores); an IP stays an IP; an address peers cannot
// dial is refused. Dialing a name resolves it at that moment, tries the
// source's family first and still leaves from the bound IP.
func TestRaftAdvertiseName(t *testing.T) {
	for _, tc := range []struct {
		bind, advertise, want, err string
	}{
		{"127.0.0.1:0", "localhost:7351", "localhost:7351", ""},
		{"0.0.0.0:0", "ticksync-0.ticksync-headless.default.svc:7351", "ticksync-0.ticksync-headless.default.svc:7351", ""},
		{"127.0.0.1:0", "127.0.0.1:7351", "127.0.0.1:7351", ""},
		{"127.0.0.1:0", "[::1]:7351", "[::1]:7351", ""},
		{"127.0.0.1:0", ":7351", "", "missing host"},
		{"127.0.0.1:0", "n1:x", "", "bad port"},
		{"127.0.0.1:0", "0.0.0.0:7351", "", "not one peers can dial"},
		{"0.0.0.0:0", "", "", "not one peers can dial"},
	} {
		s, err := listenRaft(tc.bind, tc.advertise)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("listenRaft(%q, %q): %v, want %q", tc.bind, tc.advertise, err, tc.err)
			}
			if s != nil {
				_ = s.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("listenRaft(%q, %q): %v", tc.bind, tc.advertise, err)
			continue
		}
		if got := s.Addr().String(); got != tc.want {
			t.Errorf("listenRaft(%q, %q).Addr() = %q, want %q", tc.bind, tc.advertise, got, tc.want)
		}
		_ = s.Close()
	}

	// From 127.0.0.11 to a peer named peer.ticksync.test at 127.0.0.12
	// (an IPv6 address of the name listed first, which nothing serves).
	freePortOn(t, "127.0.0.11")
	s, err := listenRaft("127.0.0.11:0", "self.ticksync.test:7351")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res := newTestResolver()
	s.lookup = res.lookup
	peer, err := net.Listen("tcp", "127.0.0.12:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.12: %v", err)
	}
	defer peer.Close()
	_, port, _ := net.SplitHostPort(peer.Addr().String())
	res.set("peer.ticksync.test", "::1", "127.0.0.12")
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := peer.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c.RemoteAddr()
		_ = c.Close()
	}()
	c, err := s.Dial(raft.ServerAddress("peer.ticksync.test:"+port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if a, ok := (<-accepted).(*net.TCPAddr); !ok || a.IP.String() != "127.0.0.11" {
		t.Fatalf("raft dial by name came from %v, want 127.0.0.11", a)
	}
	if _, err := s.Dial("nowhere.ticksync.test:7351", time.Second); err == nil || !strings.Contains(err.Error(), "nowhere.ticksync.test") {
		t.Fatalf("dial of an unknown name: %v", err)
	}

	// The system resolver: localhost from a stream with no source address.
	wild, err := listenRaft("0.0.0.0:0", "localhost:7351")
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	go func() {
		if c, err := lo.Accept(); err == nil {
			_ = c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(lo.Addr().String())
	c, err = wild.Dial(raft.ServerAddress("localhost:"+port), 2*time.Second)
	if err != nil {
		t.Fatalf("dial localhost:%s: %v", port, err)
	}
	_ = c.Close()
}

// TestRestartOnNewIPUnderSameName: nodes whose Raft advertise address is a
// host name are stored under that name (Raft's configuration, the FSM), so
// a node restarted on a new IP under the same name is reached again: first
// the node that bootstrapped the cluster (which never calls join), then a
// second one, after which no node has its first IP and the cluster still
// commits and replicates to all three.
func TestRestartOnNewIPUnderSameName(t *testing.T) {
	res := newTestResolver()
	type member struct {
		id, name, port, dir string
	}
	var ms []*member
	for i := 1; i <= 3; i++ {
		ip := fmt.Sprintf("127.0.0.%d", 10+i)
		m := &member{id: fmt.Sprintf("n%d", i), port: freePortOn(t, ip), dir: filepath.Join(t.TempDir(), fmt.Sprint(i))}
		m.name = net.JoinHostPort(m.id+".ticksync.test", m.port)
		ms = append(ms, m)
	}
	// start runs member m on 127.0.0.<gen*10+i> under its name.
	start := func(i, gen int, join string) *testNode {
		m := ms[i]
		ip := fmt.Sprintf("127.0.0.%d", gen*10+i+1)
		res.set(m.id+".ticksync.test", ip)
		return startNode(t, m.id, m.dir, net.JoinHostPort(ip, m.port), join, withNamedRaft(res, m.name))
	}
	c := cluster{start(0, 1, "")}
	c.waitLeader(t, 10*time.Second)
	c = append(c, start(1, 1, c[0].api()))
	c = append(c, start(2, 1, c[1].api()))
	c.waitConverged(t, 20*time.Second)

	for i, n := range c {
		want := ms[i].name
		if n.RaftAddr() != want {
			t.Fatalf("%s: raft addr %q, want the name %q", n.ID(), n.RaftAddr(), want)
		}
		for _, o := range c {
			info, _ := o.Member(n.ID())
			if got := o.Servers()[n.ID()]; got != want || info.RaftAddr != want {
				t.Fatalf("%s sees %s at %q in Raft, %q in the FSM; want %q", o.ID(), n.ID(), got, info.RaftAddr, want)
			}
		}
	}

	replicated := func(id string) {
		t.Helper()
		l := c.waitLeader(t, 20*time.Second)
		testutil.CheckFor(t, 20*time.Second, func() error { // idempotent: the same id and game
			_, err := l.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: id, Game: "arena"})
			return err
		})
		testutil.CheckFor(t, 20*time.Second, func() error {
			for _, n := range c.up() {
				if _, ok := n.Lookup(id); !ok {
					return fmt.Errorf("%s has not applied match %s", n.ID(), id)
				}
			}
			return nil
		})
	}
	for _, i := range []int{0, 1} {
		c[i].stop()
		c[i] = start(i, 2, "") // same data dir and name, new IP, no join
		c.waitConverged(t, 20*time.Second)
		replicated(fmt.Sprintf("after-%s", c[i].ID()))
		if got := c[i].Servers()[c[i].ID()]; got != ms[i].name {
			t.Fatalf("restarted %s: in Raft at %q, want %q", c[i].ID(), got, ms[i].name)
		}
	}
}
