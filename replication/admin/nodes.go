package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// The node and cluster endpoints: status, nodes, drain, undrain, remove,
// transfer-leader.

// transferWait bounds how long transfer-leader waits for the new leader to
// be known here after Raft handed leadership over.
const transferWait = 10 * time.Second

func (s *Server) handleStatus(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, s.node.Status())
}

func (s *Server) handleNodes(w http.ResponseWriter, _ *http.Request) {
	lid, _ := s.node.Leader()
	voters := s.node.Servers()
	out := []Node{}
	for _, nd := range s.node.Nodes() {
		out = append(out, nodeRow(nd, lid, voters))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func nodeRow(nd replication.NodeInfo, leader string, voters map[string]string) Node {
	_, voter := voters[nd.ID]
	return Node{ID: nd.ID, Advertise: nd.Advertise, API: nd.API, RaftAddr: nd.RaftAddr,
		State: nd.State, Leader: nd.ID == leader, Load: nd.Load, Voter: voter}
}

// row is node id's row as this node sees it now; info stands in when this
// node does not know it (yet).
func (s *Server) row(info replication.NodeInfo) Node {
	lid, _ := s.node.Leader()
	if nd, ok := s.node.Member(info.ID); ok {
		info = nd
	}
	return nodeRow(info, lid, s.node.Servers())
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	info, err := s.node.Drain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	s.settle(r.Context())
	httpapi.WriteJSON(w, http.StatusOK, s.row(info))
}

// handleUndrain first catches up, so that a drain made through another
// node a moment ago is seen here: Undrain checks the node is draining.
func (s *Server) handleUndrain(w http.ResponseWriter, r *http.Request) {
	s.settle(r.Context())
	info, err := s.node.Undrain(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, err, 0)
		return
	}
	s.settle(r.Context())
	httpapi.WriteJSON(w, http.StatusOK, s.row(info))
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

// handleTransfer hands leadership over on the leader and answers once this
// node knows the new leader.
func (s *Server) handleTransfer(w http.ResponseWriter, r *http.Request) {
	s.onLeader(w, r, func(body []byte) {
		var req TransferRequest
		if err := httpapi.DecodeJSON(body, &req); err != nil {
			writeError(w, badRequest(err), 0)
			return
		}
		switch voters := s.node.Servers(); {
		case req.Node == s.node.ID():
			writeError(w, fmt.Errorf("%w: %s is the leader already", replication.ErrBadRequest, req.Node), 0)
			return
		case len(voters) < 2:
			writeError(w, fmt.Errorf("%w: no other voter to hand leadership to (the cluster has %d)", replication.ErrBadRequest, len(voters)), 0)
			return
		}
		start := time.Now()
		if err := s.node.LeadershipTransfer(r.Context(), req.Node); err != nil {
			writeError(w, err, 0)
			return
		}
		lid, err := s.newLeader(r.Context())
		if err != nil {
			writeError(w, fmt.Errorf("%w: leadership handed over, but no new leader known within %v: %w",
				replication.ErrNoLeader, transferWait, err), 0)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, TransferResult{Leader: lid, ElapsedMS: time.Since(start).Milliseconds()})
	})
}

// newLeader waits until this node (the leader a moment ago) knows another
// node as the leader, and returns its id. Raft tells a follower its leader
// with the new leader's first heartbeat, a few milliseconds after the
// transfer: a short poll is the simplest wait.
func (s *Server) newLeader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, transferWait)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if lid, _ := s.node.Leader(); lid != "" && lid != s.node.ID() {
			return lid, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}
