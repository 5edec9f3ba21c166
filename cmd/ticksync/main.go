// Command ticksync runs a ticksync node: the game's WebSocket endpoint
// (/ws), its rooms, the arena demo client (/), health (/healthz), readiness
// (/readyz: ready while the node holds its cluster lease), Prometheus
// metrics (/metrics), the admin API (/admin/v1/, bearer -admin-token) and
// /debug/pprof (admin only).
//
// Every node is a member of a Raft cluster (package replication) that owns
// the match directory: matchmaking creates matches through Raft on the
// least-loaded live node, rooms checkpoint into Raft every
// -checkpoint-interval, and when a node dies its matches are restored from
// their checkpoints on the others, where players resume in their seats.
// With no flags the node is a one-node dev cluster on 127.0.0.1:7350 (Raft
// on 127.0.0.1:7351, data in ./ticksync-data) that bootstraps itself and lets
// guests in; -bootstrap forms a cluster and -join URL adds this node to one.
// Every node of a cluster needs the same -admin-token (node-to-node calls
// use it); resume tokens are signed with a key derived from -auth-secret,
// else from -admin-token, so they verify on every node. Without
// -admin-token a random one is used for the process (a one-node cluster
// only; the log says how to set one).
//
// main only wires: flags (and TICKSYNC_<NAME> variables) → config → node →
// start (listen, Raft, the ownership goroutine: Acquired → Manager.Adopt
// from the latest checkpoint, Released → Manager.Release with the new
// owner's URL; -join; admin API; players) → wait for SIGINT/SIGTERM →
// graceful shutdown (hand the matches to other nodes with a final
// checkpoint each, their players redirected; stop the rooms left with a
// final checkpoint; close sessions with 1001; stop Raft) → exit 0. A bad
// flag exits 2 with a message naming it; a failure to start, or a -join the
// cluster refuses, exits 1. A second signal during shutdown kills the
// process at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code. ctx ends on
// the first signal; stop restores the default signal handling.
func run(ctx context.Context, stop func(), args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "ticksync: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ticksync: %v\n", err)
		return 1
	}
	log := newLogger(cfg, stderr)
	if cfg.AdminToken == "" {
		cfg.AdminToken = randomToken()
		log.Warn().Msg("no -admin-token: using a random one for this process; the admin API (/admin/v1, /debug/pprof) and other nodes cannot use it. " +
			"Set -admin-token (or TICKSYNC_ADMIN_TOKEN), the same on every node, to run a cluster or call the admin API")
	}

	n, err := newNode(cfg, log)
	if err != nil {
		log.Error().Err(err).Msg("cannot create node")
		return 1
	}
	if err := n.start(); err != nil {
		log.Error().Err(err).Msg("cannot start node")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = n.shutdown(shutdownCtx)
		return 1
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-n.fatal:
		log.Error().Err(err).Msg("cannot go on; shutting down")
		code = 1
	}
	stop() // a second signal now kills the process
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.shutdown(shutdownCtx); err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		return 1
	}
	log.Info().Msg("stopped")
	return code
}

// newLogger builds the process logger: human-readable on the console by
// default, one JSON object a line with -log-format json.
func newLogger(cfg *nodeConfig, w io.Writer) zerolog.Logger {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	var out io.Writer = w
	if cfg.LogFormat == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000", NoColor: !isTerminal(w)}
	}
	return zerolog.New(out).Level(cfg.LogLevel).With().Timestamp().Str("node", cfg.NodeID).Logger()
}

// isTerminal reports whether w is a character device (colours only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
