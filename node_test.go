package ticksync

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
)

// testConfig is a one-node cluster on free loopback ports with its data in
// a temporary directory, logging JSON into logs.
func testConfig(t *testing.T, id string, logs io.Writer) Config {
	t.Helper()
	c := DefaultConfig()
	c.NodeID = id
	c.HTTPAddr = "127.0.0.1:0"
	c.RaftAddr = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.AdminToken = "node-test-admin-token"
	c.LogFormat = "json"
	log := c.NewLogger(logs)
	c.Logger = &log
	return c
}

// startArenaNode builds a node from c with the arena registered and
// starts it; the node shuts down when the test ends.
func startArenaNode(t *testing.T, c Config) *Node {
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
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return getAuth(t, url, "")
}

// getAuth is get with the admin token as a bearer ("" sends none).
func getAuth(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestNodeServesAndStops: a node embedded in this process with the arena
// and a handler of its own serves its endpoints and a real player, and
// Shutdown closes the player's session with 1001, idempotently.
func TestNodeServesAndStops(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	n, err := New(testConfig(t, "n1", logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	n.Handle("/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello from the game") }))
	if n.Addr() != nil || n.Advertise() != "" || n.APIURL() != "" || n.Ready() == nil {
		t.Fatalf("before Start: addr %v, advertise %q, api %q, ready %v", n.Addr(), n.Advertise(), n.APIURL(), n.Ready())
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = n.Shutdown(context.Background())
		}
	})
	testutil.CheckFor(t, 15*time.Second, n.Ready)
	addr := n.Addr().String()
	if n.NodeID() != "n1" || n.Advertise() != "ws://"+addr+"/ws" || n.APIURL() != "http://"+addr {
		t.Fatalf("id %q, advertise %q, api %q (listening on %s)", n.NodeID(), n.Advertise(), n.APIURL(), addr)
	}
	if err := n.Start(); err == nil {
		t.Fatal("a second Start succeeded")
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/hello":   "hello from the game",
	} {
		if code, body := get(t, "http://"+addr+path); code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d, body without %q", path, code, want)
		}
	}
	if code, _ := get(t, "http://"+addr+"/admin/v1/nodes"); code != http.StatusUnauthorized {
		t.Fatalf("admin API without the token: %d", code)
	}

	cfg := client.DefaultConfig()
	cfg.URLs = []string{n.Advertise()}
	cfg.Reconnect = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.NodeID != "n1" || w.PlayerID == 0 || w.TickRate != 30 {
		t.Fatalf("welcome %+v", w)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > 0 })

	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := n.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case <-c.Done():
		var ce *client.CloseError
		if err := c.Err(); !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("client ended with %v, want close 1001", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client not closed by Shutdown")
	}
	if err := n.Shutdown(sctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	for _, msg := range []string{`"message":"http listening"`, `"message":"node started"`, `"node":"n1"`, `"message":"match created"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("no %s in the log", msg)
		}
	}
}

// TestNodeDefaultGame: with no Config.DefaultGame, the only game
// registered is the default; none, or several, is an error at Start that
// says what to do, and Shutdown after it still works.
func TestNodeDefaultGame(t *testing.T) {
	factory := func(seed int64) game.Game { return arena.New(seed) }
	for _, tt := range []struct {
		games []string
		def   string
		want  string
	}{
		{nil, "", "no game registered"},
		{[]string{"a", "b"}, "", "games a, b registered: set Config.DefaultGame"},
		{[]string{"a"}, "b", "default game \"b\""},
	} {
		c := testConfig(t, "n1", io.Discard)
		c.DefaultGame = tt.def
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range tt.games {
			if err := n.Games().RegisterSpec(game.Spec{Name: g, New: factory, Schema: arena.BFBS()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Start(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("games %v, default %q: %v, want %q", tt.games, tt.def, err, tt.want)
		}
		if err := n.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown after a failed Start: %v", err)
		}
	}
}

// TestNodeJoinRefusedIsFatal: a node whose Join the cluster refuses for
// good (a wrong admin token) reports it on Fatal instead of waiting.
func TestNodeJoinRefusedIsFatal(t *testing.T) {
	start := func(c Config) *Node { return startArenaNode(t, c) }
	c1 := testConfig(t, "n1", io.Discard)
	c1.Bootstrap = true
	c1.InsecureCluster = true
	n1 := start(c1)
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	c2 := testConfig(t, "n2", io.Discard)
	c2.AdminToken = "not-the-cluster-token"
	c2.InsecureCluster = true
	c2.Join = n1.APIURL()
	n2 := start(c2)
	select {
	case err := <-n2.Fatal():
		if !strings.Contains(err.Error(), "-join "+n1.APIURL()) {
			t.Fatalf("fatal error %v does not name the join", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a node refused by the cluster reported nothing")
	}
	select {
	case err := <-n1.Fatal():
		t.Fatalf("the bootstrap node reported %v", err)
	default:
	}
}

// TestNodeAdminTokenFile: without an admin token the node generates one
// into <data dir>/admin-token (0600) at its first Start, logs the file's
// path and never the token, uses it for the admin endpoints, and reuses it
// when it starts again on the same data dir; a file that holds no token
// stops the start with an error that names it.
func TestNodeAdminTokenFile(t *testing.T) {
	dir := t.TempDir()
	var token string
	for i := range 2 {
		logs := &testutil.SyncBuffer{}
		c := testConfig(t, "n1", logs)
		c.AdminToken, c.DataDir = "", dir
		n, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := arena.Register(n.Games()); err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, adminTokenFile)
		if n.AdminTokenFile() != path {
			t.Fatalf("AdminTokenFile %q, want %q", n.AdminTokenFile(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", fi.Mode())
		}
		tok := strings.TrimSpace(string(b))
		if i == 0 {
			token = tok
		}
		if len(tok) != 32 || tok != token || n.cfg.AdminToken != token {
			t.Fatalf("start %d: token %q, file %q, first %q", i+1, n.cfg.AdminToken, tok, token)
		}
		want := map[int]string{0: "generated one into the data dir", 1: "using the one in the data dir"}[i]
		if log := logs.String(); !strings.Contains(log, want) || !strings.Contains(log, path) || strings.Contains(log, token) {
			t.Fatalf("start %d: log without %q and the path, or with the token: %s", i+1, want, log)
		}
		addr := "http://" + n.Addr().String()
		if code := getWith(t, addr+"/admin/v1/nodes", token); code != http.StatusOK {
			t.Fatalf("admin API with the file's token: %d", code)
		}
		if err := n.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, adminTokenFile), []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testConfig(t, "n1", io.Discard)
	c.AdminToken, c.DataDir = "", dir
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err == nil || !strings.Contains(err.Error(), adminTokenFile) {
		t.Fatalf("start with a bad token file: %v", err)
	}
	_ = n.Shutdown(context.Background())
}

// getWith GETs url with the bearer token and returns the status.
func getWith(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
