package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ticksync/ticksync/replication"
)

// This file makes today's *replication.Node a Replica: it adds Member,
// AppliedIndex, WaitApplied and CatchUp on top of Node.FSM() and the
// leader's /admin/v1/status. Once replication.Node has these four methods
// itself, *replication.Node is a Replica as it is and this file goes away
// (callers then pass the node where they pass NodeReplica today).

// NodeReplica is a *replication.Node with the Replica methods it lacks.
type NodeReplica struct {
	*replication.Node
	token string       // admin token (the leader's status endpoint)
	http  *http.Client // node-to-node calls, from this node's IP
}

var _ Replica = (*NodeReplica)(nil)

// NewNodeReplica wraps n. adminToken is the cluster's admin token; listen
// is this node's HTTP listen address (the calls leave from its IP).
func NewNodeReplica(n *replication.Node, adminToken, listen string) *NodeReplica {
	return &NodeReplica{Node: n, token: adminToken, http: nodeHTTPClient(listen, 300*time.Millisecond)}
}

// Member returns a node of the cluster by id.
func (r *NodeReplica) Member(id string) (replication.NodeInfo, bool) { return r.FSM().Node(id) }

// AppliedIndex is the index of the newest entry this node's FSM applied.
func (r *NodeReplica) AppliedIndex() uint64 { return r.FSM().Index() }

// WaitApplied returns once this node's FSM has applied index, or ctx ends.
func (r *NodeReplica) WaitApplied(ctx context.Context, index uint64) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for r.FSM().Index() < index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// CatchUp returns once this node has applied what the leader had applied
// when asked (one GET of the leader's status), or ctx ends. The leader
// itself is current.
func (r *NodeReplica) CatchUp(ctx context.Context) error {
	if r.IsLeader() {
		return nil
	}
	lid, _ := r.Leader()
	leader, ok := r.FSM().Node(lid)
	if lid == "" || !ok || leader.API == "" {
		return errors.New("no leader known")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, leader.API+"/admin/v1/status", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	var st replication.Status
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st)
	resp.Body.Close()
	if err != nil {
		return err
	}
	return r.WaitApplied(ctx, st.AppliedIndex)
}
