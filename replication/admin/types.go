package admin

import "github.com/ticksync/ticksync/replication"

// Node is one row of GET /admin/v1/nodes.
type Node struct {
	ID        string                `json:"id"`
	Advertise string                `json:"advertise"`
	API       string                `json:"api"`
	RaftAddr  string                `json:"raft_addr"`
	State     replication.NodeState `json:"state"`
	Leader    bool                  `json:"leader"`
	Load      int                   `json:"load"`
	Voter     bool                  `json:"voter"`
}

// Match is one row of GET /admin/v1/matches and the answer of the
// endpoints that return a match. Tick is the room's current tick when the
// answering node runs it (null elsewhere).
type Match struct {
	ID              string                  `json:"id"`
	Game            string                  `json:"game"`
	Owner           string                  `json:"owner"`
	Epoch           uint64                  `json:"epoch"`
	Players         int                     `json:"players"`
	Status          replication.MatchStatus `json:"status"`
	Tick            *uint32                 `json:"tick"`
	CheckpointTick  uint32                  `json:"checkpoint_tick"`
	CheckpointEpoch uint64                  `json:"checkpoint_epoch"`
	CheckpointBytes int                     `json:"checkpoint_bytes"`
	Seed            uint64                  `json:"seed"`
}

// CreateMatchRequest is the body of POST /admin/v1/matches.
type CreateMatchRequest struct {
	ID   string `json:"id,omitempty"` // empty: a random id
	Game string `json:"game"`
	Node string `json:"node,omitempty"` // empty: the least-loaded live node
	Seed uint64 `json:"seed,omitempty"`
}

// MoveRequest is the body of POST /admin/v1/matches/{id}/move.
type MoveRequest struct {
	Node string `json:"node"`
}

// TransferRequest is the body of POST /admin/v1/transfer-leader.
type TransferRequest struct {
	Node string `json:"node,omitempty"` // empty: the most up-to-date voter
}

// RemoveResult is the answer of POST /admin/v1/nodes/{id}/remove (202).
// Its fields, like TransferResult's, are in alphabetical order: earlier
// versions wrote these answers from maps.
type RemoveResult struct {
	Note    string `json:"note"`
	Removed string `json:"removed"`
}

// TransferResult is the answer of POST /admin/v1/transfer-leader.
type TransferResult struct {
	ElapsedMS int64  `json:"elapsed_ms"`
	Leader    string `json:"leader"`
}
