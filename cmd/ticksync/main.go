// Command ticksync runs a ticksync node with the arena demo: the node of
// package ticksync (the root of this module), its flags (each also a
// TICKSYNC_<NAME> environment variable; a flag wins), the arena
// (games/arena, a game like any other, with its own schema) registered as
// the default game and its browser client served at "/".
//
// main only wires: flags → Config → New → register the arena and mount the
// demo page → Start → wait for SIGINT/SIGTERM or a fatal error → Shutdown
// (hand the matches to other nodes, stop the rooms left with a final
// checkpoint each, close sessions with 1001, stop Raft) → exit 0. A bad
// flag exits 2 with a message naming it (so does a -join without cluster
// certificates nor -insecure-cluster); a failure to start (a data dir of a
// cluster of several nodes without them, say), or a -join the cluster
// refuses, exits 1. A second signal during shutdown kills the process at
// once.
//
// `ticksync certs -out DIR -nodes n1,n2,n3` writes a dev set of cluster
// certificates (tools/certs) for -cluster-ca, -cluster-cert and
// -cluster-key.
//
// Two more forms: "ticksync -version" prints the version and exits 0, and
// "ticksync healthcheck [-url URL]" exits 0 when the node answers ready
// (internal/healthcheck), for container health checks.
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

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/games/arena/web"
	"github.com/ticksync/ticksync/internal/buildinfo"
	"github.com/ticksync/ticksync/internal/healthcheck"
)

// shutdownTimeout bounds the graceful shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(runCerts(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code. ctx ends on
// the first signal; stop restores the default signal handling.
func run(ctx context.Context, stop func(), args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck.Main(args[1:], getenv, stdout, stderr)
	}
	cfg := ticksync.DefaultConfig()
	fs := flag.NewFlagSet("ticksync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: ticksync [flags]\n       ticksync certs -out DIR -nodes n1,n2,n3 (cluster certificates; ticksync certs -h)\n       ticksync healthcheck [-url URL]\n\n"+
			"Runs a ticksync node. Each flag is also an environment variable TICKSYNC_<NAME>\n(e.g. TICKSYNC_HTTP_ADDR); a flag wins over its variable.\n\n")
		fs.PrintDefaults()
	}
	// -version is a flag of the command line only: no TICKSYNC_VERSION.
	version := fs.Bool("version", false, "print the version and exit")
	err := cfg.ParseFlags(fs, args, func(name string) string {
		if name == ticksync.EnvName("version") {
			return ""
		}
		return getenv(name)
	})
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("ticksync"))
		return 0
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ticksync: %v\n", err)
		return 2
	}
	log := cfg.NewLogger(stderr)
	cfg.Logger = &log

	n, err := ticksync.New(cfg)
	if err == nil {
		err = arena.Register(n.Games())
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot create node")
		return 1
	}
	n.Handle("/", web.Handler())
	if err := n.Start(); err != nil {
		log.Error().Err(err).Msg("cannot start node")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = n.Shutdown(shutdownCtx)
		return 1
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Info().Msg("shutting down")
	case err := <-n.Fatal():
		log.Error().Err(err).Msg("cannot go on; shutting down")
		code = 1
	}
	stop() // a second signal now kills the process
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.Shutdown(shutdownCtx); err != nil {
		log.Error().Err(err).Msg("shutdown incomplete")
		return 1
	}
	log.Info().Msg("stopped")
	return code
}
