package replication

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ticksync/ticksync/replication/command"
)

// Admin API paths. cmd mounts AdminHandler at "/admin/v1/".
const (
	pathRaftApply     = "/admin/v1/raft/apply"
	pathRaftHeartbeat = "/admin/v1/raft/heartbeat"
	pathRaftReadIndex = "/admin/v1/raft/read-index"
	pathJoin          = "/admin/v1/join"
	// headerForwarded marks a request one node proxied to another; it is
	// never proxied again (no loops while the leader changes).
	headerForwarded = "X-Ticksync-Forwarded"
	maxJSONBody     = 1 << 20
)

// AdminHandler returns the admin API (JSON, bearer AdminToken), to be
// mounted at /admin/v1/:
//
//	GET  /admin/v1/status                   this node: raft state, leader, lease, counters
//	GET  /admin/v1/nodes                    [{"id","advertise","api","raft_addr","state","leader","load","voter"}]
//	GET  /admin/v1/matches                  [{"id","game","owner","epoch","players","status","tick","checkpoint_tick",…}]
//	GET  /admin/v1/matches/{id}
//	POST /admin/v1/matches                  {"id"?,"game","node"?,"seed"?} → the match
//	POST /admin/v1/matches/{id}/move        {"node"}: hand-over with a final checkpoint (runs on the owner)
//	POST /admin/v1/join                     {"id","raft_addr","advertise","api"?} (runs on the leader)
//	POST /admin/v1/nodes/{id}/drain         hand all its matches over, take no new ones
//	POST /admin/v1/nodes/{id}/undrain
//	POST /admin/v1/nodes/{id}/remove        remove from Raft; matches move after failover-after (leader)
//	POST /admin/v1/transfer-leader          {"node"?} (leader)
//	POST /admin/v1/raft/apply               internal: an encoded command (leader)
//	POST /admin/v1/raft/heartbeat           internal: a node's heartbeat (leader)
//
// Requests that need the leader (or, for move, the owner) are proxied there
// once. Errors: an HTTP status and {"error": "...", "code": "..."}.
func (n *Node) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/status", n.handleStatus)
	mux.HandleFunc("GET /admin/v1/nodes", n.handleNodes)
	mux.HandleFunc("GET /admin/v1/matches", n.handleMatches)
	mux.HandleFunc("GET /admin/v1/matches/{id}", n.handleMatch)
	mux.HandleFunc("POST /admin/v1/matches", n.handleCreateMatch)
	mux.HandleFunc("POST /admin/v1/matches/{id}/move", n.handleMove)
	mux.HandleFunc("POST /admin/v1/join", n.handleJoin)
	mux.HandleFunc("POST /admin/v1/nodes/{id}/drain", n.handleDrain)
	mux.HandleFunc("POST /admin/v1/nodes/{id}/undrain", n.handleUndrain)
	mux.HandleFunc("POST /admin/v1/nodes/{id}/remove", n.handleRemove)
	mux.HandleFunc("POST /admin/v1/transfer-leader", n.handleTransfer)
	mux.HandleFunc("POST /admin/v1/raft/apply", n.handleApply)
	mux.HandleFunc("POST /admin/v1/raft/heartbeat", n.handleHeartbeat)
	mux.HandleFunc("GET /admin/v1/raft/read-index", n.handleReadIndex)
	mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no such endpoint: %s %s", ErrBadRequest, r.Method, r.URL.Path), http.StatusNotFound)
	})
	return n.authenticate(mux)
}

