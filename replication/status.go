package replication

import "time"

// Status describes this node: its Raft state and leader, its FSM, its
// lease, and its checkpointer's counters. It is the JSON of the admin API's
// GET /admin/v1/status; every number is a JSON number.
type Status struct {
	ID           string `json:"id"`
	RaftState    string `json:"raft_state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	// LastContactMS is how long ago this follower last heard from the
	// leader: 0 on the leader, null when it never has (or Raft is down).
	LastContactMS    *int64           `json:"last_contact_ms"`
	LeaseValid       bool             `json:"lease_valid"`
	LeaseRemainingMS int64            `json:"lease_remaining_ms"`
	Nodes            int              `json:"nodes"`
	Matches          int              `json:"matches"`
	Owned            int              `json:"owned"`
	ContactAgeMS     map[string]int64 `json:"contact_age_ms,omitempty"` // leader only
	Checkpoints      CheckpointStats  `json:"checkpoints"`
	TickLog          *TickLogStats    `json:"tick_log,omitempty"`
}

// Status describes this node. Any goroutine.
func (n *Node) Status() Status {
	lid, _ := n.Leader()
	owned, _ := n.fsm.ownedBy(n.cfg.NodeID)
	s := Status{
		ID: n.cfg.NodeID, RaftState: "Shutdown", Leader: lid,
		AppliedIndex: n.fsm.Index(),
		LeaseValid:   n.LeaseValid(), LeaseRemainingMS: n.LeaseRemaining().Milliseconds(),
		Nodes: len(n.fsm.Nodes()), Matches: len(n.fsm.Matches()), Owned: len(owned),
		Checkpoints: n.ckpt.Stats(),
	}
	tl := n.tlog.Stats()
	s.TickLog = &tl
	if r := n.r(); r != nil {
		s.RaftState = r.State().String()
		s.Term, s.CommitIndex = r.CurrentTerm(), r.CommitIndex()
		var ms int64
		switch lc := r.LastContact(); {
		case n.IsLeader():
			s.LastContactMS = &ms
		case !lc.IsZero():
			ms = time.Since(lc).Milliseconds()
			s.LastContactMS = &ms
		}
	}
	if sup := n.sup.Load(); sup != nil {
		s.ContactAgeMS = make(map[string]int64)
		for id, d := range sup.contacts() {
			s.ContactAgeMS[id] = d.Milliseconds()
		}
	}
	return s
}
