package systemtest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/net/client"
)

// TestPausedOwner freezes the owner of a match with SIGSTOP (a long GC
// pause, a VM frozen by its host, a laptop lid) until the cluster has given
// the match to another node, then lets it run again with SIGCONT. Its
// monotonic clock ran on, so its lease has expired: it must not run the
// match again, at most finish the tick it was in when it stopped (the
// limit replication/DESIGN.md's fencing section names), its checkpoints must be
// refused, and it must learn the new owner. Its players, whose connection
// went silent, give up after their read timeout (2 s here) and resume on
// the new owner.
func TestPausedOwner(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	leader := c.leader(5 * time.Second)
	owner := c.followers(leader)[0]
	m := c.createMatch(leader, owner)
	start := time.Now()
	ps := joinPlayersWith(t, c, m.ID, 4, owner, func(cfg *client.Config) {
		cfg.ReadTimeout = 2 * time.Second
		cfg.DialTimeout = time.Second
	})
	startInputs(t, c.opts.rate(), ps)
	waitPlaying(t, ps, owner.id, start, 30, 10*time.Second)
	c.waitCheckpoint(leader, m.ID, 1, 5*time.Second)
	before, err := c.matchOn(owner, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	tp := startTickPoller(t, c, m.ID, 20*time.Millisecond)

	stopped := c.signal(owner, syscall.SIGSTOP)
	after := c.waitOwner(m.ID, owner.id, before.Epoch, 10*time.Second)
	newOwner := c.byID(after.Owner)
	waitResumed(t, ps, newOwner.id, 15*time.Second)
	var lastOld snapRec
	for _, p := range ps {
		if s, ok := p.lastFrom(owner.id); ok && s.tick > lastOld.tick {
			lastOld = s
		}
	}
	t.Logf("SIGSTOP %s at tick %d: match on %s@%d after %v, players back after %v",
		owner.id, lastOld.tick, after.Owner, after.Epoch, after0(tp, newOwner.id, stopped), time.Since(stopped).Round(time.Millisecond))

	resumed := c.signal(owner, syscall.SIGCONT)
	// It learns the new owner and drops the room.
	checkFor(t, 10*time.Second, func() error {
		got, err := c.matchOn(owner, m.ID)
		if err != nil {
			return err
		}
		if got.Owner != after.Owner || got.Tick != nil {
			return fmt.Errorf("%s after SIGCONT sees %s owned by %s@%d, its room's tick %v", owner.id, m.ID, got.Owner, got.Epoch, got.Tick)
		}
		return nil
	})
	t.Logf("SIGCONT → %s released the match after %v", owner.id, time.Since(resumed).Round(time.Millisecond))
	c.waitConverged(15 * time.Second)
	tp.stop()

	// What the paused node did after SIGCONT: the admin poller saw its tick
	// only if it advanced between a sample before the pause and one after.
	for _, o := range tp.observations() {
		if o.node == owner.id && o.hi.After(resumed) {
			t.Logf("after SIGCONT the poller saw %s's room advance in [%s, %s]", owner.id, o.lo.Format("15:04:05.000"), o.hi.Format("15:04:05.000"))
		}
	}
	// Its checkpoints were refused: the match's checkpoint is the new owner's.
	got, err := c.matchOn(newOwner, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CheckpointEpoch != after.Epoch && got.CheckpointEpoch != 0 {
		t.Errorf("checkpoint of %s at epoch %d, want the new owner's %d", m.ID, got.CheckpointEpoch, after.Epoch)
	}
	var st status
	if err := c.get(owner, "/admin/v1/status", &st); err == nil {
		t.Logf("%s after SIGCONT: checkpoints %+v", owner.id, st.Checkpoints)
	}
	checkHistory(t, append(snapshotObs(ps), tp.observations()...), 300*time.Millisecond, 5*time.Millisecond)
}

// after0 is how long after t0 the poller first saw node's tick advance.
func after0(tp *tickPoller, node string, t0 time.Time) time.Duration {
	at, ok := tp.firstTick(node)
	if !ok {
		return 0
	}
	return at.Sub(t0).Round(time.Millisecond)
}
