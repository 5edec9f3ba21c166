package replication

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// The delay tests: one per case of the fencing argument (DESIGN.md,
// "Fencing") that a late message could break. Each injects the delay with
// the harness of delay_harness_test.go, samples every node's lease against
// the argument's bounds (leaseSampler), samples every node for two of them
// running one match (ownershipChecker), and checks what every declared
// node held when it was declared dead (fenceRecorder). Delays are derived
// from the Config in use, never from today's defaults.

// TestDelayedRaftReplies delivers every Raft reply late (AppendEntries
// responses, hence the commit of each lease Barrier, by a third of
// LeaderLeaseTimeout, so the leader keeps leading): the leader's lease must
// still run from the moment each Barrier started, never from its late
// commit, and no follower's lease may outlast the leader's own. Then, with
// the replies still late, a follower owner is cut off: when the leader
// declares it dead, its lease must have ended FailoverAfter − OwnerLease
// before the deadline, and no match may run on two nodes at once.
func TestDelayedRaftReplies(t *testing.T) {
	var lag atomic.Int64
	faults := []*faultNode{newFaultNode(), newFaultNode(), newFaultNode()}
	var fence fenceRecorder
	c := startCluster(t, 3, func(i int) []nodeOpt { return []nodeOpt{faults[i].opt(), lagOpt(&lag)} }, fence.opt())
	fence.track(c...)
	cfg := c[0].cfg
	leader := c.waitLeader(t, 10*time.Second)
	createMatches(t, leader, "d", 6)
	nodes := slices.Clone(c)
	samp := startLeaseSampler(func() []*testNode { return nodes }, cfg.OwnerLease, nil)
	chk := startChecker(func() cluster { return c })

	d := cfg.Raft.LeaderLeaseTimeout / 3
	start := time.Now()
	lag.Store(int64(d))
	const want = 8
	testutil.CheckFor(t, 30*time.Second, func() error {
		if n := samp.renewalsSince(start); n < want {
			return fmt.Errorf("%d lease renewals since the replies are late, want %d", n, want)
		}
		return nil
	})
	late, renewed := samp.lateRenewals(start, d), samp.renewalsSince(start)
	t.Logf("Raft replies %v late: %d of %d lease renewals committed ≥ %v after they started, in %v",
		d, late, renewed, d, time.Since(start).Round(time.Millisecond))

	// A follower owner cut off while the replies stay late.
	victim, lost := followerOwner(t, c, "d-late")
	i := indexOf(c, victim)
	cut := time.Now()
	faults[i].isolate()
	observer := waitTakenFrom(t, c, victim, lost, 60*time.Second) // elections can flap for a while on a starved machine
	rec := fence.waitDeclared(t, victim.ID(), cut, 30*time.Second)
	t.Logf("%s cut off: declared dead by %s (rule %q) %v after the cut; its lease had ended %v before the deadline",
		victim.ID(), rec.x.by, rec.x.rule, rec.x.decided.Sub(cut).Round(time.Millisecond), rec.x.due.Sub(rec.end).Round(time.Millisecond))

	faults[i].heal()
	testutil.CheckFor(t, 15*time.Second, func() error {
		if !victim.LeaseValid() {
			return errors.New("healed node has no lease")
		}
		if nd, _ := observer.fsm.Node(victim.ID()); nd.State != NodeAlive {
			return fmt.Errorf("healed node is %s", nd.State)
		}
		return nil
	})
	lag.Store(0)
	samp.finish(t)
	chk.finish(t)
	if fence.check(t, cfg) == 0 {
		t.Fatal("no death of a running node was checked")
	}
	// Every renewal needs a reply, so each commits at least d after it
	// started; if they did not, the delay exercised nothing.
	if late < renewed*3/4 {
		t.Errorf("only %d of %d lease renewals committed at least %v after they started", late, renewed, d)
	}
}

