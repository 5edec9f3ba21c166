package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/game/arena"
	"github.com/ticksync/ticksync/game/arena/web"
	"github.com/ticksync/ticksync/game/token"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/net/ws"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema"
)

// Log keys of the node.
const (
	keyMatch     = "match"
	keyEpoch     = "epoch"
	keyOwner     = "owner"
	keyAdvertise = "advertise"
	keyAPI       = "api"
	keyJoin      = "join"
	keyKicked    = "kicked"
	keyTickRate  = "tick_rate"
	keyGuests    = "guests"
)

// drainTimeout bounds the hand-over of this node's matches at SIGTERM (the
// rest of shutdownTimeout stops rooms, sessions and Raft).
const drainTimeout = 5 * time.Second

// node wires one ticksync node: the match manager, the WebSocket server,
// the HTTP listener and the replication node (Raft), with one Prometheus
// registry.
//
// Lifecycle: newNode allocates (no I/O); start listens, starts Raft and the
// background goroutines, then accepts players; shutdown stops everything in
// order. fatal receives an error that must end the process (a join that
// the cluster refused for good).
type node struct {
	cfg     *nodeConfig
	log     zerolog.Logger
	games   *game.Manager
	cluster *cluster
	ws      *ws.Server
	http    *httpserver.Server
	repl    *replication.Node
	admin   atomic.Pointer[http.Handler] // the admin API, once Raft runs
	started atomic.Bool
	fatal   chan error

	ctx    context.Context // background goroutines; cancelled by shutdown
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newNode(cfg *nodeConfig, log zerolog.Logger) (*node, error) {
	n := &node{cfg: cfg, log: log, fatal: make(chan error, 1)}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	games := game.NewRegistry()
	if err := arena.Register(games); err != nil {
		return nil, err
	}
	rooms, err := newRoomMetrics(reg, cfg.NodeID)
	if err != nil {
		return nil, fmt.Errorf("room metrics: %w", err)
	}
	gc := game.DefaultConfig()
	gc.NodeID = cfg.NodeID
	gc.TickRate = cfg.TickRate
	gc.ResumeGrace = cfg.ResumeGrace
	gc.Logger = log
	gc.RoomMetrics = rooms.forRoom
	// Resume tokens must verify on every node: one cluster-wide secret.
	gc.Secret = deriveKey(resumeSecret(cfg), "ticksync resume tokens v1")
	n.cluster = newCluster(cfg.NodeID, cfg.HTTPAddr, gc.Seats, log.With().Str("component", "cluster").Logger())
	gc.Placement = n.cluster
	gc.Checkpoints = n.cluster
	// The Checkpointer asks every room for a fresh capture just before each
	// flush (Manager.CaptureCheckpoints, a replication.Capturer): the state
	// Raft gets every -checkpoint-interval is then as of the flush, and a
	// crash costs at most one interval of game time (plus the capture wait
	// and Raft's apply latency). The rooms' own periodic captures, once per
	// interval, only stand in for a room that answered too late. A capture
	// is a MarshalState and a copy (arena: ~0.3 µs).
	gc.CheckpointInterval = max(cfg.CheckpointInterval, time.Second/time.Duration(cfg.TickRate), 10*time.Millisecond)
	gc.Lease = n.cluster
	if n.games, err = game.NewManager(gc, games); err != nil {
		return nil, err
	}
	n.registerGauges(reg)

	wc := ws.DefaultConfig()
	wc.NodeID = cfg.NodeID
	wc.Joiner = n.games
	wc.AllowedOrigins = cfg.AllowedOrigins
	wc.Logger = log
	wc.Registerer = reg
	if cfg.AuthSecret != "" {
		secret := []byte(cfg.AuthSecret)
		wc.Auth = ws.AuthenticatorFunc(func(tok string) (uint32, error) {
			return token.VerifyPlayer(secret, tok, time.Now())
		})
	}
	if n.ws, err = ws.New(wc); err != nil {
		return nil, err
	}

	hc := httpserver.DefaultConfig()
	hc.Addr = cfg.HTTPAddr
	hc.TLSCertFile, hc.TLSKeyFile = cfg.TLSCert, cfg.TLSKey
	hc.Logger = log
	if n.http, err = httpserver.New(hc); err != nil {
		return nil, err
	}
	n.http.Handle("/ws", n.ws.Handler())
	n.http.Handle("/healthz", httpserver.Healthz())
	n.http.Handle("/readyz", httpserver.Readyz(n.readyCheck))
	n.http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	n.http.Handle("/admin/v1/", http.HandlerFunc(n.serveAdmin))
	n.http.Handle("/debug/pprof/", n.adminOnly(http.HandlerFunc(httppprof.Index)))
	n.http.Handle("/debug/pprof/cmdline", n.adminOnly(http.HandlerFunc(httppprof.Cmdline)))
	n.http.Handle("/debug/pprof/profile", n.adminOnly(http.HandlerFunc(httppprof.Profile)))
	n.http.Handle("/debug/pprof/symbol", n.adminOnly(http.HandlerFunc(httppprof.Symbol)))
	n.http.Handle("/debug/pprof/trace", n.adminOnly(http.HandlerFunc(httppprof.Trace)))
	if h := demoHandler(); h != nil {
		n.http.Handle("/", h)
	}
	return n, nil
}

// resumeSecret is the configured secret resume tokens are derived from:
// -auth-secret when set, else -admin-token (which every node of a cluster
// shares; in dev mode a random one per process).
func resumeSecret(cfg *nodeConfig) string {
	if cfg.AuthSecret != "" {
		return cfg.AuthSecret
	}
	return cfg.AdminToken
}

// registerGauges exports the node's view of the cluster.
func (n *node) registerGauges(reg prometheus.Registerer) {
	node := prometheus.Labels{"node": n.cfg.NodeID}
	gauge := func(subsystem, name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: subsystem, Name: name, Help: help, ConstLabels: node,
		}, f))
	}
	gauge("game", "matches", "Matches running on this node.", func() float64 { return float64(len(n.games.Matches())) })
	gauge("cluster", "lease_valid", "1 while this node holds its owner lease (its rooms may tick).", func() float64 {
		if r := n.cluster.node.Load(); r != nil && r.LeaseValid() {
			return 1
		}
		return 0
	})
	gauge("cluster", "leader", "1 while this node is the Raft leader.", func() float64 {
		if r := n.cluster.node.Load(); r != nil && r.IsLeader() {
			return 1
		}
		return 0
	})
	gauge("cluster", "checkpoint_bytes_out", "Compressed checkpoint bytes sent to Raft since start.", func() float64 {
		if r := n.cluster.node.Load(); r != nil {
			return float64(r.Checkpointer().Stats().BytesOut)
		}
		return 0
	})
}

