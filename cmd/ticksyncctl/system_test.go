package main

// The system test: the real ticksyncctl binary against three real ticksync
// processes on loopback, with real players (net/client) in the match it
// kicks, moves and ends.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema"
)

const (
	adminToken = "ctl-system-test-token"
	authSecret = "ctl-system-test-auth-secret"
)

// The binaries, built once by TestMain.
var serverBin, ctlBin string

// raceBuild: the tests run under -race (race_test.go), so the node is
// race-built too, and a data race it reports fails the test.
var raceBuild bool

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ticksyncctl-test")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		for _, b := range []struct {
			out *string
			pkg string
		}{{&serverBin, "./cmd/ticksync"}, {&ctlBin, "./cmd/ticksyncctl"}} {
			*b.out = filepath.Join(dir, filepath.Base(b.pkg))
			args := []string{"build", "-o", *b.out}
			if raceBuild && b.pkg == "./cmd/ticksync" {
				args = append(args, "-race")
			}
			cmd := exec.Command("go", append(args, b.pkg)...)
			cmd.Dir = filepath.Join("..", "..")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

// node is one ticksync process.
type node struct {
	id     string
	addr   string // HTTP host:port
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	log    bytes.Buffer
	races  int // "DATA RACE" reports in its output
}

func (n *node) url() string { return "http://" + n.addr }

// startNode runs ticksync as id (JSON logs, free loopback ports) with args
// and waits for its "http listening" line.
func startNode(t *testing.T, id string, args ...string) *node {
	t.Helper()
	n := &node{id: id, exited: make(chan struct{})}
	base := []string{"-node-id", id, "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0", "-data-dir", t.TempDir(),
		"-admin-token", adminToken, "-auth-secret", authSecret, "-log-format", "json", "-log-level", "info"}
	n.cmd = exec.Command(serverBin, append(base, args...)...)
	stderr, err := n.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() {
		defer close(n.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.mu.Lock()
			n.log.Write(sc.Bytes())
			n.log.WriteByte('\n')
			if bytes.Contains(sc.Bytes(), []byte("DATA RACE")) {
				n.races++
			}
			n.mu.Unlock()
			var m struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Message == "http listening" {
				select {
				case addrs <- m.Addr:
				default:
				}
			}
		}
		_ = n.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.races > 0 {
			t.Errorf("%s reported %d data races", id, n.races)
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", id, n.log.String())
		}
	})
	select {
	case n.addr = <-addrs:
	case <-n.exited:
		t.Fatalf("%s exited at start", id)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no 'http listening' line", id)
	}
	return n
}

// startCluster starts n1 (-bootstrap), then n2 and n3 (-join n1), with
// cluster certificates from `ticksync certs` (node-to-node calls, the
// forwarded admin requests among them, run over mutual TLS, as in
// production), and waits until every node lists all three alive and is
// ready.
func startCluster(t *testing.T) []*node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	if out, err := exec.Command(serverBin, "certs", "-out", dir, "-nodes", "n1,n2,n3").CombinedOutput(); err != nil {
		t.Fatalf("ticksync certs: %v\n%s", err, out)
	}
	certs := func(id string, more ...string) []string {
		return append([]string{"-cluster-ca", filepath.Join(dir, "ca.crt"),
			"-cluster-cert", filepath.Join(dir, id+".crt"), "-cluster-key", filepath.Join(dir, id+".key")}, more...)
	}
	n1 := startNode(t, "n1", certs("n1", "-bootstrap")...)
	n2 := startNode(t, "n2", certs("n2", "-join", n1.url())...)
	n3 := startNode(t, "n3", certs("n3", "-join", n1.url())...)
	nodes := []*node{n1, n2, n3}
	for _, n := range nodes {
		testutil.CheckFor(t, 30*time.Second, func() error {
			var list []admin.Node
			if r := runCtl(t, "-addr", n.addr, "-token", adminToken, "-o", "json", "nodes"); r.code != 0 {
				return errors.New(r.stderr)
			} else if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
				return err
			}
			alive := 0
			for _, nd := range list {
				if nd.State == replication.NodeAlive {
					alive++
				}
			}
			if alive != 3 {
				return fmt.Errorf("%s sees %d nodes alive", n.id, alive)
			}
			// Ready: it holds its owner lease (its rooms may tick).
			resp, err := http.Get(n.url() + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: /readyz %s", n.id, resp.Status)
			}
			return nil
		})
	}
	return nodes
}

