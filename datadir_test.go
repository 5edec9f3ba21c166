package ticksync

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
)

// TestNodeStartRefusesForeignDataDir: an embedder that starts a Node on a
// data dir written by another node id gets an error from Start (a
// replication.DataDirError of kind ErrDataDirForeign), not a node that
// waits for ever.
func TestNodeStartRefusesForeignDataDir(t *testing.T) {
	run := func(c Config) (*Node, error) {
		t.Helper()
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := arena.Register(n.Games()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = n.Shutdown(ctx)
		})
		return n, n.Start()
	}
	c1 := testConfig(t, "n1", io.Discard)
	n1, err := run(c1)
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	c2 := testConfig(t, "n2", io.Discard)
	c2.DataDir = c1.DataDir
	_, err = run(c2)
	var de *replication.DataDirError
	if !errors.As(err, &de) || !errors.Is(err, replication.ErrDataDirForeign) {
		t.Fatalf("Start: %v, want a DataDirError of kind ErrDataDirForeign", err)
	}
	if want := "data dir " + c1.DataDir + " belongs to node n1, not n2: use -node-id n1 or another -data-dir"; !strings.Contains(err.Error(), want) {
		t.Fatalf("Start: %v, want %q", err, want)
	}
}
