package ticksync

import (
	"context"
	"fmt"
	"runtime/pprof"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/schema"
)

// goNamed runs fn on a goroutine labelled for pprof, owned by the node;
// fn returns when ctx ends.
func (n *Node) goNamed(name string, fn func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pprof.Do(n.ctx, pprof.Labels("node", name), fn)
	}()
}

// joinCluster asks the -join node to add this one (retrying until it
// answers); a final refusal (wrong token, bad request) goes to Fatal.
func (n *Node) joinCluster(ctx context.Context) {
	err := n.repl.JoinCluster(ctx, n.cfg.Join)
	switch {
	case err == nil:
		n.log.Info().Str(keyJoin, n.cfg.Join).Msg("joined the cluster")
	case ctx.Err() != nil:
	default:
		select {
		case n.fatal <- fmt.Errorf("-join %s: %w", n.cfg.Join, err):
		default:
		}
	}
}

// minLeaseLostKick is the least time the lease must stay lost before the
// players are sent away (leaseLostKick).
const minLeaseLostKick = 2 * time.Second

// leaseLostKick is how long the lease must stay lost before watchLease sends
// the players away: twice failover-after, at least minLeaseLostKick. By then
// the matches have most likely been given to other nodes. It is longer than
// failover-after because a node starved of CPU for a moment loses its lease
// and gets it back without any match moving (and a match that did move is
// announced to its players by a Redirect as soon as this node applies the
// move); clients also leave a node that sends nothing for their stall
// timeout (2 s by default) on their own.
func leaseLostKick(failoverAfter time.Duration) time.Duration {
	return max(2*failoverAfter, minLeaseLostKick)
}

// watchLease follows the owner lease. When it stays lost for leaseLostKick,
// this node's matches have most likely been given to others: its players
// are disconnected (seats kept) so that they reconnect through nodes that
// know the new owners.
func (n *Node) watchLease(ctx context.Context) {
	var lost *time.Timer
	var lostC <-chan time.Time
	defer func() {
		if lost != nil {
			lost.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.repl.LeaseChanged():
			if n.repl.LeaseValid() {
				if lost != nil {
					lost.Stop()
					lost, lostC = nil, nil
				}
			} else if lost == nil {
				lost = time.NewTimer(leaseLostKick(n.cfg.FailoverAfter))
				lostC = lost.C
			}
		case <-lostC:
			lost, lostC = nil, nil
			if !n.repl.LeaseValid() {
				k := n.manager.DisconnectAll(schema.ErrCodeUnavailable, "this node lost contact with the cluster; reconnect")
				n.log.Warn().Int(keyKicked, k).Msg("lease lost for twice failover-after: players sent to other nodes")
			}
		}
	}
}

// undrainSelf makes this node take matches again after a restart that
// followed a drain (Shutdown drains): once it holds its lease, a "draining"
// record of itself is set back to alive.
func (n *Node) undrainSelf(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !n.repl.LeaseValid() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	// The lease can be valid before this node's FSM has replayed the entries
	// that followed its registration, the drain among them: read its state
	// only once the FSM has caught up, or a stale "alive" would leave it
	// draining for good.
	if err := n.repl.CatchUp(ctx); err != nil {
		if ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("cannot catch up with the cluster to undrain this node after a restart")
		}
		return
	}
	if self, ok := n.repl.Member(n.cfg.NodeID); ok && self.State == replication.NodeDraining {
		if _, err := n.repl.Undrain(ctx, n.cfg.NodeID); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("cannot undrain this node after a restart")
			return
		}
		n.log.Info().Msg("was draining before the restart: taking matches again")
	}
}
