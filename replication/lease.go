package replication

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// leaseState is the owner lease. It has two parts, both Node.now() values
// (monotonic):
//
//   - expiry, earned as a follower: the start of a heartbeat the leader
//     acknowledged plus min(OwnerLease, the leader's remaining lease). It
//     counts in every Raft state (a new leader keeps it until its first
//     renewal as leader; a candidate keeps it through an election).
//   - leader, earned as the leader: the moment a committed Barrier of the
//     current term was started plus OwnerLease. It counts only while Raft
//     says this node leads in that same term, so a leader's own lease ends
//     the moment it steps down.
//
// Either is valid only once the FSM has applied need.
type leaseState struct {
	expiry atomic.Int64 // follower-earned expiry (time.Duration since n.t0)
	need   atomic.Uint64
	valid  atomic.Bool // last value published by the monitor

	leaderMu sync.Mutex                  // serialises renewals of leader
	leader   atomic.Pointer[leaderLease] // nil: none
}

// leaderLease is a lease earned as the leader of term.
type leaderLease struct {
	term   uint64
	expiry time.Duration
}

// renewLease extends the follower-earned lease to start+d (never shortens
// it) and raises the index the FSM must reach.
func (n *Node) renewLease(start, d time.Duration, need uint64) {
	exp := int64(start + d)
	for {
		cur := n.lease.expiry.Load()
		if exp <= cur || n.lease.expiry.CompareAndSwap(cur, exp) {
			break
		}
	}
	for {
		cur := n.lease.need.Load()
		if need <= cur || n.lease.need.CompareAndSwap(cur, need) {
			break
		}
	}
}

// renewLeaderLease records a Barrier of term, started at start, that
// committed: the leader's own lease now runs to start+OwnerLease.
func (n *Node) renewLeaderLease(term uint64, start time.Duration) {
	n.lease.leaderMu.Lock()
	defer n.lease.leaderMu.Unlock()
	exp := start + n.cfg.OwnerLease
	if cur := n.lease.leader.Load(); cur != nil && cur.term == term && cur.expiry >= exp {
		return
	}
	n.lease.leader.Store(&leaderLease{term: term, expiry: exp})
}

// LeaseValid reports whether this node may run its rooms now: its owner
// lease (renewed by heartbeats the leader acknowledged, or on the leader by
// a committed Barrier of its current term) has not expired, its FSM has
// caught up with the index the leader named, and Raft agrees (a follower or
// candidate heard from a leader within OwnerLease). Rooms call it before
// each tick; it costs a few atomic loads and a clock read. Any goroutine.
func (n *Node) LeaseValid() bool {
	_, why := n.leaseExpiry()
	return why == ""
}

// leaseExpiry returns when the lease ends and "" when it is valid now, else
// why not.
func (n *Node) leaseExpiry() (time.Duration, string) {
	r := n.r()
	if r == nil {
		return 0, "not started"
	}
	now := n.now()
	if n.fsm.Index() < n.lease.need.Load() {
		return 0, "fsm behind the leader's index"
	}
	exp := time.Duration(n.lease.expiry.Load())
	switch r.State() {
	case raft.Leader:
		if ll := n.lease.leader.Load(); ll != nil && ll.term == r.CurrentTerm() {
			exp = max(exp, ll.expiry)
		}
	case raft.Follower, raft.Candidate: // a candidate keeps what it earned
		// Raft sets LastContact when a leader steps down, too; that is
		// harmless: a leader's own lease no longer counts then.
		if lc := r.LastContact(); lc.IsZero() || time.Since(lc) >= n.cfg.OwnerLease {
			return 0, "no leader contact"
		}
	default:
		return 0, "raft shut down"
	}
	if now >= exp {
		return 0, "expired"
	}
	return exp, ""
}

// leaseCheck returns "" when the lease is valid, else why not.
func (n *Node) leaseCheck() string {
	_, why := n.leaseExpiry()
	return why
}

// LeaseRemaining returns how long the lease lasts if nothing renews it (0 if
// it is not valid).
func (n *Node) LeaseRemaining() time.Duration {
	exp, why := n.leaseExpiry()
	if why != "" {
		return 0
	}
	return max(exp-n.now(), 0)
}

// LeaseChanged returns a channel (capacity 1) that receives when LeaseValid
// changes; read LeaseValid after each receive. One consumer.
func (n *Node) LeaseChanged() <-chan struct{} { return n.leaseWake }

