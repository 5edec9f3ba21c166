package ticksync

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
)

func TestIsSelfURL(t *testing.T) {
	hosts := map[string][]netip.Addr{
		"ticksync-0.ticksync-headless.default.svc": {netip.MustParseAddr("10.1.2.3")},
		"pod-ip-alias": {netip.MustParseAddr("10.1.2.3")},
		"other":        {netip.MustParseAddr("10.1.2.4")},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if ips, ok := hosts[host]; ok {
			return ips, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	const pod0 = "http://ticksync-0.ticksync-headless.default.svc:7350"
	for _, tt := range []struct {
		join, api string
		want      bool
	}{
		{pod0, pod0, true},
		{pod0, "http://ticksync-1.ticksync-headless.default.svc:7350", false},
		{pod0 + "/", pod0, true}, // paths do not matter
		{"HTTP://Ticksync-0.Ticksync-Headless.Default.Svc.:7350", pod0, true},  // case, trailing dot
		{pod0, "https://ticksync-0.ticksync-headless.default.svc:7350", false}, // scheme
		{pod0, "http://ticksync-0.ticksync-headless.default.svc:7360", false},  // port
		{"http://n1", "http://n1:80", true},                                    // default ports
		{"https://n1", "https://n1:443", true},
		{"https://n1", "http://n1:443", false},
		{"http://[::1]:7350", "http://[0:0::1]:7350", true}, // one spelling per address
		{pod0, "http://10.1.2.3:7350", true},                // the join name resolves to our IP
		{"http://pod-ip-alias:7350", pod0, true},            // two names, one IP
		{"http://other:7350", pod0, false},
		{"http://unknown:7350", "http://unknown-too:7350", false}, // lookups fail: not the seed
		{"", pod0, false},
		{"::bad", pod0, false},
	} {
		if got := isSelfURL(context.Background(), tt.join, tt.api, lookup); got != tt.want {
			t.Errorf("isSelfURL(%q, %q) = %v, want %v", tt.join, tt.api, got, tt.want)
		}
	}
	// The system resolver: localhost is 127.0.0.1.
	if !isSelfURL(context.Background(), "http://localhost:7350", "http://127.0.0.1:7350", nil) {
		t.Error("http://localhost:7350 is not http://127.0.0.1:7350")
	}
}

// freePort returns a port free on 127.0.0.1 just now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestNodeSeed: with the same -join on every node, as a StatefulSet's pods
// have it, the node whose own API URL it is (the seed) forms a one-node
// cluster from an empty data dir and a second node joins it. Restarted with
// its data and the same settings, the seed rejoins that cluster (no second
// bootstrap): both nodes are alive voters again and a match created before
// the restart is still there.
func TestNodeSeed(t *testing.T) {
	httpPort, raftPort := freePort(t), freePort(t)
	seedURL := "http://localhost:" + httpPort
	seedCfg := func(logs *testutil.SyncBuffer) Config {
		c := testConfig(t, "n1", logs)
		c.HTTPAddr = "127.0.0.1:" + httpPort
		c.RaftAddr = "127.0.0.1:" + raftPort
		c.RaftAdvertise = "localhost:" + raftPort
		c.APIAdvertise = seedURL
		c.Join = seedURL
		c.InsecureCluster = true // a loopback cluster in one process
		return c
	}
	dataDir := t.TempDir()
	start := func(c Config) *Node {
		t.Helper()
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := arena.Register(n.Games()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { stopNode(n) })
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	logs1 := &testutil.SyncBuffer{}
	c1 := seedCfg(logs1)
	c1.DataDir = dataDir
	n1 := start(c1)
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	if !strings.Contains(logs1.String(), "seed of the cluster") || !strings.Contains(logs1.String(), "bootstrapped a new cluster") {
		t.Fatalf("the seed's first start does not say it bootstrapped as the seed:\n%s", logs1)
	}

	c2 := testConfig(t, "n2", &testutil.SyncBuffer{})
	c2.Join = seedURL
	c2.InsecureCluster = true
	n2 := start(c2)
	testutil.CheckFor(t, 20*time.Second, n2.Ready)

	cl, err := admin.NewClient(seedURL, c1.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bothVoters := func() error {
		nodes, err := cl.Nodes(ctx)
		if err != nil {
			return err
		}
		got := make([]string, 0, len(nodes))
		for _, nd := range nodes {
			if nd.Voter && nd.State == replication.NodeAlive {
				got = append(got, nd.ID)
			}
		}
		if fmt.Sprint(got) != "[n1 n2]" {
			return fmt.Errorf("alive voters %v, want [n1 n2] (%+v)", got, nodes)
		}
		return nil
	}
	testutil.CheckFor(t, 20*time.Second, bothVoters)
	var m admin.Match
	testutil.CheckFor(t, 20*time.Second, func() error {
		m, err = cl.CreateMatch(ctx, admin.CreateMatchRequest{ID: "before-restart", Game: "arena"})
		return err
	})

	// Restart the seed with its data and the same settings.
	stopNode(n1)
	logs1b := &testutil.SyncBuffer{}
	c1b := seedCfg(logs1b)
	c1b.DataDir = dataDir
	n1 = start(c1b)
	testutil.CheckFor(t, 30*time.Second, n1.Ready)
	testutil.CheckFor(t, 20*time.Second, bothVoters)
	if s := logs1b.String(); strings.Contains(s, "bootstrapped a new cluster") || !strings.Contains(s, "rejoining") {
		t.Fatalf("the restarted seed bootstrapped again or did not rejoin:\n%s", s)
	}
	testutil.CheckFor(t, 20*time.Second, func() error {
		got, err := cl.Match(ctx, m.ID)
		if err != nil {
			return err
		}
		if got.Owner == "" {
			return fmt.Errorf("match %s has no owner", m.ID)
		}
		return nil
	})
}

func stopNode(n *Node) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = n.Shutdown(ctx)
}
