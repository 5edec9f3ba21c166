package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// The node-to-node API: what nodes call on each other, with the cluster's
// admin token, under the admin API's prefix (these paths are part of the
// wire protocol between versions). PeerHandler serves them; package admin
// mounts that handler beside the operator endpoints.
const (
	// PathJoin (POST JoinRequest): add a node as a voter and register it;
	// proxied once to the leader. A new node's JoinCluster calls it.
	PathJoin = "/admin/v1/join"
	// PathRaftApply (POST, an encoded command): apply it on the leader and
	// answer the Result. A follower's Node.Apply calls it (Forwarder).
	PathRaftApply = "/admin/v1/raft/apply"
	// PathRaftHeartbeat (POST heartbeatRequest): a follower's heartbeat to
	// the leader's supervisor, which renews its owner lease.
	PathRaftHeartbeat = "/admin/v1/raft/heartbeat"
	// PathRaftReadIndex (GET): the leader's read index, for CatchUp.
	PathRaftReadIndex = "/admin/v1/raft/read-index"
)

// PeerHandler serves the node-to-node API (the Path constants), checking
// the bearer AdminToken itself. Mount it at those paths (package admin
// does); anything else answers 404. It runs on the HTTP server's
// goroutines and shares with the rest of the node only the FSM (read
// lock), the supervisor's mutex and Raft.
func (n *Node) PeerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathJoin, n.handleJoin)
	mux.HandleFunc("POST "+PathRaftApply, n.handleApply)
	mux.HandleFunc("POST "+PathRaftHeartbeat, n.handleHeartbeat)
	mux.HandleFunc("GET "+PathRaftReadIndex, n.handleReadIndex)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, fmt.Errorf("%w: no such endpoint: %s %s", ErrBadRequest, r.Method, r.URL.Path), http.StatusNotFound)
	})
	return n.authenticate(mux)
}

func (n *Node) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.AdminToken == "" {
			writeError(w, fmt.Errorf("%w: the admin API is disabled (no admin token configured)", ErrUnauthorized), 0)
			return
		}
		if !httpapi.Authorized(r, n.cfg.AdminToken) {
			httpapi.Challenge(w)
			writeError(w, ErrUnauthorized, 0)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError writes err as {"error","code"}; status 0 picks it from the
// error table. An error another node answered keeps that node's code.
func writeError(w http.ResponseWriter, err error, status int) {
	if status == 0 {
		status = HTTPStatus(err)
	}
	code := ErrorCode(err)
	var re *RemoteError
	if errors.As(err, &re) {
		code = re.Code
	}
	httpapi.WriteError(w, status, code, err.Error())
}

func (n *Node) handleJoin(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxJSONBody))
	if err != nil {
		writeError(w, fmt.Errorf("%w: read body: %w", ErrBadRequest, err), 0)
		return
	}
	if !n.IsLeader() {
		n.proxyToLeader(w, r, body)
		return
	}
	var req JoinRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		writeError(w, fmt.Errorf("%w: %w", ErrBadRequest, err), 0)
		return
	}
	info, err := n.join(r.Context(), req)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
}

// proxyToLeader sends a request this follower cannot serve to the leader,
// once.
func (n *Node) proxyToLeader(w http.ResponseWriter, r *http.Request, body []byte) {
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
	if r.Header.Get(httpapi.HeaderForwarded) != "" {
		writeError(w, fmt.Errorf("%w: this node is not the leader (request was already forwarded once)", ErrNotLeader), 0)
		return
	}
	if err := httpapi.Proxy(w, r, body, n.client.http, leader.API, n.cfg.AdminToken, n.cfg.NodeID); err != nil {
		writeError(w, fmt.Errorf("%w: forward to %s: %w", ErrNoLeader, leader.API, err), http.StatusBadGateway)
	}
}

func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(2*n.cfg.MaxBatchBytes+httpapi.MaxJSONBody)))
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
	httpapi.WriteJSON(w, http.StatusOK, res)
}

func (n *Node) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb heartbeatRequest
	if err := httpapi.ReadJSON(r, &hb); err != nil {
		writeError(w, fmt.Errorf("%w: %w", ErrBadRequest, err), 0)
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
	httpapi.WriteJSON(w, http.StatusOK, ack)
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	index, err := n.leaderReadIndex(r.Context())
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, readIndexAnswer{Index: index})
}

// heartbeatRequest is a node's "alive + load" message to the leader.
type heartbeatRequest struct {
	ID        string `json:"id"`
	Advertise string `json:"advertise"`
	API       string `json:"api"`
	RaftAddr  string `json:"raft_addr"`
	Load      int    `json:"load"`  // matches this node runs
	Index     uint64 `json:"index"` // its FSM's applied index
}

