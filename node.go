package ticksync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/cluster"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/net/ws"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema/token"
	"github.com/ticksync/ticksync/tools/certs"
)

// Log keys of the node.
const (
	keyNode      = "node"
	keyComponent = "component"
	keyAdvertise = "advertise"
	keyAPI       = "api"
	keyJoin      = "join"
	keyKicked    = "kicked"
	keyTickRate  = "tick_rate"
	keyGuests    = "guests"
	keyPath      = "path"
	keyUse       = "use"
	keyMode      = "mode"
	keyURL       = "url"
)

// drainTimeout bounds the hand-over of this node's matches in Shutdown (the
// rest of the caller's deadline stops rooms, sessions and Raft).
const drainTimeout = 5 * time.Second

// Node is one ticksync node: the match manager, the WebSocket server, the
// HTTP listener and the replication node (Raft), with one Prometheus
// registry.
//
// Lifecycle: New allocates (no I/O); the caller registers its games
// (Games) and its own HTTP handlers (Handle); Start listens, starts Raft
// and the background goroutines, then accepts players; Shutdown stops
// everything in order. Fatal delivers an error that must end the node (a
// join the cluster refused for good). The accessors are safe from any
// goroutine; Games and Handle are for the goroutine that calls Start,
// before it does.
type Node struct {
	cfg   Config // validated; AdminToken filled by Start
	log   zerolog.Logger
	reg   *prometheus.Registry
	games *game.Registry
	rooms *roomMetrics
	glue  *cluster.Adapter
	http  *httpserver.Server

	clusterTLS     *certs.NodeTLS     // -cluster-*; nil without
	handshakes     *handshakeMetrics  // failed handshakes on the cluster port
	clusterMetrics *clusterMetrics    // replication.Metrics
	metricsHTTP    *httpserver.Server // -metrics-addr; nil without
	tokenFile      string             // the admin token's file, when it came from one (Start)
	page           bool               // a handler at "/" (Handle)

	origins *ws.OriginPolicy // -allowed-origins, for the CORS of /v1/cluster

	// Built by Start.
	manager *game.Manager
	ws      *ws.Server
	repl    *replication.Node

	rnode     atomic.Pointer[replication.Node] // repl, for the metrics and readiness goroutines
	admin     atomic.Pointer[http.Handler]     // the admin API, once Raft runs
	advertise atomic.Pointer[string]           // the client URL in use, known at Start
	api       atomic.Pointer[string]           // the API base URL in use, known at Start
	starting  atomic.Bool                      // Start was called
	started   atomic.Bool                      // serving players (ready once the lease is held too)
	fatal     chan error

	ctx    context.Context // background goroutines; cancelled by Shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stopOnce sync.Once
	stopErr  error
}

