package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/tools/certs"
)

// testCerts makes a dev certificate set (its own CA) for ids and loads it.
func testCerts(t testing.TB, ids ...string) map[string]*certs.NodeTLS {
	t.Helper()
	cfg := certs.DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "certs")
	cfg.Nodes = ids
	res, err := certs.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*certs.NodeTLS, len(ids))
	for _, nf := range res.Nodes {
		nt, err := certs.LoadNodeTLS(res.CACert, nf.Cert, nf.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[nf.ID] = nt
	}
	return out
}

// clusterTLS is the ClusterTLS of a node holding nt.
func clusterTLS(nt *certs.NodeTLS) *ClusterTLS {
	return &ClusterTLS{Server: nt.ServerConfig(), Client: nt.ClientConfig(""), ClientFor: nt.ClientConfig, PeerID: certs.PeerNodeID}
}

// handshakeLog counts the failed handshakes a stream reports.
type handshakeLog struct {
	mu   sync.Mutex
	errs []error
}

func (h *handshakeLog) record(inbound bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if inbound {
		h.errs = append(h.errs, err)
	}
}

// inbound returns the failures of accepted connections so far.
func (h *handshakeLog) inbound() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

func (h *handshakeLog) count(target error) int {
	n := 0
	for _, err := range h.inbound() {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

// withClusterTLS runs the node's Raft over mutual TLS with nt, reporting
// failed inbound handshakes to log.
func withClusterTLS(nt *certs.NodeTLS, log *handshakeLog) nodeOpt {
	return func(c *Config) {
		c.ClusterTLS = clusterTLS(nt)
		c.ClusterTLS.HandshakeFailed = log.record
	}
}

// raftState is what a forged AppendEntries would change.
type raftState struct{ term, lastIndex, lastTerm uint64 }

func stateOf(t testing.TB, n *testNode) raftState {
	t.Helper()
	st := n.Stats()
	var out raftState
	for key, p := range map[string]*uint64{"term": &out.term, "last_log_index": &out.lastIndex, "last_log_term": &out.lastTerm} {
		v, err := strconv.ParseUint(st[key], 10, 64)
		if err != nil {
			t.Fatalf("raft stats %s=%q: %v", key, st[key], err)
		}
		*p = v
	}
	return out
}

// forgeAppend sends n, through stream, the AppendEntries an intruder would:
// the next term, one entry creating match id after n's last entry, and a
// commit index that commits it. Raft's own transport encodes it, so it is
// byte for byte what a leader sends.
func forgeAppend(t testing.TB, stream raft.StreamLayer, n *testNode, st raftState, id string) (*raft.AppendEntriesResponse, error) {
	t.Helper()
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 1, Timeout: 5 * time.Second, Logger: hclog.NewNullLogger(),
	})
	defer trans.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader:    raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(trans.LocalAddr())},
		Term:         st.term + 1,
		PrevLogEntry: st.lastIndex,
		PrevLogTerm:  st.lastTerm,
		Entries: []*raft.Log{{
			Index: st.lastIndex + 1, Term: st.term + 1, Type: raft.LogCommand,
			Data: command.Encode(&command.CreateMatch{ID: id, Game: "arena"}),
		}},
		LeaderCommitIndex: st.lastIndex + 1,
	}
	var resp raft.AppendEntriesResponse
	err := trans.AppendEntries(raft.ServerID(n.ID()), raft.ServerAddress(n.RaftAddr()), req, &resp)
	return &resp, err
}

