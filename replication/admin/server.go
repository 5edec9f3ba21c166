package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/replication"
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
	// Games is the local game layer: the games a new match may run, the
	// players of the matches that run here, kicks. nil: matches have no
	// live view (null), kick answers 501, and create-match accepts any
	// game name.
	Games Games
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
	op.HandleFunc("DELETE /admin/v1/matches/{id}", s.handleEndMatch)
	op.HandleFunc("POST /admin/v1/matches/{id}/move", s.handleMove)
	op.HandleFunc("POST /admin/v1/matches/{id}/kick", s.handleKick)
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
// back; a request that was already proxied once is refused. After a write,
// this node catches up with the cluster, so that what the operator reads
// here next shows it.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, body []byte, id, why string) {
	if forwarded(r) {
		writeError(w, fmt.Errorf("%w: %s (request was already forwarded once)", replication.ErrNotLeader, why), 0)
		return
	}
	status, data, err := s.forward(r, body, id)
	if err != nil {
		var te *httpapi.TransportError
		if errors.As(err, &te) {
			writeError(w, fmt.Errorf("%w: %w", replication.ErrNoLeader, err), http.StatusBadGateway)
		} else {
			writeError(w, fmt.Errorf("%w: %s: %w", replication.ErrNoLeader, why, err), 0)
		}
		return
	}
	if r.Method != http.MethodGet && status/100 == 2 {
		s.settle(r.Context())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// forward is the one place this API calls another node: it sends r (with
// body, already read) to the same path on node id, marked as forwarded by
// this node, and returns that node's answer. The request goes where
// Node.PeerAPI says: with cluster TLS to id's cluster port, through a
// client that sends nothing (the token included) unless the server's
// certificate names id; without, to the API URL id registered. A
// *httpapi.TransportError means id did not answer; another error, that it
// cannot be addressed.
func (s *Server) forward(r *http.Request, body []byte, id string) (status int, data []byte, err error) {
	base, hc, err := s.node.PeerAPI(id)
	if err != nil {
		return 0, nil, err
	}
	hdr := http.Header{httpapi.HeaderForwarded: []string{s.node.ID()}}
	status, data, err = httpapi.Do(r.Context(), hc, r.Method, base+r.URL.RequestURI(), s.cfg.Token, body, r.Header.Get("Content-Type"), hdr)
	if err != nil {
		return 0, nil, fmt.Errorf("forward to %s at %s: %w", id, base, err)
	}
	return status, data, nil
}

// forwarded reports whether another node proxied r here: it is answered
// here, never proxied again.
func forwarded(r *http.Request) bool { return r.Header.Get(httpapi.HeaderForwarded) != "" }

// settleTimeout bounds how long a write's answer waits for this node to
// apply what the cluster committed.
const settleTimeout = 5 * time.Second

// settle waits (bounded) until this node's FSM has applied everything the
// cluster had committed: called after a write, so that the answer, and the
// operator's next read on this node, show the state the write made.
func (s *Server) settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	_ = s.node.CatchUp(ctx) // on failure the answer is as fresh as it can be
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