// New validates cfg and allocates a node: its registry of games (empty),
// the HTTP server with the node's endpoints (and the metrics listener with
// MetricsAddr), the metrics and the cluster glue. It does no I/O; without
// cfg.AdminToken, Start reads the token from the data dir or generates it
// there.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nt, err := cfg.loadCluster()
	if err != nil {
		return nil, err
	}
	cfg.fillNodeID(nt)
	var log zerolog.Logger
	if cfg.Logger != nil {
		log = *cfg.Logger
	} else {
		log = cfg.NewLogger(os.Stderr)
	}
	n := &Node{cfg: cfg, log: log, games: game.NewRegistry(), fatal: make(chan error, 1), clusterTLS: nt}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.reg = prometheus.NewRegistry()
	n.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if n.rooms, err = newRoomMetrics(n.reg, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("room metrics: %w", err)
	}
	if n.handshakes, err = newHandshakeMetrics(n.reg, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("cluster tls metrics: %w", err)
	}
	if n.clusterMetrics, err = newClusterMetrics(n.reg, cfg.NodeID, n.checkpointStats, n.tickLogStats); err != nil {
		return nil, fmt.Errorf("cluster metrics: %w", err)
	}
	cc := cluster.DefaultConfig()
	cc.NodeID = cfg.NodeID
	cc.Seats = game.DefaultConfig().Seats
	// A game registered with its own seat count (Spec.Seats) fills its
	// matches to that count; the others (Seats 0) to the node's.
	cc.SeatsOf = n.games.Seats
	cc.Listen = cfg.HTTPAddr
	cc.Logger = log
	if n.glue, err = cluster.New(cc); err != nil {
		return nil, err
	}
	hc := httpserver.DefaultConfig()
	hc.Addr = cfg.HTTPAddr
	hc.TLSCertFile, hc.TLSKeyFile = cfg.TLSCert, cfg.TLSKey
	hc.Logger = log
	if n.http, err = httpserver.New(hc); err != nil {
		return nil, err
	}
	if n.origins, err = ws.NewOriginPolicy(cfg.AllowedOrigins); err != nil {
		return nil, err
	}
	n.mountEndpoints()
	if cfg.MetricsAddr != "" {
		mc := httpserver.DefaultConfig()
		mc.Addr = cfg.MetricsAddr
		mc.Logger = log
		mc.Name = "metrics"
		if n.metricsHTTP, err = httpserver.New(mc); err != nil {
			return nil, err
		}
		n.metricsHTTP.Handle("/metrics", n.metricsHandler())
	}
	return n, nil
}

// Games is the node's registry of games: register every game before
// Start (arena.Register(n.Games()) registers the demo; a game with its
// own schema: n.Games().RegisterSpec(game.Spec{Name, New, Schema})). GET
// /games lists them and GET /games/{name}/schema serves their schemas.
func (n *Node) Games() *game.Registry { return n.games }

// Handle mounts h at pattern (http.ServeMux patterns) on the node's HTTP
// listener, next to /ws, /healthz, /readyz, /v1/cluster, /games,
// /metrics, /admin/v1/ and /debug/pprof/: a game's own page at "/", say
// (Start then logs its URL).
// Call it before Start. Like http.ServeMux.Handle it panics on a pattern
// that is already taken.
func (n *Node) Handle(pattern string, h http.Handler) {
	n.http.Handle(pattern, h)
	if pattern == "/" {
		n.page = true
	}
}

// Logger is the node's logger.
func (n *Node) Logger() zerolog.Logger { return n.log }

// NodeID is this node's id.
func (n *Node) NodeID() string { return n.cfg.NodeID }

// Addr is the address the HTTP listener is bound to (nil before Start).
func (n *Node) Addr() net.Addr { return n.http.Addr() }

// MetricsAddr is the address the metrics listener (Config.MetricsAddr) is
// bound to (nil before Start, or without one).
func (n *Node) MetricsAddr() net.Addr {
	if n.metricsHTTP == nil {
		return nil
	}
	return n.metricsHTTP.Addr()
}

// AdminTokenFile is the file the admin token came from when Config had
// none (<DataDir>/admin-token, known at Start), else "".
func (n *Node) AdminTokenFile() string { return n.tokenFile }

// Advertise is the URL clients use to reach this node's /ws: Config's, or
// derived from the bound address at Start ("" before Start).
func (n *Node) Advertise() string { return load(&n.advertise) }

// APIURL is the base URL other nodes call for this node's HTTP API: the
// -join address for a new node ("" before Start).
func (n *Node) APIURL() string { return load(&n.api) }

func load(p *atomic.Pointer[string]) string {
	if s := p.Load(); s != nil {
		return *s
	}
	return ""
}

// Fatal delivers at most one error after which the node cannot go on (a
// -join the cluster refused for good). The caller then calls Shutdown.
func (n *Node) Fatal() <-chan error { return n.fatal }