func plainStream(t testing.TB) raft.StreamLayer {
	t.Helper()
	s, err := listenRaft("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tlsStreamOf(t testing.TB, c *ClusterTLS) *tlsStream {
	t.Helper()
	s, err := listenRaft("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	ts := newTLSStream(s, c, testLogger(t))
	t.Cleanup(func() { _ = ts.Close() })
	return ts
}

// startForgeTarget starts a one-node cluster with one match, so that the
// node is registered alive in its FSM (a forged CreateMatch then has an
// owner to go to).
func startForgeTarget(t *testing.T, opts ...nodeOpt) *testNode {
	t.Helper()
	n := startNode(t, "n1", "", "", "", opts...)
	cluster{n}.waitLeader(t, 10*time.Second)
	cluster{n}.waitConverged(t, 10*time.Second)
	if _, err := n.CreateMatch(ctxT(t, 10*time.Second), command.CreateMatch{ID: "real", Game: "arena"}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForgedAppendEntriesOnPlainRaft: without cluster TLS, one forged
// AppendEntries from a process holding no credential takes the node's term
// and commits a match. This is the attack TestRaftTLSRefusesForgedAppend
// shows refused; it checks that the forgery is a real one.
func TestForgedAppendEntriesOnPlainRaft(t *testing.T) {
	n := startForgeTarget(t)
	before := stateOf(t, n)
	// An entry forged at an index the node has meanwhile applied (a lease
	// barrier of its own) replaces it in the log but is never applied: aim
	// again until one forged match is applied. (The first forgery makes
	// the node a follower, which appends nothing of its own.)
	attempt := 0
	testutil.CheckFor(t, 20*time.Second, func() error {
		for _, m := range n.Matches() {
			if strings.HasPrefix(m.ID, "forged") {
				return nil
			}
		}
		attempt++
		resp, err := forgeAppend(t, plainStream(t), n, stateOf(t, n), fmt.Sprintf("forged-%d", attempt))
		if err != nil {
			return fmt.Errorf("attempt %d: %w", attempt, err)
		}
		return fmt.Errorf("attempt %d: no forged match applied yet (answer %+v)", attempt, resp)
	})
	if after := stateOf(t, n); after.term <= before.term {
		t.Fatalf("term %d after the forgery, was %d", after.term, before.term)
	}
}

// TestRaftTLSRefusesForgedAppend: with cluster TLS, the same forgery sent
// without a certificate, with a certificate of another CA, or over TLS
// without a client certificate, fails the handshake and changes nothing:
// the node keeps its term and leadership, no entry of a later term enters
// its log, and the match does not exist.
func TestRaftTLSRefusesForgedAppend(t *testing.T) {
	set := testCerts(t, "n1")
	stranger := testCerts(t, "n1")["n1"] // same id, another CA
	var hs handshakeLog
	n := startForgeTarget(t, withClusterTLS(set["n1"], &hs))
	before := stateOf(t, n)

	// The stranger skips checking the node's certificate, to reach the
	// node's check of its own.
	bold := stranger.ClientConfig("")
	bold.VerifyConnection = nil
	noCert := set["n1"].ClientConfig("")
	noCert.Certificates = nil
	for _, tc := range []struct {
		name   string
		stream func() raft.StreamLayer
	}{
		{"plain tcp", func() raft.StreamLayer { return plainStream(t) }},
		{"certificate of another ca", func() raft.StreamLayer {
			return tlsStreamOf(t, &ClusterTLS{Server: stranger.ServerConfig(), Client: bold})
		}},
		{"tls without certificate", func() raft.StreamLayer {
			return tlsStreamOf(t, &ClusterTLS{Server: stranger.ServerConfig(), Client: noCert})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed := len(hs.inbound())
			resp, err := forgeAppend(t, tc.stream(), n, before, "forged")
			if err == nil {
				t.Fatalf("forged AppendEntries answered: %+v", resp)
			}
			testutil.CheckFor(t, 10*time.Second, func() error {
				if got := len(hs.inbound()); got <= failed {
					return fmt.Errorf("%d failed handshakes counted, want more than %d", got, failed)
				}
				return nil
			})
		})
	}

	after := stateOf(t, n)
	if after.term != before.term || after.lastTerm != before.term || !n.IsLeader() {
		t.Fatalf("raft state %+v (leader %v), was %+v", after, n.IsLeader(), before)
	}
	if _, ok := n.Lookup("forged"); ok {
		t.Fatal("forged match exists")
	}
	// The index the forgery aimed at holds our own entry (a lease barrier),
	// of our term.
	var l raft.Log
	if err := n.store.GetLog(before.lastIndex+1, &l); err == nil && l.Term != before.term {
		t.Fatalf("entry %d has term %d, want %d", l.Index, l.Term, before.term)
	}
}

// peerRecorder is a stream wrapper recording who connected over what.
type peerRecorder struct {
	raft.StreamLayer
	mu    sync.Mutex
	peers map[string]int // peer node id → accepted connections
	bad   []string
}

func (p *peerRecorder) Accept() (net.Conn, error) {
	c, err := p.StreamLayer.Accept()
	if err != nil {
		return c, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tc, ok := c.(*tls.Conn)
	if !ok {
		p.bad = append(p.bad, fmt.Sprintf("%T from %s", c, c.RemoteAddr()))
		return c, nil
	}
	cs := tc.ConnectionState()
	id, err := certs.PeerNodeID(cs)
	if err != nil || cs.Version != tls.VersionTLS13 || cs.NegotiatedProtocol != RaftALPN {
		p.bad = append(p.bad, fmt.Sprintf("version %x alpn %q id %q %v", cs.Version, cs.NegotiatedProtocol, id, err))
		return c, nil
	}
	p.peers[id]++
	return c, nil
}

func (p *peerRecorder) seen() (map[string]int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.peers))
	for k, v := range p.peers {
		out[k] = v
	}
	return out, append([]string(nil), p.bad...)
}

// TestClusterOverTLS: three nodes form a cluster whose Raft traffic is
// mutual TLS only, and replicate commands over it.
func TestClusterOverTLS(t *testing.T) {
	set := testCerts(t, "n1", "n2", "n3")
	var hs handshakeLog
	recs := make(map[string]*peerRecorder)
	var mu sync.Mutex
	c := startCluster(t, 3, func(i int) []nodeOpt {
		id := fmt.Sprintf("n%d", i+1)
		return []nodeOpt{withClusterTLS(set[id], &hs), func(cfg *Config) {
			cfg.wrapStream = func(s raft.StreamLayer) raft.StreamLayer {
				r := &peerRecorder{StreamLayer: s, peers: make(map[string]int)}
				mu.Lock()
				recs[id] = r
				mu.Unlock()
				return r
			}
		}}
	})
	leader := c.leader()
	var follower *testNode
	for _, n := range c {
		if n != leader {
			follower = n
			break
		}
	}
	ctx := ctxT(t, 30*time.Second)
	var created []MatchInfo
	create := func(via *testNode, id string) {
		t.Helper()
		m, err := via.CreateMatch(ctx, command.CreateMatch{ID: id, Game: "arena"})
		if err != nil {
			t.Fatalf("create %s via %s: %v", id, via.ID(), err)
		}
		created = append(created, m)
	}
	create(leader, "m0")
	create(follower, "m1") // forwarded to the leader
	// Leadership moves over the TLS transport (TimeoutNow, then votes), and
	// the new leader replicates to the old one.
	if err := leader.LeadershipTransfer(ctx, follower.ID()); err != nil {
		t.Fatalf("transfer to %s: %v", follower.ID(), err)
	}
	if l := c.waitLeader(t, 10*time.Second); l != follower {
		t.Fatalf("leader %s after the transfer, want %s", l.ID(), follower.ID())
	}
	create(follower, "m2")
	testutil.CheckFor(t, 10*time.Second, func() error {
		for _, n := range c {
			for _, m := range created {
				got, ok := n.Lookup(m.ID)
				if !ok || got.Epoch != m.Epoch || got.Owner != m.Owner {
					return fmt.Errorf("%s sees %s as %+v (%v), want %+v", n.ID(), m.ID, got, ok, m)
				}
			}
		}
		return nil
	})

	// Every node accepted Raft connections from a leader, all TLS 1.3 with
	// our ALPN, from nodes of the set only.
	mu.Lock()
	defer mu.Unlock()
	for _, n := range c {
		peers, bad := recs[n.ID()].seen()
		if len(bad) > 0 {
			t.Errorf("%s accepted %v", n.ID(), bad)
		}
		if len(peers) == 0 {
			t.Errorf("%s accepted no raft connection", n.ID())
		}
		for id := range peers {
			if set[id] == nil || id == n.ID() {
				t.Errorf("%s accepted a connection from %q", n.ID(), id)
			}
		}
	}
	if errs := hs.inbound(); len(errs) > 0 {
		t.Errorf("failed handshakes inside the cluster: %v", errs)
	}
}

// TestTLSStream: the stream layer's accept path under peers that connect
// and never speak, a full handshake budget, and the wrong protocol; and a
// dial to a server of another CA.
func TestTLSStream(t *testing.T) {
	set := testCerts(t, "n1", "n2")
	n1, n2 := set["n1"], set["n2"]
	client := tlsStreamOf(t, clusterTLS(n2))

	// accept returns the next accepted connection of s, or fails the test.
	accept := func(t *testing.T, s *tlsStream) net.Conn {
		t.Helper()
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() { c, err := s.Accept(); ch <- res{c, err} }()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("accept: %v", r.err)
			}
			return r.c
		case <-time.After(20 * time.Second):
			_ = s.Close() // unblocks the goroutine
			t.Fatal("accept did not return")
			return nil
		}
	}
	// roundTrip dials s from client and echoes one byte through it.
	roundTrip := func(t *testing.T, s *tlsStream) {
		t.Helper()
		errc := make(chan error, 1)
		go func() {
			c, err := client.Dial(raft.ServerAddress(s.Addr().String()), 10*time.Second)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte{42}); err != nil {
				errc <- err
				return
			}
			b := make([]byte, 1)
			_, err = io.ReadFull(c, b)
			errc <- err
		}()
		c := accept(t, s)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 1)
		if _, err := io.ReadFull(c, b); err != nil || b[0] != 42 {
			t.Fatalf("read %v: %v", b, err)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("client: %v", err)
		}
	}
	silent := func(t *testing.T, s *tlsStream, k int) []net.Conn {
		t.Helper()
		var out []net.Conn
		for range k {
			c, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			out = append(out, c)
		}
		return out
	}
	// closedByServer waits until the server closes c.
	closedByServer := func(t *testing.T, c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("connection not closed by the server: %v", err)
		}
	}

	t.Run("silent peers do not hold accept", func(t *testing.T) {
		var hs handshakeLog
		c := clusterTLS(n1)
		c.HandshakeTimeout = time.Minute // longer than the test: nothing times out
		c.HandshakeFailed = hs.record
		s := tlsStreamOf(t, c)
		quiet := silent(t, s, 10)
		roundTrip(t, s)
		// Close interrupts their handshakes; that is not a failure.
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for _, q := range quiet {
			closedByServer(t, q)
		}
		if errs := hs.inbound(); len(errs) != 0 {
			t.Fatalf("failures reported: %v", errs)
		}
		if _, err := s.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after close: %v", err)
		}
	})

	t.Run("silent peer times out", func(t *testing.T) {
		var hs handshakeLog
		c := clusterTLS(n1)
		c.HandshakeTimeout = 200 * time.Millisecond
		c.HandshakeFailed = hs.record
		s := tlsStreamOf(t, c)
		closedByServer(t, silent(t, s, 1)[0])
		testutil.CheckFor(t, 10*time.Second, func() error {
			if hs.count(context.DeadlineExceeded) != 1 {
				return fmt.Errorf("failures %v, want one deadline", hs.inbound())
			}
			return nil
		})
		roundTrip(t, s)
	})

	t.Run("handshakes beyond the limit are refused", func(t *testing.T) {
		var hs handshakeLog
		c := clusterTLS(n1)
		c.HandshakeTimeout = time.Minute
		c.MaxHandshakes = 2
		c.HandshakeFailed = hs.record
		s := tlsStreamOf(t, c)
		quiet := silent(t, s, 3)
		closedByServer(t, quiet[2])
		if got := hs.count(errTooManyHandshakes); got != 1 {
			t.Fatalf("failures %v, want one over the limit", hs.inbound())
		}
	})

	t.Run("other protocols are refused", func(t *testing.T) {
		var hs handshakeLog
		c := clusterTLS(n1)
		c.HandshakeFailed = hs.record
		s := tlsStreamOf(t, c)
		for i, protos := range [][]string{{"http/1.1"}, nil} {
			cc := n2.ClientConfig("")
			cc.NextProtos = protos
			conn, err := tls.Dial("tcp", s.Addr().String(), cc)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				_ = conn.Close()
			}
			if err == nil {
				t.Fatalf("ALPN %v: connection served", protos)
			}
			testutil.CheckFor(t, 10*time.Second, func() error {
				if got := len(hs.inbound()); got != i+1 {
					return fmt.Errorf("failures %v, want %d", hs.inbound(), i+1)
				}
				return nil
			})
		}
		if hs.count(errWrongALPN) != 1 {
			t.Fatalf("failures %v: want one without ALPN", hs.inbound())
		}
	})

	t.Run("dial to another ca", func(t *testing.T) {
		other := testCerts(t, "n1")["n1"]
		s := tlsStreamOf(t, clusterTLS(other))
		var out atomic.Int64
		c := clusterTLS(n2)
		c.HandshakeFailed = func(inbound bool, err error) {
			if !inbound && errors.Is(err, certs.ErrNotSignedBy) {
				out.Add(1)
			}
		}
		d := tlsStreamOf(t, c)
		if conn, err := d.Dial(raft.ServerAddress(s.Addr().String()), 10*time.Second); err == nil {
			_ = conn.Close()
			t.Fatal("dialled a server of another CA")
		}
		if out.Load() != 1 {
			t.Fatalf("outbound failures %d, want 1", out.Load())
		}
	})
}

