package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/examples/cards/cards"
)

// TestServer runs the server as main wires it (the game registered with
// its schema, the page at "/") on a one-node cluster on loopback: the node
// lists the game with its schema's hash, seats four players per match,
// serves its .bfbs, and serves the page with its script and the client
// bundle.
func TestServer(t *testing.T) {
	n := startServer(t)
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get("http://" + n.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return b
	}
	var games []struct {
		Name       string `json:"name"`
		SchemaHash string `json:"schema_hash"`
	}
	if err := json.Unmarshal(get("/games"), &games); err != nil || len(games) != 1 ||
		games[0].Name != cards.Name || games[0].SchemaHash != cards.Schema().HashString() {
		t.Fatalf("GET /games: %+v %v; want cards %s", games, err, cards.Schema().HashString())
	}
	if s := n.Games().Seats(cards.Name); s != cards.MaxPlayers {
		t.Errorf("cards registered with %d seats per match, want %d", s, cards.MaxPlayers)
	}
	if !bytes.Equal(get("/games/cards/schema"), cards.BFBS()) {
		t.Error("GET /games/cards/schema is not cards.bfbs")
	}
	for path, want := range map[string]string{
		"/":                   `src="cards.js"`,
		"/cards.js":           `import("./ticksync-client.js")`,
		"/ticksync-client.js": "joinOrCreate",
	} {
		if b := get(path); !strings.Contains(string(b), want) {
			t.Errorf("GET %s: no %q", path, want)
		}
	}
}

// startServer starts the server as main wires it, on free loopback ports
// with its data in a temporary directory; it stops when the test ends.
func startServer(t *testing.T) *ticksync.Node {
	t.Helper()
	cfg := ticksync.DefaultConfig()
	cfg.HTTPAddr, cfg.RaftAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.AdminToken = "cards-test-admin-token"
	log := cfg.NewLogger(io.Discard)
	cfg.Logger = &log
	n, err := ticksync.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Games().RegisterSpec(spec); err != nil {
		t.Fatal(err)
	}
	n.Handle("/", page())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}
