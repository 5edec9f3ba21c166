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
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// binary is the ticksync binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ticksync-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ticksync")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
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

// TestBinaryServesAndStops runs the node with no flags (the listen address
// comes from the environment, on a free port), plays a session against it,
// and stops it with SIGTERM: the session closes with 1001 and the process
// exits 0.
func TestBinaryServesAndStops(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TICKSYNC_HTTP_ADDR=127.0.0.1:0",
		"TICKSYNC_RAFT_ADDR=127.0.0.1:0",
		"TICKSYNC_LOG_FORMAT=json",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case lines <- m:
				default:
				}
			} else {
				t.Logf("non-json log line: %s", sc.Text())
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var addr string
	timeout := time.After(10 * time.Second)
	for addr == "" {
		select {
		case m := <-lines:
			if m["message"] == "http listening" {
				addr, _ = m["addr"].(string)
			}
		case err := <-exited:
			t.Fatalf("exited early: %v", err)
		case <-timeout:
			t.Fatal("no 'http listening' log line")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ticksync-data")); err != nil {
		t.Fatalf("data dir: %v", err)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": "ticksync_ws_sessions",
		"/":        "<html",
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

	// A real session: the arena seats the player and sends snapshots.
	cfg := client.DefaultConfig()
	cfg.URLs = []string{"ws://" + addr + "/ws"}
	cfg.Reconnect = false
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
	if err := c.SendInput(schema.Input{MoveX: 100}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); c.AckTick() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
		var ce *client.CloseError
		if err := c.Err(); !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("client ended with %v, want close 1001", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("client not closed")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}
