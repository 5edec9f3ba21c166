package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ticksync/ticksync/games/arena"
)

// TestTypeScript runs the page's node:test suite (test/*.test.ts, bundled
// by build.mjs into a temporary folder): entities read by kind and field
// name from a generic world of the arena's schema, inputs built by
// @ticksync/client from the Input table's values. The schema is the one
// the game registers (arena.BFBS()), written to a temporary file.
func TestTypeScript(t *testing.T) {
	node := nodeToolchain(t)
	out := t.TempDir()
	run(t, node, "build.mjs", "--test", "--outdir", out)
	bfbs := filepath.Join(t.TempDir(), "arena.bfbs")
	if err := os.WriteFile(bfbs, arena.BFBS(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=spec", out)
	cmd.Env = append(os.Environ(), "TICKSYNC_ARENA_BFBS="+bfbs)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, b)
	}
	t.Logf("node --test:\n%s", b)
}

// TestBundleFresh builds the page into a temporary file and compares it
// with the committed static/app.js: the bundle includes @ticksync/client
// from clients/ts/src, so a change there (or in src/) that was not rebuilt
// with `go generate ./games/arena/web` fails here.
func TestBundleFresh(t *testing.T) {
	node := nodeToolchain(t)
	out := filepath.Join(t.TempDir(), "app.js")
	run(t, node, "build.mjs", "--outfile", out)
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatalf("static/app.js (%d bytes) differs from a fresh build (%d bytes): run go generate ./games/arena/web and commit it",
			len(committed), len(fresh))
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
}
