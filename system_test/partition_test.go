package systemtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/faultproxy"
)

// TestPartitionOwner cuts the owner of a match off from the other two
// nodes (Raft and node-to-node HTTP, both ways; its players stay connected
// to it). The match moves to the majority side; the isolated owner stops
// ticking within its owner lease, before the new owner starts; after the
// partition heals, the old owner learns the new owner, does not run the
// match again, and its players are redirected and resume their seats on
// the new owner. A checker over the recorded history (snapshot server
// times, and the admin API's tick sampled every 20 ms on every node)
// asserts that no two nodes ticked the match in overlapping time.
//
// Subtests: the owner is a follower (faults: connections refused), or the
// leader (faults: a silent blackhole, so that Raft and HTTP notice only by
// their timeouts).
func TestPartitionOwner(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		fault faultproxy.Fault
	}{
		{"follower", faultproxy.Refuse},
		{"leader", faultproxy.Blackhole},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			c := startCluster(t, clusterOpts{})
			leader := c.leader(5 * time.Second)
			owner := c.followers(leader)[0]
			if tc.kind == "leader" {
				owner = leader
			}
			m := c.createMatch(leader, owner)
			start := time.Now()
			ps := joinPlayers(t, c, m.ID, 6, owner)
			startInputs(t, c.opts.rate(), ps)
			waitPlaying(t, ps, owner.id, start, 30, 10*time.Second)
			c.waitCheckpoint(leader, m.ID, 1, 5*time.Second)
			before, err := c.matchOn(owner, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			tp := startTickPoller(t, c, m.ID, 20*time.Millisecond)

			cut := time.Now()
			c.isolate(owner, tc.fault)
			t.Logf("%s isolated (%v) at %s", owner.id, tc.fault, cut.Format("15:04:05.000"))
			majority := c.others(owner)
			after := c.waitOwner(m.ID, owner.id, before.Epoch, 15*time.Second, owner)
			moved := time.Since(cut)
			newOwner := c.byID(after.Owner)
			// The cut really carried the nodes' traffic: the proxies in
			// front of the majority saw the isolated node's links.
			for _, o := range majority {
				t.Logf("%s's proxies: raft %+v, http %+v", o.id, o.raftProxy.Stats(), o.httpProxy.Stats())
			}

			// The isolated owner has lost its lease and stopped ticking.
			checkFor(t, 5*time.Second, func() error {
				var st status
				if err := c.get(owner, "/admin/v1/status", &st); err != nil {
					return err
				}
				if st.LeaseValid {
					return fmt.Errorf("%s still holds a lease", owner.id)
				}
				return nil
			})
			var lastOld snapRec
			for _, p := range ps {
				if s, ok := p.lastFrom(owner.id); ok && s.server.After(lastOld.server) {
					lastOld = s
				}
			}
			stoppedAfter := lastOld.server.Sub(cut)
			slack := 2*time.Second/time.Duration(c.opts.rate()) + 50*time.Millisecond
			if stoppedAfter > c.opts.lease()+slack {
				t.Errorf("%s ticked until %v after the cut (tick %d), lease %v + slack %v", owner.id, stoppedAfter, lastOld.tick, c.opts.lease(), slack)
			}

			// A new player on the majority side plays the match on the new owner.
			obsStart := time.Now()
			obs := joinPlayers(t, c, m.ID, 1, newOwner)
			startInputs(t, c.opts.rate(), obs)
			waitPlaying(t, obs, newOwner.id, obsStart, 30, 10*time.Second)
			firstNew, _ := tp.firstTick(newOwner.id)
			t.Logf("cut → match reassigned (seen by %s, %s) %v; old owner's last tick %d at cut+%v; new owner ticking at cut+%v",
				majority[0].id, majority[1].id, moved.Round(time.Millisecond), lastOld.tick, stoppedAfter.Round(time.Millisecond), firstNew.Sub(cut).Round(time.Millisecond))

			healed := time.Now()
			c.heal()
			// The old owner learns the new owner and does not run the match.
			checkFor(t, 10*time.Second, func() error {
				got, err := c.matchOn(owner, m.ID)
				if err != nil {
					return err
				}
				if got.Owner != after.Owner || got.Epoch != after.Epoch {
					return fmt.Errorf("%s sees %s owned by %s@%d, want %s@%d", owner.id, m.ID, got.Owner, got.Epoch, after.Owner, after.Epoch)
				}
				return nil
			})
			// Its players are sent to the new owner and resume their seats.
			waitResumed(t, ps, newOwner.id, 20*time.Second)
			var back []string
			for _, p := range ps {
				l := p.last()
				when := "before"
				if l.at.After(healed) {
					when = "after"
				}
				back = append(back, fmt.Sprintf("cut+%v (%s the heal)", l.at.Sub(cut).Round(time.Millisecond), when))
			}
			t.Logf("old owner's players resumed on %s at %v; healed at cut+%v", newOwner.id, back, healed.Sub(cut).Round(time.Millisecond))
			c.waitConverged(15 * time.Second)
			settle := time.Now()
			waitPlaying(t, ps, newOwner.id, settle, 15, 5*time.Second)
			tp.stop()

			for _, p := range ps {
				if s, ok := p.lastFrom(owner.id); ok && s.server.After(lastOld.server) {
					t.Errorf("%s: snapshot of tick %d from the old owner %s at %s, after it stopped at %s",
						p.name, s.tick, owner.id, s.server.Format("15:04:05.000"), lastOld.server.Format("15:04:05.000"))
				}
			}
			if got, err := c.matchOn(owner, m.ID); err != nil || got.Tick != nil {
				t.Errorf("old owner %s still reports a room for %s: %+v %v", owner.id, m.ID, got, err)
			}
			obsAll := append(snapshotObs(ps, obs), tp.observations()...)
			checkHistory(t, obsAll, 300*time.Millisecond, 5*time.Millisecond)
		})
	}
}
