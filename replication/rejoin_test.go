package replication

import (
	"errors"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

// TestLeaseSoonAfterLongOutage stops a follower for longer than Raft's
// replication backoff needs to reach its cap (failures every few ms while
// the peer refuses connections: 10 ms doubling to 10.24 s after ~10 s),
// restarts it from its data dir, and requires its lease within 2 s of the
// restart. The lease needs the node's FSM to apply its revival, which only
// replication brings; without holdTransport the leader's replication
// goroutine for the node was asleep in a backoff of up to 10 s when the
// node came back (measured 4.5–4.8 s to the lease).
func TestLeaseSoonAfterLongOutage(t *testing.T) {
	const outage, bound = 15 * time.Second, 2 * time.Second
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	createMatches(t, leader, "o", 3)
	i := (indexOf(c, leader) + 1) % len(c)
	follower := c[i]
	follower.crash()
	testutil.CheckFor(t, 10*time.Second, func() error {
		l := c.leader()
		if l == nil {
			return errors.New("no leader")
		}
		if nd, _ := l.fsm.Node(follower.ID()); nd.State != NodeDead {
			return errors.New("the stopped node is not declared dead yet")
		}
		return nil
	})
	// The outage is the scenario, not a wait for a condition: the
	// leader's replication towards the node fails all along.
	<-time.After(outage)

	start := time.Now()
	back := startNode(t, follower.ID(), follower.cfg.DataDir, follower.RaftAddr(), "")
	c[i] = back
	running := time.Since(start)
	testutil.CheckFor(t, 15*time.Second, func() error {
		if !back.LeaseValid() {
			return errors.New("restarted node has no lease")
		}
		return nil
	})
	took := time.Since(start)
	t.Logf("stopped %v; restarted node running after %v, lease after %v (bound %v)",
		outage, running.Round(time.Millisecond), took.Round(time.Millisecond), bound)
	if took > bound {
		t.Fatalf("restarted node got its lease %v after its restart, want within %v", took.Round(time.Millisecond), bound)
	}
	c.waitConverged(t, 10*time.Second)
}
