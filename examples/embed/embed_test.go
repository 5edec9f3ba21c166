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
	"syscall"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/examples/embed/dotsfb"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema"
)

// exe is this example, built once for the tests.
var exe string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ticksync-embed")
	if err != nil {
		panic(err)
	}
	exe = filepath.Join(dir, "embed")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the example: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const adminToken = "embed-test-admin-token"

// proc is one process of the example under test.
type proc struct {
	id     string
	cmd    *exec.Cmd
	addr   string // HTTP address, from its "http listening" log line
	exited chan error
}

// start runs the example as node id on free loopback ports with its data
// in a temporary directory and JSON logs, plus args, and waits for its
// "http listening" line.
func start(t *testing.T, id string, args ...string) *proc {
	t.Helper()
	p := &proc{id: id, exited: make(chan error, 1)}
	args = append([]string{"-node-id", id, "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0",
		"-data-dir", t.TempDir(), "-admin-token", adminToken}, args...)
	p.cmd = exec.Command(exe, args...)
	p.cmd.Env = append(os.Environ(), "TICKSYNC_LOG_FORMAT=json")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Message == "http listening" {
				addrs <- m.Addr
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	select {
	case p.addr = <-addrs:
	case err := <-p.exited:
		t.Fatalf("%s exited early: %v", id, err)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: no 'http listening' log line", id)
	}
	return p
}

func (p *proc) url() string { return "ws://" + p.addr + "/ws" }

// waitReady polls GET /readyz until it answers 200 (the node holds its
// cluster lease).
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	testutil.CheckTrue(t, 20*time.Second, func() bool {
		resp, err := http.Get("http://" + p.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// admin GETs an admin API path of p into out.
func (p *proc) admin(path string, out any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// watcher records, per node, the match clock and the player's own dot as
// the player sees them (client goroutine → test goroutine).
type watcher struct {
	client.NopHandler
	mu      sync.Mutex
	first   map[string]int32 // node → first clock seen from it
	last    map[string]int32 // node → newest clock seen from it
	dotX    int32
	resumed chan struct{}
}

func newWatcher() *watcher {
	return &watcher{first: map[string]int32{}, last: map[string]int32{}, resumed: make(chan struct{}, 1)}
}

// OnSnapshot reads the clock and the player's dot from the world the client
// rebuilt from the snapshots by dots.fbs (kinds and fields as dots.go
// resolved them).
func (w *watcher) OnSnapshot(c *client.Client, _ *schema.Snapshot, world *client.World) {
	node := c.Welcome().NodeID
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := world.Find(ClockID); i >= 0 {
		clock := int32(world.Int(i, dotsLayout.clockTicks))
		if _, seen := w.first[node]; !seen {
			w.first[node] = clock
		}
		w.last[node] = max(w.last[node], clock)
	}
	if i := world.Find(c.Welcome().EntityID); i >= 0 {
		w.dotX = int32(world.Int(i, dotsLayout.dotX))
	}
}

func (w *watcher) OnResumed(*client.Client, time.Duration) {
	select {
	case w.resumed <- struct{}{}:
	default:
	}
}

// clock returns the first and newest clock seen from node.
func (w *watcher) clock(node string) (first, last int32, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	first, ok = w.first[node]
	return first, w.last[node], ok
}

func (w *watcher) dot() int32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dotX
}

// input is a dots input buffer (the schema's Input table), what
// schema.Input.Data carries.
func input(moveX, moveY int8) []byte {
	b := flatbuffers.NewBuilder(32)
	dotsfb.InputStart(b)
	dotsfb.InputAddMoveX(b, moveX)
	dotsfb.InputAddMoveY(b, moveY)
	b.Finish(dotsfb.InputEnd(b))
	return b.FinishedBytes()
}

func dial(t *testing.T, w *watcher, urls ...string) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.URLs = urls
	cfg.Handler = w
	cfg.Schema = dotsSchema
	codec, err := client.GameCodec(dotsSchema)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Codec = codec
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Error unavailable asks the client to retry (a one-node cluster's
	// lease can lapse for a moment on a starved machine); a real client
	// does, with backoff.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := client.Dial(ctx, cfg)
		var se *client.ServerError
		if errors.As(err, &se) && se.Code == schema.ErrCodeUnavailable && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
}

// TestOneNode: the example alone serves its page, seats a player in its
// toy game (the default: the only game registered), moves the player's dot
// the way its inputs ask, and exits 0 on SIGTERM.
func TestOneNode(t *testing.T) {
	p := start(t, "solo")
	p.waitReady(t)
	resp, err := http.Get("http://" + p.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "dots: a toy game on ticksync") {
		t.Fatalf("GET /: %q", body)
	}

	w := newWatcher()
	c := dial(t, w, p.url())
	if wel := c.Welcome(); wel.NodeID != "solo" || wel.EntityID <= ClockID || wel.MatchID == "" {
		t.Fatalf("welcome %+v", wel)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return w.dot() == Size/2 })
	testutil.CheckFor(t, 10*time.Second, func() error {
		if err := c.SendInput(schema.Input{TargetTick: c.AckTick() + 1, Data: input(100, 0)}); err != nil {
			return err
		}
		if x := w.dot(); x < Size/2+50 {
			return fmt.Errorf("dot at x=%d", x)
		}
		return nil
	})
	if _, last, _ := w.clock("solo"); last == 0 {
		t.Fatal("the match clock does not run")
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestClusterFailover: three processes of the example form a cluster
// (-bootstrap, then two -join). A player's toy match runs on one of them;
// kill -9 of that owner moves the match to another node, restored from its
// checkpoint (its clock goes on from where the checkpoint left it, not
// from 0), and the player resumes there in its seat.
func TestClusterFailover(t *testing.T) {
	// A trusted loopback network: no cluster certificates (the ticksync
	// command's tests run clusters with them).
	n1 := start(t, "n1", "-bootstrap", "-insecure-cluster")
	procs := []*proc{n1, start(t, "n2", "-insecure-cluster", "-join", "http://"+n1.addr),
		start(t, "n3", "-insecure-cluster", "-join", "http://"+n1.addr)}
	for _, p := range procs {
		p.waitReady(t)
	}
	testutil.CheckFor(t, 15*time.Second, func() error {
		var nodes []admin.Node
		if err := n1.admin("/admin/v1/nodes", &nodes); err != nil {
			return err
		}
		alive := 0
		for _, nd := range nodes {
			if nd.State == replication.NodeAlive {
				alive++
			}
		}
		if alive != 3 {
			return fmt.Errorf("%d of %d nodes alive", alive, len(nodes))
		}
		return nil
	})

	w := newWatcher()
	c := dial(t, w, procs[1].url(), procs[2].url(), procs[0].url())
	before := c.Welcome()
	var owner *proc
	for _, p := range procs {
		if p.id == before.NodeID {
			owner = p
		}
	}
	if owner == nil {
		t.Fatalf("welcome from unknown node %q", before.NodeID)
	}
	// Let the match run past a few checkpoints (every 500 ms).
	testutil.CheckTrue(t, 10*time.Second, func() bool { _, last, _ := w.clock(owner.id); return last > 60 })

	killed := time.Now()
	if err := owner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.resumed:
	case <-time.After(20 * time.Second):
		t.Fatalf("no resume within 20 s of the kill (stats %+v)", c.Stats())
	}
	after := c.Welcome()
	if after.NodeID == owner.id || after.MatchID != before.MatchID || after.PlayerID != before.PlayerID || after.EntityID != before.EntityID {
		t.Fatalf("after the kill: %+v, was %+v", after, before)
	}
	_, oldLast, _ := w.clock(owner.id)
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, _, ok := w.clock(after.NodeID); return ok })
	newFirst, _, _ := w.clock(after.NodeID)
	// Restored, not started afresh: at most about two checkpoint intervals
	// (15 ticks each) of game time lost.
	if newFirst <= 0 || newFirst < oldLast-2*15-5 {
		t.Fatalf("the match clock was %d on %s and is %d on %s: not restored from a checkpoint", oldLast, owner.id, newFirst, after.NodeID)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, last, _ := w.clock(after.NodeID); return last > newFirst+10 })
	t.Logf("match %s: %s (clock %d) killed, running on %s from clock %d; player back after %v",
		before.MatchID, owner.id, oldLast, after.NodeID, newFirst, time.Since(killed).Round(time.Millisecond))
}
