package web

import (
	"os"
	"os/exec"
	"testing"
)

// missingTool ends a test that needs a tool from outside Go (node with this
// folder's node_modules, chromium): on CI (TICKSYNC_REQUIRE_BROWSER=1) it
// fails the test, on a developer machine it skips it.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("TICKSYNC_REQUIRE_BROWSER") == "1" {
		t.Fatalf("TICKSYNC_REQUIRE_BROWSER=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// nodeToolchain returns the node binary, or skips or fails the test when
// node or this folder's node_modules (npm ci) is missing.
func nodeToolchain(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingTool(t, "node not found: %v", err)
	}
	if _, err := os.Stat("node_modules/esbuild/package.json"); err != nil {
		missingTool(t, "node_modules missing: run `go generate ./games/arena/web` (npm ci) first")
	}
	return node
}
