package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
)

// binary is the ticksync binary built once for the process tests.
var binary string

// raceBuild: the tests run under -race (race_test.go), so the binary is
// built with it and a "DATA RACE" report in a node's output fails the test.
var raceBuild bool

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ticksync-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ticksync")
	args := []string{"build", "-o", binary}
	if raceBuild {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build ticksync: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestBinaryBadFlag(t *testing.T) {
	for _, args := range [][]string{{"-tick-rate", "500"}, {"-tick-rate", "abc"}, {"-log-format", "xml"}} {
		cmd := exec.Command(binary, args...)
		cmd.Dir = t.TempDir()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v: %v, want exit status 2", args, err)
		}
		if !strings.Contains(stderr.String(), args[0]) {
			t.Fatalf("%v: stderr %q does not name the flag", args, stderr.String())
		}
	}
}

// proc is a ticksync process under test.
type proc struct {
	cmd    *exec.Cmd
	dir    string
	addr   string
	exited chan error

	mu   sync.Mutex
	text []string         // every line of its output
	logs []map[string]any // its JSON log lines so far
	dups []string         // lines that repeat a key
}

// output returns the lines the process has written so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.text...)
}

// lines returns the log lines so far whose field key has the value val
// ("" val: every line that has key; "" key: every line).
func (p *proc) lines(key, val string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []map[string]any
	for _, m := range p.logs {
		if v, ok := m[key].(string); key == "" || ok && (val == "" || v == val) {
			out = append(out, m)
		}
	}
	return out
}

// startBinary runs ticksync with no flags in a fresh directory, its
// configuration from TICKSYNC_ variables (a free port, JSON logs, plus
// extraEnv), waits for its "http listening" line, then until /readyz says
// ready (the one-node dev cluster has elected itself and holds its lease).
func startBinary(t *testing.T, extraEnv ...string) *proc {
	t.Helper()
	p := startProc(t, nil, append([]string{
		"TICKSYNC_HTTP_ADDR=127.0.0.1:0",
		"TICKSYNC_RAFT_ADDR=127.0.0.1:0",
	}, extraEnv...)...)
	p.waitReady(t, 10*time.Second)
	return p
}

// startProc runs ticksync with args in a fresh directory (JSON logs, plus
// env) and waits for its "http listening" line. Every log line must be
// JSON without a repeated key.
func startProc(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	return startProcIn(t, t.TempDir(), args, env...)
}