// TestRestartedVoterVotesAtOnce cuts the leader (an owner) off and, at the
// same moment, restarts a follower from its data dir: a restarted voter
// knows no leader and grants its vote at once. Whoever wins, its dead timer
// for the old leader must respect the lemma's bound: every lease granted in
// an earlier term ends by c + OwnerLease (c: the new leader's last Raft
// contact before it won), checked here against every lease end sampled, and
// the old leader is declared dead no earlier than c + FailoverAfter, when
// its lease (as leader, and any it earned as a follower) ended at least
// FailoverAfter − OwnerLease before.
func TestRestartedVoterVotesAtOnce(t *testing.T) {
	faults := []*faultNode{newFaultNode(), newFaultNode(), newFaultNode()}
	var fence fenceRecorder
	c := startCluster(t, 3, func(i int) []nodeOpt { return []nodeOpt{faults[i].opt()} }, fence.opt())
	fence.track(c...)
	cfg := c[0].cfg
	old := c.waitLeader(t, 10*time.Second)
	createMatches(t, old, "v", 6)
	lost := ownedBy(old.Matches(), old.ID())
	if len(lost) == 0 {
		t.Fatal("the leader owns no match")
	}
	iL := indexOf(c, old)
	iV, iC := (iL+1)%len(c), (iL+2)%len(c)
	voter := c[iV]

	var mu sync.Mutex
	all := slices.Clone(c) // the crashed voter stays: its leases count
	nodes := func() []*testNode {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(all)
	}
	samp := startLeaseSampler(nodes, cfg.OwnerLease, nil)
	chk := startChecker(func() cluster { return nodes() })
	// The leases of a few renewals on record before the cut.
	testutil.CheckFor(t, 20*time.Second, func() error {
		if n := samp.renewalsSince(time.Time{}); n < 4 {
			return fmt.Errorf("%d leader lease renewals seen, want 4", n)
		}
		return nil
	})

	cut := time.Now()
	faults[iL].isolate()
	voter.crash()
	back := startNode(t, voter.ID(), voter.cfg.DataDir, voter.RaftAddr(), "", faults[iV].opt(), fence.opt())
	restarted := time.Now()
	fence.track(back)
	mu.Lock()
	all = append(all, back)
	mu.Unlock()
	c[iV] = back

	var nl *testNode
	var voted time.Time // the restarted voter's last Raft contact when the new leader was found
	testutil.CheckFor(t, 15*time.Second, func() error {
		for _, n := range []*testNode{c[iC], back} {
			if n.IsLeader() {
				nl, voted = n, back.r().LastContact()
				return nil
			}
		}
		return errors.New("no leader among the connected nodes")
	})
	elected := time.Since(cut)
	waitMoved(t, c, nl, lost, 20*time.Second)
	rec := fence.waitDeclared(t, old.ID(), cut, 30*time.Second)
	how := fmt.Sprintf("%s won with the vote of %s, whose last Raft contact (its vote, or the new leader's first entries) came %v after its restart", nl.ID(), voter.ID(), voted.Sub(restarted).Round(time.Millisecond))
	if nl == back {
		how = fmt.Sprintf("the restarted %s won", voter.ID())
	} else if voted.IsZero() {
		how = fmt.Sprintf("%s won; the restarted %s's vote was not seen", nl.ID(), voter.ID())
	}
	t.Logf("leader %s cut off and %s restarted %v after the cut: %s, %v after the cut; %s declared %s dead by rule %q %v after the cut",
		old.ID(), voter.ID(), restarted.Sub(cut).Round(time.Millisecond), how, elected.Round(time.Millisecond),
		rec.x.by, old.ID(), rec.x.rule, rec.x.decided.Sub(cut).Round(time.Millisecond))

	// The declaration respects its rule and the margin after the old
	// leader's last renewal; for the previous-leader rule, c is no earlier
	// than that renewal.
	checkDeclared(t, rec.x, old)
	// The lemma, measured: every lease earned before the declaring leader's
	// term ends by its c + OwnerLease.
	if rec.x.hasContact {
		bound := rec.x.prevContact.Add(cfg.OwnerLease)
		ends := samp.endsEarnedBefore(rec.x.elected, rec.term)
		for _, e := range ends {
			if e.end.After(bound) {
				kind := "as a follower"
				if e.term != 0 {
					kind = fmt.Sprintf("as leader of term %d", e.term)
				}
				t.Errorf("%s held a lease %s to %s, past %s's last contact before its election + OwnerLease (%s)",
					e.node, kind, e.end.Format("15:04:05.000"), rec.x.by, bound.Format("15:04:05.000"))
			}
		}
		t.Logf("lemma: %d lease ends earned before term %d, all by %s's last contact + OwnerLease", len(ends), rec.term, rec.x.by)
	} else {
		t.Logf("%s had no Raft contact in this process before its election: silent rule only", rec.x.by)
	}

	faults[iL].heal()
	c.waitConverged(t, 20*time.Second)
	samp.finish(t)
	chk.finish(t)
	if fence.check(t, cfg) == 0 {
		t.Fatal("no death of a running node was checked")
	}
}

