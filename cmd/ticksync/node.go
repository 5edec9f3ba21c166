package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
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
)

// node wires one ticksync node: the match manager, the WebSocket server and
// the HTTP listener, with one Prometheus registry.
//
// TODO(replication issue): Raft (-raft-addr, -data-dir, -bootstrap, -join,
// -advertise, -failover-after, -owner-lease, -checkpoint-interval) plugs in
// here as game.Config.Placement plus checkpoints; the flags are validated
// already. TODO(admin issue): mount /admin/v1/ and /debug/pprof behind
// -admin-token.
type node struct {
	cfg   *nodeConfig
	log   zerolog.Logger
	games *game.Manager
	ws    *ws.Server
	http  *httpserver.Server
	ready atomic.Bool
}

func newNode(cfg *nodeConfig, log zerolog.Logger) (*node, error) {
	n := &node{cfg: cfg, log: log}
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
	if cfg.AuthSecret != "" {
		gc.Secret = deriveKey(cfg.AuthSecret, "ticksync resume tokens v1")
	}
	if n.games, err = game.NewManager(gc, games); err != nil {
		return nil, err
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "ticksync", Subsystem: "game", Name: "matches", ConstLabels: prometheus.Labels{"node": cfg.NodeID},
		Help: "Matches running on this node.",
	}, func() float64 { return float64(len(n.games.Matches())) }))

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
	if h := demoHandler(); h != nil {
		n.http.Handle("/", h)
	}
	return n, nil
}

// demoHandler is the browser client of the arena demo, served at "/".
func demoHandler() http.Handler { return web.Handler() }

func (n *node) readyCheck() error {
	if !n.ready.Load() {
		return errors.New("not serving")
	}
	return nil
}

// start creates the data directory and starts serving.
func (n *node) start() error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("-data-dir: %w", err)
	}
	if err := n.ws.Start(); err != nil {
		return err
	}
	if err := n.http.Start(); err != nil {
		return err
	}
	if n.cfg.advertiseAuto {
		// With -http-addr port 0 the port is known only now.
		n.cfg.Advertise = defaultAdvertise(n.http.Addr().String(), n.http.TLS())
	}
	n.ready.Store(true)
	n.log.Info().Str("advertise", n.cfg.Advertise).Int("tick_rate", n.cfg.TickRate).
		Bool("guests", n.cfg.AuthSecret == "").Msg("node started")
	return nil
}

// shutdown stops the node in order. Each step runs even if an earlier one
// failed; the errors are joined.
func (n *node) shutdown(ctx context.Context) error {
	// Not ready: load balancers stop sending new players here.
	n.ready.Store(false)
	var errs []error
	// Stop accepting: close the listener (no new connections or upgrades)
	// and let plain HTTP requests in flight finish.
	if err := n.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	// Stop the rooms (the final checkpoint comes with replication).
	if err := n.games.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("matches: %w", err))
	}
	// Close every session with 1001 and wait for their goroutines.
	if err := n.ws.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sessions: %w", err))
	}
	return errors.Join(errs...)
}

// deriveKey derives a purpose-bound key from a configured secret, so that
// one secret never signs two kinds of token.
func deriveKey(secret, purpose string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(purpose))
	return h.Sum(nil)
}
