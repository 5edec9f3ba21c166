package replication

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/replication/command"
)

// supervisor runs on the leader only, one per leadership term. It records
// heartbeats (the only way a node renews its lease), declares a node dead
// after FailoverAfter without one (the FSM then reassigns its matches), and
// keeps the leader's own FSM record current.
type supervisor struct {
	n     *Node
	log   zerolog.Logger
	ready atomic.Bool // Barrier done: the FSM is current; heartbeats are acknowledged
	term  termStart   // how this leadership began (immutable)

	mu      sync.Mutex
	start   time.Duration            // timers of this term count from here (leadership + grace)
	contact map[string]time.Duration // receipt time of the last acknowledged heartbeat
	load    map[string]int           // load reported by heartbeats
	pending map[string]bool          // a death being applied: heartbeats are refused
}

// termStart is what a new leader knows about how it became leader, captured
// when Raft tells it (runLeadership). Times are Node.now() values.
type termStart struct {
	elected time.Duration // when this node learned it leads (≥ the moment it won)
	prev    string        // the last other leader it followed ("": none known)
	// prevContact is Raft's LastContact just before the election (the last
	// successful AppendEntries or snapshot from a leader, or the last vote
	// granted, in this process); hasContact is false when there was none.
	prevContact time.Duration
	hasContact  bool
}

// declaration describes one death a supervisor decided, with what it knew
// then (Config.onDeclared, tests only), reported before its entry is
// applied: a leader that steps down meanwhile gets ErrLeadershipLost
// although the entry may commit. Times are on this process's monotonic
// clock.
type declaration struct {
	by, id, rule string
	decided      time.Time // when the supervisor decided it
	due          time.Time // the deadline of the rule it used
	silentDue    time.Time // the "silent" rule's deadline
	heard        bool      // the node had sent this supervisor a heartbeat
	// The declaring supervisor's term: the leader it followed before, its
	// last Raft contact before the election, and when it learned it leads.
	prev        string
	hasContact  bool
	prevContact time.Time
	elected     time.Time
}

// startSupervisor launches the supervisor for a new term and returns its stop
// function (which waits for it).
func (n *Node) startSupervisor(parent context.Context, ts termStart) func() {
	ctx, cancel := context.WithCancel(parent)
	s := &supervisor{
		n:       n,
		log:     n.cfg.Logger.With().Str(keyComponent, "supervisor").Logger(),
		term:    ts,
		contact: make(map[string]time.Duration),
		load:    make(map[string]int),
		pending: make(map[string]bool),
	}
	n.sup.Store(s)
	done := make(chan struct{})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer close(done)
		s.run(ctx)
	}()
	return func() {
		cancel()
		<-done
		n.sup.CompareAndSwap(s, nil)
	}
}

