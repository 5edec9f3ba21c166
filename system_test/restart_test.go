package systemtest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestRestartKilledNode kills a node with SIGKILL, waits until the cluster
// declares it dead, and starts it again with the same flags and data dir:
// it rejoins by itself (every node lists it alive, it holds a lease) and
// takes new matches, which players can play on it. First a follower, then
// the leader (which comes back as a follower of the new leader).
func TestRestartKilledNode(t *testing.T) {
	c := startCluster(t, clusterOpts{})
	for _, kind := range []string{"follower", "leader"} {
		ok := t.Run(kind, func(t *testing.T) {
			leader := c.leader(10 * time.Second)
			victim := c.followers(leader)[0]
			if kind == "leader" {
				victim = leader
			}
			killed := c.kill(victim)
			// The others declare it dead.
			checkFor(t, 10*time.Second, func() error {
				for _, n := range c.live() {
					nodes, err := c.nodesOf(n)
					if err != nil {
						return err
					}
					i := slices.IndexFunc(nodes, func(a adminNode) bool { return a.ID == victim.id })
					if i < 0 || nodes[i].State != "dead" {
						return fmt.Errorf("%s sees %s as %+v", n.id, victim.id, nodes)
					}
				}
				return nil
			})
			dead := time.Since(killed)

			restarted := time.Now()
			c.restart(victim)
			c.waitConverged(20 * time.Second)
			back := time.Since(restarted)

			// New matches: the least-loaded node (the restarted one owns
			// nothing) gets the next; create until one lands on it.
			var m adminMatch
			checkFor(t, 10*time.Second, func() error {
				m = c.createMatch(c.leader(5*time.Second), nil)
				if m.Owner != victim.id {
					return fmt.Errorf("match %s placed on %s", m.ID, m.Owner)
				}
				return nil
			})
			start := time.Now()
			ps := joinPlayers(t, c, m.ID, 2, nil)
			startInputs(t, c.opts.rate(), ps)
			waitPlaying(t, ps, victim.id, start, 15, 10*time.Second)
			t.Logf("%s %s: declared dead %v after SIGKILL; restarted and converged in %v; took match %s",
				kind, victim.id, dead.Round(time.Millisecond), back.Round(time.Millisecond), m.ID)
		})
		if !ok {
			return
		}
	}
}
