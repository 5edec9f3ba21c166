package replication

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"
)

// Node is one ticksync node's membership in the Raft cluster: the Raft
// instance with its stores and transport, the FSM, the leader's supervisor,
// the owner lease, the ownership watcher, the drainer and the checkpointer.
//
// Lifecycle: New allocates; Start checks and opens the data dir (refusing a
// damaged or foreign one with a *DataDirError), binds the Raft port,
// bootstraps if asked (or if the data dir is empty and no join is asked) and
// launches the goroutines; Shutdown stops them. The read methods (Lookup,
// Matches, Nodes, LeaseValid, …) are safe from any goroutine at any time.
type Node struct {
	cfg    Config
	log    zerolog.Logger
	fsm    *fsm
	t0     time.Time // monotonic base of lease and contact times
	client *peerClient
	fwd    Forwarder
	ckpt   *Checkpointer
	tlog   *TickLogger
	api    string // this node's API base URL

	metrics Metrics // Config.Metrics, or noMetrics

	raft     atomic.Pointer[raft.Raft]
	trans    *raft.NetworkTransport
	peerSrv  *http.Server  // node-to-node API on the cluster port (ClusterTLS only)
	peerDone chan struct{} // closed when peerSrv's accept loop returns
	store    *raftboltdb.BoltStore
	logs     raft.LogStore // the store behind a cache; read by readIndex
	raftAddr string
	notifyCh chan bool

	sup atomic.Pointer[supervisor]

	lease     leaseState
	leaseWake chan struct{} // cap 1: lease validity changed

	events       chan OwnershipEvent
	eventsWanted atomic.Bool
	watchWake    chan struct{} // cap 1
	drainWake    chan struct{} // cap 1

	mu       sync.Mutex
	started  bool
	stopped  bool
	ctx      context.Context
	cancel   context.CancelFunc
	raftDone chan struct{}
	wg       sync.WaitGroup
}

// New validates cfg and allocates a Node. It does no I/O.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("replication config: %w", err)
	}
	n := &Node{
		cfg:       cfg,
		log:       cfg.Logger.With().Str(keyComponent, "replication").Logger(),
		fsm:       newFSM(),
		t0:        time.Now(),
		api:       cfg.apiURL(),
		notifyCh:  make(chan bool, 16),
		leaseWake: make(chan struct{}, 1),
		events:    make(chan OwnershipEvent, 256),
		watchWake: make(chan struct{}, 1),
		drainWake: make(chan struct{}, 1),
		raftDone:  make(chan struct{}),
	}
	n.client = newPeerClient(&cfg)
	n.fwd = cfg.Forwarder
	if n.fwd == nil {
		n.fwd = &httpForwarder{client: n.client}
	}
	if n.metrics = cfg.Metrics; n.metrics == nil {
		n.metrics = noMetrics{}
	}
	n.fsm.beforeApply = cfg.beforeApply
	n.ckpt = newCheckpointer(n)
	n.tlog = newTickLogger(n)
	return n, nil
}

// Start opens the stores under DataDir, binds the Raft transport and starts
// Raft and the node's goroutines. A data dir with Raft state is reused (the
// node rejoins with its id and log); an empty one is bootstrapped as a
// one-node cluster when cfg.Bootstrap is set or cfg.JoinURL is empty.
func (n *Node) Start(ctx context.Context) (err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started {
		return errors.New("replication: node already started")
	}
	n.started = true
	// The data dir is checked before bbolt or Raft read it (datadir.go).
	dd, err := openDataDir(&n.cfg, n.log)
	if err != nil {
		return err
	}
	dir := dd.raftDir
	defer func() {
		if err != nil {
			n.closeStores()
		}
	}()
	if n.store, err = dd.openLogStore(); err != nil {
		return err
	}
	logs, err := raft.NewLogCache(512, n.store)
	if err != nil {
		return fmt.Errorf("raft log cache: %w", err)
	}
	n.logs = logs
	hlog := newRaftLogger(n.cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, n.cfg.Raft.SnapshotRetain, hlog)
	if err != nil {
		return fmt.Errorf("open snapshot store %s: %w", dir, err)
	}
	hasState, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return fmt.Errorf("inspect raft state: %w", err)
	}
	if err := dd.settle(hasState); err != nil {
		return err
	}
	if hasState {
		if err := n.checkStartMembers(n.raftConfig(hlog), logs, snaps); err != nil {
			return err
		}
	}
	stream, err := listenRaftStream(&n.cfg, n.log)
	if err != nil {
		return err
	}
	var sl raft.StreamLayer = stream
	if n.cfg.wrapStream != nil {
		sl = n.cfg.wrapStream(sl)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  sl,
		MaxPool: n.cfg.Raft.TransportMaxPool,
		Timeout: n.cfg.Raft.TransportTimeout,
		Logger:  hlog.Named("net"),
	})
	n.raftAddr = string(n.trans.LocalAddr())
	// Replication to an unreachable peer waits for it rather than backing
	// off for up to 10 s (peerhold.go).
	trans := newHoldTransport(n.trans, n.replicatesTo)

	rc := n.raftConfig(hlog)
	switch {
	case !hasState && (n.cfg.Bootstrap || n.cfg.JoinURL == ""):
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.raftAddr),
		}}}
		if err := raft.BootstrapCluster(rc, logs, n.store, snaps, trans, conf); err != nil {
			return fmt.Errorf("bootstrap cluster: %w", err)
		}
		if err := dd.markInitialized(); err != nil {
			return err
		}
		n.log.Info().Str(keyAddr, n.raftAddr).Msg("bootstrapped a new cluster")
	case hasState && n.cfg.Bootstrap:
		n.log.Info().Msg("data dir has raft state: bootstrap ignored, rejoining")
	case hasState:
		n.log.Info().Msg("data dir has raft state: rejoining")
	default:
		n.log.Info().Str(keyJoin, n.cfg.JoinURL).Msg("empty data dir: waiting to be added to a cluster")
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft.Store(r)

	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.goNamed("leadership", n.runLeadership)
	n.goNamed("lease", n.runLease)
	n.goNamed("lease-monitor", n.runLeaseMonitor)
	n.goNamed("watch", n.runWatch)
	n.goNamed("drain", n.runDrainer)
	n.goNamed("checkpoint", n.ckpt.run)
	n.goNamed("ticklog", n.tlog.run)
	if ts, ok := stream.(*tlsStream); ok {
		n.startPeerServer(ts.Peers())
	}
	if !dd.initialized() { // waiting to be added to a cluster
		n.goNamed("datadir", dd.watchInitialized(r))
	}
	n.log.Info().Str(keyAddr, n.raftAddr).Str(keyAPI, n.api).Msg("replication started")
	return nil
}

