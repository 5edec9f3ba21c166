// Command ticksync runs a ticksync node: the game's WebSocket endpoint
// (/ws), its rooms, the arena demo client (/), health, readiness and
// Prometheus metrics. With no flags it is a one-node dev node on
// 127.0.0.1:7350 that lets guests in.
//
// main only wires: flags (and TICKSYNC_<NAME> variables) → config → node →
// start → wait for SIGINT/SIGTERM → graceful shutdown (rooms stop, sessions
// close with 1001) → exit 0. A bad flag exits 2 with a message naming it;
// a failure to start exits 1. A second signal during shutdown kills the
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

	<-ctx.Done()
	stop() // a second signal now kills the process
	log.Info().Msg("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.shutdown(shutdownCtx); err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		return 1
	}
	log.Info().Msg("stopped")
	return 0
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
