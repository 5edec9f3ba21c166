package replication

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// Config configures a Node. Start from DefaultConfig, set the identity fields,
// then Validate (New validates too).
type Config struct {
	// NodeID names this node for all time (Raft's LocalID). Required.
	NodeID string
	// RaftAddr is the host:port the Raft TCP transport binds ("127.0.0.1:0"
	// picks a free port; Node.RaftAddr reports the real one).
	RaftAddr string
	// RaftAdvertise is the host:port peers dial; empty means the bound address
	// (which must then not be 0.0.0.0).
	RaftAdvertise string
	// AdvertiseURL is the game endpoint clients are redirected to,
	// e.g. "wss://n1.example.com/ws". Required.
	AdvertiseURL string
	// APIURL is the base URL of this node's HTTP API, e.g.
	// "http://10.0.0.1:7350": the admin API, and without ClusterTLS where
	// other nodes send heartbeats, forwarded commands and joins (with it
	// they use the Raft port). Empty: derived from AdvertiseURL (ws→http,
	// wss→https, path dropped).
	APIURL string
	// DataDir holds the Raft log (raft/raft.db) and snapshots (raft/snapshots).
	DataDir string
	// Bootstrap forms a new cluster with this node as its only voter (ignored
	// when the data dir already has Raft state).
	Bootstrap bool
	// JoinURL is the -join flag. The Node does not dial it (the caller runs
	// JoinCluster after Start); a non-empty JoinURL only stops a node with an
	// empty data dir from bootstrapping a one-node cluster of its own.
	JoinURL string
	// AdminToken is the bearer token of the admin API. Without ClusterTLS
	// it also authenticates the node-to-node calls (heartbeats, forwarding,
	// joins), which then need it on every node; with ClusterTLS those carry
	// no token (the certificates authenticate the nodes). Empty disables the
	// admin API.
	AdminToken string

	// FailoverAfter: the leader declares a node dead after this long without a
	// heartbeat and reassigns its matches.
	FailoverAfter time.Duration
	// OwnerLease: a node runs its rooms only while its lease, renewed by
	// heartbeats the leader acknowledged, is younger than this. Must be
	// shorter than FailoverAfter by at least MinLeaseMargin (see DESIGN.md,
	// "Fencing").
	OwnerLease time.Duration
	// LeaderGrace is added to every dead timer when a node becomes leader.
	LeaderGrace time.Duration
	// HeartbeatInterval: how often a follower sends "alive + load" to the
	// leader, and how often the leader re-verifies its own leadership.
	HeartbeatInterval time.Duration
	// CheckpointInterval: how often the Checkpointer applies one batch.
	CheckpointInterval time.Duration
	// MaxBatchBytes caps the compressed checkpoint bytes in one Raft entry;
	// a bigger flush is split over several entries (tick log batches too).
	MaxBatchBytes int
	// TickLogInterval: how often the TickLogger applies the rooms' tick
	// logs, one batch per node. A crash loses about this much game time
	// plus one commit (DESIGN.md, "Tick log"). 10ms..1s, default 50 ms.
	TickLogInterval time.Duration

	Raft RaftTuning

	// Host is the local game layer (game.Manager): it freezes rooms for
	// planned hand-overs, reports room ticks for the admin API and, if it is
	// a Capturer, captures fresh checkpoints before each flush. It is given
	// here, before Start, because the node calls it from its own goroutines
	// from Start on. nil: no game layer (hand-overs carry no final state,
	// listings no ticks), as in tools and tests of the cluster alone.
	Host Host

	// Logger receives our logs and Raft's (hclog bridged to zerolog, under
	// component=raft). It should carry the node's id (the root package's
	// logger has it under "node"): this package adds only its components.
	Logger zerolog.Logger
	// Metrics receives Raft apply latencies, failovers and hand-overs; nil:
	// none.
	Metrics Metrics
	// HTTPClient makes node-to-node calls without ClusterTLS; nil means a
	// client with sane timeouts. (With ClusterTLS each peer has a client of
	// its own, built from ClusterTLS.ClientFor.)
	HTTPClient *http.Client
	// Forwarder sends commands to the leader when this node is not the leader;
	// nil means HTTP to the leader's POST /admin/v1/raft/apply.
	Forwarder Forwarder
	// ClusterTLS, when set, runs the Raft transport over mutual TLS with the
	// cluster's certificates (tlsstream.go), serves the node-to-node API on
	// the same port (ALPN PeerALPN) and makes every node-to-node call there,
	// to a server whose certificate names the node meant, checking on each
	// request that the calling node's certificate backs what it claims. nil
	// means plain TCP and plain node-to-node HTTP with the admin token, on
	// the API URLs (allowed for several nodes only with InsecureCluster).
	ClusterTLS *ClusterTLS
	// InsecureCluster lets a node without ClusterTLS be part of a cluster of
	// several nodes: join one (JoinURL), add voters, or restart with a Raft
	// configuration of several servers. Without it such a node refuses
	// (ErrInsecureCluster): anyone who reaches its Raft port or holds the
	// admin token could rewrite the cluster's state. A one-node cluster
	// needs neither. Ignored with ClusterTLS.
	InsecureCluster bool
	// ClusterHandler serves the HTTP requests other nodes send to the
	// cluster port (with ClusterTLS only): it must route the node-to-node
	// paths (PathJoin, …) to PeerHandler; the rest is the caller's (package
	// admin's Server does the first; ticksync adds /readyz for the owner
	// probes). nil: PeerHandler alone.
	ClusterHandler http.Handler

	// wrapStream wraps the Raft stream layer (tests inject faults with it).
	wrapStream func(raft.StreamLayer) raft.StreamLayer
	// wrapListener wraps the test harness's HTTP listener (tests only).
	wrapListener func(net.Listener) net.Listener
	// onDeclared is called when this node's supervisor has declared a node
	// dead, with the rule that allowed it and what it knew (tests only).
	onDeclared func(declaration)
	// beforeApply runs on Raft's FSM goroutine before each command is
	// applied (tests only: holding it makes this node's FSM lag).
	beforeApply func()
}