func (n *Node) raftConfig(hlog hclog.Logger) *raft.Config {
	t := n.cfg.Raft
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	rc.CommitTimeout = t.CommitTimeout
	rc.MaxAppendEntries = t.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.SnapshotInterval = t.SnapshotInterval
	rc.SnapshotThreshold = t.SnapshotThreshold
	rc.TrailingLogs = t.TrailingLogs
	rc.NotifyCh = n.notifyCh
	rc.Logger = hlog
	rc.NoLegacyTelemetry = true
	rc.ShutdownOnRemove = true
	return rc
}

// goNamed runs fn on a goroutine labelled for pprof, owned by the node's
// WaitGroup; fn must return when ctx is cancelled.
func (n *Node) goNamed(name string, fn func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pprof.Do(n.ctx, pprof.Labels("replication", name), fn)
	}()
}

// Shutdown stops the node; it is idempotent. Order: flush pending
// checkpoints; hand leadership to another voter (so the cluster does not wait
// an election timeout); stop our goroutines; shut Raft down; close the
// transport and the log store. ctx bounds the waits.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if !n.started || n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	n.mu.Unlock()
	r := n.raft.Load()
	if r == nil { // Start failed; it closed what it opened
		return nil
	}

	// 1. Last checkpoints of rooms the game layer stopped before us (bounded:
	// without a leader it would retry until ctx ends).
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := n.ckpt.Flush(fctx); err != nil {
		n.log.Warn().Err(err).Msg("final checkpoint flush failed")
	}
	if err := n.tlog.Flush(fctx); err != nil {
		n.log.Warn().Err(err).Msg("final tick log flush failed")
	}
	cancel()
	// 2. A leader hands over leadership: the others skip an election timeout.
	if r.State() == raft.Leader && n.voters() > 1 {
		start := time.Now()
		if err := n.waitFuture(ctx, r.LeadershipTransfer()); err != nil {
			n.log.Warn().Err(err).Msg("leadership transfer before shutdown failed")
		} else {
			n.log.Info().Dur(keyElapsed, time.Since(start)).Msg("leadership handed off before shutdown")
		}
	}
	// 3. Our goroutines stop on ctx; those blocked on Raft return when it shuts down.
	n.cancel()
	// 4. Raft: stops replication, the FSM goroutine, snapshots.
	err := r.Shutdown().Error()
	close(n.raftDone)
	// 5. Wait for our goroutines.
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, fmt.Errorf("replication goroutines: %w", ctx.Err()))
	}
	// 6. The node-to-node server, the transport and the log store.
	n.closeStores()
	n.log.Info().Msg("replication stopped")
	return err
}

func (n *Node) closeStores() {
	n.stopPeerServer()
	n.client.closeIdle()
	if n.trans != nil {
		_ = n.trans.Close()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
}

// waitFuture waits for f, for ctx, or for Raft's shutdown. With
// BatchApplyCh an entry still in Raft's buffered apply channel at shutdown is
// never answered (hashicorp/raft#498), so f.Error() alone can block forever;
// the helper goroutine then lingers until the process exits, but our
// goroutines do not.
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.raftDone:
		select {
		case err := <-done:
			return err
		default:
			return ErrShutdown
		}
	}
}

