package systemtest

import (
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/net/client"
)

// frozenBackBound is how soon after the SIGSTOP of their node players with
// the default stall timeout (2 s) must be back: well before the 15 s read
// timeout that was all they had before (it alone takes 11–15 s to fire,
// and a reconnect comes on top).
const frozenBackBound = 10 * time.Second

// TestFrozenOwnerPlayersBack freezes the owner of a match with SIGSTOP: its
// TCP connections stay open (the kernel even accepts new ones into the
// listen backlog) and nothing arrives. Six players with net/client's
// defaults notice within their stall timeout (no snapshot for 2 s), drop the
// connection and resume through the other nodes, which redirect them to the
// match's new owner once the cluster has moved it: each is back, same seat,
// snapshots from the new owner, well before 15 s. Two players of another
// match on the same node run with the stall watch off, as every client did
// before: they only notice after their 15 s read timeout. The figures are
// logged. SIGCONT at the end lets the old owner learn the new one and be
// stopped cleanly. Once with a follower as the owner, once with the Raft
// leader (an election comes first).
func TestFrozenOwnerPlayersBack(t *testing.T) {
	for _, kind := range []string{"follower", "leader"} {
		t.Run(kind, func(t *testing.T) {
			// The players without the stall watch come back after 15–20 s;
			// the new owner keeps their seats for the resume grace from
			// when it adopted the match (about 3 s after the SIGSTOP), and
			// the default 15 s would be a race.
			c := startCluster(t, clusterOpts{extra: []string{"-resume-grace", "60s"}})
			leader := c.leader(5 * time.Second)
			owner := c.followers(leader)[0]
			if kind == "leader" {
				owner = leader
			}
			m := c.createMatch(leader, owner)
			m0 := c.createMatch(leader, owner)
			start := time.Now()
			ps := joinPlayers(t, c, m.ID, 6, owner)
			if got := ps[0].c.Stats(); got.Stalls != 0 {
				t.Fatalf("stalls before the freeze: %+v", got)
			}
			off := joinPlayersWith(t, c, m0.ID, 2, owner, func(cfg *client.Config) { cfg.StallTimeout = 0 })
			startInputs(t, c.opts.rate(), ps, off)
			waitPlaying(t, ps, owner.id, start, 30, 10*time.Second)
			waitPlaying(t, off, owner.id, start, 30, 10*time.Second)
			survivor := c.live(owner)[0]
			// Both matches have a checkpoint with their seats: the new owner
			// restores them.
			c.waitCheckpoint(survivor, m.ID, 1, 5*time.Second)
			c.waitCheckpoint(survivor, m0.ID, 1, 5*time.Second)
			before, err := c.matchOn(survivor, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			before0, err := c.matchOn(survivor, m0.ID)
			if err != nil {
				t.Fatal(err)
			}

			stopped := c.signal(owner, syscall.SIGSTOP)
			// Whatever happens below, the stopped process is let go on
			// (and then killed by the cluster's cleanup).
			t.Cleanup(func() { cont(owner) })

			after := c.waitOwner(m.ID, owner.id, before.Epoch, 20*time.Second)
			moved := time.Since(stopped)
			waitResumed(t, ps, after.Owner, 20*time.Second)
			back := backTimes(t, ps, after.Owner, stopped)
			for i, p := range ps {
				st := p.c.Stats()
				if st.Stalls < 1 {
					t.Errorf("%s: back without a stall (stats %+v): the freeze was not seen as one", p.name, st)
				}
				if back[i] > frozenBackBound {
					t.Errorf("%s: back %v after the SIGSTOP, want under %v", p.name, back[i].Round(time.Millisecond), frozenBackBound)
				}
			}
			t.Logf("SIGSTOP %s owner %s: every node listed the match on %s@%d after %v; stall timeout %v: players back after %v (max %v)",
				kind, owner.id, after.Owner, after.Epoch, moved.Round(time.Millisecond), client.DefaultStallTimeout,
				msList(back), slices.Max(back).Round(time.Millisecond))

			// The players without the watch: their 15 s read timeout.
			moved0 := c.waitOwner(m0.ID, owner.id, before0.Epoch, 20*time.Second)
			waitResumed(t, off, moved0.Owner, 30*time.Second)
			backOff := backTimes(t, off, moved0.Owner, stopped)
			for i, p := range off {
				if st := p.c.Stats(); st.Stalls != 0 {
					t.Errorf("%s: %d stalls with the watch off", p.name, st.Stalls)
				}
				if backOff[i] < frozenBackBound {
					t.Errorf("%s: back %v after the SIGSTOP with the stall watch off: the node was not frozen the way this test means (connections open, silent)",
						p.name, backOff[i].Round(time.Millisecond))
				}
			}
			t.Logf("with the stall watch off (read timeout %v): players back after %v", client.DefaultReadTimeout, msList(backOff))

			// SIGCONT: the old owner learns that it lost the match (its lease
			// ran out long ago; pause_test.go checks what it may do). The
			// players stay seated wherever the match runs once the cluster
			// has settled: with the leader stopped, the two others may pass
			// the leadership and the match between them a few times first.
			resumed := c.signal(owner, syscall.SIGCONT)
			c.waitConverged(30 * time.Second)
			var now adminMatch
			checkFor(t, 15*time.Second, func() error {
				listed, err := c.matchOn(survivor, m.ID)
				if err != nil {
					return err
				}
				if listed.Owner == "" {
					return fmt.Errorf("%s: no owner", m.ID)
				}
				o := c.byID(listed.Owner)
				// The owner's own listing carries its room's tick.
				if now, err = c.matchOn(o, m.ID); err != nil {
					return err
				}
				if now.Owner != o.id || now.Tick == nil {
					return fmt.Errorf("%s: %s lists owner %q, tick %v", m.ID, o.id, now.Owner, now.Tick)
				}
				return nil
			})
			waitResumed(t, ps, now.Owner, 20*time.Second)
			since := time.Now()
			waitPlaying(t, ps, now.Owner, since, 15, 10*time.Second)
			t.Logf("SIGCONT → cluster converged after %v; %s on %s@%d (after the failover: %s@%d)",
				time.Since(resumed).Round(time.Millisecond), m.ID, now.Owner, now.Epoch, after.Owner, after.Epoch)
		})
	}
}

// backTimes returns, per player, the time from t0 to its first snapshot
// from node.
func backTimes(t *testing.T, ps []*player, node string, t0 time.Time) []time.Duration {
	t.Helper()
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		s, ok := p.firstFrom(node, t0)
		if !ok {
			t.Fatalf("%s: no snapshot from %s after the SIGSTOP: %v", p.name, node, p)
		}
		out[i] = s.recv.Sub(t0)
	}
	return out
}

func msList(ds []time.Duration) string {
	ms := make([]int64, len(ds))
	for i, d := range ds {
		ms[i] = d.Milliseconds()
	}
	return fmt.Sprintf("%v ms", ms)
}

// cont sends SIGCONT to n's process if it is stopped.
func cont(n *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.paused {
		_ = n.proc.cmd.Process.Signal(syscall.SIGCONT)
		n.paused = false
	}
}