// RaftTuning holds hashicorp/raft and transport settings. The defaults are
// tuned for a LAN cluster that must elect a new leader within FailoverAfter
// of the old one's death (see DESIGN.md, "Raft settings").
type RaftTuning struct {
	HeartbeatTimeout   time.Duration // follower without leader contact → candidate (200 ms)
	ElectionTimeout    time.Duration // candidate without a winner → new election (200 ms)
	LeaderLeaseTimeout time.Duration // leader without quorum contact → steps down (200 ms)
	CommitTimeout      time.Duration // 50 ms (raft's default)
	MaxAppendEntries   int           // 256; also the BatchApplyCh buffer
	SnapshotInterval   time.Duration // 10 s (checked every 10–20 s)
	SnapshotThreshold  uint64        // 64 entries: checkpoint batches are big, see DESIGN.md
	TrailingLogs       uint64        // 128 entries kept after a snapshot
	TransportTimeout   time.Duration // 1 s I/O deadline, also the heartbeat RPC deadline
	TransportMaxPool   int           // 3 pooled connections per peer
	SnapshotRetain     int           // 2 snapshots kept on disk
	ApplyTimeout       time.Duration // 5 s to enqueue one Apply on the leader
}

// DefaultConfig returns the defaults of DESIGN.md's "Heartbeats, lease and
// failover" and "Raft settings": failover after 750 ms, owner lease 500 ms,
// heartbeats every 100 ms, Raft timeouts 200 ms, checkpoints every 500 ms.
// A crashed owner's matches run elsewhere within about a second.
func DefaultConfig() Config {
	return Config{
		RaftAddr:           "127.0.0.1:7351",
		AdvertiseURL:       "ws://127.0.0.1:7350/ws",
		DataDir:            "ticksync-data",
		FailoverAfter:      750 * time.Millisecond,
		OwnerLease:         500 * time.Millisecond,
		LeaderGrace:        250 * time.Millisecond,
		HeartbeatInterval:  100 * time.Millisecond,
		CheckpointInterval: 500 * time.Millisecond,
		MaxBatchBytes:      256 << 10,
		TickLogInterval:    50 * time.Millisecond,
		Raft: RaftTuning{
			HeartbeatTimeout:   200 * time.Millisecond,
			ElectionTimeout:    200 * time.Millisecond,
			LeaderLeaseTimeout: 200 * time.Millisecond,
			CommitTimeout:      50 * time.Millisecond,
			MaxAppendEntries:   256,
			SnapshotInterval:   10 * time.Second,
			SnapshotThreshold:  64,
			TrailingLogs:       128,
			TransportTimeout:   time.Second,
			TransportMaxPool:   3,
			SnapshotRetain:     2,
			ApplyTimeout:       5 * time.Second,
		},
		Logger: zerolog.Nop(),
	}
}

// MinLeaseMargin is the least FailoverAfter − OwnerLease that Validate
// accepts for a lease of lease: 100 ms for a tick in progress and
// scheduling delays, plus a tenth of the lease for clock-rate differences
// between nodes (DESIGN.md, "Fencing").
func MinLeaseMargin(lease time.Duration) time.Duration {
	return 100*time.Millisecond + lease/10
}

