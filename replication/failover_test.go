package replication

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// createMatches creates n matches through node c[0] and returns them.
func createMatches(t testing.TB, via *testNode, prefix string, n int) []MatchInfo {
	t.Helper()
	var out []MatchInfo
	for i := range n {
		m, err := via.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: fmt.Sprintf("%s%d", prefix, i), Game: "arena"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func ownedBy(ms []MatchInfo, node string) []MatchInfo {
	var out []MatchInfo
	for _, m := range ms {
		if m.Owner == node {
			out = append(out, m)
		}
	}
	return out
}

// waitMoved waits until observer's FSM shows every match of lost owned by
// another live node at a newer epoch, and that node's game layer was told.
func waitMoved(t testing.TB, c cluster, observer *testNode, lost []MatchInfo, timeout time.Duration) []MatchInfo {
	t.Helper()
	var now []MatchInfo
	testutil.CheckFor(t, timeout, func() error {
		now = now[:0]
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
			now = append(now, m)
		}
		return nil
	})
	return now
}

// TestCrashFailoverRestartReadd runs, on one cluster: a follower crash
// (failover after FailoverAfter), its restart from its data dir (rejoins by
// itself), a leader crash (election, then failover), and the old leader's id
// re-added at a new address with an empty data dir.
func TestCrashFailoverRestartReadd(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	ms := createMatches(t, leader, "m", 6)
	cfg := c[0].cfg
	follower := c[(indexOf(c, leader)+1)%len(c)]
	top := t
	ok := t.Run("follower crash", func(t *testing.T) {
		lost := ownedBy(ms, follower.ID())
		start := time.Now()
		follower.crash()
		leader := c.waitLeader(t, 10*time.Second)
		moved := waitMoved(t, c, leader, lost, 5*time.Second)
		took := time.Since(start)
		t.Logf("follower crash → matches reassigned in %v (failover-after %v)", took, cfg.FailoverAfter)
		if took < cfg.OwnerLease {
			t.Fatalf("reassigned after %v, before the owner lease (%v) could have expired", took, cfg.OwnerLease)
		}
		if nd, _ := leader.fsm.Node(follower.ID()); nd.State != NodeDead {
			t.Fatalf("crashed node %+v", nd)
		}
		// Counted by the leader that declared it (a loaded machine may
		// have seen another death before: at least).
		if dead, moved := leader.metrics.failedNodes.Load(), leader.metrics.failovers.Load(); dead < 1 || moved < int64(len(lost)) {
			t.Errorf("the leader counted %d nodes declared dead and %d matches failed over, want ≥ 1 and ≥ %d", dead, moved, len(lost))
		}
		if leader.metrics.applies.Load() == 0 {
			t.Error("the leader measured no apply")
		}
		// The dead owner's checkpoints are refused.
		res, err := leader.Apply(ctxT(t, 5*time.Second), &command.CheckpointBatch{Node: follower.ID(), Items: []command.CheckpointItem{
			{Match: lost[0].ID, Epoch: lost[0].Epoch, Tick: 1, Players: -1, Data: compress(nil, []byte("x"))}}})
		if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Code != "stale_epoch" {
			t.Fatalf("old owner's checkpoint: %+v %v", res, err)
		}
		ms = replace(ms, moved)
	})
	if !ok {
		return
	}

	ok = t.Run("restart from data dir", func(t *testing.T) {
		start := time.Now()
		back := startNodeOwned(t, top, follower.ID(), follower.cfg.DataDir, follower.RaftAddr(), "")
		c[indexOf(c, follower)] = back
		c.waitConverged(t, 10*time.Second)
		t.Logf("restarted node alive with a lease after %v", time.Since(start))
		if len(back.owned()) != 0 {
			t.Fatalf("restarted node thinks it owns %v", back.owned())
		}
		m, err := back.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "after-restart", Game: "arena", Owner: back.ID()})
		if err != nil {
			t.Fatal(err)
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			if back.owned()[m.ID] != m.Epoch {
				return errors.New("restarted node not told of its new match")
			}
			return nil
		})
		ms = append(ms, m)
	})
	if !ok {
		return
	}

	var oldLeader *testNode
	ok = t.Run("leader crash", func(t *testing.T) {
		oldLeader = c.waitLeader(t, 10*time.Second)
		lost := ownedBy(ms, oldLeader.ID())
		if len(lost) == 0 {
			t.Fatal("leader owns no match")
		}
		start := time.Now()
		oldLeader.crash()
		nl := c.waitLeader(t, 5*time.Second)
		elected := time.Since(start)
		moved := waitMoved(t, c, nl, lost, 10*time.Second)
		took := time.Since(start)
		t.Logf("leader crash → new leader %s in %v, matches reassigned in %v", nl.ID(), elected, took)
		// When the new leader may declare its predecessor dead:
		// TestPreviousLeaderDeclaredAtLastContact.
		ms = replace(ms, moved)
	})
	if !ok {
		return
	}

	t.Run("re-add id with a new address", func(t *testing.T) {
		via := c.up()[0]
		// Joined by hand below: JoinURL only keeps it from bootstrapping.
		fresh := startNodeOwned(t, top, oldLeader.ID(), "", "", "", func(cfg *Config) { cfg.JoinURL = via.api() })
		if fresh.RaftAddr() == oldLeader.RaftAddr() {
			t.Fatal("same address")
		}
		// Without cluster certificates nothing proves that the node is the
		// old n-id: the join is refused until an operator removes it.
		err := fresh.JoinCluster(ctxT(t, 10*time.Second), via.api())
		want := fmt.Sprintf("node %s is already a member at %s; remove it first: ticksyncctl remove-node %s",
			oldLeader.ID(), oldLeader.RaftAddr(), oldLeader.ID())
		if !errors.Is(err, ErrMemberExists) || !strings.Contains(err.Error(), want) {
			t.Fatalf("join of a member's id at a new address: %v, want %q", err, want)
		}
		if got := via.Servers()[fresh.ID()]; got != oldLeader.RaftAddr() {
			t.Fatalf("raft config has %s at %s after the refused join, want %s", fresh.ID(), got, oldLeader.RaftAddr())
		}
		if err := c.waitLeader(t, 5*time.Second).RemoveServer(ctxT(t, 5*time.Second), oldLeader.ID()); err != nil {
			t.Fatal(err)
		}
		if err := fresh.JoinCluster(ctxT(t, 20*time.Second), via.api()); err != nil {
			t.Fatalf("join after remove-node: %v", err)
		}
		c[indexOf(c, oldLeader)] = fresh
		c.waitConverged(t, 10*time.Second)
		if got := via.Servers()[fresh.ID()]; got != fresh.RaftAddr() {
			t.Fatalf("raft config has %s at %s, want %s", fresh.ID(), got, fresh.RaftAddr())
		}
		if nd, _ := via.fsm.Node(fresh.ID()); nd.RaftAddr != fresh.RaftAddr() || nd.API != fresh.api() {
			t.Fatalf("fsm has %+v", nd)
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			if len(fresh.Matches()) != len(via.Matches()) {
				return fmt.Errorf("fresh node has %d matches, leader %d", len(fresh.Matches()), len(via.Matches()))
			}
			return nil
		})
		m, err := fresh.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "after-readd", Game: "arena", Owner: fresh.ID()})
		if err != nil || m.Owner != fresh.ID() {
			t.Fatalf("create on re-added node: %+v %v", m, err)
		}
	})
}

