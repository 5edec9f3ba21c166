package replication

import (
	"slices"
	"testing"
	"time"
)

// TestSoakCheckpointLoad: 500 rooms × 2 checkpoints/s × 2 KB on 3 nodes for
// TICKSYNC_SOAK_DURATION (default 10m); the data dir must stay bounded.
func TestSoakCheckpointLoad(t *testing.T) {
	d := soak(t)
	c := startCluster(t, 3, nil)
	r := runCheckpointLoad(t, c, 500, 2048, d)
	if r.maxDataDir > 256<<20 {
		t.Fatalf("data dir grew to %d MiB", r.maxDataDir>>20)
	}
}

// TestSoakLeaderCrashes crashes the leader 10 times (restarting it from its
// data dir each time) and reports election and reassignment times.
func TestSoakLeaderCrashes(t *testing.T) {
	soak(t)
	c := startCluster(t, 3, nil)
	var elections, takeovers []time.Duration
	for i := range 10 {
		ms := createMatches(t, c.leader(), "k"+string(rune('a'+i)), 3)
		leader := c.leader()
		lost := ownedBy(c.leader().Matches(), leader.ID())
		start := time.Now()
		leader.crash()
		nl := c.waitLeader(t, 10*time.Second)
		elections = append(elections, time.Since(start))
		waitMoved(t, c, nl, lost, 15*time.Second)
		takeovers = append(takeovers, time.Since(start))
		back := startNode(t, leader.ID(), leader.cfg.DataDir, leader.RaftAddr(), "")
		c[indexOf(c, leader)] = back
		c.waitConverged(t, 15*time.Second)
		_ = ms
	}
	pct := func(xs []time.Duration) string {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2].Round(time.Millisecond).String() + " p50, " + s[len(s)*9/10].Round(time.Millisecond).String() + " p90, " + s[len(s)-1].Round(time.Millisecond).String() + " max"
	}
	t.Logf("leader crash ×%d: election %s; leader's matches reassigned %s", len(elections), pct(elections), pct(takeovers))
}