func (s *supervisor) run(ctx context.Context) {
	n := s.n
	became := time.Now()
	// A new leader's FSM may lag the log; act only on a current state. The
	// Barrier is also this term's first lease renewal.
	for {
		term, began := n.r().CurrentTerm(), n.now()
		if err := n.Barrier(ctx); err == nil {
			if n.r().CurrentTerm() == term && n.IsLeader() {
				n.renewLeaderLease(term, began)
			}
			break
		} else if ctx.Err() != nil || !n.IsLeader() {
			return
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return
		}
	}
	s.mu.Lock()
	s.start = n.now() + n.cfg.LeaderGrace
	s.mu.Unlock()
	s.ready.Store(true)
	ev := s.log.Info().Dur(keyElapsed, time.Since(became)).Uint64(keyIndex, n.fsm.Index())
	if s.term.prev != "" && s.term.hasContact {
		ev = ev.Str(keyPrevLeader, s.term.prev).Dur(keyPrevContact, s.term.elected-s.term.prevContact)
	}
	ev.Msg("leader supervisor started")

	// It wakes at the earliest dead deadline (a node is declared dead
	// within a millisecond of it, not up to a polling period later), and
	// at least every period for the rest (nodes added, self registration).
	period := max(n.cfg.FailoverAfter/20, 10*time.Millisecond)
	t := time.NewTimer(period)
	defer t.Stop()
	for {
		s.ensureSelf(ctx)
		next, ok := s.declareDead(ctx)
		s.collectRemoved(ctx)
		wait := period
		if ok {
			wait = min(max(next-n.now()+time.Millisecond, time.Millisecond), period)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ensureSelf registers the leader in the FSM (or revives it, or updates its
// addresses): followers find the leader's API there.
func (s *supervisor) ensureSelf(ctx context.Context) {
	n := s.n
	self, ok := n.fsm.Node(n.cfg.NodeID)
	if ok && self.State != NodeDead && self.API == n.api && self.Advertise == n.cfg.AdvertiseURL && self.RaftAddr == n.raftAddr {
		return
	}
	if _, err := n.applyLocal(ctx, command.Encode(&command.RegisterNode{
		ID: n.cfg.NodeID, Advertise: n.cfg.AdvertiseURL, API: n.api, RaftAddr: n.raftAddr,
	})); err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Msg("register self failed")
	}
}

// declareDead applies SetNodeState(dead) for every node without a heartbeat
// for FailoverAfter. The check and the pending mark happen under mu, so a
// heartbeat either lands before (and saves the node) or is refused. It
// returns the earliest deadline of the nodes still alive (ok false: none).
func (s *supervisor) declareDead(ctx context.Context) (next time.Duration, ok bool) {
	n := s.n
	now := n.now()
	nodes := n.fsm.Nodes()
	type victim struct {
		id             string
		silent         time.Duration
		rule           string
		due, silentDue time.Duration // for onDeclared
		heard          bool
	}
	var victims []victim
	s.mu.Lock()
	for _, nd := range nodes {
		if nd.ID == n.cfg.NodeID || nd.State == NodeDead || s.pending[nd.ID] {
			continue
		}
		due, rule := s.deadlineLocked(nd.ID)
		if now <= due {
			if !ok || due < next {
				next, ok = due, true
			}
			continue
		}
		s.pending[nd.ID] = true
		c, heard := s.contact[nd.ID]
		victims = append(victims, victim{id: nd.ID, silent: now - max(c, s.start), rule: rule,
			due: due, silentDue: max(c, s.start) + n.cfg.FailoverAfter, heard: heard})
	}
	s.mu.Unlock()
	for _, v := range victims {
		if n.cfg.onDeclared != nil {
			at := func(d time.Duration) time.Time { return n.t0.Add(d) }
			n.cfg.onDeclared(declaration{
				by: n.cfg.NodeID, id: v.id, rule: v.rule, heard: v.heard,
				decided: at(now), due: at(v.due), silentDue: at(v.silentDue),
				prev: s.term.prev, hasContact: s.term.hasContact, prevContact: at(s.term.prevContact),
				elected: at(s.term.elected),
			})
		}
		res, err := n.applyLocal(ctx, command.Encode(&command.SetNodeState{ID: v.id, State: NodeDead}))
		s.mu.Lock()
		delete(s.pending, v.id)
		s.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Str(keyPeer, v.id).Msg("declare dead failed")
			}
			continue
		}
		// Followers learn that the entry committed from the next
		// AppendEntries; a Barrier sends one now rather than at the next
		// lease renewal or commit timeout (up to 100 ms later), so a
		// follower that was given matches starts them sooner.
		n.r().Barrier(n.cfg.HeartbeatInterval) // not waited for; bounded if Raft is busy
		n.metrics.Failover(len(res.Moved))
		s.log.Warn().Str(keyPeer, v.id).Uint64(keyIndex, res.Index).Int(keyCount, len(res.Moved)).
			Dur(keySilent, v.silent).Str(keyRule, v.rule).Dur(keySinceElected, n.now()-s.term.elected).
			Msg("node declared dead; matches reassigned")
	}
	return next, ok
}

// deadlineLocked returns when node id may be declared dead, and which rule
// says so (mu held). The rules (DESIGN.md, "Fencing"):
//
//   - "silent": FailoverAfter after its last heartbeat to this leader, or
//     after this term's start (Barrier + LeaderGrace) when it has sent none
//     (its heartbeats went to an earlier leader, and it needs a moment to
//     find this one).
//   - "previous leader": the leader this node followed before it won, not
//     heard from in this term, FailoverAfter after this node's last Raft
//     contact before the election (never later than the "silent" rule).
//     Every lease granted in earlier terms ended by that contact +
//     OwnerLease: the last lease renewal of any earlier leader was a
//     committed Barrier, which this node must have stored to win, and it
//     stored it after the renewal started.
func (s *supervisor) deadlineLocked(id string) (time.Duration, string) {
	c, heard := s.contact[id]
	due := max(c, s.start) + s.n.cfg.FailoverAfter
	if heard || id != s.term.prev || !s.term.hasContact {
		return due, "silent"
	}
	if fast := s.term.prevContact + s.n.cfg.FailoverAfter; fast < due {
		return fast, "previous leader"
	}
	return due, "silent"
}

// collectRemoved deletes from the FSM dead nodes that are no longer Raft
// voters (removed by an operator): their matches have already moved.
func (s *supervisor) collectRemoved(ctx context.Context) {
	n := s.n
	voters := n.Servers()
	for _, nd := range n.fsm.Nodes() {
		if _, ok := voters[nd.ID]; ok || nd.State != NodeDead {
			continue
		}
		if _, err := n.applyLocal(ctx, command.Encode(&command.RemoveNode{ID: nd.ID})); err != nil {
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Str(keyPeer, nd.ID).Msg("remove node from fsm failed")
			}
			return
		}
		s.log.Info().Str(keyPeer, nd.ID).Msg("removed node deleted from the fsm")
	}
}