// Ready is nil while the node takes players: it is started and holds its
// owner lease (it can run matches and knows the cluster's current view).
// /readyz answers 200 then.
func (n *Node) Ready() error {
	if !n.started.Load() {
		return errors.New("not serving")
	}
	if r := n.rnode.Load(); r == nil || !r.LeaseValid() {
		return errors.New("no cluster lease")
	}
	return nil
}

// Start creates the data directory (and the admin token's file there when
// Config has no token), listens, starts Raft and the cluster goroutines,
// and then accepts players. Order (replication's contract): the Host → the
// ownership goroutine → Raft (with cluster certificates, the node-to-node
// API on its port) → JoinCluster (-join) → admin API → players. On an
// error the caller still calls Shutdown.
func (n *Node) Start() error {
	if n.starting.Swap(true) {
		return errors.New("ticksync: node already started")
	}
	if err := os.MkdirAll(n.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("-data-dir: %w", err)
	}
	// The token signs resume tokens (newManager) and guards the admin
	// endpoints, which serve once the listener below runs.
	tokenCreated := false
	if n.cfg.AdminToken == "" {
		tok, path, created, err := loadAdminToken(n.cfg.DataDir)
		if err != nil {
			return fmt.Errorf("-admin-token: %w", err)
		}
		n.cfg.AdminToken, n.tokenFile, tokenCreated = tok, path, created
	}
	if err := n.newManager(); err != nil {
		return err
	}
	// Listen first: with -http-addr port 0 the advertise and API URLs are
	// known only now. /ws answers 503 and /admin 503 until below.
	if err := n.http.Start(); err != nil {
		return err
	}
	addr := n.http.Addr().String()
	advertise := n.cfg.Advertise
	if advertise == "" {
		advertise = defaultAdvertise(addr, n.http.TLS())
	}
	api := apiURL(addr, n.http.TLS())
	if n.cfg.APIAdvertise != "" {
		api = n.cfg.APIAdvertise
	}
	n.advertise.Store(&advertise)
	n.api.Store(&api)
	n.logAdminToken(tokenCreated, api)
	if n.metricsHTTP != nil {
		if err := n.metricsHTTP.Start(); err != nil {
			return fmt.Errorf("-metrics-addr: %w", err)
		}
	}

	rc := replication.DefaultConfig()
	rc.NodeID = n.cfg.NodeID
	rc.RaftAddr = n.cfg.RaftAddr
	rc.RaftAdvertise = n.cfg.RaftAdvertise
	rc.AdvertiseURL = advertise
	rc.APIURL = api
	rc.DataDir = n.cfg.DataDir
	rc.Bootstrap = n.cfg.Bootstrap
	rc.JoinURL = n.cfg.Join
	// The seed rule (seed.go): -join naming this node's own API bootstraps
	// an empty data dir and otherwise rejoins; the seed never joins itself.
	seed := n.cfg.Join != "" && isSelfURL(n.ctx, n.cfg.Join, api, nil)
	if seed {
		rc.Bootstrap, rc.JoinURL = true, ""
		n.log.Info().Str(keyJoin, n.cfg.Join).Str(keyAPI, api).
			Msg("-join is this node's own API URL: seed of the cluster (bootstraps an empty data dir, else rejoins)")
	}
	rc.AdminToken = n.cfg.AdminToken
	rc.FailoverAfter = n.cfg.FailoverAfter
	rc.OwnerLease = n.cfg.OwnerLease
	rc.HeartbeatInterval = min(rc.HeartbeatInterval, n.cfg.OwnerLease/4)
	rc.CheckpointInterval = n.cfg.CheckpointInterval
	rc.Logger = n.log
	n.secureCluster(&rc)
	rc.Metrics = n.clusterMetrics
	// The Manager is the Host: Freeze, Thaw and Tick for hand-overs, and
	// fresh captures before each checkpoint flush.
	rc.Host = n.manager
	repl, err := replication.New(rc)
	if err != nil {
		return err
	}
	n.repl = repl
	n.rnode.Store(repl)
	n.glue.Attach(repl, repl.Checkpointer(), repl.TickLogger())
	n.goNamed("ownership", func(ctx context.Context) { n.glue.RunOwnership(ctx, repl, n.manager) })
	if err := repl.Start(n.ctx); err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if n.cfg.Join != "" && !seed {
		n.goNamed("join", n.joinCluster)
	}
	adminAPI, err := admin.New(admin.Config{Node: repl, Token: n.cfg.AdminToken, Ticks: n.manager, Games: adminGames{n.manager}})
	if err != nil {
		return err
	}
	var h http.Handler = adminAPI
	n.admin.Store(&h)
	n.goNamed("lease-watch", n.watchLease)
	n.goNamed("undrain", n.undrainSelf)

	if err := n.ws.Start(); err != nil {
		return err
	}
	n.started.Store(true)
	n.log.Info().Str(keyAdvertise, advertise).Str(keyAPI, api).Int(keyTickRate, n.cfg.TickRate).
		Bool(keyGuests, n.cfg.AuthSecret == "").Msg("node started")
	if n.page {
		n.log.Info().Str(keyURL, api+"/").Msg("open the game's page in a browser")
	}
	return nil
}