// replicatesTo reports whether this node's Raft leads in term now and has
// server id at addr in its latest configuration: whether Raft still
// replicates to it (holdTransport).
func (n *Node) replicatesTo(term uint64, id raft.ServerID, addr raft.ServerAddress) bool {
	r := n.r()
	if r == nil || r.State() != raft.Leader || r.CurrentTerm() != term {
		return false
	}
	cf := r.GetConfiguration() // the latest configuration, read without Raft's loop
	if cf.Error() != nil {
		return false
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == id {
			return s.Address == addr
		}
	}
	return false
}

// now is the monotonic time since the node was created.
func (n *Node) now() time.Duration { return time.Since(n.t0) }

// runLeadership starts a supervisor when this node becomes leader and stops
// it when it loses leadership. It drains NotifyCh until Raft has shut down
// (Raft blocks on that channel). While following, it remembers the last
// leader Raft named (a LeaderObservation), so that a new supervisor knows
// whom it replaced and when it last heard from a leader.
func (n *Node) runLeadership(ctx context.Context) {
	r := n.r()
	obs := make(chan raft.Observation, 16)
	observer := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(observer)
	defer r.DeregisterObserver(observer)
	var lastLeader string
	// A leader Raft learned before the observer was registered (a restarted
	// node hears from the leader within milliseconds of starting) sent its
	// observation to nobody: take it from Raft's state.
	if _, id := r.LeaderWithID(); id != "" && string(id) != n.cfg.NodeID {
		lastLeader = string(id)
	}
	seen := func(o raft.Observation) {
		if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" && string(lo.LeaderID) != n.cfg.NodeID {
			lastLeader = string(lo.LeaderID)
		}
	}

	var stopSup func()
	stop := func() {
		if stopSup != nil {
			stopSup()
			stopSup = nil
		}
	}
	defer stop()
	for {
		select {
		case o := <-obs:
			seen(o)
		case leader := <-n.notifyCh:
			stop()
			if leader && ctx.Err() == nil {
				ts := termStart{elected: n.now()}
				// Raft does not touch LastContact while it leads.
				if lc := r.LastContact(); !lc.IsZero() {
					ts.prevContact, ts.hasContact = lc.Sub(n.t0), true
				}
				for drained := false; !drained; { // observations queued before the election
					select {
					case o := <-obs:
						seen(o)
					default:
						drained = true
					}
				}
				ts.prev = lastLeader
				stopSup = n.startSupervisor(ctx, ts)
			}
		case <-n.raftDone:
			return
		}
	}
}

// ID returns this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// RaftAddr returns the address peers dial (known after Start).
func (n *Node) RaftAddr() string { return n.raftAddr }

// APIURL returns the base URL of this node's HTTP API.
func (n *Node) APIURL() string { return n.api }

// Self describes this node for JoinCluster.
func (n *Node) Self() JoinRequest {
	return JoinRequest{ID: n.cfg.NodeID, RaftAddr: n.raftAddr, Advertise: n.cfg.AdvertiseURL, API: n.api}
}

// Checkpointer returns the node's checkpoint batcher.
func (n *Node) Checkpointer() *Checkpointer { return n.ckpt }

// TickLogger returns the node's tick log shipper.
func (n *Node) TickLogger() *TickLogger { return n.tlog }

// TickLog returns the part of match id's tick log, as the local FSM holds
// it, that continues tick after (the tick of the checkpoint the caller
// restores; 0 for a match without one). ok is false when the FSM holds no
// such run. Any goroutine.
func (n *Node) TickLog(id string, after uint32) (TickLog, bool) { return n.fsm.TickLog(id, after) }

// Member returns node id as the local FSM knows it (addresses, state,
// load). Any goroutine.
func (n *Node) Member(id string) (NodeInfo, bool) { return n.fsm.Node(id) }

// Lookup returns match id from the local FSM.
func (n *Node) Lookup(id string) (MatchInfo, bool) { return n.fsm.Lookup(id) }

// Matches returns all matches, sorted by id.
func (n *Node) Matches() []MatchInfo { return n.fsm.Matches() }

// Nodes returns all nodes, sorted by id.
func (n *Node) Nodes() []NodeInfo { return n.fsm.Nodes() }

// LatestCheckpoint returns match id's latest checkpoint.
func (n *Node) LatestCheckpoint(id string) (Checkpoint, bool) { return n.fsm.Checkpoint(id) }

// Route says where match id runs: its owner and the owner's advertise URL
// (for a Redirect). Local is true when this node owns it.
type Route struct {
	Owner     string
	Advertise string
	Epoch     uint64
	Local     bool
}

// Route looks match id up in the local FSM. ok is false for an unknown match
// or an orphaned one (no owner yet).
func (n *Node) Route(id string) (Route, bool) {
	m, ok := n.fsm.Lookup(id)
	if !ok || m.Owner == "" {
		return Route{}, false
	}
	o, ok := n.fsm.Node(m.Owner)
	if !ok {
		return Route{}, false
	}
	return Route{Owner: m.Owner, Advertise: o.Advertise, Epoch: m.Epoch, Local: m.Owner == n.cfg.NodeID}, true
}