func replace(ms, with []MatchInfo) []MatchInfo {
	for i := range ms {
		for _, w := range with {
			if ms[i].ID == w.ID {
				ms[i] = w
			}
		}
	}
	return ms
}

func indexOf(c cluster, n *testNode) int {
	for i := range c {
		if c[i] == n {
			return i
		}
	}
	return -1
}

// TestLeaseExpiresWhenAlone: with the other two nodes gone, the survivor's
// lease ends within OwnerLease of the moment it was cut off.
func TestLeaseExpiresWhenAlone(t *testing.T) {
	for _, survivorIsLeader := range []bool{true, false} {
		name := map[bool]string{true: "survivor is leader", false: "survivor is follower"}[survivorIsLeader]
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, 3, nil)
			cfg := c[0].cfg
			survivor := c.waitLeader(t, 10*time.Second)
			if !survivorIsLeader {
				survivor = c[(indexOf(c, survivor)+1)%len(c)]
			}
			start := time.Now()
			for _, n := range c {
				if n != survivor {
					n.crash()
				}
			}
			testutil.CheckFor(t, 3*time.Second, func() error {
				if survivor.LeaseValid() {
					return errors.New("lease still valid")
				}
				return nil
			})
			took := time.Since(start)
			t.Logf("%s: lease lost %v after the others died (owner lease %v)", name, took, cfg.OwnerLease)
			if took > cfg.OwnerLease+100*time.Millisecond {
				t.Fatalf("lease outlived the owner lease: %v", took)
			}
		})
	}
}

