package ticksync

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
)

// metricValue sums the series of metric name in reg whose labels include
// want.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for k, x := range want {
				if labelValue(m, k) != x {
					continue series
				}
			}
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v
}

// TestNodeLogsAndMetricsOfAMove runs a three-node cluster in this process
// with JSON logs at debug level, a player, and the graceful shutdown of
// the node that runs the player's match (its match is handed over, the
// player redirected, and it resumes on another node). Every log line of
// every node must be JSON with no key twice, and the hand-over, the
// redirect and the resume are counted where they happened.
func TestNodeLogsAndMetricsOfAMove(t *testing.T) {
	logs := map[string]*testutil.SyncBuffer{}
	nodes := map[string]*Node{}
	start := func(c Config) *Node {
		t.Helper()
		n := startArenaNode(t, c)
		nodes[n.NodeID()] = n
		return n
	}
	config := func(id string) Config {
		logs[id] = &testutil.SyncBuffer{}
		c := testConfig(t, id, logs[id])
		c.LogLevel = zerolog.DebugLevel
		log := c.NewLogger(logs[id])
		c.Logger = &log
		return c
	}
	c1 := config("n1")
	c1.Bootstrap = true
	c1.InsecureCluster = true
	n1 := start(c1)
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	for _, id := range []string{"n2", "n3"} {
		c := config(id)
		c.Join = n1.APIURL()
		c.InsecureCluster = true // a loopback cluster in one process
		testutil.CheckFor(t, 20*time.Second, start(c).Ready)
	}

	cfg := client.DefaultConfig()
	cfg.URLs = []string{n1.Advertise(), nodes["n2"].Advertise(), nodes["n3"].Advertise()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > 0 })
	owner := nodes[c.Welcome().NodeID]
	if owner == nil {
		t.Fatalf("welcome from %q", c.Welcome().NodeID)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := owner.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	var other *Node
	testutil.CheckFor(t, 20*time.Second, func() error {
		w := c.Welcome()
		if other = nodes[w.NodeID]; other == nil || other == owner {
			return fmt.Errorf("the player is on %q (client error %v)", w.NodeID, c.Err())
		}
		return nil
	})
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		return metricValue(t, other.reg, "ticksync_resumes_total", map[string]string{"result": "ok"}) >= 1
	})
	for _, m := range []struct {
		n      *Node
		name   string
		labels map[string]string
	}{
		{owner, "ticksync_handovers_total", nil},
		{owner, "ticksync_redirects_total", map[string]string{"reason": "moved"}},
		{owner, "ticksync_raft_apply_seconds", nil},
		{other, "ticksync_game_rooms", map[string]string{"game": "arena"}},
		{other, "ticksync_game_players_connected", map[string]string{"game": "arena"}},
	} {
		if v := metricValue(t, m.n.reg, m.name, m.labels); v < 1 {
			t.Errorf("%s on %s: %v, want ≥ 1", m.name, m.n.NodeID(), v)
		}
	}
	for _, n := range nodes {
		// Each shutdown has its own budget: a loaded machine can take
		// seconds per node (final flushes, leadership transfer, Raft).
		nctx, ncancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := n.Shutdown(nctx)
		ncancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	for id, buf := range logs {
		sc := bufio.NewScanner(strings.NewReader(buf.String()))
		sc.Buffer(nil, 1<<20)
		lines := 0
		for sc.Scan() {
			lines++
			if dups, err := testutil.DuplicateKeys(sc.Bytes()); err != nil || len(dups) > 0 {
				t.Errorf("%s: a log line repeats %v (%v): %s", id, dups, err, sc.Text())
			}
		}
		if lines < 5 { // a node that started, served and stopped says more than that
			t.Errorf("%s logged %d lines", id, lines)
		}
		t.Logf("%s: %d log lines, no key twice", id, lines)
	}
}
