package replication

import (
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestSoakCheckpointLoad: 500 rooms × 2 checkpoints/s × 2 KB on 3 nodes for
// TICKSYNC_SOAK_DURATION (default 10m); the data dir must stay bounded.
// TICKSYNC_SOAK_SNAPSHOT_THRESHOLD (e.g. 8192) overrides the snapshot
// threshold and trailing logs, to compare with raft's entry-count defaults.
func TestSoakCheckpointLoad(t *testing.T) {
	d := soak(t)
	var opts []nodeOpt
	if v, err := strconv.ParseUint(os.Getenv("TICKSYNC_SOAK_SNAPSHOT_THRESHOLD"), 10, 64); err == nil {
		opts = append(opts, func(c *Config) { c.Raft.SnapshotThreshold, c.Raft.TrailingLogs = v, 10240 })
		t.Logf("snapshot threshold %d, trailing logs 10240", v)
	}
	c := startCluster(t, 3, nil, opts...)
	r := runCheckpointLoad(t, c, 500, 2048, d)
	if len(opts) == 0 && r.maxDataDir > 256<<20 {
		t.Fatalf("data dir grew to %d MiB", r.maxDataDir>>20)
	}
}

// TestSoakLeaderCrashes crashes the leader 10 times (restarting it from its
// data dir each time) and reports election and reassignment times.
// TICKSYNC_SOAK_RAFT_TIMEOUT (e.g. 300ms) overrides the heartbeat and
// election timeouts (and caps the leader lease timeout) to compare settings.
func TestSoakLeaderCrashes(t *testing.T) {
	soak(t)
	var opts []nodeOpt
	if v, err := time.ParseDuration(os.Getenv("TICKSYNC_SOAK_RAFT_TIMEOUT")); err == nil {
		opts = append(opts, func(c *Config) {
			c.Raft.HeartbeatTimeout, c.Raft.ElectionTimeout = v, v
			c.Raft.LeaderLeaseTimeout = min(c.Raft.LeaderLeaseTimeout, v)
		})
		t.Logf("raft heartbeat/election timeout %v", v)
	}
	c := startCluster(t, 3, nil, opts...)
	var elections, takeovers []time.Duration
	for i := range 10 {
		leader := c.waitLeader(t, 10*time.Second)
		ms := createMatches(t, leader, "k"+string(rune('a'+i)), 3)
		lost := ownedBy(leader.Matches(), leader.ID())
		start := time.Now()
		leader.crash()
		nl := c.waitLeader(t, 10*time.Second)
		elections = append(elections, time.Since(start))
		waitMoved(t, c, nl, lost, 15*time.Second)
		takeovers = append(takeovers, time.Since(start))
		back := startNode(t, leader.ID(), leader.cfg.DataDir, leader.RaftAddr(), "", opts...)
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