// TestPartitionedOwnerStopsBeforeTakeover cuts an owner off (Raft and HTTP,
// both ways) while it keeps running: its lease must end before the majority
// reassigns its matches, and after healing it must learn the new owners and
// not run its old matches. A checker samples every node each millisecond for
// two nodes running one match.
func TestPartitionedOwnerStopsBeforeTakeover(t *testing.T) {
	for _, victimIsLeader := range []bool{false, true} {
		name := map[bool]string{true: "leader cut off", false: "follower cut off"}[victimIsLeader]
		t.Run(name, func(t *testing.T) {
			faults := []*faultNode{newFaultNode(), newFaultNode(), newFaultNode()}
			var decl declarations
			c := startCluster(t, 3, func(i int) []nodeOpt { return []nodeOpt{faults[i].opt()} }, decl.opt())
			cfg := c[0].cfg
			leader := c.waitLeader(t, 10*time.Second)
			ms := createMatches(t, leader, "p", 6)
			i := indexOf(c, leader)
			if !victimIsLeader {
				i = (i + 1) % len(c)
			}
			victim, fault := c[i], faults[i]
			lost := ownedBy(ms, victim.ID())
			chk := startChecker(func() cluster { return c })

			start := time.Now()
			fault.isolate()
			testutil.CheckFor(t, 3*time.Second, func() error {
				if victim.LeaseValid() {
					return errors.New("isolated node still holds its lease")
				}
				return nil
			})
			leaseLost := time.Since(start)
			var observer *testNode
			testutil.CheckFor(t, 5*time.Second, func() error {
				for _, n := range c {
					if n != victim && n.IsLeader() {
						observer = n
						return nil
					}
				}
				return errors.New("no leader in the majority")
			})
			waitMoved(t, c, observer, lost, 10*time.Second)
			moved := time.Since(start)
			t.Logf("%s: lease lost after %v, matches reassigned after %v", name, leaseLost, moved)
			// The declaration's safety, and for a cut-off leader the premise
			// of the "previous leader" rule (DESIGN.md, "Fencing"): the new
			// leader's last contact before its election is no earlier than
			// the start of the cut-off leader's last lease renewal.
			x := decl.waitDeclared(t, victim.ID(), start)
			if direct := checkDeclared(t, x, victim); victimIsLeader && !direct {
				t.Logf("%s: leadership changed again before %s declared the cut-off leader dead (it followed %q): silent rule", name, x.by, x.prev)
			}
			if leaseLost > cfg.OwnerLease+100*time.Millisecond || leaseLost >= moved {
				t.Fatalf("lease lost after %v, takeover after %v", leaseLost, moved)
			}

			fault.heal()
			testutil.CheckFor(t, 10*time.Second, func() error {
				if !victim.LeaseValid() {
					return errors.New("healed node has no lease")
				}
				if nd, _ := observer.fsm.Node(victim.ID()); nd.State != NodeAlive {
					return fmt.Errorf("healed node is %s", nd.State)
				}
				for _, m := range lost {
					if _, still := victim.owned()[m.ID]; still {
						return fmt.Errorf("healed node still runs %s", m.ID)
					}
				}
				return nil
			})
			t.Logf("%s: healed node back with a lease after %v", name, time.Since(start))
			chk.finish(t)
		})
	}
}