// newManager builds the match manager over the registered games, with the
// cluster glue as its Placement, Lease and Checkpointer, and the WebSocket
// server that seats players through it.
func (n *Node) newManager() error {
	gc := game.DefaultConfig()
	gc.NodeID = n.cfg.NodeID
	gc.TickRate = n.cfg.TickRate
	gc.ResumeGrace = n.cfg.ResumeGrace
	gc.Logger = n.log
	gc.RoomMetrics = n.rooms.forRoom
	gc.Registerer = n.reg
	gc.MaxPlayers = n.cfg.MaxPlayers
	gc.MaxRooms = n.cfg.MaxRooms
	gc.MaxMatchesPerIP = n.cfg.MaxMatchesPerIP
	var err error
	if gc.DefaultGame, err = n.defaultGame(); err != nil {
		return err
	}
	// Resume tokens must verify on every node: one cluster-wide secret.
	gc.Secret = deriveKey(n.resumeSecret(), "ticksync resume tokens v1")
	gc.Placement = n.glue
	gc.Checkpoints = n.glue
	// Every room logs what it applies; the replica's TickLogger ships it
	// through Raft every 50 ms, and a node that adopts a match after a
	// failover replays it past the checkpoint (game time lost: about that
	// period plus one commit, instead of up to -checkpoint-interval).
	gc.TickLog = n.glue.TickLog()
	// The Checkpointer asks every room for a fresh capture just before each
	// flush (Manager.CaptureCheckpoints, a replication.Capturer): the state
	// Raft gets every -checkpoint-interval is then as of the flush, and a
	// crash costs at most one interval of game time (plus the capture wait
	// and Raft's apply latency). The rooms' own periodic captures, once per
	// interval, only stand in for a room that answered too late. A capture
	// is a MarshalState and a copy (arena: ~0.3 µs).
	gc.CheckpointInterval = max(n.cfg.CheckpointInterval, time.Second/time.Duration(n.cfg.TickRate), 10*time.Millisecond)
	gc.Lease = n.glue
	if n.manager, err = game.NewManager(gc, n.games); err != nil {
		return err
	}
	n.registerGauges(n.reg)
	n.rooms.initGames(n.games.Names())

	wc := ws.DefaultConfig()
	wc.NodeID = n.cfg.NodeID
	wc.Joiner = n.manager
	wc.AllowedOrigins = n.cfg.AllowedOrigins
	wc.Logger = n.log
	wc.Registerer = n.reg
	wc.MaxConnsPerIP = n.cfg.MaxConnsPerIP
	wc.MaxUpgradesPerIP = n.cfg.MaxUpgradesPerIP
	wc.MaxMessageRate = n.cfg.MaxMsgRate
	if n.cfg.AuthSecret != "" {
		wc.Auth = token.NewAuth([]byte(n.cfg.AuthSecret))
	}
	if n.ws, err = ws.New(wc); err != nil {
		return err
	}
	n.http.Handle("/ws", n.ws.Handler())
	return nil
}