// TestLateHeartbeatReply delivers a follower's heartbeat acknowledgements
// late (half of OwnerLease after the heartbeat left, within the call's
// OwnerLease timeout): its lease must run from when each heartbeat was
// sent, never from when its answer arrived, so no lease may end more than
// OwnerLease after the last acknowledged heartbeat left. Then its
// heartbeats stop after one more, whose answer comes late too: when the
// leader declares it dead (FailoverAfter after it received that
// heartbeat), the follower's lease must have ended FailoverAfter −
// OwnerLease before the deadline, and no match may run on two nodes at
// once.
func TestLateHeartbeatReply(t *testing.T) {
	lags := []*heartbeatLag{newHeartbeatLag(), newHeartbeatLag(), newHeartbeatLag()}
	var fence fenceRecorder
	c := startCluster(t, 3, func(i int) []nodeOpt { return []nodeOpt{lags[i].opt()} }, fence.opt())
	fence.track(c...)
	cfg := c[0].cfg
	leader := c.waitLeader(t, 10*time.Second)
	createMatches(t, leader, "h", 6)
	victim, lost := followerOwner(t, c, "h-late")
	lagged := lags[indexOf(c, victim)]
	nodes := slices.Clone(c)
	samp := startLeaseSampler(func() []*testNode { return nodes }, cfg.OwnerLease, func(n *testNode) (time.Time, bool) {
		if n != victim {
			return time.Time{}, false
		}
		last, _ := lagged.lastSent()
		return last, true
	})
	chk := startChecker(func() cluster { return c })

	d := cfg.OwnerLease / 2
	start := time.Now()
	lagged.lag.Store(int64(d))
	testutil.CheckFor(t, 60*time.Second, func() error {
		if handAway(victim) {
			return fmt.Errorf("%s leads (it sends no heartbeats then): handing leadership away", victim.ID())
		}
		if n := lagged.lateAcks(start, d); n < 3 {
			return fmt.Errorf("%d heartbeats of %s acknowledged %v late, want 3", n, victim.ID(), d)
		}
		return nil
	})

	// One more heartbeat, answered late; none after it.
	cut := time.Now()
	lagged.cutNext.Store(true)
	observer := waitTakenFrom(t, c, victim, lost, 60*time.Second) // elections can flap for a while on a starved machine
	rec := fence.waitDeclared(t, victim.ID(), cut, 30*time.Second)
	if n := lagged.lateAcks(cut, d); n == 0 {
		t.Logf("the last heartbeat's answer did not arrive (timed out on a loaded machine): the declaration was checked all the same")
	}
	last, _ := lagged.lastSent()
	t.Logf("heartbeat answers %v late: %s's last acknowledged heartbeat left %v after the cut; declared dead by %s (rule %q) %v after it left; its lease had ended %v before the deadline",
		d, victim.ID(), last.Sub(cut).Round(time.Millisecond), rec.x.by, rec.x.rule, rec.x.decided.Sub(last).Round(time.Millisecond), rec.x.due.Sub(rec.end).Round(time.Millisecond))

	lagged.lag.Store(0)
	lagged.cut.Store(false)
	testutil.CheckFor(t, 15*time.Second, func() error {
		if !victim.LeaseValid() {
			return errors.New("the node has no lease again")
		}
		if nd, _ := observer.fsm.Node(victim.ID()); nd.State != NodeAlive {
			return fmt.Errorf("the node is %s", nd.State)
		}
		for _, m := range lost {
			if mi, _ := victim.Lookup(m.ID); mi.Owner == victim.ID() {
				return fmt.Errorf("the revived node still owns %s", m.ID)
			}
		}
		return nil
	})
	samp.finish(t)
	chk.finish(t)
	if fence.check(t, cfg) == 0 {
		t.Fatal("no death of a running node was checked")
	}
}

// handAway hands leadership to another voter if n leads, and reports
// whether it did. On a loaded machine leadership may move to the node a
// test cuts off from heartbeats; a leader sends none, so it would never be
// declared dead.
func handAway(n *testNode) bool {
	if !n.IsLeader() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.LeadershipTransfer(ctx, "")
	return true
}

// waitTakenFrom waits until a leader other than victim shows every match
// of lost owned by another node at a newer epoch, and that node's game
// layer was told; it returns that leader. While victim leads, it hands
// leadership away.
func waitTakenFrom(t testing.TB, c cluster, victim *testNode, lost []MatchInfo, timeout time.Duration) *testNode {
	t.Helper()
	var observer *testNode
	testutil.CheckFor(t, timeout, func() error {
		if handAway(victim) {
			return fmt.Errorf("%s leads: handing leadership away", victim.ID())
		}
		observer = nil
		for _, n := range c {
			if n != victim && n.IsLeader() {
				observer = n
			}
		}
		if observer == nil {
			return errors.New("no leader but the victim")
		}
		for _, old := range lost {
			m, ok := observer.Lookup(old.ID)
			if !ok {
				return fmt.Errorf("%s gone", old.ID)
			}
			if m.Owner == old.Owner || m.Owner == "" || m.Epoch <= old.Epoch {
				return fmt.Errorf("%s still %s@%d", m.ID, m.Owner, m.Epoch)
			}
			if ep := c.byID(m.Owner).owned()[m.ID]; ep != m.Epoch {
				return fmt.Errorf("%s: new owner %s not told (has %d, want %d)", m.ID, m.Owner, ep, m.Epoch)
			}
		}
		return nil
	})
	return observer
}

func followerOwner(t testing.TB, c cluster, id string) (*testNode, []MatchInfo) {
	t.Helper()
	leader := c.waitLeader(t, 10*time.Second)
	ms := leader.Matches()
	for _, n := range c {
		if n == leader {
			continue
		}
		if owned := ownedBy(ms, n.ID()); len(owned) > 0 {
			return n, owned
		}
	}
	n := c[(indexOf(c, leader)+1)%len(c)]
	m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: id, Game: "arena", Owner: n.ID()})
	if err != nil {
		t.Fatal(err)
	}
	return n, []MatchInfo{m}
}
