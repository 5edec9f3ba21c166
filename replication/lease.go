package replication

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// leaseState is the owner lease: valid while now < expiry and the FSM has
// applied at least need. Times are Node.now() values (monotonic).
type leaseState struct {
	expiry atomic.Int64 // time.Duration since n.t0
	need   atomic.Uint64
	valid  atomic.Bool // last value published by the monitor
	// verified is when the last successful VerifyLeader started: a leader
	// that just stepped down counts it as leader contact (Raft sets
	// LastContact only after it reports the Follower state).
	verified atomic.Int64
}

// renewLease extends the lease to start+d (never shortens it) and raises the
// index the FSM must reach.
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

// LeaseValid reports whether this node may run its rooms now: its owner
// lease (renewed by heartbeats the leader acknowledged, or on the leader by
// a successful VerifyLeader) has not expired, its FSM has caught up with the
// index the leader named, and Raft agrees (a follower or candidate heard from
// a leader within OwnerLease). Rooms call it before
// each tick; it costs a few atomic loads and a clock read. Any goroutine.
func (n *Node) LeaseValid() bool { return n.leaseCheck() == "" }

// leaseCheck returns "" when the lease is valid, else why not.
func (n *Node) leaseCheck() string {
	r := n.r()
	if r == nil {
		return "not started"
	}
	if n.now() >= time.Duration(n.lease.expiry.Load()) {
		return "expired"
	}
	if n.fsm.Index() < n.lease.need.Load() {
		return "fsm behind the leader's index"
	}
	switch r.State() {
	case raft.Leader:
		return ""
	case raft.Follower, raft.Candidate: // a candidate keeps what it earned (leadership transfers)
		lc := r.LastContact()
		recent := !lc.IsZero() && time.Since(lc) < n.cfg.OwnerLease
		if !recent && n.now()-time.Duration(n.lease.verified.Load()) >= n.cfg.OwnerLease {
			return "no leader contact"
		}
		return ""
	}
	return "raft shut down"
}

// LeaseRemaining returns how long the lease lasts if nothing renews it (0 if
// it is not valid).
func (n *Node) LeaseRemaining() time.Duration {
	if !n.LeaseValid() {
		return 0
	}
	return max(time.Duration(n.lease.expiry.Load())-n.now(), 0)
}

// LeaseChanged returns a channel (capacity 1) that receives when LeaseValid
// changes; read LeaseValid after each receive. One consumer.
func (n *Node) LeaseChanged() <-chan struct{} { return n.leaseWake }

// runLease renews the lease every HeartbeatInterval: on the leader by
// VerifyLeader (a round of heartbeats answered by a quorum), on a follower
// by a heartbeat to the leader's API.
func (n *Node) runLease(ctx context.Context) {
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := n.renewOnce(ctx)
		// Log changes of the failure reason only, not every beat.
		if msg := errString(err); msg != lastErr {
			if err != nil && ctx.Err() == nil {
				n.log.Warn().Err(err).Msg("lease renewal failing")
			} else if err == nil {
				n.log.Info().Msg("lease renewal ok")
			}
			lastErr = msg
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

var errNoLeaderAPI = errors.New("leader's api url not in the fsm yet")

func (n *Node) renewOnce(ctx context.Context) error {
	r := n.r()
	switch r.State() {
	case raft.Leader:
		sup := n.sup.Load()
		if sup == nil || !sup.ready.Load() {
			return nil // Barrier pending; the lease earned as a follower still counts
		}
		start := n.now()
		if err := n.waitFuture(ctx, r.VerifyLeader()); err != nil {
			return mapRaftErr(err)
		}
		n.renewLease(start, n.cfg.OwnerLease, 0)
		n.lease.verified.Store(int64(start))
		return nil
	case raft.Follower:
		_, lid := r.LeaderWithID()
		if lid == "" {
			return ErrNoLeader
		}
		leader, ok := n.fsm.Node(string(lid))
		if !ok || leader.API == "" {
			return errNoLeaderAPI
		}
		owned, _ := n.fsm.ownedBy(n.cfg.NodeID)
		hb := HeartbeatRequest{
			ID: n.cfg.NodeID, Advertise: n.cfg.AdvertiseURL, API: n.api, RaftAddr: n.raftAddr,
			Load: len(owned), Index: n.fsm.Index(),
		}
		start := n.now()
		hctx, cancel := context.WithTimeout(ctx, n.cfg.OwnerLease)
		ack, err := n.client.Heartbeat(hctx, leader.API, hb)
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
