package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/command"
)

// r returns the Raft instance, or nil before Start.
func (n *Node) r() *raft.Raft { return n.raft.Load() }

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool {
	r := n.r()
	return r != nil && r.State() == raft.Leader
}

// Leader returns the current leader's id and Raft address ("" if none known).
func (n *Node) Leader() (id, raftAddr string) {
	r := n.r()
	if r == nil {
		return "", ""
	}
	addr, lid := r.LeaderWithID()
	return string(lid), string(addr)
}

// Barrier waits until every entry committed before the call is applied to
// the local FSM (leader only).
func (n *Node) Barrier(ctx context.Context) error {
	r := n.r()
	if r == nil {
		return ErrShutdown
	}
	return mapRaftErr(n.waitFuture(ctx, r.Barrier(timeoutOf(ctx, n.cfg.Raft.ApplyTimeout))))
}

// AddVoter adds server id at raftAddr as a voter (leader only). Re-adding an
// id with a new address updates the address; a different id already at
// raftAddr (the same machine under a new id) is removed first.
func (n *Node) AddVoter(ctx context.Context, id, raftAddr string) error {
	r := n.r()
	if r == nil {
		return ErrShutdown
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	cf := r.GetConfiguration()
	if err := cf.Error(); err != nil {
		return mapRaftErr(err)
	}
	for _, s := range cf.Configuration().Servers {
		switch {
		case string(s.ID) == id && string(s.Address) == raftAddr && s.Suffrage == raft.Voter:
			return nil // already a voter there
		case string(s.ID) != id && string(s.Address) == raftAddr:
			n.log.Info().Str(keyPeer, string(s.ID)).Str(keyAddr, raftAddr).Msg("removing server that had the joining node's address")
			if err := n.waitFuture(ctx, r.RemoveServer(s.ID, 0, timeoutOf(ctx, n.cfg.Raft.ApplyTimeout))); err != nil {
				return fmt.Errorf("remove %s at %s: %w", s.ID, raftAddr, mapRaftErr(err))
			}
		}
	}
	err := n.waitFuture(ctx, r.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, timeoutOf(ctx, n.cfg.Raft.ApplyTimeout)))
	if err != nil {
		return fmt.Errorf("add voter %s at %s: %w", id, raftAddr, mapRaftErr(err))
	}
	n.log.Info().Str(keyPeer, id).Str(keyAddr, raftAddr).Msg("voter added")
	return nil
}

// RemoveServer removes id from the Raft configuration (leader only). The
// supervisor then stops acknowledging its heartbeats, declares it dead after
// FailoverAfter (moving its matches) and deletes it from the FSM.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	r := n.r()
	if r == nil {
		return ErrShutdown
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	if id == n.cfg.NodeID {
		return fmt.Errorf("%w: the leader cannot remove itself; transfer leadership first", ErrBadRequest)
	}
	if err := n.waitFuture(ctx, r.RemoveServer(raft.ServerID(id), 0, timeoutOf(ctx, n.cfg.Raft.ApplyTimeout))); err != nil {
		return fmt.Errorf("remove server %s: %w", id, mapRaftErr(err))
	}
	n.log.Info().Str(keyPeer, id).Msg("server removed")
	return nil
}

// LeadershipTransfer hands leadership to node id, or to the most up-to-date
// voter when id is empty (leader only).
func (n *Node) LeadershipTransfer(ctx context.Context, id string) error {
	r := n.r()
	if r == nil {
		return ErrShutdown
	}
	if r.State() != raft.Leader {
		return ErrNotLeader
	}
	var f raft.Future
	if id == "" {
		f = r.LeadershipTransfer()
	} else {
		addr := ""
		for _, s := range r.GetConfiguration().Configuration().Servers {
			if string(s.ID) == id {
				addr = string(s.Address)
			}
		}
		if addr == "" {
			return fmt.Errorf("%w: %s is not a raft server", ErrNodeNotFound, id)
		}
		f = r.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	}
	return mapRaftErr(n.waitFuture(ctx, f))
}

// Servers returns the Raft configuration (id → address) of voters.
func (n *Node) Servers() map[string]string {
	out := make(map[string]string)
	r := n.r()
	if r == nil {
		return out
	}
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out[string(s.ID)] = string(s.Address)
		}
	}
	return out
}

func (n *Node) voters() int { return len(n.Servers()) }

func (n *Node) isVoter(id string) bool {
	_, ok := n.Servers()[id]
	return ok
}

// join is the leader's side of POST /admin/v1/join: check the membership
// rules (checkMembership; proven: the joining node's certificate names
// req.ID), add the voter, then register it in the FSM (alive).
func (n *Node) join(ctx context.Context, req JoinRequest, proven bool) (*NodeInfo, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	if err := n.checkMembership(ctx, req, proven); err != nil {
		return nil, err
	}
	if err := n.AddVoter(ctx, req.ID, req.RaftAddr); err != nil {
		return nil, err
	}
	res, err := n.Apply(ctx, &command.RegisterNode{ID: req.ID, Advertise: req.Advertise, API: req.API, RaftAddr: req.RaftAddr})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", req.ID, err)
	}
	return res.Node, nil
}

// Stats returns Raft's stats map (informative).
func (n *Node) Stats() map[string]string {
	r := n.r()
	if r == nil {
		return map[string]string{"state": "Shutdown"}
	}
	return r.Stats()
}

func timeoutOf(ctx context.Context, def time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 && d < def {
			return d
		}
	}
	return def
}

// mapRaftErr turns Raft's errors into our sentinels.
func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrShutdown, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}