// demoHandler is the browser client of the arena demo, served at "/".
func demoHandler() http.Handler { return web.Handler() }

// readyCheck: ready once started and while this node holds its owner lease
// (it can run matches and knows the cluster's current view).
func (n *node) readyCheck() error {
	if !n.started.Load() {
		return errors.New("not serving")
	}
	if r := n.cluster.node.Load(); r == nil || !r.LeaseValid() {
		return errors.New("no cluster lease")
	}
	return nil
}

// serveAdmin is /admin/v1/: the admin API (with the node-to-node
// endpoints) once Raft runs; it checks the bearer token itself.
func (n *node) serveAdmin(w http.ResponseWriter, r *http.Request) {
	h := n.admin.Load()
	if h == nil {
		http.Error(w, `{"error":"starting","code":"shutdown"}`, http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// adminOnly lets a request through only with "Authorization: Bearer
// <admin token>".
func (n *node) adminOnly(h http.Handler) http.Handler {
	want := []byte("Bearer " + n.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ticksync-admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// start creates the data directory, listens, starts Raft and the cluster
// goroutines, and then accepts players. Order: New (with the Manager as its
// Host) → the ownership goroutine → Start → JoinCluster (-join) → admin API
// → players.
func (n *node) start() error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("-data-dir: %w", err)
	}
	// Listen first: with -http-addr port 0 the advertise and API URLs are
	// known only now. /ws answers 503 and /admin 503 until below.
	if err := n.http.Start(); err != nil {
		return err
	}
	addr := n.http.Addr().String()
	if n.cfg.advertiseAuto {
		n.cfg.Advertise = defaultAdvertise(addr, n.http.TLS())
	}
	rc := replication.DefaultConfig()
	rc.NodeID = n.cfg.NodeID
	rc.RaftAddr = n.cfg.RaftAddr
	rc.RaftAdvertise = n.cfg.RaftAdvertise
	rc.AdvertiseURL = n.cfg.Advertise
	rc.APIURL = apiURL(addr, n.http.TLS())
	if n.cfg.APIAdvertise != "" {
		rc.APIURL = n.cfg.APIAdvertise
	}
	rc.DataDir = n.cfg.DataDir
	rc.Bootstrap = n.cfg.Bootstrap
	rc.JoinURL = n.cfg.Join
	rc.AdminToken = n.cfg.AdminToken
	rc.FailoverAfter = n.cfg.FailoverAfter
	rc.OwnerLease = n.cfg.OwnerLease
	rc.HeartbeatInterval = min(rc.HeartbeatInterval, n.cfg.OwnerLease/4)
	rc.CheckpointInterval = n.cfg.CheckpointInterval
	rc.Logger = n.log
	rc.Host = n.games
	repl, err := replication.New(rc)
	if err != nil {
		return err
	}
	n.repl = repl
	n.cluster.node.Store(repl)

	n.goNamed("ownership", func(ctx context.Context) { n.cluster.runOwnership(ctx, repl, n.games) })
	if err := repl.Start(n.ctx); err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if n.cfg.Join != "" {
		n.goNamed("join", n.joinCluster)
	}
	adminAPI, err := admin.New(admin.Config{Node: repl, Token: n.cfg.AdminToken, Ticks: n.games})
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
	n.log.Info().Str(keyAdvertise, n.cfg.Advertise).Str(keyAPI, rc.APIURL).Int(keyTickRate, n.cfg.TickRate).
		Bool(keyGuests, n.cfg.AuthSecret == "").Msg("node started")
	return nil
}

// goNamed runs fn on a goroutine labelled for pprof, owned by the node;
// fn returns when ctx ends.
func (n *node) goNamed(name string, fn func(ctx context.Context)) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		pprof.Do(n.ctx, pprof.Labels("node", name), fn)
	}()
}

// joinCluster asks the -join node to add this one (retrying until it
// answers); a final refusal (wrong token, bad request) ends the process.
func (n *node) joinCluster(ctx context.Context) {
	err := replication.JoinCluster(ctx, n.cfg.Join, n.cfg.AdminToken, n.repl.Self())
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

// watchLease follows the owner lease. When it stays lost longer than
// failover takes, this node's matches have most likely been given to
// others: its players are disconnected (seats kept) so that they reconnect
// through nodes that know the new owners.
func (n *node) watchLease(ctx context.Context) {
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
				lost = time.NewTimer(n.cfg.FailoverAfter)
				lostC = lost.C
			}
		case <-lostC:
			lost, lostC = nil, nil
			if !n.repl.LeaseValid() {
				k := n.games.DisconnectAll(schema.ErrCodeUnavailable, "this node lost contact with the cluster; reconnect")
				n.log.Warn().Int(keyKicked, k).Msg("lease lost for longer than failover-after: players sent to other nodes")
			}
		}
	}
}