// Validate reports the first invalid setting, saying what is allowed.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.NodeID == "" {
		bad("node id: must not be empty")
	} else if strings.ContainsAny(c.NodeID, "/ \t\n") || len(c.NodeID) > 64 {
		bad("node id %q: must be 1..64 characters without '/' or spaces", c.NodeID)
	}
	if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		bad("raft addr %q: must be host:port: %w", c.RaftAddr, err)
	}
	if c.RaftAdvertise != "" {
		if _, _, err := net.SplitHostPort(c.RaftAdvertise); err != nil {
			bad("raft advertise %q: must be host:port: %w", c.RaftAdvertise, err)
		}
	}
	if u, err := url.Parse(c.AdvertiseURL); err != nil || u.Host == "" ||
		(u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
		bad("advertise url %q: must be ws://, wss://, http:// or https:// with a host", c.AdvertiseURL)
	}
	if c.APIURL != "" {
		if _, err := APIBase(c.APIURL); err != nil {
			bad("api url %q: %w", c.APIURL, err)
		}
	}
	if c.DataDir == "" {
		bad("data dir: must not be empty")
	}
	if c.JoinURL != "" && c.ClusterTLS == nil {
		if !c.InsecureCluster {
			bad("join %q: %w", c.JoinURL, errInsecureJoin)
		} else if c.AdminToken == "" {
			bad("join %q: needs an admin token (without cluster certificates, joins, heartbeats and forwarding use the admin API)", c.JoinURL)
		}
	}
	if c.FailoverAfter < 100*time.Millisecond || c.FailoverAfter > time.Minute {
		bad("failover-after %s: must be 100ms..1m", c.FailoverAfter)
	}
	if c.OwnerLease <= 0 || c.OwnerLease >= c.FailoverAfter {
		bad("owner lease %s: must be > 0 and shorter than failover-after (%s)", c.OwnerLease, c.FailoverAfter)
	} else if m := MinLeaseMargin(c.OwnerLease); c.FailoverAfter-c.OwnerLease < m {
		bad("failover-after %s: must exceed the owner lease (%s) by at least %s (clock rates, the tick in progress, scheduling: DESIGN.md, \"Fencing\")",
			c.FailoverAfter, c.OwnerLease, m)
	}
	if c.LeaderGrace < 0 || c.LeaderGrace > time.Minute {
		bad("leader grace %s: must be 0..1m", c.LeaderGrace)
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval > c.OwnerLease/2 {
		bad("heartbeat interval %s: must be > 0 and at most half the owner lease (%s)", c.HeartbeatInterval, c.OwnerLease)
	}
	if c.CheckpointInterval < 10*time.Millisecond || c.CheckpointInterval > time.Minute {
		bad("checkpoint interval %s: must be 10ms..1m", c.CheckpointInterval)
	}
	if c.MaxBatchBytes < 4<<10 || c.MaxBatchBytes > 16<<20 {
		bad("max batch bytes %d: must be 4KiB..16MiB", c.MaxBatchBytes)
	}
	if c.TickLogInterval < 10*time.Millisecond || c.TickLogInterval > time.Second {
		bad("tick log interval %s: must be 10ms..1s", c.TickLogInterval)
	}
	if c.ClusterTLS != nil {
		if err := c.ClusterTLS.validate(); err != nil {
			errs = append(errs, err)
		}
	}
	r := &c.Raft
	if r.HeartbeatTimeout < 50*time.Millisecond {
		bad("raft heartbeat timeout %s: must be at least 50ms", r.HeartbeatTimeout)
	}
	if r.ElectionTimeout < r.HeartbeatTimeout {
		bad("raft election timeout %s: must be at least the heartbeat timeout (%s)", r.ElectionTimeout, r.HeartbeatTimeout)
	}
	if r.LeaderLeaseTimeout < 10*time.Millisecond || r.LeaderLeaseTimeout > r.HeartbeatTimeout {
		bad("raft leader lease timeout %s: must be 10ms..heartbeat timeout (%s)", r.LeaderLeaseTimeout, r.HeartbeatTimeout)
	}
	if r.CommitTimeout < time.Millisecond {
		bad("raft commit timeout %s: must be at least 1ms", r.CommitTimeout)
	}
	if r.MaxAppendEntries < 1 || r.MaxAppendEntries > 1024 {
		bad("raft max append entries %d: must be 1..1024", r.MaxAppendEntries)
	}
	if r.SnapshotInterval < 100*time.Millisecond {
		bad("raft snapshot interval %s: must be at least 100ms", r.SnapshotInterval)
	}
	if r.SnapshotThreshold < 1 {
		bad("raft snapshot threshold %d: must be at least 1", r.SnapshotThreshold)
	}
	if r.TransportTimeout < 100*time.Millisecond || r.TransportTimeout > time.Minute {
		bad("raft transport timeout %s: must be 100ms..1m", r.TransportTimeout)
	}
	if r.TransportMaxPool < 1 {
		bad("raft transport max pool %d: must be at least 1", r.TransportMaxPool)
	}
	if r.SnapshotRetain < 1 {
		bad("raft snapshot retain %d: must be at least 1", r.SnapshotRetain)
	}
	if r.ApplyTimeout <= 0 {
		bad("raft apply timeout %s: must be positive", r.ApplyTimeout)
	}
	return errors.Join(errs...)
}

// apiURL is the API base of this node: APIURL, or derived from AdvertiseURL.
func (c *Config) apiURL() string {
	if c.APIURL != "" {
		u, _ := APIBase(c.APIURL)
		return u
	}
	u, _ := APIBase(c.AdvertiseURL)
	return u
}

// APIBase turns a node URL as an operator types it ("n1:7350",
// "http://n1:7350/admin/v1", "ws://n1:7350/ws") into the base URL of its
// HTTP API ("http://n1:7350"): ws→http, wss→https, path dropped.
func APIBase(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse %q: %w", s, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("url %q: scheme must be http, https, ws or wss", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("url %q: no host", s)
	}
	return u.Scheme + "://" + u.Host, nil
}
