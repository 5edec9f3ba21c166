package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/replication/command"
)

// insecureAdvice says what to do about ErrInsecureCluster.
const insecureAdvice = "give every node the cluster certificates " +
	"(`ticksync certs -out DIR -nodes n1,n2,n3` makes a set; pass -cluster-ca DIR/ca.crt, " +
	"-cluster-cert DIR/<id>.crt and -cluster-key DIR/<id>.key), or -insecure-cluster on a trusted network"

var errInsecureJoin = fmt.Errorf("%w: without them, anyone who reaches a node's Raft port or holds the admin token can rewrite the cluster's state; %s",
	ErrInsecureCluster, insecureAdvice)

// peerKey is the context key of the id of the node at the other end of a
// node-to-node connection (cluster port only).
type peerKey struct{}

// peerOf returns the node id the caller's certificate names, when the
// request came in on the cluster port.
func peerOf(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(peerKey{}).(string)
	return id, ok && id != ""
}

// checkForwarded refuses a command a follower forwarded that its sender
// may not send: what only the leader decides (a death, a removal from the
// directory), and, when the sender is proven by its certificate (peer), a
// command for another node than itself: registering it, checkpointing its
// matches or logging their ticks, handing over its matches. Operator
// commands (create, drain, undrain, end, and the owner's own hand-over for
// a move) come through any node and carry no node identity.
func (n *Node) checkForwarded(cmd command.Command, peer string, proven bool) error {
	switch c := cmd.(type) {
	case *command.SetNodeState:
		if c.State == NodeDead {
			return fmt.Errorf("%w: only the leader declares a node dead", ErrForbidden)
		}
	case *command.RemoveNode:
		return fmt.Errorf("%w: only the leader removes a node from the directory", ErrForbidden)
	}
	if !proven {
		return nil
	}
	claim := func(what, id string) error {
		if id != peer {
			return fmt.Errorf("%w: node %s (by its certificate) cannot %s %s", ErrForbidden, peer, what, id)
		}
		return nil
	}
	switch c := cmd.(type) {
	case *command.RegisterNode:
		return claim("register node", c.ID)
	case *command.CheckpointBatch:
		if err := claim("send the checkpoints of node", c.Node); err != nil {
			return err
		}
		// An item at the match's current epoch must come from its owner;
		// the FSM refuses any other epoch, and an epoch names one owner.
		for _, it := range c.Items {
			if m, ok := n.fsm.Lookup(it.Match); ok && m.Epoch == it.Epoch && m.Owner != peer {
				return fmt.Errorf("%w: node %s (by its certificate) cannot checkpoint match %s, owned by %s", ErrForbidden, peer, it.Match, m.Owner)
			}
		}
	case *command.TickLogBatch:
		if err := claim("send the tick logs of node", c.Node); err != nil {
			return err
		}
		for _, it := range c.Items {
			if m, ok := n.fsm.Lookup(it.Match); ok && m.Epoch == it.Epoch && m.Owner != peer {
				return fmt.Errorf("%w: node %s (by its certificate) cannot log the ticks of match %s, owned by %s", ErrForbidden, peer, it.Match, m.Owner)
			}
		}
	case *command.AssignMatch:
		if c.From != "" {
			return claim("hand over the matches of node", c.From)
		}
	}
	return nil
}

// checkMembership is the leader's check of a join: the id may not take
// over a member at another address, nor the address of another member,
// unless the joining node proved its id by its certificate and that the
// address is its own (verifyAddr). Without ClusterTLS nor
// InsecureCluster this node adds no voter at all.
func (n *Node) checkMembership(ctx context.Context, req JoinRequest, proven bool) error {
	if n.cfg.ClusterTLS == nil && !n.cfg.InsecureCluster {
		return fmt.Errorf("%w: node %s runs without them and adds no other node: %s", ErrInsecureCluster, n.cfg.NodeID, insecureAdvice)
	}
	servers := n.Servers()
	if addr, ok := servers[req.ID]; ok && addr != req.RaftAddr && !proven {
		return fmt.Errorf("%w: node %s is already a member at %s; remove it first: ticksyncctl remove-node %s", ErrMemberExists, req.ID, addr, req.ID)
	}
	for id, addr := range servers {
		if id != req.ID && addr == req.RaftAddr && !proven {
			return fmt.Errorf("%w: %s is the address of node %s; remove it first: ticksyncctl remove-node %s", ErrMemberExists, addr, id, id)
		}
	}
	if proven {
		return n.verifyAddr(ctx, req.ID, req.RaftAddr)
	}
	return nil
}

// verifyAddr dials addr and checks that the node answering there holds a
// certificate for id: Raft will send id's entries and votes to that
// address, and its own dials accept any node of the cluster.
func (n *Node) verifyAddr(ctx context.Context, id, addr string) error {
	d := tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 2 * time.Second, LocalAddr: sourceFor(sourceIP(n.cfg.RaftAddr), addr)},
		Config:    peerTLS(n.cfg.ClusterTLS.ClientFor(id)),
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		// Not final (500: the joining node retries): it may be reachable in
		// a moment.
		return fmt.Errorf("raft_addr %s does not answer as node %s: %w", addr, id, err)
	}
	_ = conn.Close()
	return nil
}

// checkStartMembers refuses to start a node without cluster certificates
// (and without InsecureCluster) whose Raft configuration, read from its
// data dir before anything listens, has other servers than itself.
func (n *Node) checkStartMembers(rc *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore) error {
	if n.cfg.ClusterTLS != nil || n.cfg.InsecureCluster {
		return nil
	}
	// GetConfiguration builds a Raft that never runs: a scratch FSM takes
	// its snapshot restore, an in-memory transport its handlers.
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	conf, err := raft.GetConfiguration(rc, newFSM(), logs, n.store, snaps, trans)
	if err != nil {
		return fmt.Errorf("read raft configuration: %w", err)
	}
	var ids []string
	for _, s := range conf.Servers {
		ids = append(ids, string(s.ID))
	}
	if len(ids) <= 1 {
		return nil
	}
	slices.Sort(ids)
	return fmt.Errorf("%w: the raft configuration in %s has %d servers (%s), and this node has no cluster certificates: %s",
		ErrInsecureCluster, n.cfg.DataDir, len(ids), strings.Join(ids, ", "), insecureAdvice)
}

// startPeerServer serves Config.ClusterHandler (or PeerHandler) on the
// cluster port's node-to-node connections, with the caller's node id in
// each request's context.
func (n *Node) startPeerServer(ln net.Listener) {
	h := n.cfg.ClusterHandler
	if h == nil {
		h = n.PeerHandler()
	}
	peerID := n.cfg.ClusterTLS.PeerID
	n.peerSrv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          log.New(logWriter{n.log}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			pc, ok := c.(*peerConn)
			if !ok {
				return ctx
			}
			id, err := peerID(pc.State)
			if err != nil {
				return ctx
			}
			return context.WithValue(ctx, peerKey{}, id)
		},
	}
	n.peerDone = make(chan struct{})
	go func() {
		defer close(n.peerDone)
		err := n.peerSrv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			n.log.Warn().Err(err).Msg("node-to-node server stopped")
		}
	}()
}

// stopPeerServer closes the node-to-node server and waits for its accept
// loop (handlers still running return on their own: Raft is down by now).
func (n *Node) stopPeerServer() {
	if n.peerSrv == nil {
		return
	}
	_ = n.peerSrv.Close()
	<-n.peerDone
}

// logWriter sends the node-to-node server's own log lines to the node's
// logger at warn level.
type logWriter struct{ log zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Warn().Str(keyComponent, "peer-http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