func (n *Node) authenticate(next http.Handler) http.Handler {
	want := []byte("Bearer " + n.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.AdminToken == "" {
			writeError(w, fmt.Errorf("%w: the admin API is disabled (no admin token configured)", ErrUnauthorized), 0)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ticksync-admin"`)
			writeError(w, ErrUnauthorized, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError writes err as {"error","code"}; status 0 picks it from errorTable.
func writeError(w http.ResponseWriter, err error, status int) {
	if status == 0 {
		status = errorStatus(err)
	}
	body := errorBody{Error: err.Error(), Code: ErrorCode(err)}
	var re *RemoteError
	if errors.As(err, &re) {
		body.Code = re.Code
	}
	writeJSON(w, status, body)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// proxy sends the request (with body) to the node at api and copies the
// answer back. It refuses to proxy a request that was already proxied.
func (n *Node) proxy(w http.ResponseWriter, r *http.Request, body []byte, api, why string) {
	if r.Header.Get(headerForwarded) != "" {
		writeError(w, fmt.Errorf("%w: %s (request was already forwarded once)", ErrNotLeader, why), 0)
		return
	}
	hdr := http.Header{headerForwarded: []string{n.cfg.NodeID}}
	status, data, err := n.client.raw(r.Context(), r.Method, api+r.URL.RequestURI(), body, r.Header.Get("Content-Type"), hdr)
	if err != nil {
		writeError(w, fmt.Errorf("%w: forward to %s: %w", ErrNoLeader, api, err), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// onLeader runs fn on the leader, or proxies the request to it.
func (n *Node) onLeader(w http.ResponseWriter, r *http.Request, fn func(body []byte)) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		writeError(w, fmt.Errorf("%w: read body: %w", ErrBadRequest, err), 0)
		return
	}
	if n.IsLeader() {
		fn(body)
		return
	}
	lid, _ := n.Leader()
	if lid == "" {
		writeError(w, ErrNoLeader, 0)
		return
	}
	leader, ok := n.fsm.Node(lid)
	if !ok || leader.API == "" {
		writeError(w, fmt.Errorf("%w: leader %s has no api url yet", ErrNoLeader, lid), 0)
		return
	}
	n.proxy(w, r, body, leader.API, "this node is not the leader")
}

func decodeBody(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return nil
}

// AdminNode is one row of GET /admin/v1/nodes.
type AdminNode struct {
	ID        string    `json:"id"`
	Advertise string    `json:"advertise"`
	API       string    `json:"api"`
	RaftAddr  string    `json:"raft_addr"`
	State     NodeState `json:"state"`
	Leader    bool      `json:"leader"`
	Load      int       `json:"load"`
	Voter     bool      `json:"voter"`
}

func (n *Node) handleNodes(w http.ResponseWriter, _ *http.Request) {
	lid, _ := n.Leader()
	voters := n.Servers()
	out := []AdminNode{}
	for _, nd := range n.fsm.Nodes() {
		_, voter := voters[nd.ID]
		out = append(out, AdminNode{ID: nd.ID, Advertise: nd.Advertise, API: nd.API, RaftAddr: nd.RaftAddr,
			State: nd.State, Leader: nd.ID == lid, Load: nd.Load, Voter: voter})
	}
	writeJSON(w, http.StatusOK, out)
}

// AdminMatch is one row of GET /admin/v1/matches. Tick is the room's current
// tick when this node runs it (null elsewhere).
type AdminMatch struct {
	ID              string      `json:"id"`
	Game            string      `json:"game"`
	Owner           string      `json:"owner"`
	Epoch           uint64      `json:"epoch"`
	Players         int         `json:"players"`
	Status          MatchStatus `json:"status"`
	Tick            *uint32     `json:"tick"`
	CheckpointTick  uint32      `json:"checkpoint_tick"`
	CheckpointEpoch uint64      `json:"checkpoint_epoch"`
	CheckpointBytes int         `json:"checkpoint_bytes"`
	Seed            uint64      `json:"seed"`
}

func (n *Node) adminMatch(m MatchInfo) AdminMatch {
	am := AdminMatch{ID: m.ID, Game: m.Game, Owner: m.Owner, Epoch: m.Epoch, Players: m.Players, Status: m.Status,
		CheckpointTick: m.CheckpointTick, CheckpointEpoch: m.CheckpointEpoch, CheckpointBytes: m.CheckpointBytes, Seed: m.Seed}
	if h := n.cfg.Host; h != nil && m.Owner == n.cfg.NodeID {
		if t, ok := h.Tick(m.ID); ok {
			am.Tick = &t
		}
	}
	return am
}

func (n *Node) handleMatches(w http.ResponseWriter, _ *http.Request) {
	out := []AdminMatch{}
	for _, m := range n.fsm.Matches() {
		out = append(out, n.adminMatch(m))
	}
	writeJSON(w, http.StatusOK, out)
}

func (n *Node) handleMatch(w http.ResponseWriter, r *http.Request) {
	m, ok := n.fsm.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, fmt.Errorf("%w: %s", ErrMatchNotFound, r.PathValue("id")), 0)
		return
	}
	writeJSON(w, http.StatusOK, n.adminMatch(m))
}

// CreateMatchRequest is the body of POST /admin/v1/matches.
type CreateMatchRequest struct {
	ID   string `json:"id,omitempty"` // empty: a random id
	Game string `json:"game"`
	Node string `json:"node,omitempty"` // empty: the least-loaded live node
	Seed uint64 `json:"seed,omitempty"`
}

func (n *Node) handleCreateMatch(w http.ResponseWriter, r *http.Request) {
	var req CreateMatchRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, err, 0)
		return
	}
	if req.Game == "" {
		writeError(w, fmt.Errorf("%w: game is required", ErrBadRequest), 0)
		return
	}
	if req.ID == "" {
		req.ID = NewMatchID()
	}
	m, err := n.CreateMatch(r.Context(), command.CreateMatch{ID: req.ID, Game: req.Game, Owner: req.Node, Seed: req.Seed})
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusCreated, n.adminMatch(m))
}

// NewMatchID returns a random 16-hex-digit match id.
func NewMatchID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MoveRequest is the body of POST /admin/v1/matches/{id}/move.
type MoveRequest struct {
	Node string `json:"node"`
}

func (n *Node) handleMove(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %w", ErrBadRequest, err), 0)
		return
	}
	var req MoveRequest
	if err := decodeBody(body, &req); err != nil {
		writeError(w, err, 0)
		return
	}
	if req.Node == "" {
		writeError(w, fmt.Errorf("%w: node is required", ErrBadRequest), 0)
		return
	}
	id := r.PathValue("id")
	m, ok := n.fsm.Lookup(id)
	if !ok {
		writeError(w, fmt.Errorf("%w: %s", ErrMatchNotFound, id), 0)
		return
	}
	if m.Owner != n.cfg.NodeID {
		owner, ok := n.fsm.Node(m.Owner)
		if !ok || owner.State == NodeDead || owner.API == "" {
			writeError(w, fmt.Errorf("%w: owner %q of %s is not alive; failover moves it", ErrNodeNotAlive, m.Owner, id), 0)
			return
		}
		n.proxy(w, r, body, owner.API, "this node does not own the match")
		return
	}
	moved, err := n.Move(r.Context(), id, req.Node)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, n.adminMatch(moved))
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	n.onLeader(w, r, func(body []byte) {
		var req JoinRequest
		if err := decodeBody(body, &req); err != nil {
			writeError(w, err, 0)
			return
		}
		info, err := n.join(r.Context(), req)
		if err != nil {
			writeError(w, err, 0)
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
}

func (n *Node) handleDrain(w http.ResponseWriter, r *http.Request) {
	info, err := n.Drain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (n *Node) handleUndrain(w http.ResponseWriter, r *http.Request) {
	info, err := n.Undrain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (n *Node) handleRemove(w http.ResponseWriter, r *http.Request) {
	n.onLeader(w, r, func([]byte) {
		id := r.PathValue("id")
		if _, ok := n.fsm.Node(id); !ok && !n.isVoter(id) {
			writeError(w, fmt.Errorf("%w: %s", ErrNodeNotFound, id), 0)
			return
		}
		if err := n.RemoveServer(r.Context(), id); err != nil {
			writeError(w, err, 0)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{
			"removed": id,
			"note":    "its matches move once failover-after passes without its heartbeats",
		})
	})
}

// TransferRequest is the body of POST /admin/v1/transfer-leader.
type TransferRequest struct {
	Node string `json:"node,omitempty"`
}

func (n *Node) handleTransfer(w http.ResponseWriter, r *http.Request) {
	n.onLeader(w, r, func(body []byte) {
		var req TransferRequest
		if err := decodeBody(body, &req); err != nil {
			writeError(w, err, 0)
			return
		}
		start := time.Now()
		if err := n.LeadershipTransfer(r.Context(), req.Node); err != nil {
			writeError(w, err, 0)
			return
		}
		lid, _ := n.Leader()
		writeJSON(w, http.StatusOK, map[string]any{"leader": lid, "elapsed_ms": time.Since(start).Milliseconds()})
	})
}

func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(2*n.cfg.MaxBatchBytes+maxJSONBody)))
	if err != nil {
		writeError(w, fmt.Errorf("%w: %w", ErrBadRequest, err), 0)
		return
	}
	if !n.IsLeader() {
		writeError(w, ErrNotLeader, 0)
		return
	}
	if _, err := command.Decode(body); err != nil { // keep garbage out of the log
		writeError(w, err, 0)
		return
	}
	res, err := n.applyLocal(r.Context(), body)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	index, err := n.leaderReadIndex(r.Context())
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, ReadIndex{Index: index})
}

func (n *Node) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb HeartbeatRequest
	if err := readJSON(r, &hb); err != nil {
		writeError(w, err, 0)
		return
	}
	sup := n.sup.Load()
	if sup == nil {
		writeError(w, ErrNotLeader, 0)
		return
	}
	ack, err := sup.heartbeat(r.Context(), hb)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	writeJSON(w, http.StatusOK, ack)
}

// Status is GET /admin/v1/status.
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

// Status describes this node.
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

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, n.Status())
}
