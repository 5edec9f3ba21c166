package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// Prefix is where the admin API is mounted; Server serves every path under
// it (the node-to-node endpoints through replication.Node.PeerHandler).
const Prefix = "/admin/v1/"

// Ticker reports the current tick of a room running on this node;
// game.Manager implements it.
type Ticker interface {
	Tick(matchID string) (tick uint32, ok bool)
}

// Config configures a Server.
type Config struct {
	// Node is the replication node the API serves. Required.
	Node *replication.Node
	// Token is the bearer token operators send: the cluster's admin token
	// (replication.Config.AdminToken). Empty disables the API: every
	// request is refused with 401.
	Token string
	// Ticks reports the ticks of the rooms this node runs (GET matches);
	// nil: every tick is null.
	Ticks Ticker
}

// DefaultConfig returns a Config with no node: set Node and Token.
func DefaultConfig() Config { return Config{} }

// Validate reports a missing node.
func (c *Config) Validate() error {
	if c.Node == nil {
		return errors.New("admin: node: must be set")
	}
	return nil
}

// Server is the admin API of one node, an http.Handler for Prefix. Its
// handlers run on the HTTP server's goroutines and call the node's
// goroutine-safe methods; the Server holds no state of its own.
type Server struct {
	cfg  Config
	node *replication.Node
	mux  *http.ServeMux
}

// New returns the admin API of cfg.Node.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, node: cfg.Node}
	op := http.NewServeMux()
	op.HandleFunc("GET /admin/v1/status", s.handleStatus)
	op.HandleFunc("GET /admin/v1/nodes", s.handleNodes)
	op.HandleFunc("GET /admin/v1/matches", s.handleMatches)
	op.HandleFunc("GET /admin/v1/matches/{id}", s.handleMatch)
	op.HandleFunc("POST /admin/v1/matches", s.handleCreateMatch)
	op.HandleFunc("POST /admin/v1/matches/{id}/move", s.handleMove)
	op.HandleFunc("POST /admin/v1/nodes/{id}/drain", s.handleDrain)
	op.HandleFunc("POST /admin/v1/nodes/{id}/undrain", s.handleUndrain)
	op.HandleFunc("POST /admin/v1/nodes/{id}/remove", s.handleRemove)
	op.HandleFunc("POST /admin/v1/transfer-leader", s.handleTransfer)
	op.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no such endpoint: %s %s", replication.ErrBadRequest, r.Method, r.URL.Path), http.StatusNotFound)
	})

	s.mux = http.NewServeMux()
	peer := cfg.Node.PeerHandler() // authenticates itself
	s.mux.Handle("POST "+replication.PathJoin, peer)
	s.mux.Handle("POST "+replication.PathRaftApply, peer)
	s.mux.Handle("POST "+replication.PathRaftHeartbeat, peer)
	s.mux.Handle("GET "+replication.PathRaftReadIndex, peer)
	s.mux.Handle("/", s.authenticate(op))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" {
			writeError(w, fmt.Errorf("%w: the admin API is disabled (no admin token configured)", replication.ErrUnauthorized), 0)
			return
		}
		if !httpapi.Authorized(r, s.cfg.Token) {
			httpapi.Challenge(w)
			writeError(w, replication.ErrUnauthorized, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError writes err as {"error","code"}; status 0 picks it from
// replication's error table. An error another node answered keeps its code.
func writeError(w http.ResponseWriter, err error, status int) {
	if status == 0 {
		status = replication.HTTPStatus(err)
	}
	code := replication.ErrorCode(err)
	var re *replication.RemoteError
	if errors.As(err, &re) {
		code = re.Code
	}
	httpapi.WriteError(w, status, code, err.Error())
}

func badRequest(err error) error { return fmt.Errorf("%w: %w", replication.ErrBadRequest, err) }

// proxy sends the request (with its body) to node id and copies the answer
// back; a request that was already proxied once is refused. The request
// goes where Node.PeerAPI says: with cluster TLS to id's cluster port,
// through a client that sends nothing (the token included) unless the
// server's certificate names id; without, to the API URL id registered.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, body []byte, id, why string) {
	if r.Header.Get(httpapi.HeaderForwarded) != "" {
		writeError(w, fmt.Errorf("%w: %s (request was already forwarded once)", replication.ErrNotLeader, why), 0)
		return
	}
	base, hc, err := s.node.PeerAPI(id)
	if err != nil {
		writeError(w, fmt.Errorf("%w: %s: %w", replication.ErrNoLeader, why, err), 0)
		return
	}
	if err := httpapi.Proxy(w, r, body, hc, base, s.cfg.Token, s.node.ID()); err != nil {
		writeError(w, fmt.Errorf("%w: forward to %s at %s: %w", replication.ErrNoLeader, id, base, err), http.StatusBadGateway)
	}
}

// onLeader runs fn on the leader, or proxies the request to it.
func (s *Server) onLeader(w http.ResponseWriter, r *http.Request, fn func(body []byte)) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxJSONBody))
	if err != nil {
		writeError(w, fmt.Errorf("%w: read body: %w", replication.ErrBadRequest, err), 0)
		return
	}
	if s.node.IsLeader() {
		fn(body)
		return
	}
	lid, _ := s.node.Leader()
	if lid == "" {
		writeError(w, replication.ErrNoLeader, 0)
		return
	}
	s.proxy(w, r, body, lid, "this node is not the leader")
}

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, s.node.Status())
}