// undrainSelf makes this node take matches again after a restart that
// followed a drain (SIGTERM drains): once it holds its lease, a "draining"
// record of itself is set back to alive.
func (n *node) undrainSelf(ctx context.Context) {
	for !n.repl.LeaseValid() {
		if !sleepUntil(ctx, 100*time.Millisecond, time.Now().Add(time.Hour)) {
			return
		}
	}
	if self, ok := n.repl.Member(n.cfg.NodeID); ok && self.State == replication.NodeDraining {
		if _, err := n.repl.Undrain(ctx, n.cfg.NodeID); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Msg("cannot undrain this node after a restart")
			return
		}
		n.log.Info().Msg("was draining before the restart: taking matches again")
	}
}

// shutdown stops the node in order. Each step runs even if an earlier one
// failed; the errors are joined.
func (n *node) shutdown(ctx context.Context) error {
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
			err = n.cluster.waitReleased(dctx)
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
	if err := n.games.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("matches: %w", err))
	}
	// Close every session with 1001 and wait for their goroutines.
	if err := n.ws.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sessions: %w", err))
	}
	// Our goroutines (ownership, join, lease watch) end.
	n.cancel()
	n.wg.Wait()
	// Raft: flush the final checkpoints, hand leadership over, stop.
	if n.repl != nil {
		if err := n.repl.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("replication: %w", err))
		}
	}
	return errors.Join(errs...)
}

// otherLiveNodes reports whether another node could take our matches.
func (n *node) otherLiveNodes() bool {
	for _, nd := range n.repl.Nodes() {
		if nd.ID != n.cfg.NodeID && nd.State == replication.NodeAlive {
			return true
		}
	}
	return false
}

// apiURL is the base URL of this node's HTTP API (admin, heartbeats,
// probes): http[s]://<listen address>, with the host name in place of an
// unspecified address.
func apiURL(listen string, tls bool) string {
	host, port, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "localhost"
		}
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// deriveKey derives a purpose-bound key from a configured secret, so that
// one secret never signs two kinds of token.
func deriveKey(secret, purpose string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(purpose))
	return h.Sum(nil)
}

// randomToken returns 32 random hex digits (a dev-mode admin token).
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
