package gametesting

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
)

// ReadBFBS reads a compiled test schema of schema/gameschema/testdata
// ("cards.bfbs", "arena.bfbs"), wherever the test runs.
func ReadBFBS(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("gametesting: no source path")
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "schema", "gameschema", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// StartNode runs a real one-node cluster in this process, as the ticksync
// command does, with the arena and the card table registered, on free
// loopback ports, and returns its game URL once it takes players. The
// node shuts down when the test ends.
func StartNode(t testing.TB) string {
	t.Helper()
	cfg := ticksync.DefaultConfig()
	cfg.NodeID = "n1"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminToken = "gametesting-admin-token"
	cfg.DefaultGame = "arena"
	log := zerolog.Nop()
	cfg.Logger = &log
	n, err := ticksync.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	spec, err := Spec(ReadBFBS(t, "cards.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Games().RegisterSpec(spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("node shutdown: %v", err)
		}
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 15*time.Second, n.Ready)
	return n.Advertise()
}
