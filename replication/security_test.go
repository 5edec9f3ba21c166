package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/tools/certs"
)

// bait is a listener an attacker controls: it records every request.
type bait struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // "METHOD path auth=<Authorization>"
}

func newBait(t *testing.T) *bait {
	b := &bait{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, fmt.Sprintf("%s %s auth=%q", r.Method, r.URL.Path, r.Header.Get("Authorization")))
		b.mu.Unlock()
		http.Error(w, "bait", http.StatusServiceUnavailable)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bait) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// pointLeaderAt makes the FSM say, again and again for d, that the leader's
// API URL is url: a RegisterNode applied on the leader itself (bypassing
// every check of forwarded commands), as a forgery that got through would.
// The leader re-registers itself within a tick each time.
func pointLeaderAt(t *testing.T, c cluster, url string, d time.Duration, stop func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) && !stop() {
		l := c.leader()
		if l == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		_, _ = l.Apply(ctxT(t, time.Second), &command.RegisterNode{ID: l.ID(), API: url, Advertise: l.cfg.AdvertiseURL, RaftAddr: l.RaftAddr()})
		time.Sleep(20 * time.Millisecond)
	}
}

// TestForgedLeaderAPILeaksTokenWithoutTLS: without cluster TLS, a leader
// record pointing at a stranger's listener gets the followers' heartbeats,
// with the admin token. The control of TestForgedRegistrationRefused.
func TestForgedLeaderAPILeaksTokenWithoutTLS(t *testing.T) {
	c := startCluster(t, 3, nil)
	b := newBait(t)
	leaked := func() bool {
		for _, r := range b.requests() {
			if strings.Contains(r, PathRaftHeartbeat) && strings.Contains(r, "Bearer "+testToken) {
				return true
			}
		}
		return false
	}
	pointLeaderAt(t, c, b.URL, 20*time.Second, leaked)
	if !leaked() {
		t.Fatalf("no heartbeat with the token reached the listener: %v", b.requests())
	}
}

// peerCaller calls a node's cluster port as the holder of nt would.
type peerCaller struct {
	t  *testing.T
	nt *certs.NodeTLS
}

// post sends body (JSON, or []byte as a command) to path on n's cluster
// port and returns the status and the error message.
func (p peerCaller) post(n *testNode, path string, body any) (int, string) {
	p.t.Helper()
	hc := NewClusterHTTPClient(peerTLS(p.nt.ClientConfig(n.ID())), "127.0.0.1:0")
	defer hc.CloseIdleConnections()
	return postTo(p.t, hc, "https://"+n.RaftAddr()+path, "", body)
}

func postTo(t *testing.T, hc *http.Client, url, token string, body any) (int, string) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(ctxT(t, 10*time.Second), http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(data, &eb)
	return resp.StatusCode, eb.Error
}

