package replication

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// The node-to-node API: what nodes call on each other, under the admin
// API's prefix (these paths are part of the wire protocol between
// versions). PeerHandler serves them. Without ClusterTLS they are served
// on the node's HTTP listener (package admin mounts PeerHandler beside the
// operator endpoints) and authenticated by the admin token; with
// ClusterTLS they are served on the cluster port only (ALPN PeerALPN),
// where the caller is the node its certificate names and needs no token.
const (
	// PathJoin (POST JoinRequest): add a node as a voter and register it;
	// proxied once to the leader (with ClusterTLS the answer names the
	// leader instead, and the joining node asks it). JoinCluster calls it.
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

// PeerHandler serves the node-to-node API (the Path constants); anything
// else answers 404. Mount it at those paths (package admin does). Without
// ClusterTLS it checks the bearer AdminToken. With ClusterTLS it serves
// only requests that came in on the cluster port, from a node whose
// certificate the handshake verified and that is a voter (a join excepted),
// and checks every claim against that certificate: a heartbeat, a join and
// a forwarded RegisterNode, CheckpointBatch or hand-over must be for the
// caller's own id (403 otherwise); a request on the HTTP listener is
// answered 421 with this node's cluster port. It runs on the HTTP server's
// goroutines and shares with the rest of the node only the FSM (read lock),
// the supervisor's mutex and Raft.
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
		if n.cfg.ClusterTLS != nil {
			peer, ok := peerOf(r.Context())
			switch {
			case !ok:
				n.writeUseClusterPort(w)
			case r.URL.Path != PathJoin && !n.isVoter(peer):
				writeError(w, fmt.Errorf("%w: %s (by its certificate)", ErrNotMember, peer), 0)
			default:
				next.ServeHTTP(w, r)
			}
			return
		}
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

// writeUseClusterPort answers a node-to-node request that came in on the
// HTTP listener of a node with ClusterTLS: 421, with this node's id and
// cluster port, where a node that holds a certificate of the cluster may
// ask again (JoinCluster does).
func (n *Node) writeUseClusterPort(w http.ResponseWriter) {
	httpapi.WriteErrorBody(w, HTTPStatus(ErrUseClusterPort), httpapi.ErrorBody{
		Error: fmt.Sprintf("%s: call node %s at %s with a certificate of the cluster", ErrUseClusterPort, n.cfg.NodeID, n.raftAddr),
		Code:  ErrorCode(ErrUseClusterPort), Node: n.cfg.NodeID, ClusterAddr: n.raftAddr,
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
	var req JoinRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		writeError(w, fmt.Errorf("%w: %w", ErrBadRequest, err), 0)
		return
	}
	peer, proven := peerOf(r.Context())
	if proven && req.ID != peer {
		writeError(w, fmt.Errorf("%w: the node joining is %s by its certificate, not %s", ErrForbidden, peer, req.ID), 0)
		return
	}
	if !n.IsLeader() {
		if proven {
			// The joining node asks the leader itself, so that the leader
			// sees its certificate.
			lid, laddr := n.Leader()
			if lid == "" {
				writeError(w, ErrNoLeader, 0)
				return
			}
			httpapi.WriteErrorBody(w, HTTPStatus(ErrNotLeader), httpapi.ErrorBody{
				Error: fmt.Sprintf("%s: the leader is %s at %s", ErrNotLeader, lid, laddr),
				Code:  ErrorCode(ErrNotLeader), Leader: lid, Node: lid, ClusterAddr: laddr,
			})
			return
		}
		n.proxyToLeader(w, r, body)
		return
	}
	info, err := n.join(r.Context(), req, proven)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, info)
}

// proxyToLeader sends a request this follower cannot serve to the leader,
// once (without ClusterTLS).
func (n *Node) proxyToLeader(w http.ResponseWriter, r *http.Request, body []byte) {
	leader, err := n.leaderInfo()
	if err != nil {
		writeError(w, err, 0)
		return
	}
	if r.Header.Get(httpapi.HeaderForwarded) != "" {
		writeError(w, fmt.Errorf("%w: this node is not the leader (request was already forwarded once)", ErrNotLeader), 0)
		return
	}
	if err := httpapi.Proxy(w, r, body, n.client.plain, leader.API, n.cfg.AdminToken, n.cfg.NodeID); err != nil {
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
	cmd, err := command.Decode(body) // keep garbage out of the log
	if err != nil {
		writeError(w, err, 0)
		return
	}
	peer, proven := peerOf(r.Context())
	if err := n.checkForwarded(cmd, peer, proven); err != nil {
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
	if peer, proven := peerOf(r.Context()); proven && hb.ID != peer {
		writeError(w, fmt.Errorf("%w: node %s (by its certificate) sent a heartbeat for %s", ErrForbidden, peer, hb.ID), 0)
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
