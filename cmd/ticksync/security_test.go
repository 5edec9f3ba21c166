package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/admin"
)

// TestCertsCommand: `ticksync certs` writes a CA and one certificate and
// key per node (keys 0600), says what it wrote, reuses the CA for a later
// node, refuses to overwrite without -overwrite (exit 1), and exits 2 on a
// usage error.
func TestCertsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	run := func(args ...string) (int, string) {
		t.Helper()
		out, err := exec.Command(binary, append([]string{"certs"}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &ee):
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
		return 0, ""
	}
	code, out := run("-out", dir, "-nodes", "n1,n2", "-hosts", "n1.example.com,10.0.0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"wrote the CA " + filepath.Join(dir, "ca.crt"), "wrote node n1: " + filepath.Join(dir, "n1.crt"),
		"wrote node n2: ", "-cluster-ca " + filepath.Join(dir, "ca.crt")} {
		if !strings.Contains(out, want) {
			t.Fatalf("output %q without %q", out, want)
		}
	}
	for _, f := range []string{"ca.key", "n1.key", "n2.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	if code, out := run("-out", dir, "-nodes", "n3"); code != 0 || !strings.Contains(out, "reused the CA") {
		t.Fatalf("a later node: exit %d: %s", code, out)
	}
	if code, out := run("-out", dir, "-nodes", "n1"); code != 1 || !strings.Contains(out, "n1.crt exists") {
		t.Fatalf("existing node without -overwrite: exit %d: %s", code, out)
	}
	if code, out := run("-out", dir, "-nodes", "n1", "-overwrite"); code != 0 || !strings.Contains(out, "wrote the CA") {
		t.Fatalf("-overwrite: exit %d: %s", code, out)
	}
	for _, args := range [][]string{{"-out", dir}, {"-out", dir, "-nodes", "a/b"}, {"-nodes", "n1", "stray"}, {"-no-such-flag"}} {
		if code, out := run(args...); code != 2 {
			t.Fatalf("%v: exit %d, want 2: %s", args, code, out)
		}
	}
}

// TestStartupRule: a node joining a cluster without cluster certificates
// refuses to start (exit 2) and says why and what to do; with
// -insecure-cluster it starts. A bootstrapped node without certificates nor
// -insecure-cluster adds no voter (the joining node exits 1); with
// -insecure-cluster on both they form a cluster, and a restart of a member
// without the flag is refused (exit 1). A one-node dev cluster needs
// nothing and logs nothing about cluster security.
func TestStartupRule(t *testing.T) {
	t.Run("join without certificates", func(t *testing.T) {
		cmd := exec.Command(binary, "-node-id", "n2", "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0",
			"-admin-token", testAdminToken, "-join", "http://127.0.0.1:1")
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("exit %v, want 2: %s", err, out)
		}
		for _, want := range []string{"-join", "needs the cluster certificates", "ticksync certs -out DIR -nodes n1,n2,n3",
			"-cluster-ca DIR/ca.crt -cluster-cert DIR/<id>.crt -cluster-key DIR/<id>.key", "-insecure-cluster"} {
			if !strings.Contains(string(out), want) {
				t.Fatalf("output %q without %q", out, want)
			}
		}
	})

	node := func(id, dataDir string, more ...string) []string {
		return append([]string{"-node-id", id, "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0",
			"-admin-token", testAdminToken, "-data-dir", dataDir}, more...)
	}
	waitExit := func(t *testing.T, p *proc, code int) {
		t.Helper()
		select {
		case err := <-p.exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != code {
				t.Fatalf("exit %v, want %d", err, code)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("did not exit")
		}
	}
	logged := func(p *proc, wants ...string) bool {
		for _, l := range p.output() {
			found := true
			for _, w := range wants {
				found = found && strings.Contains(l, w)
			}
			if found {
				return true
			}
		}
		return false
	}

	t.Run("bootstrap without certificates adds no voter", func(t *testing.T) {
		n1 := startProc(t, node("n1", filepath.Join(t.TempDir(), "n1"), "-bootstrap"))
		n1.waitReady(t, 15*time.Second)
		n2 := startProc(t, node("n2", filepath.Join(t.TempDir(), "n2"), "-insecure-cluster", "-join", "http://"+n1.addr))
		waitExit(t, n2, 1)
		if !logged(n2, "node n1 runs without them and adds no other node", "-insecure-cluster") {
			t.Fatalf("n2's output does not say why: %q", n2.output())
		}
	})

	t.Run("insecure cluster", func(t *testing.T) {
		dir1 := filepath.Join(t.TempDir(), "n1")
		n1 := startProc(t, node("n1", dir1, "-bootstrap", "-insecure-cluster"))
		n1.waitReady(t, 15*time.Second)
		n2 := startProc(t, node("n2", filepath.Join(t.TempDir(), "n2"), "-insecure-cluster", "-join", "http://"+n1.addr))
		n2.waitReady(t, 20*time.Second)
		testutil.CheckTrue(t, 10*time.Second, func() bool {
			var nodes []admin.Node
			return adminGet(n1, "/admin/v1/nodes", &nodes) == nil && len(nodes) == 2
		})
		if !logged(n1, "-insecure-cluster: Raft and the calls between nodes are neither encrypted nor authenticated") {
			t.Fatalf("no warning in n1's output: %q", n1.output())
		}
		n1.stop(t)
		again := startProc(t, node("n1", dir1))
		waitExit(t, again, 1)
		if !logged(again, "has 2 servers (n1, n2)", "no cluster certificates", "-insecure-cluster") {
			t.Fatalf("the restart does not say why: %q", again.output())
		}
	})

	t.Run("one-node dev cluster", func(t *testing.T) {
		p := startBinary(t)
		p.stop(t)
		for _, l := range p.output() {
			if strings.Contains(l, "insecure") || strings.Contains(l, "certificate") {
				t.Fatalf("a one-node dev cluster logged %q", l)
			}
		}
	})
}