// TestForgedRegistrationRefused: with cluster TLS, a node's certificate is
// its identity. The holder of n3's certificate cannot heartbeat, join,
// register, checkpoint or declare dead as or for n2 (403, saying why); the
// node-to-node endpoints on a node's HTTP listener answer only "use the
// cluster port", even with the admin token; and when the FSM itself points
// the leader's API URL at a stranger's listener (a forgery that got
// through), no heartbeat, token or anything else reaches that listener:
// calls go to the cluster port of the node named, proven by its
// certificate.
func TestForgedRegistrationRefused(t *testing.T) {
	set := testCerts(t, "n1", "n2", "n3")
	var hs handshakeLog
	c := startCluster(t, 3, func(i int) []nodeOpt {
		return []nodeOpt{withClusterTLS(set[fmt.Sprintf("n%d", i+1)], &hs)}
	})
	leader := c.waitLeader(t, 10*time.Second)
	n2 := c.byID("n2")
	if leader == n2 {
		if err := leader.LeadershipTransfer(ctxT(t, 5*time.Second), "n1"); err != nil {
			t.Fatal(err)
		}
		leader = c.waitLeader(t, 10*time.Second)
	}
	b := newBait(t)
	m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "on-n2", Game: "arena", Owner: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := leader.Member("n2")
	as3 := peerCaller{t, set["n3"]}

	for _, tc := range []struct {
		name, path string
		body       any
		want       string
	}{
		{"heartbeat for n2", PathRaftHeartbeat,
			heartbeatRequest{ID: "n2", Advertise: "ws://evil/ws", API: b.URL, RaftAddr: before.RaftAddr},
			"node n3 (by its certificate) sent a heartbeat for n2"},
		{"register n2", PathRaftApply,
			command.Encode(&command.RegisterNode{ID: "n2", Advertise: "ws://evil/ws", API: b.URL, RaftAddr: before.RaftAddr}),
			"node n3 (by its certificate) cannot register node n2"},
		{"checkpoint n2's match", PathRaftApply,
			command.Encode(&command.CheckpointBatch{Node: "n3", Items: []command.CheckpointItem{{Match: m.ID, Epoch: m.Epoch, Tick: 1, Players: -1, Data: compress(nil, []byte("x"))}}}),
			"cannot checkpoint match on-n2, owned by n2"},
		{"hand over n2's match", PathRaftApply,
			command.Encode(&command.AssignMatch{ID: m.ID, FromEpoch: m.Epoch, From: "n2", To: "n3"}),
			"cannot hand over the matches of node n2"},
		{"declare n2 dead", PathRaftApply,
			command.Encode(&command.SetNodeState{ID: "n2", State: NodeDead}),
			"only the leader declares a node dead"},
		{"join as n2", PathJoin,
			JoinRequest{ID: "n2", RaftAddr: "127.0.0.1:1", Advertise: "ws://evil/ws", API: b.URL},
			"the node joining is n3 by its certificate, not n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, msg := as3.post(leader, tc.path, tc.body)
			if status != http.StatusForbidden || !strings.Contains(msg, tc.want) {
				t.Fatalf("%d %q, want 403 %q", status, msg, tc.want)
			}
		})
	}

	t.Run("http listener with the admin token", func(t *testing.T) {
		status, msg := postTo(t, http.DefaultClient, leader.api()+PathRaftApply, testToken,
			command.Encode(&command.RegisterNode{ID: "n2", Advertise: "ws://evil/ws", API: b.URL, RaftAddr: before.RaftAddr}))
		want := fmt.Sprintf("call node %s at %s", leader.ID(), leader.RaftAddr())
		if status != http.StatusMisdirectedRequest || !strings.Contains(msg, want) {
			t.Fatalf("%d %q, want 421 %q", status, msg, want)
		}
	})

	after, _ := leader.Member("n2")
	if after.API != before.API || after.Advertise != before.Advertise || after.State != NodeAlive {
		t.Fatalf("n2 is %+v after the forgeries, was %+v", after, before)
	}
	if got, _ := leader.Lookup(m.ID); got.Owner != "n2" || got.Epoch != m.Epoch || got.CheckpointTick != 0 {
		t.Fatalf("n2's match is %+v after the forgeries, was %+v", got, m)
	}

	t.Run("raft state pointing at a stranger", func(t *testing.T) {
		pointLeaderAt(t, c, b.URL, 2*time.Second, func() bool { return false })
		// The followers kept their leases: their heartbeats reached the
		// leader's cluster port.
		c.waitConverged(t, 10*time.Second)
		for _, n := range c {
			if err := n.CatchUp(ctxT(t, 5*time.Second)); err != nil {
				t.Fatalf("%s: catch up: %v", n.ID(), err)
			}
		}
		if got := b.requests(); len(got) > 0 {
			t.Fatalf("the stranger's listener received %v", got)
		}
	})
}

// TestJoinHijack: a join that names a member's id at another address moves
// that member only when the joining node proves the id by its certificate
// and answers at the address it gives; without cluster TLS it is refused
// (TestJoinHijackWithoutTLS; TestCrashFailoverRestartReadd re-adds a dead
// node's id after remove-node).
func TestJoinHijack(t *testing.T) {
	set := testCerts(t, "n1", "n2", "n3")
	var hs handshakeLog
	c := startCluster(t, 3, func(i int) []nodeOpt {
		return []nodeOpt{withClusterTLS(set[fmt.Sprintf("n%d", i+1)], &hs)}
	})
	leader := c.waitLeader(t, 10*time.Second)
	var victim *testNode
	for _, n := range c {
		if n != leader {
			victim = n
			break
		}
	}
	oldAddr := victim.RaftAddr()

	t.Run("another node's certificate", func(t *testing.T) {
		var other *testNode
		for _, n := range c {
			if n != leader && n != victim {
				other = n
			}
		}
		status, msg := peerCaller{t, set[other.ID()]}.post(leader, PathJoin,
			JoinRequest{ID: victim.ID(), RaftAddr: other.RaftAddr(), Advertise: "ws://evil/ws"})
		want := fmt.Sprintf("the node joining is %s by its certificate, not %s", other.ID(), victim.ID())
		if status != http.StatusForbidden || !strings.Contains(msg, want) {
			t.Fatalf("%d %q, want 403 %q", status, msg, want)
		}
	})

	t.Run("the right certificate at an address that is not its own", func(t *testing.T) {
		// n-victim's certificate, but the address given is another node's:
		// the leader dials it and meets that node instead.
		vc := clusterTLS(set[victim.ID()])
		pc := newPeerClient(&Config{RaftAddr: "127.0.0.1:0", ClusterTLS: vc})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := joinCluster(ctx, pc, testLogger(t), leader.api(),
			JoinRequest{ID: victim.ID(), RaftAddr: leader.RaftAddr(), Advertise: "ws://x/ws"})
		if err == nil || !strings.Contains(err.Error(), "does not answer as node "+victim.ID()) {
			t.Fatalf("join at another node's address: %v", err)
		}
		if got := leader.Servers()[victim.ID()]; got != oldAddr {
			t.Fatalf("raft config has %s at %s, want %s", victim.ID(), got, oldAddr)
		}
	})

	t.Run("restarted at a new address", func(t *testing.T) {
		victim.crash()
		back := startNode(t, victim.ID(), victim.cfg.DataDir, "", leader.api(), withClusterTLS(set[victim.ID()], &hs))
		c[indexOf(c, victim)] = back
		if back.RaftAddr() == oldAddr {
			t.Fatal("same address")
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			for _, n := range c {
				if got := n.Servers()[back.ID()]; got != back.RaftAddr() {
					return fmt.Errorf("%s has %s at %s, want %s", n.ID(), back.ID(), got, back.RaftAddr())
				}
			}
			return nil
		})
		c.waitConverged(t, 15*time.Second)
		m, err := back.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "after-move", Game: "arena", Owner: back.ID()})
		if err != nil || m.Owner != back.ID() {
			t.Fatalf("create on the moved node: %+v %v", m, err)
		}
	})
}