func TestClusterTLSValidate(t *testing.T) {
	nt := testCerts(t, "n1")["n1"]
	for _, tc := range []struct {
		name string
		edit func(*ClusterTLS)
		want string
	}{
		{"ok", func(*ClusterTLS) {}, ""},
		{"no server", func(c *ClusterTLS) { c.Server = nil }, "server config missing"},
		{"optional client certs", func(c *ClusterTLS) { c.Server.ClientAuth = tls.VerifyClientCertIfGiven }, "RequireAndVerifyClientCert"},
		{"no client", func(c *ClusterTLS) { c.Client = nil }, "client config missing"},
		{"client without certificate", func(c *ClusterTLS) { c.Client.Certificates = nil }, "no certificate"},
		{"no client per node", func(c *ClusterTLS) { c.ClientFor = nil }, "client-for"},
		{"no peer id", func(c *ClusterTLS) { c.PeerID = nil }, "peer id"},
		{"negative timeout", func(c *ClusterTLS) { c.HandshakeTimeout = -1 }, "handshake timeout"},
		{"negative limit", func(c *ClusterTLS) { c.MaxHandshakes = -1 }, "max handshakes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NodeID = "n1"
			cfg.ClusterTLS = clusterTLS(nt)
			tc.edit(cfg.ClusterTLS)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want an error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	r := rateLimit{every: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	if ok, d := r.allow(t0); !ok || d != 0 {
		t.Fatalf("first: %v %d", ok, d)
	}
	for i := range 3 {
		if ok, _ := r.allow(t0.Add(time.Duration(i+1) * time.Second)); ok {
			t.Fatalf("event %d within the interval let through", i)
		}
	}
	if ok, d := r.allow(t0.Add(10 * time.Second)); !ok || d != 3 {
		t.Fatalf("after the interval: %v, dropped %d, want true 3", ok, d)
	}
}
