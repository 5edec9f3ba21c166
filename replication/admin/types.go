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
	Key             string                  `json:"key,omitempty"` // matchmaking key ("" for none)
}

// CreateMatchRequest is the body of POST /admin/v1/matches.
type CreateMatchRequest struct {
	ID   string `json:"id,omitempty"` // empty: a random id
	Game string `json:"game"`
	Node string `json:"node,omitempty"` // empty: the least-loaded live node
	Seed uint64 `json:"seed,omitempty"`
	// Key is the match's matchmaking key, as the game layer writes it
	// (the join payload's match_key fields: `mode=1 map="dust"`); empty:
	// none. Matchmaking seats only players of that key in it.
	Key string `json:"key,omitempty"`
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

// MatchDetail is the answer of GET /admin/v1/matches/{id} and of a kick:
// the match's row, and what the node that runs it sees of it now. Any node
// answers: a node that does not run the match asks its owner.
type MatchDetail struct {
	Match
	// Live is the owner's view of the running match; null when the owner
	// could not be asked (dead, unreachable, no owner yet, or not running
	// the match yet). LiveError then says why.
	Live      *Live  `json:"live"`
	LiveError string `json:"live_error,omitempty"`
}

// Live is a running match as the node that runs it sees it (Games.Live).
type Live struct {
	Node          string   `json:"node"` // the node that runs it and answered
	Tick          uint32   `json:"tick"`
	TickRate      int      `json:"tick_rate"`
	Seats         int      `json:"seats"`
	Connected     int      `json:"connected"`      // players with a live connection
	TickP99MS     float64  `json:"tick_p99_ms"`    // 99th percentile of the last 256 ticks' duration
	TickMaxMS     float64  `json:"tick_max_ms"`    // and their maximum
	BytesPerSec   float64  `json:"bytes_per_sec"`  // snapshot bytes sent over the last full second
	SnapshotBytes uint64   `json:"snapshot_bytes"` // since this node runs the match
	Frozen        bool     `json:"frozen"`         // held for a hand-over
	Paused        bool     `json:"paused"`         // not ticking: the node's lease lapsed
	Players       []Player `json:"players"`        // by id
}

// Player is one seat of a running match.
type Player struct {
	ID     uint32 `json:"id"`
	Name   string `json:"name"`
	Entity uint32 `json:"entity"` // the seat's entity in the game
	// Connected: a connection holds the seat; false: the seat waits for
	// the player to resume (within the node's -resume-grace).
	Connected bool `json:"connected"`
	// RTTMS is the smoothed round trip in milliseconds, from a snapshot
	// leaving the room to the player's first input acknowledging it (so it
	// includes the client's wait for its next input); null: no sample yet.
	RTTMS *float64 `json:"rtt_ms"`
	// LastInputMS is the age of the player's newest input in milliseconds;
	// null: none since this node runs the match.
	LastInputMS *int64 `json:"last_input_ms"`
}

// KickRequest is the body of POST /admin/v1/matches/{id}/kick.
type KickRequest struct {
	Player uint32 `json:"player"`
}

// EndResult is the answer of DELETE /admin/v1/matches/{id}: the match that
// ended, as it was.
type EndResult struct {
	Ended   string `json:"ended"`
	Game    string `json:"game"`
	Owner   string `json:"owner"`
	Players int    `json:"players"`
}