// heartbeat handles a node's heartbeat on the leader (HTTP goroutine).
// Contract for the lease (DESIGN.md, "Fencing"): a heartbeat is acknowledged
// only after its receipt time is recorded as the node's contact, and never
// while the node's death is pending.
func (s *supervisor) heartbeat(ctx context.Context, hb heartbeatRequest) (heartbeatAck, error) {
	n := s.n
	received := n.now()
	if !s.ready.Load() || !n.IsLeader() {
		return heartbeatAck{}, ErrNotLeader
	}
	if !n.isVoter(hb.ID) {
		return heartbeatAck{}, fmt.Errorf("%w: %s", ErrNotMember, hb.ID)
	}
	s.mu.Lock()
	if s.pending[hb.ID] {
		s.mu.Unlock()
		return heartbeatAck{}, fmt.Errorf("%w: %s", ErrDeclaredDead, hb.ID)
	}
	s.contact[hb.ID] = max(s.contact[hb.ID], received)
	s.load[hb.ID] = hb.Load
	s.mu.Unlock()

	info, ok := n.fsm.Node(hb.ID)
	if !ok || info.State == NodeDead || info.API != hb.API || info.Advertise != hb.Advertise || info.RaftAddr != hb.RaftAddr {
		res, err := n.applyLocal(ctx, command.Encode(&command.RegisterNode{ID: hb.ID, Advertise: hb.Advertise, API: hb.API, RaftAddr: hb.RaftAddr}))
		if err != nil {
			return heartbeatAck{}, fmt.Errorf("register %s: %w", hb.ID, err)
		}
		if !ok || info.State == NodeDead {
			s.log.Info().Str(keyPeer, hb.ID).Int(keyCount, len(res.Moved)).Msg("node alive")
		}
		info = *res.Node
	}
	remaining := n.LeaseRemaining()
	if remaining <= 0 {
		return heartbeatAck{}, fmt.Errorf("%w: the leader's own lease is not valid", ErrNotLeader)
	}
	// The node must have applied its latest revival (which follows the death
	// that moved its matches away) before it runs anything. Nothing else takes
	// a match from a live node without its own hand-over.
	return heartbeatAck{Leader: n.cfg.NodeID, Index: info.Revived, LeaseMS: remaining.Milliseconds()}, nil
}

// contacts returns, per node, how long ago the leader last heard from it
// (for /admin/v1/status).
func (s *supervisor) contacts() map[string]time.Duration {
	now := s.n.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Duration, len(s.contact))
	for id, c := range s.contact {
		out[id] = now - c
	}
	return out
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