func (s *Server) handleNodes(w http.ResponseWriter, _ *http.Request) {
	lid, _ := s.node.Leader()
	voters := s.node.Servers()
	out := []Node{}
	for _, nd := range s.node.Nodes() {
		_, voter := voters[nd.ID]
		out = append(out, Node{ID: nd.ID, Advertise: nd.Advertise, API: nd.API, RaftAddr: nd.RaftAddr,
			State: nd.State, Leader: nd.ID == lid, Load: nd.Load, Voter: voter})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// match is the row of m, with its room's tick when it runs here.
func (s *Server) match(m replication.MatchInfo) Match {
	am := Match{ID: m.ID, Game: m.Game, Owner: m.Owner, Epoch: m.Epoch, Players: m.Players, Status: m.Status,
		CheckpointTick: m.CheckpointTick, CheckpointEpoch: m.CheckpointEpoch, CheckpointBytes: m.CheckpointBytes, Seed: m.Seed}
	if s.cfg.Ticks != nil && m.Owner == s.node.ID() {
		if t, ok := s.cfg.Ticks.Tick(m.ID); ok {
			am.Tick = &t
		}
	}
	return am
}

func (s *Server) handleMatches(w http.ResponseWriter, _ *http.Request) {
	out := []Match{}
	for _, m := range s.node.Matches() {
		out = append(out, s.match(m))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) handleMatch(w http.ResponseWriter, r *http.Request) {
	m, ok := s.node.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, fmt.Errorf("%w: %s", replication.ErrMatchNotFound, r.PathValue("id")), 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.match(m))
}

func (s *Server) handleCreateMatch(w http.ResponseWriter, r *http.Request) {
	var req CreateMatchRequest
	if err := httpapi.ReadJSON(r, &req); err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	if req.Game == "" {
		writeError(w, fmt.Errorf("%w: game is required", replication.ErrBadRequest), 0)
		return
	}
	if req.ID == "" {
		req.ID = replication.NewMatchID()
	}
	m, err := s.node.CreateMatch(r.Context(), command.CreateMatch{ID: req.ID, Game: req.Game, Owner: req.Node, Seed: req.Seed})
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, s.match(m))
}

// handleMove runs the hand-over on the match's owner (it freezes the room),
// proxying the request there from any other node.
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxJSONBody))
	if err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	var req MoveRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	if req.Node == "" {
		writeError(w, fmt.Errorf("%w: node is required", replication.ErrBadRequest), 0)
		return
	}
	id := r.PathValue("id")
	m, ok := s.node.Lookup(id)
	if !ok {
		writeError(w, fmt.Errorf("%w: %s", replication.ErrMatchNotFound, id), 0)
		return
	}
	if m.Owner != s.node.ID() {
		owner, ok := s.node.Member(m.Owner)
		if !ok || owner.State == replication.NodeDead {
			writeError(w, fmt.Errorf("%w: owner %q of %s is not alive; failover moves it", replication.ErrNodeNotAlive, m.Owner, id), 0)
			return
		}
		s.proxy(w, r, body, m.Owner, "this node does not own the match")
		return
	}
	moved, err := s.node.Move(r.Context(), id, req.Node)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.match(moved))
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	info, err := s.node.Drain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
}

func (s *Server) handleUndrain(w http.ResponseWriter, r *http.Request) {
	info, err := s.node.Undrain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
}

func (s *Server) handleRemove(w http.ResponseWriter, r *http.Request) {
	s.onLeader(w, r, func([]byte) {
		id := r.PathValue("id")
		if _, ok := s.node.Member(id); !ok {
			if _, voter := s.node.Servers()[id]; !voter {
				writeError(w, fmt.Errorf("%w: %s", replication.ErrNodeNotFound, id), 0)
				return
			}
		}
		if err := s.node.RemoveServer(r.Context(), id); err != nil {
			writeError(w, err, 0)
			return
		}
		httpapi.WriteJSON(w, http.StatusAccepted, RemoveResult{
			Removed: id,
			Note:    "its matches move once failover-after passes without its heartbeats",
		})
	})
}

func (s *Server) handleTransfer(w http.ResponseWriter, r *http.Request) {
	s.onLeader(w, r, func(body []byte) {
		var req TransferRequest
		if err := httpapi.DecodeJSON(body, &req); err != nil {
			writeError(w, badRequest(err), 0)
			return
		}
		start := time.Now()
		if err := s.node.LeadershipTransfer(r.Context(), req.Node); err != nil {
			writeError(w, err, 0)
			return
		}
		lid, _ := s.node.Leader()
		httpapi.WriteJSON(w, http.StatusOK, TransferResult{Leader: lid, ElapsedMS: time.Since(start).Milliseconds()})
	})
}
