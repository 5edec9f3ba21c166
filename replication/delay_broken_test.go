//go:build ticksync_broken

package replication

// Liveness gaps the fencing argument allows (each is safe, but matches stay
// paused or move for nothing). These tests fail on today's code and are
// built only with -tags ticksync_broken:
//
//	go test -tags ticksync_broken -run 'TestLostHeartbeatAnswers|TestSlowBarrierKeepsLivePreviousLeader' ./replication/

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// TestLostHeartbeatAnswers cuts a follower owner's link one way: its
// heartbeats reach the leader, the leader's answers never reach it (a
// firewall or a NAT entry that drops one direction). Safety holds: the
// follower's lease ends, since no heartbeat is acknowledged to it. But the
// leader records each heartbeat it receives as contact, so it never
// declares the follower dead, and the follower's matches must still move
// to a node that can run them, within FailoverAfter (plus the lease and a
// generous allowance for a loaded machine) of the cut.
//
// Known broken: the matches of such a node stay with it, paused, for as
// long as the cut lasts (no node runs them). The test runs only with
// -tags ticksync_broken until the supervisor judges liveness by answers
// that arrive rather than by requests received.
func TestLostHeartbeatAnswers(t *testing.T) {
	lags := []*heartbeatLag{newHeartbeatLag(), newHeartbeatLag(), newHeartbeatLag()}
	var fence fenceRecorder
	c := startCluster(t, 3, func(i int) []nodeOpt { return []nodeOpt{lags[i].opt()} }, fence.opt())
	fence.track(c...)
	cfg := c[0].cfg
	leader := c.waitLeader(t, 10*time.Second)
	createMatches(t, leader, "o", 6)
	victim, lost := followerOwner(t, c, "o-late")
	i := indexOf(c, victim)
	nodes := slices.Clone(c)
	samp := startLeaseSampler(func() []*testNode { return nodes }, cfg.OwnerLease, nil)
	chk := startChecker(func() cluster { return c })

	cut := time.Now()
	lags[i].lose.Store(true)
	testutil.CheckFor(t, 10*time.Second, func() error {
		if victim.LeaseValid() {
			return errors.New("the follower still holds its lease")
		}
		return nil
	})
	t.Logf("%s's lease ended %v after its answers were lost", victim.ID(), time.Since(cut).Round(time.Millisecond))
	waitTakenFrom(t, c, victim, lost, cfg.FailoverAfter+cfg.OwnerLease+10*time.Second)
	t.Logf("%s's matches moved %v after its answers were lost", victim.ID(), time.Since(cut).Round(time.Millisecond))
	lags[i].lose.Store(false)
	samp.finish(t)
	chk.finish(t)
	fence.check(t, cfg)
}

// followerOwner returns a follower and the matches it owns now; if no
// follower owns one (on a loaded machine a follower may have been declared
// dead and lost its matches meanwhile), it creates one on a follower.

// TestSlowBarrierKeepsLivePreviousLeader hands leadership to a node whose
// FSM is held for longer than FailoverAfter, so the new leader's
// start-of-term Barrier is slow: until it is done the new supervisor
// refuses every heartbeat, the previous leader's among them. The previous
// leader is alive and heartbeats every HeartbeatInterval; it must not be
// declared dead (and its matches moved) the moment the supervisor starts.
//
// Known broken: the "previous leader" rule's deadline (c + FailoverAfter)
// has passed by then, and the previous leader could not have been heard,
// so it is declared dead at once (seen in TestChaos under load: a Barrier
// of 22 s, the previous leader declared dead 26 ms after the supervisor
// started, revived 175 ms later). Safe, but its matches move and lose game
// time for nothing. The test runs only with -tags ticksync_broken.
func TestSlowBarrierKeepsLivePreviousLeader(t *testing.T) {
	var hold atomic.Bool
	release := make(chan struct{})
	var fence fenceRecorder
	c := startCluster(t, 3, func(i int) []nodeOpt {
		if i != 1 {
			return nil
		}
		return []nodeOpt{func(cfg *Config) {
			cfg.beforeApply = func() {
				if hold.Load() {
					<-release
				}
			}
		}}
	}, fence.opt())
	fence.track(c...)
	cfg := c[0].cfg
	old := c.waitLeader(t, 10*time.Second)
	next := c[1]
	if old == next {
		if err := old.LeadershipTransfer(ctxT(t, 5*time.Second), c[0].ID()); err != nil {
			t.Fatal(err)
		}
		old = c.waitLeader(t, 10*time.Second)
	}
	createMatches(t, old, "b", 6)
	// next's FSM stops at the next command; the Barrier of its term waits
	// for it.
	hold.Store(true)
	if _, err := old.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "b-held", Game: "arena"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := old.LeadershipTransfer(ctxT(t, 5*time.Second), next.ID()); err != nil {
		t.Fatal(err)
	}
	held := cfg.FailoverAfter + cfg.OwnerLease
	time.AfterFunc(held, func() { hold.Store(false); close(release) })
	testutil.CheckFor(t, held+10*time.Second, func() error {
		if sup := next.sup.Load(); !next.IsLeader() || sup == nil || !sup.ready.Load() {
			return errors.New("the new leader's supervisor is not ready")
		}
		return nil
	})
	ready := time.Now()
	t.Logf("%s leads, its supervisor ready %v after the transfer", next.ID(), ready.Sub(start).Round(time.Millisecond))
	// The previous leader heartbeats the new one within an interval or two.
	testutil.CheckFor(t, 10*time.Second, func() error {
		if !old.LeaseValid() {
			return fmt.Errorf("%s has no lease yet", old.ID())
		}
		return nil
	})
	if r, ok := fence.first(old.ID(), start); ok {
		t.Fatalf("%s declared the live previous leader %s dead %v after its supervisor was ready (rule %q)",
			r.x.by, old.ID(), r.x.decided.Sub(ready).Round(time.Millisecond), r.x.rule)
	}
}
