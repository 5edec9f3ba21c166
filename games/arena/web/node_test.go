package web

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/games/arena"
)

// nodeEnv, set to 1, makes the test binary a ticksync node instead of a
// test run: the browser tests start real node processes (one, or a
// cluster of three they kill with SIGKILL) running the arena of
// games/arena and serving this package's Handler at "/", as cmd/ticksync
// does, without building another binary.
const nodeEnv = "TICKSYNC_WEB_TEST_NODE"

func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) == "1" {
		os.Exit(runNode(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runNode is the node of the browser tests: flags (those of cmd/ticksync)
// → Config → New → register the arena, mount Handler → Start → wait for
// SIGINT/SIGTERM → Shutdown. It returns the exit code.
func runNode(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := ticksync.DefaultConfig()
	fs := flag.NewFlagSet("test-node", flag.ContinueOnError)
	if err := cfg.ParseFlags(fs, args, func(string) string { return "" }); err != nil {
		fmt.Fprintf(os.Stderr, "test node: %v\n", err)
		return 2
	}
	log := cfg.NewLogger(os.Stderr)
	cfg.Logger = &log
	n, err := ticksync.New(cfg)
	if err == nil {
		err = arena.Register(n.Games())
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot create node")
		return 1
	}
	n.Handle("/", Handler())
	shutdown := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return n.Shutdown(sctx)
	}
	if err := n.Start(); err != nil {
		log.Error().Err(err).Msg("cannot start node")
		_ = shutdown()
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
	case err := <-n.Fatal():
		log.Error().Err(err).Msg("cannot go on")
		code = 1
	}
	if err := shutdown(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Err(err).Msg("shutdown incomplete")
		return 1
	}
	return code
}

// nodeBinary returns the program that runs a node (this test binary) and
// the environment to run it with.
func nodeBinary(t *testing.T) (string, []string) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin, append(os.Environ(), nodeEnv+"=1")
}
