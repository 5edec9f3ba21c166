package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
)

// stackTrace matches the goroutine headers of a Go crash dump.
var stackTrace = regexp.MustCompile(`(?m)^goroutine \d+ .*\[`)

// runToExit runs ticksync in dir (JSON logs, free ports, plus env) and waits
// for it to exit. It returns the exit code and the "error" of its "cannot
// start node" log line; any panic or runtime fault in its output fails t.
func runToExit(t *testing.T, dir string, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "TICKSYNC_LOG_FORMAT=json", "TICKSYNC_HTTP_ADDR=127.0.0.1:0", "TICKSYNC_RAFT_ADDR=127.0.0.1:0"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running after 30s; output:\n%s", stderr.String())
	}
	out := stderr.String()
	if strings.Contains(out, "panic:") || strings.Contains(out, "fatal error:") || stackTrace.MatchString(out) {
		t.Fatalf("the node crashed:\n%s", out)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "cannot start node" {
			msg, _ := m["error"].(string)
			return code, msg
		}
	}
	return code, ""
}

// damageLivePages overwrites four 8 KiB chunks of the bbolt file with bytes
// from a seeded RNG: the chunk holding the root bucket's page (so that the
// damage reaches pages in use) and three random ones past the meta pages.
func damageLivePages(t *testing.T, path string, seed uint64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	_ = db.View(func(tx *bbolt.Tx) error {
		root = uint64(tx.Cursor().Bucket().Root()) // the root bucket's page
		return nil
	})
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 8 << 10
	rng := rand.New(rand.NewPCG(seed, 0))
	offs := []int{int(root) * os.Getpagesize() / chunk * chunk}
	for range 3 {
		offs = append(offs, (1+rng.IntN(len(b)/chunk-1))*chunk)
	}
	for _, off := range offs {
		for i := off; i < off+chunk && i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBinaryRefusesDamagedDataDir runs a dev node, stops it, and starts the
// binary again on copies of its data dir: with damaged pages in raft.db,
// with raft.db emptied, and under another -node-id. Each time the process
// exits with status 1 (no panic, no hang, no fresh start) and its error
// names the file, the problem and what to do.
func TestBinaryRefusesDamagedDataDir(t *testing.T) {
	const id = "n1"
	p := startBinary(t, "TICKSYNC_NODE_ID="+id)
	p.stop(t)
	t.Run("node.json", func(t *testing.T) {
		var meta struct {
			Format      int    `json:"format"`
			NodeID      string `json:"node_id"`
			Initialized bool   `json:"initialized"`
		}
		b, err := os.ReadFile(filepath.Join(p.dir, "ticksync-data", "node.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &meta); err != nil || meta.Format != 1 || meta.NodeID != id || !meta.Initialized {
			t.Fatalf("node.json %s: %v", b, err)
		}
	})
	fix := "restore the data dir from a backup, or remove node " + id + " from the cluster (remove-node " + id + ") and start it again with an empty data dir and -join"
	db := filepath.Join("ticksync-data", "raft", "raft.db")

	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		env    []string
		want   []string
	}{
		{"damaged pages", func(t *testing.T, dir string) { damageLivePages(t, filepath.Join(dir, db), 1) }, nil,
			[]string{"raft log " + db + " is damaged (page ", fix}},
		{"emptied raft.db", func(t *testing.T, dir string) { _ = os.Truncate(filepath.Join(dir, db), 0) }, nil,
			[]string{"raft log " + db + " is empty, but node " + id + " has been part of a cluster (node.json records it): its term, its vote and its log are lost, and starting afresh could vote twice in one term: " + fix}},
		{"another node id", nil, []string{"TICKSYNC_NODE_ID=someone-else"},
			[]string{"data dir ./ticksync-data belongs to node " + id + ", not someone-else: use -node-id " + id + " or another -data-dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "ticksync-data"), os.DirFS(filepath.Join(p.dir, "ticksync-data"))); err != nil {
				t.Fatal(err)
			}
			if tt.damage != nil {
				tt.damage(t, dir)
			}
			code, msg := runToExit(t, dir, append([]string{"TICKSYNC_NODE_ID=" + id}, tt.env...)...)
			if code != 1 {
				t.Fatalf("exit status %d, want 1 (error %q)", code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("error:\n%s\nwant it to contain:\n%s", msg, w)
				}
			}
			t.Logf("exit 1: %s", msg)
		})
	}
}

// TestBinaryRestartsAfterKill: the checks never refuse a data dir that a
// crash left behind. A node with a player (a room checkpointed every 20 ms,
// plus the leader's lease entries) is killed with SIGKILL at a random moment
// and started again on the same data dir, five times; every start must come
// up ready.
func TestBinaryRestartsAfterKill(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 0))
	for round := range 5 {
		cmd := exec.Command(binary)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TICKSYNC_LOG_FORMAT=json", "TICKSYNC_HTTP_ADDR=127.0.0.1:0",
			"TICKSYNC_RAFT_ADDR=127.0.0.1:0", "TICKSYNC_NODE_ID=n1", "TICKSYNC_CHECKPOINT_INTERVAL=20ms")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		addrs, exited := make(chan string, 1), make(chan error, 1)
		var tail []string // the last log lines, for a failure message
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				tail = append(tail[max(0, len(tail)-20):], sc.Text())
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "http listening" {
					addrs <- m["addr"].(string)
				}
			}
			exited <- cmd.Wait()
		}()
		var addr string
		select {
		case addr = <-addrs:
		case err := <-exited:
			t.Fatalf("round %d: exited at start (%v):\n%s", round, err, strings.Join(tail, "\n"))
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: no 'http listening' line", round)
		}
		testutil.CheckTrue(t, 15*time.Second, func() bool {
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		cfg := client.DefaultConfig()
		cfg.URLs = []string{"ws://" + addr + "/ws"}
		cfg.Reconnect = false
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := client.Dial(ctx, cfg)
		cancel()
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: %v", round, err)
		}
		// Kill it somewhere in the stream of checkpoint writes.
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		c.Close()
	}
}
