package systemtest

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// takeover is what one kill of a match's owner cost its players.
type takeover struct {
	kind               string // "leader" or "follower": what the killed owner was
	oldOwner, newOwner string
	oldEpoch, newEpoch uint64
	// perPlayer: kill → first snapshot from the new owner, as each player
	// received it.
	perPlayer []time.Duration
	// resumed: kill → first tick on the new owner as the admin API poller
	// saw it (0 if it did not see it).
	resumed time.Duration
	// restoredTick and adopted: the checkpoint tick the new owner restored
	// and when (kill → its log line), when its log says so.
	restoredTick uint32
	adopted      time.Duration
	// lost: ticks each player saw from the old owner that the new owner
	// played again (last tick seen from the old owner + 1 − first tick from
	// the new one; 0 when nothing was lost).
	lost []int
	// overBound describes each player that lost more than the bound (one
	// checkpoint interval of game time, +1 tick); the caller fails on it
	// (or counts it, when measuring).
	overBound []string
}

func (k takeover) String() string {
	ms := make([]int64, len(k.perPlayer))
	for i, d := range k.perPlayer {
		ms[i] = d.Milliseconds()
	}
	return fmt.Sprintf("%s owner %s@%d → %s@%d: adopted checkpoint tick %d at +%dms, room ticking at +%dms, players back at +%v ms, ticks lost %v",
		k.kind, k.oldOwner, k.oldEpoch, k.newOwner, k.newEpoch, k.restoredTick, k.adopted.Milliseconds(), k.resumed.Milliseconds(), ms, k.lost)
}

// killOwner kills owner (which runs match id, played by ps) with SIGKILL
// and waits until the match runs elsewhere at a newer epoch and every
// player is back in its seat on the new owner. It checks the game time
// lost against one checkpoint interval and returns the figures.
func killOwner(t *testing.T, c *cluster, owner *node, kind, id string, ps []*player) takeover {
	t.Helper()
	survivor := c.live(owner)[0]
	before, err := c.matchOn(survivor, id)
	if err != nil {
		t.Fatal(err)
	}
	if before.Owner != owner.id {
		t.Fatalf("%s is owned by %s, not %s", id, before.Owner, owner.id)
	}
	tp := startTickPoller(t, c, id, 20*time.Millisecond)
	killed := c.kill(owner)
	after := c.waitOwner(id, owner.id, before.Epoch, 10*time.Second)
	waitResumed(t, ps, after.Owner, 15*time.Second)
	_ = poll(2*time.Second, func() error { // informational: the poller's view of the new room
		if _, ok := tp.firstTick(after.Owner); !ok {
			return errors.New("not yet")
		}
		return nil
	})
	tp.stop()
	if tp.errs > 0 {
		t.Logf("tick poller: %d failed requests", tp.errs)
	}

	k := takeover{kind: kind, oldOwner: owner.id, newOwner: after.Owner, oldEpoch: before.Epoch, newEpoch: after.Epoch}
	if at, ok := tp.firstTick(after.Owner); ok {
		k.resumed = at.Sub(killed)
	}
	if tick, at, ok := adoptedAt(c.byID(after.Owner), id, after.Epoch); ok {
		k.restoredTick, k.adopted = tick, at.Sub(killed)
	}
	rate := c.opts.rate()
	intervalTicks := int(c.opts.checkpoint() * time.Duration(rate) / time.Second)
	for _, p := range ps {
		old, ok := p.lastFrom(owner.id)
		if !ok {
			t.Fatalf("%s: never saw a snapshot from %s", p.name, owner.id)
		}
		first, ok := p.firstFrom(after.Owner, killed)
		if !ok {
			t.Fatalf("%s: no snapshot from %s after the kill", p.name, after.Owner)
		}
		k.perPlayer = append(k.perPlayer, first.recv.Sub(killed))
		lost := max(0, int(old.tick)+1-int(first.tick))
		k.lost = append(k.lost, lost)
		// The bound: last tick seen from the old owner − first tick from
		// the new one ≤ one checkpoint interval in ticks, +1 tick of
		// tolerance (so lost ≤ interval + 2 ticks).
		if back := int(old.tick) - int(first.tick); back > intervalTicks+1 {
			k.overBound = append(k.overBound, fmt.Sprintf("%s: saw tick %d from %s, then tick %d from %s: rolled back %d ticks (%v of game time lost), more than one checkpoint interval (%v = %d ticks) + 1 tick",
				p.name, old.tick, owner.id, first.tick, after.Owner, back, time.Duration(lost)*time.Second/time.Duration(rate), c.opts.checkpoint(), intervalTicks))
		}
	}
	t.Log(k)
	return k
}

// TestKillOwner: three nodes, two matches of six players each, inputs every
// tick; kill -9 the node that owns the first match. Within seconds the
// match runs on another node at a newer epoch (the Raft index of the
// reassignment), every player is back in its seat with its player id and
// entity, at most one checkpoint interval of game time is lost, and the
// other match carries on. Once with a follower as the owner, once with the
// Raft leader.
func TestKillOwner(t *testing.T) {
	for _, kind := range []string{"follower", "leader"} {
		t.Run(kind, func(t *testing.T) {
			c := startCluster(t, clusterOpts{})
			leader := c.leader(5 * time.Second)
			owner, other := c.followers(leader)[0], leader
			if kind == "leader" {
				owner, other = leader, c.followers(leader)[0]
			}
			m1 := c.createMatch(leader, owner)
			m2 := c.createMatch(leader, other)
			start := time.Now()
			p1 := joinPlayers(t, c, m1.ID, 6, nil) // through n1 first: redirects to the owner
			p2 := joinPlayers(t, c, m2.ID, 6, nil)
			startInputs(t, c.opts.rate(), p1, p2)
			waitPlaying(t, p1, owner.id, start, 30, 10*time.Second)
			waitPlaying(t, p2, other.id, start, 30, 10*time.Second)
			c.waitCheckpoint(leader, m1.ID, 1, 5*time.Second)

			k := killOwner(t, c, owner, kind, m1.ID, p1)
			for _, e := range k.overBound {
				t.Error(e)
			}
			if k.newEpoch <= k.oldEpoch {
				t.Fatalf("epoch %d → %d", k.oldEpoch, k.newEpoch)
			}

			// The other match: same node, same seats, still ticking.
			since := time.Now()
			waitPlaying(t, p2, other.id, since, 15, 5*time.Second)
			for _, p := range p2 {
				if f, l := p.first(), p.last(); l.node != other.id || l.playerID != f.playerID || l.entityID != f.entityID {
					t.Errorf("match 2 disturbed: %v", p)
				}
			}
			checkHistory(t, snapshotObs(p1, p2), 300*time.Millisecond, 5*time.Millisecond)
		})
	}
}