// TestInsecureNodeStaysAlone: a node without cluster certificates nor
// InsecureCluster adds no voter (the joining node is told why, and stops
// trying), and refuses to start on a data dir whose Raft configuration has
// several servers.
func TestInsecureNodeStaysAlone(t *testing.T) {
	secureOff := func(c *Config) { c.InsecureCluster = false }
	n1 := startNode(t, "n1", "", "", "", secureOff)
	cluster{n1}.waitLeader(t, 10*time.Second)
	n2 := startNode(t, "n2", "", "", "", func(c *Config) { c.JoinURL = n1.api() })
	start := time.Now()
	err := n2.JoinCluster(ctxT(t, 10*time.Second), n1.api())
	if !errors.Is(err, ErrInsecureCluster) || !strings.Contains(err.Error(), "-insecure-cluster") || time.Since(start) > 5*time.Second {
		t.Fatalf("join of a node without certificates: %v after %v", err, time.Since(start))
	}
	if len(n1.Servers()) != 1 {
		t.Fatalf("servers %v", n1.Servers())
	}

	// A two-node cluster with InsecureCluster, restarted without it.
	a := startNode(t, "a", "", "", "")
	cluster{a}.waitLeader(t, 10*time.Second)
	b := startNode(t, "b", "", "", a.api())
	cluster{a, b}.waitConverged(t, 10*time.Second)
	a.stop()
	b.stop()
	cfg := a.cfg
	cfg.InsecureCluster = false
	cfg.RaftAddr = "127.0.0.1:0"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Start(context.Background())
	_ = n.Shutdown(context.Background())
	if !errors.Is(err, ErrInsecureCluster) || !strings.Contains(err.Error(), "has 2 servers (a, b)") {
		t.Fatalf("restart of a cluster member without certificates: %v", err)
	}
}

// TestJoinHijackWithoutTLS: without cluster TLS, a join (with the admin
// token) naming a member's id at another address, or another member's
// address, is refused with what to do, and Raft's configuration is
// unchanged. Before, it answered 200 and moved the voter.
func TestJoinHijackWithoutTLS(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	before := leader.Servers()
	var victim, other *testNode
	for _, n := range c {
		switch {
		case n == leader:
		case victim == nil:
			victim = n
		default:
			other = n
		}
	}
	for _, tc := range []struct {
		name string
		req  JoinRequest
		want string
	}{
		{"member's id at another address", JoinRequest{ID: victim.ID(), RaftAddr: "127.0.0.1:1", Advertise: "ws://evil/ws"},
			fmt.Sprintf("node %s is already a member at %s; remove it first: ticksyncctl remove-node %s", victim.ID(), victim.RaftAddr(), victim.ID())},
		{"another member's address", JoinRequest{ID: "intruder", RaftAddr: other.RaftAddr(), Advertise: "ws://evil/ws"},
			fmt.Sprintf("%s is the address of node %s; remove it first: ticksyncctl remove-node %s", other.RaftAddr(), other.ID(), other.ID())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, via := range []*testNode{leader, victim} { // a follower proxies it to the leader
				status, msg := postTo(t, http.DefaultClient, via.api()+PathJoin, testToken, tc.req)
				if status != http.StatusConflict || !strings.Contains(msg, tc.want) {
					t.Fatalf("via %s: %d %q, want 409 %q", via.ID(), status, msg, tc.want)
				}
			}
		})
	}
	if after := leader.Servers(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("raft configuration %v after the refused joins, was %v", after, before)
	}
}