// result is one run of ticksyncctl.
type result struct {
	code           int
	stdout, stderr string
}

// runCtl runs ticksyncctl with args; env entries (k=v) are added to an
// environment that has no TICKSYNC_ variable of the test's own.
func runCtl(t *testing.T, args ...string) result {
	t.Helper()
	return ctlEnv(t, nil, args...)
}

func ctlEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TICKSYNC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("ticksyncctl %v: %v", args, err)
	}
	return r
}

// ok runs ticksyncctl against n (token from the environment) and wants
// exit 0.
func ok(t *testing.T, n *node, args ...string) string {
	t.Helper()
	r := ctlEnv(t, []string{"TICKSYNC_ADDR=" + n.addr, "TICKSYNC_ADMIN_TOKEN=" + adminToken}, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("ticksyncctl %v via %s: exit %d\nstdout: %s\nstderr: %s", args, n.id, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs ticksyncctl -o json against n and decodes its answer.
func okJSON(t *testing.T, n *node, out any, args ...string) {
	t.Helper()
	s := ok(t, n, append([]string{"-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("ticksyncctl -o json %v: %v\n%s", args, err, s)
	}
}

// fails runs ticksyncctl against n and wants exit code with exactly the
// one-line message want on stderr.
func fails(t *testing.T, n *node, code int, want string, args ...string) {
	t.Helper()
	r := ctlEnv(t, []string{"TICKSYNC_ADDR=" + n.addr, "TICKSYNC_ADMIN_TOKEN=" + adminToken}, args...)
	if r.code != code || r.stdout != "" || !strings.HasPrefix(r.stderr, "ticksyncctl: "+want+"\n") {
		t.Fatalf("ticksyncctl %v via %s: exit %d, stdout %q, stderr %q; want exit %d and %q", args, n.id, r.code, r.stdout, r.stderr, code, want)
	}
}

// player is a real client in a match: it answers every snapshot with an
// input (so that the node measures its round trip and input age).
type player struct {
	client.NopHandler
	c *client.Client
}

func (p *player) OnSnapshot(c *client.Client, _ *schema.Snapshot, _ *client.World) {
	_ = c.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: 10})})
}

// join seats player id (with a token minted by ticksyncctl) in match
// through the node at via.
func join(t *testing.T, via *node, match string, id uint32, name string) *player {
	t.Helper()
	tok := strings.TrimSpace(ok(t, via, "token", "-auth-secret", authSecret, fmt.Sprint(id)))
	p := &player{}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{"ws://" + via.addr + "/ws"}
	cfg.Token, cfg.MatchID, cfg.Name = tok, match, name
	cfg.Handler = p
	// The Dial context is the client's lifetime: it ends with the test.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("player %d joins %s via %s: %v", id, match, via.id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p.c = c
	if w := c.Welcome(); w.PlayerID != id || w.MatchID != match {
		t.Fatalf("player %d welcomed as %+v", id, w)
	}
	return p
}

// closedWith waits for p's client to stop with the server error code.
func closedWith(t *testing.T, p *player, code schema.ErrorCode) {
	t.Helper()
	select {
	case <-p.c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("player %d still connected", p.c.Welcome().PlayerID)
	}
	var se *client.ServerError
	if err := p.c.Err(); !errors.As(err, &se) || se.Code != code || se.CloseCode != uint16(4000+code) {
		t.Fatalf("player %d stopped with %v, want server error %d and close %d", p.c.Welcome().PlayerID, err, code, 4000+code)
	}
}

func nodeOf(nodes []*node, id string) *node {
	for _, n := range nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func leaderOf(t *testing.T, n *node) string {
	t.Helper()
	var st replication.Status
	okJSON(t, n, &st, "status")
	return st.Leader
}

// TestAgainstCluster drives every ticksyncctl command through a real
// 3-node cluster, mostly through nodes that must forward (to the leader,
// or to the match's owner), and checks the output, the exit codes and the
// error messages.
func TestAgainstCluster(t *testing.T) {
	start := time.Now()
	nodes := startCluster(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	t.Logf("cluster ready in %v", time.Since(start).Round(time.Millisecond))

	t.Run("version", func(t *testing.T) {
		if out := ok(t, n1, "version"); !strings.HasPrefix(out, "ticksyncctl ") {
			t.Fatalf("version: %q", out)
		}
	})

	t.Run("status and nodes through every node", func(t *testing.T) {
		for _, n := range nodes {
			var st replication.Status
			okJSON(t, n, &st, "status")
			if st.ID != n.id || st.Leader == "" || st.Term == 0 || st.CommitIndex == 0 || st.AppliedIndex == 0 || st.Nodes != 3 || !st.LeaseValid {
				t.Fatalf("status of %s: %+v", n.id, st)
			}
			var list []admin.Node
			okJSON(t, n, &list, "nodes")
			leaders := 0
			for _, nd := range list {
				if nd.Leader {
					leaders++
				}
				if nd.State != replication.NodeAlive || !nd.Voter {
					t.Fatalf("node %+v", nd)
				}
			}
			if len(list) != 3 || leaders != 1 {
				t.Fatalf("nodes via %s: %+v", n.id, list)
			}
		}
		table := ok(t, n2, "nodes")
		if !strings.HasPrefix(table, "ID  ") || strings.Count(table, "\n") != 4 || !strings.Contains(table, "leader") {
			t.Fatalf("nodes table:\n%s", table)
		}
		if out := ok(t, n3, "status"); !strings.Contains(out, "RAFT STATE") || !strings.Contains(out, "NODE           n3") {
			t.Fatalf("status table:\n%s", out)
		}
	})

	t.Run("token, address and command line", func(t *testing.T) {
		r := runCtl(t, "-addr", n1.addr, "-token", "wrong", "nodes")
		if r.code != 1 || r.stderr != "ticksyncctl: 401: the admin token does not match; pass -token or set TICKSYNC_ADMIN_TOKEN\n" {
			t.Fatalf("wrong token: %+v", r)
		}
		r = ctlEnv(t, []string{"TICKSYNC_ADDR=" + n1.addr}, "matches")
		if r.code != 1 || r.stderr != "ticksyncctl: 401: no admin token given; pass -token or set TICKSYNC_ADMIN_TOKEN\n" {
			t.Fatalf("no token: %+v", r)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		r = runCtl(t, "-addr", dead, "-token", adminToken, "status")
		if r.code != 1 || r.stderr != "ticksyncctl: cannot reach http://"+dead+": is the node running? (connection refused)\n" {
			t.Fatalf("no node: %+v", r)
		}
		fails(t, n1, 2, "kick takes 2 arguments: MATCH PLAYER", "kick", "m1")
		fails(t, n1, 2, `unknown command "frobnicate"`, "frobnicate")
	})

	t.Run("create-match", func(t *testing.T) {
		fails(t, n3, 1, "unknown game chess (registered: arena)", "create-match", "-game", "chess")
		var ms []admin.Match
		okJSON(t, n1, &ms, "matches")
		if len(ms) != 0 {
			t.Fatalf("a match of an unknown game was created: %+v", ms)
		}
		fails(t, n3, 1, "node n9 not found (ticksyncctl nodes lists them)", "create-match", "-node", "n9")
		var m admin.Match
		okJSON(t, n3, &m, "create-match", "-id", "m1", "-node", "n2")
		if m.ID != "m1" || m.Owner != "n2" || m.Game != "arena" || m.Status != replication.MatchRunning || m.Epoch == 0 {
			t.Fatalf("created %+v", m)
		}
		out := ok(t, n1, "create-match", "-id", "m2", "-game", "arena")
		if !strings.HasPrefix(out, "created match m2 (arena) on n") {
			t.Fatalf("create-match: %q", out)
		}
		table := ok(t, n1, "matches")
		if !strings.Contains(table, "m1  arena  n2") || !strings.Contains(table, "m2") {
			t.Fatalf("matches:\n%s", table)
		}
	})

	// Two players in m1 (owned by n2), each joined through another node.
	ann := join(t, n1, "m1", 11, "ann")
	bob := join(t, n3, "m1", 12, "bob")

	t.Run("a match's players through a node that does not run it", func(t *testing.T) {
		var d admin.MatchDetail
		testutil.CheckFor(t, 10*time.Second, func() error {
			d = admin.MatchDetail{}
			okJSON(t, n1, &d, "match", "m1")
			l := d.Live
			if l == nil || l.Node != "n2" || len(l.Players) != 2 || l.Connected != 2 || l.TickRate != 30 || l.Tick == 0 || l.BytesPerSec == 0 || l.TickP99MS <= 0 {
				return fmt.Errorf("match m1: %+v %+v", d, l)
			}
			for i, want := range []struct {
				id   uint32
				name string
			}{{11, "ann"}, {12, "bob"}} {
				p := l.Players[i]
				if p.ID != want.id || p.Name != want.name || !p.Connected || p.Entity == 0 || p.RTTMS == nil || p.LastInputMS == nil {
					return fmt.Errorf("player %d: %+v", i, p)
				}
				if *p.RTTMS <= 0 || *p.RTTMS > 1000 || *p.LastInputMS > 5000 {
					return fmt.Errorf("player %d: rtt %v ms, last input %d ms ago", i, *p.RTTMS, *p.LastInputMS)
				}
			}
			return nil
		})
		t.Logf("m1: tick %d, tick p99 %.3f ms, %.0f B/s, ann rtt %.1f ms", d.Live.Tick, d.Live.TickP99MS, d.Live.BytesPerSec, *d.Live.Players[0].RTTMS)
		table := ok(t, n3, "match", "m1")
		for _, want := range []string{"OWNER       n2", "PLAYER  NAME", "11      ann", "12      bob", "connected"} {
			if !strings.Contains(table, want) {
				t.Fatalf("match table lacks %q:\n%s", want, table)
			}
		}
		fails(t, n3, 1, "match nope not found (ticksyncctl matches lists them)", "match", "nope")
	})

	t.Run("watch", func(t *testing.T) {
		out := ok(t, n3, "-o", "json", "watch", "m1", "-count", "3", "-interval", "300ms")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d frames:\n%s", len(lines), out)
		}
		for i, line := range lines {
			var f struct {
				At     time.Time         `json:"at"`
				TickHz *float64          `json:"tick_hz"`
				Match  admin.MatchDetail `json:"match"`
			}
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatalf("frame %d: %v\n%s", i, err, line)
			}
			if f.Match.Live == nil || len(f.Match.Live.Players) != 2 || (i > 0) != (f.TickHz != nil) {
				t.Fatalf("frame %d: %s", i, line)
			}
			if i > 0 && (*f.TickHz < 5 || *f.TickHz > 120) {
				t.Fatalf("frame %d: %.1f Hz, want about 30", i, *f.TickHz)
			}
		}
		table := ok(t, n1, "watch", "m1", "-count", "2", "-interval", "100ms")
		if strings.Count(table, "match m1 (arena)") != 2 || strings.Count(table, "TICK TIME") != 2 || !strings.Contains(table, "Hz (of 30 Hz)") || !strings.Contains(table, "bob") {
			t.Fatalf("watch:\n%s", table)
		}
		fails(t, n1, 1, "match nope not found (ticksyncctl matches lists them)", "watch", "nope", "-count", "1")
	})

	t.Run("kick", func(t *testing.T) {
		out := ok(t, n3, "kick", "m1", "11")
		if !strings.HasPrefix(out, "kicked player 11 from match m1\n") || strings.Contains(out, "ann") || !strings.Contains(out, "bob") {
			t.Fatalf("kick: %q", out)
		}
		closedWith(t, ann, schema.ErrCodeKicked)
		fails(t, n1, 1, "player 11 is not in match m1 (ticksyncctl match m1 lists its players)", "kick", "m1", "11")
		fails(t, n1, 1, "match nope not found (ticksyncctl matches lists them)", "kick", "nope", "1")
		var d admin.MatchDetail
		okJSON(t, n1, &d, "match", "m1")
		if d.Live == nil || len(d.Live.Players) != 1 || d.Live.Players[0].ID != 12 {
			t.Fatalf("after the kick: %+v", d.Live)
		}
		select {
		case <-bob.c.Done():
			t.Fatalf("bob stopped too: %v", bob.c.Err())
		default:
		}
	})

	t.Run("move", func(t *testing.T) {
		var m admin.Match
		okJSON(t, n1, &m, "move", "m1", "n3")
		if m.Owner != "n3" || m.ID != "m1" {
			t.Fatalf("moved: %+v", m)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if w := bob.c.Welcome(); w.NodeID != "n3" {
				return fmt.Errorf("bob is on %s", w.NodeID)
			}
			return nil
		})
		fails(t, n1, 1, "node n9 not found (ticksyncctl nodes lists them)", "move", "m1", "n9")
	})

	t.Run("drain and undrain", func(t *testing.T) {
		var nd admin.Node
		okJSON(t, n2, &nd, "drain", "n1")
		if nd.ID != "n1" || nd.State != replication.NodeDraining {
			t.Fatalf("drain: %+v", nd)
		}
		out := ok(t, n3, "undrain", "n1")
		if out != "n1 is alive: it takes matches again\n" {
			t.Fatalf("undrain: %q", out)
		}
		// Right after, through the node that answered: alive.
		var list []admin.Node
		okJSON(t, n3, &list, "nodes")
		for _, nd := range list {
			if nd.State != replication.NodeAlive {
				t.Fatalf("after undrain: %+v", list)
			}
		}
		fails(t, n2, 1, "node n9 not found (ticksyncctl nodes lists them)", "drain", "n9")

		// No NODE: the node -addr names (a preStop hook's call).
		okJSON(t, n2, &nd, "drain")
		if nd.ID != "n2" || nd.State != replication.NodeDraining {
			t.Fatalf("drain with no node, through n2: %+v", nd)
		}
		ok(t, n2, "undrain", "n2")
	})

	t.Run("transfer-leader", func(t *testing.T) {
		old := leaderOf(t, n1)
		var to *node
		for _, n := range nodes {
			if n.id != old {
				to = n
				break
			}
		}
		via := nodeOf(nodes, old) // the leader forwards nothing; try a follower too below
		var res admin.TransferResult
		okJSON(t, via, &res, "transfer-leader", to.id)
		if res.Leader != to.id {
			t.Fatalf("transfer to %s: %+v", to.id, res)
		}
		var st replication.Status
		okJSON(t, to, &st, "status")
		if st.RaftState != "Leader" {
			t.Fatalf("%s after the transfer: %+v", to.id, st)
		}
		fails(t, n1, 1, "node n9 not found (ticksyncctl nodes lists them)", "transfer-leader", "n9")
		// No node named: the most up-to-date voter, through a follower.
		var follower *node
		for _, n := range nodes {
			if n != to {
				follower = n
				break
			}
		}
		testutil.CheckFor(t, 10*time.Second, func() error { // the old leader's lease settles
			r := ctlEnv(t, []string{"TICKSYNC_ADDR=" + follower.addr, "TICKSYNC_ADMIN_TOKEN=" + adminToken}, "-o", "json", "transfer-leader")
			if r.code != 0 {
				return errors.New(r.stderr)
			}
			res = admin.TransferResult{}
			return json.Unmarshal([]byte(r.stdout), &res)
		})
		if res.Leader == "" || res.Leader == to.id {
			t.Fatalf("transfer without a node: %+v", res)
		}
		t.Logf("leader %s → %s → %s", old, to.id, res.Leader)
	})

	t.Run("end-match", func(t *testing.T) {
		var res admin.EndResult
		okJSON(t, n2, &res, "end-match", "m1")
		if res.Ended != "m1" || res.Owner != "n3" {
			t.Fatalf("end: %+v", res)
		}
		closedWith(t, bob, schema.ErrCodeMatchEnded)
		fails(t, n2, 1, "match m1 not found (ticksyncctl matches lists them)", "match", "m1")
		fails(t, n2, 1, "match m1 not found (ticksyncctl matches lists them)", "end-match", "m1")
	})

	t.Run("remove-node", func(t *testing.T) {
		fails(t, n1, 1, "node n9 not found (ticksyncctl nodes lists them)", "remove-node", "n9")
		lead := leaderOf(t, n1)
		var victim, via *node
		for _, n := range nodes {
			switch {
			case n.id == lead:
			case victim == nil:
				victim = n
			default:
				via = n
			}
		}
		out := ok(t, via, "remove-node", victim.id)
		if !strings.HasPrefix(out, "removed "+victim.id+" from Raft: ") {
			t.Fatalf("remove-node: %q", out)
		}
		testutil.CheckFor(t, 20*time.Second, func() error {
			var list []admin.Node
			okJSON(t, via, &list, "nodes")
			for _, nd := range list {
				if nd.ID == victim.id {
					return fmt.Errorf("%s still listed: %+v", victim.id, nd)
				}
			}
			return nil
		})
	})
}