// startProcIn is startProc in directory dir (a restart keeps its data).
func startProcIn(t *testing.T, dir string, args []string, env ...string) *proc {
	t.Helper()
	p := &proc{dir: dir, exited: make(chan error, 1)}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Dir = p.dir
	p.cmd.Env = append(append(os.Environ(), "TICKSYNC_LOG_FORMAT=json"), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	var races atomic.Int32
	t.Cleanup(func() {
		if n := races.Load(); n > 0 {
			t.Errorf("the node reported %d data races", n)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, d := range p.dups {
			t.Errorf("log line %s", d)
		}
	})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.text = append(p.text, sc.Text())
			p.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				if strings.Contains(sc.Text(), "DATA RACE") {
					races.Add(1)
				}
				t.Logf("non-json log line: %s", sc.Text())
				continue
			}
			dups, err := testutil.DuplicateKeys(sc.Bytes())
			p.mu.Lock()
			p.logs = append(p.logs, m)
			if err != nil || len(dups) > 0 {
				p.dups = append(p.dups, fmt.Sprintf("repeats %v (%v): %s", dups, err, sc.Text()))
			}
			p.mu.Unlock()
			if a, ok := m["addr"].(string); ok && m["message"] == "http listening" {
				addrs <- a
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	select {
	case p.addr = <-addrs:
	case err := <-p.exited:
		t.Fatalf("exited early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no 'http listening' log line")
	}
	return p
}

// waitReady polls GET /readyz until it answers 200.
func (p *proc) waitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	testutil.CheckTrue(t, timeout, func() bool {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop sends SIGTERM and checks the exit status is 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestBinaryServesAndStops runs the node with no flags (the listen address
// comes from the environment, on a free port), plays a session against it,
// and stops it with SIGTERM: the session closes with 1001 and the process
// exits 0.
func TestBinaryServesAndStops(t *testing.T) {
	p := startBinary(t)
	dir, addr := p.dir, p.addr
	if _, err := os.Stat(filepath.Join(dir, "ticksync-data")); err != nil {
		t.Fatalf("data dir: %v", err)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/":        "<html",
		// The arena is registered with its schema, which the page loads.
		"/games":              `{"name":"arena","schema_hash":"` + arena.Schema().HashString() + `"}`,
		"/games/arena/schema": "arena.input",
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(string(b)), want) {
			t.Fatalf("GET %s: %d, body without %q", path, resp.StatusCode, want)
		}
	}

	// A real session: the arena seats the player and sends snapshots,
	// which the client applies by the arena's schema (fetched from the
	// node): the player's avatar moves the way its input asks.
	av := &avatarWatch{}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{"ws://" + addr + "/ws"}
	cfg.Reconnect = false
	cfg.Handler = av
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.PlayerID == 0 || w.EntityID == 0 || w.TickRate != 30 {
		t.Fatalf("welcome %+v", w)
	}
	if w := c.Welcome(); w.Game != arena.Name || w.SchemaHash != arena.Schema().HashString() {
		t.Fatalf("welcome names game %q schema %q, want the arena's", w.Game, w.SchemaHash)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, ok := av.x(); return ok })
	x0, _ := av.x()
	move := int8(arena.AxisMax) // towards the farther wall
	if x0 > arena.MaxPos/2 {
		move = -move
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if err := c.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: move})}); err != nil {
			return err
		}
		if x, _ := av.x(); (x-x0)*int32(move) <= 0 {
			return fmt.Errorf("avatar at x=%d, was %d: it does not move by its input (move_x %d)", x, x0, move)
		}
		return nil
	})

	done := make(chan struct{})
	go func() {
		defer close(done)
		p.stop(t)
	}()
	select {
	case <-c.Done():
		var ce *client.CloseError
		if err := c.Err(); !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("client ended with %v, want close 1001", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client not closed")
	}
	<-done
}

// avatarWatch keeps the x of the player's own avatar, as the client's
// world holds it (client goroutine → test goroutine).
type avatarWatch struct {
	client.NopHandler
	mu   sync.Mutex
	ents []arena.Entity
	ax   int32
	seen bool
}

func (a *avatarWatch) OnSnapshot(c *client.Client, _ *schema.Snapshot, w *client.World) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ents = arena.AppendEntities(a.ents[:0], w)
	for _, e := range a.ents {
		if e.ID == c.Welcome().EntityID && e.Kind == arena.KindAvatar && e.Owner == c.Welcome().PlayerID {
			a.ax, a.seen = e.X, true
		}
	}
}

func (a *avatarWatch) x() (int32, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ax, a.seen
}

// TestBinaryAuth: with an auth secret, a forged token is refused with
// Error{unauthorized} and 4002, and a token minted with the secret seats
// its player.
func TestBinaryAuth(t *testing.T) {
	const secret = "a-secret-of-32-bytes-for-tests!!"
	p := startBinary(t, "TICKSYNC_AUTH_SECRET="+secret)
	dial := func(tok string) (*client.Client, error) {
		cfg := client.DefaultConfig()
		cfg.URLs = []string{"ws://" + p.addr + "/ws"}
		cfg.Reconnect = false
		cfg.Token = tok
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		return client.Dial(ctx, cfg)
	}
	for _, tok := range []string{"", "forged.token.value"} {
		_, err := dial(tok)
		var se *client.ServerError
		if !errors.As(err, &se) || se.Code != schema.ErrCodeUnauthorized {
			t.Fatalf("token %q: %v, want unauthorized", tok, err)
		}
	}
	tok, err := token.MintPlayer([]byte(secret), 4242, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Error unavailable asks the client to retry (the one-node cluster's
	// lease can lapse for a moment on a starved machine); a real client
	// does, with backoff.
	var c *client.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		var se *client.ServerError
		c, err = dial(tok)
		if errors.As(err, &se) && se.Code == schema.ErrCodeUnavailable && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if id := c.Welcome().PlayerID; id != 4242 {
		t.Fatalf("player id %d, want 4242", id)
	}
	_ = c.Close()
	p.stop(t)
}