// defaultGame is Config.DefaultGame, or the only game registered.
func (n *Node) defaultGame() (string, error) {
	if n.cfg.DefaultGame != "" {
		return n.cfg.DefaultGame, nil
	}
	switch names := n.games.Names(); len(names) {
	case 0:
		return "", errors.New("ticksync: no game registered: register one on Node.Games() before Start")
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("ticksync: games %s registered: set Config.DefaultGame to the one a Hello without a game joins", strings.Join(names, ", "))
	}
}

// resumeSecret is the configured secret resume tokens are derived from:
// -auth-secret when set, else -admin-token (which every node of a cluster
// shares; without one, the data dir's, so that resume tokens outlive a
// restart).
func (n *Node) resumeSecret() string {
	if n.cfg.AuthSecret != "" {
		return n.cfg.AuthSecret
	}
	return n.cfg.AdminToken
}

// Shutdown stops the node in order; ctx bounds it (10 s is plenty). Each
// step runs even if an earlier one failed; the errors are joined. It is
// idempotent (later calls return the first call's result) and may be
// called after a failed Start or without Start.
func (n *Node) Shutdown(ctx context.Context) error {
	n.stopOnce.Do(func() { n.stopErr = n.shutdown(ctx) })
	return n.stopErr
}

func (n *Node) shutdown(ctx context.Context) error {
	// Not ready: load balancers stop sending new players here.
	n.started.Store(false)
	var errs []error
	// Hand our matches to other nodes with a final checkpoint each; their
	// players are redirected (4011) and resume there. Bounded; a one-node
	// cluster has no one to hand them to.
	if n.repl != nil && n.otherLiveNodes() {
		dctx, cancel := context.WithTimeout(ctx, drainTimeout)
		err := n.repl.DrainSelf(dctx)
		if err == nil {
			// The ownership goroutine stops each room and redirects its
			// players: let it finish before sessions are closed below.
			err = n.glue.WaitReleased(dctx)
		}
		if err != nil {
			n.log.Warn().Err(err).Msg("drain before shutdown incomplete")
		} else {
			n.log.Info().Msg("matches handed over")
		}
		cancel()
	}
	// Stop accepting: close the listener (no new connections or upgrades)
	// and let plain HTTP requests in flight finish.
	if err := n.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	// Stop the rooms left here, each with a final checkpoint.
	if n.manager != nil {
		if err := n.manager.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("matches: %w", err))
		}
	}
	// Close every session with 1001 and wait for their goroutines.
	if n.ws != nil {
		if err := n.ws.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sessions: %w", err))
		}
	}
	// Our goroutines (ownership, join, lease watch, undrain) end.
	n.cancel()
	n.wg.Wait()
	// Raft: flush the final checkpoints, hand leadership over, stop.
	if n.repl != nil {
		if err := n.repl.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("replication: %w", err))
		}
	}
	// The metrics listener last: the shutdown itself can be watched.
	if n.metricsHTTP != nil {
		if err := n.metricsHTTP.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("metrics listener: %w", err))
		}
	}
	return errors.Join(errs...)
}

// otherLiveNodes reports whether another node could take our matches.
func (n *Node) otherLiveNodes() bool {
	for _, nd := range n.repl.Nodes() {
		if nd.ID != n.cfg.NodeID && nd.State == replication.NodeAlive {
			return true
		}
	}
	return false
}

// deriveKey derives a purpose-bound key from a configured secret, so that
// one secret never signs two kinds of token.
func deriveKey(secret, purpose string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(purpose))
	return h.Sum(nil)
}