// heartbeatAck is the leader's answer. The sender's lease runs from the
// moment it sent the request for min(OwnerLease, LeaseMS), and only once its
// FSM has applied Index (the entry of the sender's latest revival after
// being declared dead, or of its registration).
type heartbeatAck struct {
	Leader  string `json:"leader"`
	Index   uint64 `json:"index"`
	LeaseMS int64  `json:"lease_ms"` // the leader's own remaining lease
}

// readIndexAnswer is the leader's answer to GET PathRaftReadIndex.
type readIndexAnswer struct {
	Index uint64 `json:"index"` // apply up to here to see every command committed when asked
}

// JoinRequest asks the cluster to add a node as a voter.
type JoinRequest struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	Advertise string `json:"advertise"`
	API       string `json:"api,omitempty"` // default: derived from Advertise
}

func (j *JoinRequest) validate() error {
	if j.ID == "" || j.RaftAddr == "" || j.Advertise == "" {
		return fmt.Errorf("%w: join needs id, raft_addr and advertise", ErrBadRequest)
	}
	if _, _, err := net.SplitHostPort(j.RaftAddr); err != nil {
		return fmt.Errorf("%w: raft_addr %q: %w", ErrBadRequest, j.RaftAddr, err)
	}
	if j.API == "" {
		api, err := APIBase(j.Advertise)
		if err != nil {
			return fmt.Errorf("%w: advertise: %w", ErrBadRequest, err)
		}
		j.API = api
	}
	return nil
}

// peerClient calls other nodes' node-to-node API. Safe for concurrent use.
type peerClient struct {
	http  *http.Client
	token string
}

// defaultHTTPClient is the client of node-to-node calls. With a loopback
// local address (a node of a test cluster on 127.0.0.11, .12, …) its dials
// to loopback peers leave from that address, like Raft's (see tcpStream), so
// that a fault-injecting proxy can tell the nodes apart; otherwise the kernel
// picks the source (the API may live on another interface than Raft).
func defaultHTTPClient(local *net.TCPAddr) *http.Client {
	d := net.Dialer{Timeout: time.Second, KeepAlive: 15 * time.Second}
	dial := d.DialContext
	if local != nil && local.IP.IsLoopback() {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dd := d
			dd.LocalAddr = sourceFor(local, addr)
			return dd.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         dial,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// do sends one request: body []byte as is with contentType, anything else as
// JSON. A 2xx answer is decoded into out (if non-nil); any other status
// becomes a *RemoteError; a failure to reach the node an
// *httpapi.TransportError.
func (c *peerClient) do(ctx context.Context, method, url string, body any, contentType string, out any) error {
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		b, contentType = j, "application/json"
	}
	status, data, err := httpapi.Do(ctx, c.http, method, url, c.token, b, contentType, nil)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return remoteError(status, data, method+" "+url)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, url, err)
		}
	}
	return nil
}

func remoteError(status int, data []byte, what string) *RemoteError {
	var eb httpapi.ErrorBody
	_ = json.Unmarshal(data, &eb)
	if eb.Error == "" {
		eb.Error = fmt.Sprintf("%s: HTTP %d", what, status)
	}
	return &RemoteError{Status: status, Code: eb.Code, Message: eb.Error}
}

// heartbeat sends hb to the node at api (the leader).
func (c *peerClient) heartbeat(ctx context.Context, api string, hb heartbeatRequest) (heartbeatAck, error) {
	var ack heartbeatAck
	err := c.do(ctx, http.MethodPost, api+PathRaftHeartbeat, hb, "", &ack)
	return ack, err
}

// httpForwarder forwards commands to the leader's POST PathRaftApply.
type httpForwarder struct{ client *peerClient }

// Forward implements Forwarder.
func (f *httpForwarder) Forward(ctx context.Context, leader NodeInfo, cmd []byte) (*Result, error) {
	var res Result
	if err := f.client.do(ctx, http.MethodPost, leader.API+PathRaftApply, cmd, "application/octet-stream", &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// JoinCluster asks the node at joinURL (any member; it forwards to the
// leader) to add self as a voter, retrying with backoff until it succeeds,
// the answer is final (bad request, wrong token), or ctx ends. Call it after
// Node.Start; joining again with the same id (restart, new address) is fine.
func JoinCluster(ctx context.Context, joinURL, token string, self JoinRequest) error {
	return joinCluster(ctx, &peerClient{http: defaultHTTPClient(nil), token: token}, joinURL, self)
}

func joinCluster(ctx context.Context, c *peerClient, joinURL string, self JoinRequest) error {
	base, err := APIBase(joinURL)
	if err != nil {
		return fmt.Errorf("join url: %w", err)
	}
	backoff := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.do(actx, http.MethodPost, base+PathJoin, self, "", nil)
		cancel()
		if err == nil {
			return nil
		}
		var re *RemoteError
		if errors.As(err, &re) && (re.Status == http.StatusUnauthorized || re.Status == http.StatusBadRequest) {
			return fmt.Errorf("join %s: %w", base, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("join %s: %w (last error: %w)", base, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