// lastLeaderRenewal returns when n's last successful renewal of its lease as
// leader started (a committed Barrier), or the zero time.
func lastLeaderRenewal(n *testNode) time.Time {
	ll := n.lease.leader.Load()
	if ll == nil {
		return time.Time{}
	}
	return n.t0.Add(ll.expiry - n.cfg.OwnerLease)
}

// declarations records every death the supervisors decided, with what
// each supervisor knew then.
type declarations struct {
	mu   sync.Mutex
	list []declaration
}

func (d *declarations) opt() nodeOpt {
	return func(cfg *Config) {
		cfg.onDeclared = func(x declaration) {
			d.mu.Lock()
			d.list = append(d.list, x)
			d.mu.Unlock()
		}
	}
}

// first returns the first declaration of id decided after since, by any
// supervisor.
func (d *declarations) first(id string, since time.Time) (declaration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.list {
		if x.id == id && !x.decided.Before(since) {
			return x, true
		}
	}
	return declaration{}, false
}

// waitDeclared waits for the first declaration of id decided after since.
func (d *declarations) waitDeclared(t testing.TB, id string, since time.Time) declaration {
	t.Helper()
	var x declaration
	testutil.CheckFor(t, 5*time.Second, func() error {
		var ok bool
		if x, ok = d.first(id, since); !ok {
			return fmt.Errorf("no supervisor declared %s dead", id)
		}
		return nil
	})
	return x
}

// followedDirectly reports whether the supervisor that made x took over
// from id itself: it followed id before its election and id never sent it a
// heartbeat. Then the "previous leader" rule applies to id. Under load,
// leadership may change again after the first election (a leader whose
// followers' answers came too late steps down); a later leader followed
// the interim one, and id is merely silent to it.
func (x declaration) followedDirectly(id string) bool {
	return x.prev == id && x.hasContact && !x.heard
}

// checkDeclared checks the safety of a declaration of old, whichever rule
// made it, and the "previous leader" rule when it applied: never before its
// rule's deadline, the deadline at least FailoverAfter − OwnerLease after
// the end of old's last lease as leader (DESIGN.md, "Fencing"), and, for the
// previous leader, a deadline of the declaring leader's last contact +
// FailoverAfter, earlier than the silent rule's, with that contact no earlier
// than the start of old's last renewal. It returns whether the "previous
// leader" rule applied.
func checkDeclared(t testing.TB, x declaration, old *testNode) bool {
	t.Helper()
	cfg := old.cfg
	renewed := lastLeaderRenewal(old)
	leaseEnd := renewed.Add(cfg.OwnerLease)
	if x.decided.Before(x.due) {
		t.Fatalf("%s declared %s dead %v before its rule's deadline (%+v)", x.by, x.id, x.due.Sub(x.decided), x)
	}
	if margin := x.due.Sub(leaseEnd); margin < cfg.FailoverAfter-cfg.OwnerLease {
		t.Fatalf("%s's deadline for %s is %v after the end of its lease, less than the margin %v (%+v)",
			x.by, x.id, margin, cfg.FailoverAfter-cfg.OwnerLease, x)
	}
	if !x.followedDirectly(old.ID()) {
		if x.rule != "silent" || !x.due.Equal(x.silentDue) {
			t.Fatalf("%s (followed %q) declared %s dead by rule %q at %v, want the silent rule at %v",
				x.by, x.prev, x.id, x.rule, x.due, x.silentDue)
		}
		return false
	}
	if x.rule != "previous leader" {
		t.Fatalf("%s took over from %s but declared it dead by rule %q", x.by, x.id, x.rule)
	}
	if x.prevContact.Before(renewed) {
		t.Fatalf("%s's last contact %v precedes %s's last lease renewal by %v", x.by, x.prevContact, x.id, renewed.Sub(x.prevContact))
	}
	if !x.due.Equal(x.prevContact.Add(cfg.FailoverAfter)) || !x.due.Before(x.silentDue) {
		t.Fatalf("previous leader's deadline %v: want last contact + failover-after (%v), before the silent rule's %v",
			x.due, x.prevContact.Add(cfg.FailoverAfter), x.silentDue)
	}
	return true
}