// runLease renews the lease every HeartbeatInterval: on the leader by a
// Barrier (a log entry a quorum stored), on a follower by a heartbeat to the
// leader's API. After a failed renewal it tries again a quarter of the
// interval later: a follower whose leader just died, or whose new leader's
// supervisor is not ready yet, gets its lease back within ~25 ms of the new
// leader being ready rather than up to a whole interval later (its rooms,
// and matches given to it by a failover, wait for that lease).
//
// Failures are logged when the reason changes, not every beat, and only at
// debug until they have lasted renewWarnAfter: a node that starts (or
// restarts) knows no leader until the first election, which is normal.
func (n *Node) runLease(ctx context.Context) {
	every := n.cfg.HeartbeatInterval
	retry := max(every/4, 10*time.Millisecond)
	t := time.NewTimer(every)
	defer t.Stop()
	lr := &leaderRenewals{slots: make(chan struct{}, max(int(n.cfg.OwnerLease/every)-1, 1))}
	defer lr.wg.Wait()
	warnAfter := n.renewWarnAfter()
	var lastErr string
	var failingSince time.Time // zero: renewing
	warned := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		began := time.Now()
		err := n.renewOnce(ctx, lr)
		if ctx.Err() != nil {
			return
		}
		next := every
		if err != nil {
			next = retry
		}
		t.Reset(max(next-time.Since(began), time.Millisecond))
		msg := errString(err)
		if err == nil {
			if warned {
				n.log.Info().Dur(keyElapsed, time.Since(failingSince)).Msg("lease renewal ok again")
			} else if lastErr != "" {
				n.log.Debug().Msg("lease renewal ok")
			}
			failingSince, warned, lastErr = time.Time{}, false, ""
			continue
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		switch failing := time.Since(failingSince); {
		case failing >= warnAfter && (!warned || msg != lastErr):
			n.log.Warn().Err(err).Dur(keyElapsed, failing).Msg("lease renewal failing")
			warned = true
		case !warned && msg != lastErr:
			n.log.Debug().Err(err).Msg("lease renewal failing")
		}
		lastErr = msg
	}
}

// renewWarnAfter is how long lease renewals fail before runLease warns:
// longer than a leader election and the failover of a dead leader.
func (n *Node) renewWarnAfter() time.Duration {
	return max(2*n.cfg.FailoverAfter, 3*time.Second)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// renewAsLeader renews the leader's own lease with a Barrier: an entry
// created after start that a quorum appended and that committed in the
// current term. Not VerifyLeader: hashicorp/raft counts a heartbeat response
// that was already in flight when VerifyLeader was called, so its quorum may
// date from before start (by up to the transport timeout), whereas every
// follower that stored the Barrier did so after start and reset its election
// timer then (DESIGN.md, "Fencing").
func (n *Node) renewAsLeader(ctx context.Context) error {
	r := n.r()
	term := r.CurrentTerm()
	start := n.now()
	if err := n.waitFuture(ctx, r.Barrier(n.cfg.OwnerLease)); err != nil {
		return mapRaftErr(err)
	}
	if r.CurrentTerm() != term || r.State() != raft.Leader {
		return ErrNotLeader
	}
	n.renewLeaderLease(term, start)
	return nil
}

// leaderRenewals are the leader's lease Barriers in flight. They overlap:
// one starts every HeartbeatInterval whether or not the last has committed,
// so a slow commit (a starved machine, a slow disk) costs the lease only
// when a Barrier takes longer than OwnerLease − HeartbeatInterval, not half
// the lease as renewals one after another did. Owned by runLease, which
// waits for them; each ends when its Barrier does, or on ctx or Raft's
// shutdown.
type leaderRenewals struct {
	wg    sync.WaitGroup
	slots chan struct{}         // one per Barrier in flight (at most OwnerLease/HeartbeatInterval − 1)
	last  atomic.Pointer[error] // the outcome of the last one that ended; nil: none yet
}

func (n *Node) renewOnce(ctx context.Context, lr *leaderRenewals) error {
	r := n.r()
	switch r.State() {
	case raft.Leader:
		sup := n.sup.Load()
		if sup == nil || !sup.ready.Load() {
			return nil // Barrier pending; the lease earned as a follower still counts
		}
		select {
		case lr.slots <- struct{}{}:
			lr.wg.Add(1)
			go func() {
				defer lr.wg.Done()
				err := n.renewAsLeader(ctx)
				lr.last.Store(&err)
				<-lr.slots
			}()
		default: // every slot busy: the Barriers in flight renew when they commit
		}
		if p := lr.last.Load(); p != nil {
			return *p
		}
		return nil
	case raft.Follower:
		leader, err := n.leaderInfo()
		if err != nil {
			return err
		}
		owned, _ := n.fsm.ownedBy(n.cfg.NodeID)
		hb := heartbeatRequest{
			ID: n.cfg.NodeID, Advertise: n.cfg.AdvertiseURL, API: n.api, RaftAddr: n.raftAddr,
			Load: len(owned), Index: n.fsm.Index(),
		}
		start := n.now()
		hctx, cancel := context.WithTimeout(ctx, n.cfg.OwnerLease)
		var ack heartbeatAck
		err = n.client.call(hctx, http.MethodPost, leader, PathRaftHeartbeat, hb, "", &ack)
		cancel()
		if err != nil {
			return err
		}
		d := min(n.cfg.OwnerLease, time.Duration(ack.LeaseMS)*time.Millisecond)
		n.renewLease(start, d, ack.Index)
		return nil
	}
	return nil
}

// runLeaseMonitor publishes changes of LeaseValid on LeaseChanged. It polls
// every 10 ms: rooms check LeaseValid themselves before each tick, so this
// only serves consumers that want to pause or resume at once.
func (n *Node) runLeaseMonitor(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		why := n.leaseCheck()
		v := why == ""
		if v == n.lease.valid.Load() {
			continue
		}
		n.lease.valid.Store(v)
		if v {
			n.log.Info().Msg("owner lease acquired")
		} else {
			n.log.Warn().Str(keyReason, why).Msg("owner lease lost: rooms must pause")
		}
		select {
		case n.leaseWake <- struct{}{}:
		default:
		}
	}
}
