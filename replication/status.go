package replication

// Status describes this node: its Raft state and leader, its FSM, its
// lease, and its checkpointer's counters. It is the JSON of the admin API's
// GET /admin/v1/status.
type Status struct {
	ID               string           `json:"id"`
	RaftState        string           `json:"raft_state"`
	Leader           string           `json:"leader"`
	Term             string           `json:"term"`
	AppliedIndex     uint64           `json:"applied_index"`
	CommitIndex      string           `json:"commit_index"`
	LastContact      string           `json:"last_contact"`
	LeaseValid       bool             `json:"lease_valid"`
	LeaseRemainingMS int64            `json:"lease_remaining_ms"`
	Nodes            int              `json:"nodes"`
	Matches          int              `json:"matches"`
	Owned            int              `json:"owned"`
	ContactAgeMS     map[string]int64 `json:"contact_age_ms,omitempty"` // leader only
	Checkpoints      CheckpointStats  `json:"checkpoints"`
}

// Status describes this node. Any goroutine.
func (n *Node) Status() Status {
	st := n.Stats()
	lid, _ := n.Leader()
	owned, _ := n.fsm.ownedBy(n.cfg.NodeID)
	s := Status{
		ID: n.cfg.NodeID, RaftState: st["state"], Leader: lid, Term: st["term"],
		AppliedIndex: n.fsm.Index(), CommitIndex: st["commit_index"], LastContact: st["last_contact"],
		LeaseValid: n.LeaseValid(), LeaseRemainingMS: n.LeaseRemaining().Milliseconds(),
		Nodes: len(n.fsm.Nodes()), Matches: len(n.fsm.Matches()), Owned: len(owned),
		Checkpoints: n.ckpt.Stats(),
	}
	if sup := n.sup.Load(); sup != nil {
		s.ContactAgeMS = make(map[string]int64)
		for id, d := range sup.contacts() {
			s.ContactAgeMS[id] = d.Milliseconds()
		}
	}
	return s
}