// TestPreviousLeaderDeclaredAtLastContact crashes the leader: the new
// leader declares it dead FailoverAfter after its own last Raft contact
// before the election (rule "previous leader"), which is earlier than its
// election + LeaderGrace + FailoverAfter (the rule for the other nodes) and
// at least FailoverAfter − OwnerLease after the end of the dead leader's
// lease. It also checks the premise of that rule: the new leader's last
// contact is no earlier than the start of the old leader's last lease
// renewal. The checks read what the declaring supervisor knew when it
// decided, not the state of whichever node leads afterwards: under load the
// first new leader may step down again before or after declaring. A round
// in which leadership changed again before the declaration cannot exercise
// the rule (the declaring leader never followed the dead one); it is still
// checked for safety, and the test crashes leaders until two rounds did.
func TestPreviousLeaderDeclaredAtLastContact(t *testing.T) {
	const want, maxRounds = 2, 6
	var decl declarations
	c := startCluster(t, 3, nil, decl.opt())
	exercised := 0
	for round := 0; exercised < want; round++ {
		if round == maxRounds {
			t.Fatalf("leadership changed again after the election in %d of %d rounds: the previous-leader rule ran only %d times",
				round-exercised, round, exercised)
		}
		old := c.waitLeader(t, 10*time.Second)
		createMatches(t, old, fmt.Sprintf("r%d-", round), 6)
		lost := ownedBy(old.Matches(), old.ID())
		if len(lost) == 0 {
			t.Fatal("the leader owns no match")
		}
		nodes := slices.Clone(c) // the crashed one holds no lease
		chk := startChecker(func() cluster { return nodes })
		start := time.Now()
		old.crash()
		nl := c.waitLeader(t, 10*time.Second)
		waitMoved(t, c, nl, lost, 15*time.Second)
		took := time.Since(start)
		chk.finish(t)

		x := decl.waitDeclared(t, old.ID(), start)
		if checkDeclared(t, x, old) {
			exercised++
			t.Logf("round %d: %s crashed; %s elected %v later (last contact %v before the crash); declared dead %v after the crash, %v after the old leader's lease ended, %v before the silent rule; matches moved %v after the crash",
				round, old.ID(), x.by, x.elected.Sub(start).Round(time.Millisecond), start.Sub(x.prevContact).Round(time.Millisecond),
				x.decided.Sub(start).Round(time.Millisecond), x.decided.Sub(lastLeaderRenewal(old).Add(old.cfg.OwnerLease)).Round(time.Millisecond),
				x.silentDue.Sub(x.decided).Round(time.Millisecond), took.Round(time.Millisecond))
		} else {
			t.Logf("round %d: %s crashed; leadership changed again before %s declared it dead (it followed %q): silent rule, %v after the crash; round not counted",
				round, old.ID(), x.by, x.prev, x.decided.Sub(start).Round(time.Millisecond))
		}
		// Bring the node back for the next round.
		back := startNode(t, old.ID(), old.cfg.DataDir, old.RaftAddr(), "", decl.opt())
		c[indexOf(c, old)] = back
		c.waitConverged(t, 15*time.Second)
	}
}
