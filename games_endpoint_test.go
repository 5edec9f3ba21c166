package ticksync

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
)

// TestNodeGamesEndpoints: GET /games lists the registered games with their
// schema hashes; GET /games/{name}/schema serves a game's .bfbs with its
// hash as the ETag, and 404 for an unknown game. The arena is a game like
// any other: it is listed with its schema's hash and serves arena.BFBS().
func TestNodeGamesEndpoints(t *testing.T) {
	cfg := testConfig(t, "n1", io.Discard)
	cfg.DefaultGame = "arena"
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	bfbs, err := os.ReadFile(filepath.Join("schema", "gameschema", "testdata", "cards.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	// The factory is never called: no cards match starts in this test.
	cards := game.Spec{Name: "cards", New: func(int64) game.Game { return nil }, Schema: bfbs}
	if err := n.Games().RegisterSpec(cards); err != nil {
		t.Fatal(err)
	}
	hash := n.Games().Schema("cards").Hash()
	arenaHash := n.Games().Schema("arena").Hash()
	if arenaHash != arena.Schema().HashString() || len(arenaHash) != 64 {
		t.Fatalf("the arena's schema hash %q, want %q", arenaHash, arena.Schema().HashString())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + n.Addr().String()
	do := func(method, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := do(http.MethodGet, "/games")
	var list []gameView
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &list) != nil {
		t.Fatalf("GET /games: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	want := []gameView{{Name: "arena", SchemaHash: arenaHash}, {Name: "cards", SchemaHash: hash}}
	if len(list) != 2 || list[0] != want[0] || list[1] != want[1] {
		t.Errorf("GET /games = %+v, want %+v", list, want)
	}
	if !strings.Contains(string(body), `{"name":"arena","schema_hash":"`+arenaHash+`"}`) {
		t.Errorf("GET /games must list the arena with its schema hash: %s", body)
	}

	resp, body = do(http.MethodGet, "/games/cards/schema")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("ETag") != `"`+hash+`"` || !bytes.Equal(body, bfbs) {
		t.Fatalf("GET /games/cards/schema: %d %q ETag %q, %d bytes (want %d)", resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("ETag"), len(body), len(bfbs))
	}
	if resp, _ := do(http.MethodGet, "/games/cards/schema", "If-None-Match", `"`+hash+`"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the hash: %d, want 304", resp.StatusCode)
	}
	resp, body = do(http.MethodGet, "/games/arena/schema")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("ETag") != `"`+arenaHash+`"` || !bytes.Equal(body, arena.BFBS()) {
		t.Fatalf("GET /games/arena/schema: %d %q ETag %q, %d bytes (want %d)", resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("ETag"), len(body), len(arena.BFBS()))
	}
	if resp, body := do(http.MethodGet, "/games/chess/schema"); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `unknown game "chess"`) {
		t.Errorf("an unknown game: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(http.MethodPost, "/games"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /games: %d, want 405", resp.StatusCode)
	}
}
