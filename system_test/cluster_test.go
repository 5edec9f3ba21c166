package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/faultproxy"
)

const adminToken = "system-test-admin-token"

// clusterOpts are the flags every node of a test cluster gets.
type clusterOpts struct {
	nodes              int           // default 3
	tickRate           int           // default 30
	failoverAfter      time.Duration // 0: the binary's default (750 ms)
	ownerLease         time.Duration // 0: the binary's default (500 ms)
	checkpointInterval time.Duration // 0: the binary's default (500 ms)
	extra              []string      // more flags for every node
	// advertise, if set, is node id's -advertise URL (the URL its Redirects
	// carry); nil: through the node's HTTP fault proxy.
	advertise func(id string) string
	// direct: no fault proxies; the nodes reach each other and the players
	// reach them at their real addresses. For load runs (the soak), where
	// the proxies' copying would be a large part of the machine's load;
	// such a cluster cannot be partitioned (isolate fails the test).
	direct bool
}

func (o clusterOpts) checkpoint() time.Duration {
	if o.checkpointInterval > 0 {
		return o.checkpointInterval
	}
	return 500 * time.Millisecond
}

func (o clusterOpts) lease() time.Duration {
	if o.ownerLease > 0 {
		return o.ownerLease
	}
	return 500 * time.Millisecond
}

func (o clusterOpts) rate() int {
	if o.tickRate > 0 {
		return o.tickRate
	}
	return 30
}

// node is one ticksync process slot: its addresses and proxies survive
// restarts of the process.
type node struct {
	id        string
	ip        netip.Addr
	httpAddr  string // the real HTTP listener (admin API, /ws)
	raftAddr  string // the real Raft listener
	raftProxy *faultproxy.Proxy
	httpProxy *faultproxy.Proxy
	adv       string // the -advertise URL
	dataDir   string
	logPath   string
	args      []string

	mu     sync.Mutex
	proc   *proc // nil: not running
	runs   int
	paused bool // SIGSTOPped: running, but do not wait for its answers
}

// proc is one run of the binary.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid once exited is closed
}

// advertise is the game URL the node advertises (by default through its
// HTTP fault proxy).
func (n *node) advertise() string { return n.adv }

// apiProxied is the admin API base the other nodes use.
func (n *node) apiProxied() string {
	if n.httpProxy == nil {
		return n.api()
	}
	return "http://" + n.httpProxy.Addr()
}

// raftAdvertised is the Raft address the other nodes dial.
func (n *node) raftAdvertised() string {
	if n.raftProxy == nil {
		return n.raftAddr
	}
	return n.raftProxy.Addr()
}

// api is the admin API base the test uses (no proxy).
func (n *node) api() string { return "http://" + n.httpAddr }

// running reports whether n's process is alive and not paused.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.paused {
		return false
	}
	select {
	case <-n.proc.exited:
		return false
	default:
		return true
	}
}

type cluster struct {
	t     *testing.T
	opts  clusterOpts
	nodes []*node
	http  *http.Client
}

// nodeIP is the loopback IP of node i (0-based): 127.0.0.11, .12, …
func nodeIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(11 + i)}) }

// freePort returns a port free on ip right now.
func freePort(t testing.TB, ip netip.Addr) int {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot bind %s (the system tests need 127.0.0.0/8 on lo, as on Linux): %v", ip, err)
		}
		t.Skipf("cannot bind %s (the system tests need 127.0.0.0/8 on lo, as on Linux): %v", ip, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCluster starts opts.nodes processes (the first bootstraps, the others
// join it) and waits until every node sees every other alive, one leader,
// and a valid lease. Everything is stopped when t ends.
func startCluster(t *testing.T, opts clusterOpts) *cluster {
	t.Helper()
	needCluster(t)
	if opts.nodes == 0 {
		opts.nodes = 3
	}
	c := &cluster{t: t, opts: opts, http: &http.Client{Timeout: 3 * time.Second}}
	dir := t.TempDir()
	logs := dir
	if *logDir != "" {
		logs = filepath.Join(*logDir, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(logs, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range opts.nodes {
		ip := nodeIP(i)
		n := &node{
			id:       fmt.Sprintf("n%d", i+1),
			ip:       ip,
			httpAddr: netip.AddrPortFrom(ip, uint16(freePort(t, ip))).String(),
			raftAddr: netip.AddrPortFrom(ip, uint16(freePort(t, ip))).String(),
			dataDir:  filepath.Join(dir, fmt.Sprintf("n%d-data", i+1)),
			logPath:  filepath.Join(logs, fmt.Sprintf("n%d.log", i+1)),
		}
		n.adv = "ws://" + n.httpAddr + "/ws"
		if !opts.direct {
			var err error
			if n.raftProxy, err = faultproxy.Listen(netip.AddrPortFrom(ip, 0).String(), n.raftAddr); err != nil {
				t.Fatal(err)
			}
			if n.httpProxy, err = faultproxy.Listen(netip.AddrPortFrom(ip, 0).String(), n.httpAddr); err != nil {
				t.Fatal(err)
			}
			n.adv = "ws://" + n.httpProxy.Addr() + "/ws"
		}
		if opts.advertise != nil {
			n.adv = opts.advertise(n.id)
		}
		c.nodes = append(c.nodes, n)
	}
	// The nodes run with cluster certificates, made by the binary itself.
	certDir := filepath.Join(dir, "certs")
	ids := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		ids[i] = n.id
	}
	if out, err := exec.Command(binary, "certs", "-out", certDir, "-nodes", strings.Join(ids, ",")).CombinedOutput(); err != nil {
		t.Fatalf("ticksync certs: %v\n%s", err, out)
	}
	for i, n := range c.nodes {
		n.args = []string{
			"-node-id", n.id,
			"-cluster-ca", filepath.Join(certDir, "ca.crt"),
			"-cluster-cert", filepath.Join(certDir, n.id+".crt"),
			"-cluster-key", filepath.Join(certDir, n.id+".key"),
			"-http-addr", n.httpAddr,
			"-raft-addr", n.raftAddr,
			"-raft-advertise", n.raftAdvertised(),
			"-advertise", n.advertise(),
			"-api-advertise", n.apiProxied(),
			"-data-dir", n.dataDir,
			"-admin-token", adminToken,
			"-tick-rate", strconv.Itoa(opts.rate()),
			"-log-format", "json",
		}
		if i == 0 {
			n.args = append(n.args, "-bootstrap")
		} else {
			n.args = append(n.args, "-join", c.nodes[0].apiProxied())
		}
		if opts.failoverAfter > 0 {
			n.args = append(n.args, "-failover-after", opts.failoverAfter.String())
		}
		if opts.ownerLease > 0 {
			n.args = append(n.args, "-owner-lease", opts.ownerLease.String())
		}
		if opts.checkpointInterval > 0 {
			n.args = append(n.args, "-checkpoint-interval", opts.checkpointInterval.String())
		}
		n.args = append(n.args, opts.extra...)
	}
	t.Cleanup(func() {
		c.stopAll()
		for _, n := range c.nodes {
			b, err := os.ReadFile(n.logPath)
			if i := bytes.Index(b, []byte("WARNING: DATA RACE")); err == nil && i >= 0 {
				lines := strings.SplitN(string(b[i:]), "\n", 81)
				t.Errorf("%s reported a data race:\n%s", n.id, strings.Join(lines[:min(len(lines), 80)], "\n"))
			}
		}
	})
	t.Cleanup(func() {
		if t.Failed() || *keepLogs {
			c.dumpLogs()
		}
	})
	for i, n := range c.nodes {
		c.start(n)
		if i == 0 {
			// The others join through the first: wait until it leads.
			checkFor(t, 15*time.Second, func() error {
				var st status
				if err := c.get(n, "/admin/v1/status", &st); err != nil {
					return err
				}
				if st.Leader != n.id {
					return fmt.Errorf("%s: leader %q", n.id, st.Leader)
				}
				return nil
			})
		}
	}
	c.waitConverged(20 * time.Second)
	return c
}

// start runs n's process with its flags; its output goes to n.logPath.
func (c *cluster) start(n *node) {
	c.t.Helper()
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.runs++
	fmt.Fprintf(f, "=== run %d: %s %s\n", n.runs, binary, strings.Join(n.args, " "))
	cmd := exec.Command(binary, n.args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		c.t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.exited)
	}()
	n.proc = p
}

// kill sends SIGKILL to n's process and waits for it to exit. It returns the
// moment just before the signal.
func (c *cluster) kill(n *node) time.Time {
	c.t.Helper()
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		c.t.Fatalf("%s is not running", n.id)
	}
	at := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %s: %v", n.id, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s did not exit after SIGKILL", n.id)
	}
	n.mu.Lock()
	n.paused = false
	n.mu.Unlock()
	return at
}

// signal sends sig (SIGSTOP, SIGCONT) to n's process.
func (c *cluster) signal(n *node, sig syscall.Signal) time.Time {
	c.t.Helper()
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		c.t.Fatalf("%s is not running", n.id)
	}
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %v to %s: %v", sig, n.id, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.mu.Lock()
		n.paused = true
		n.mu.Unlock()
	case syscall.SIGCONT:
		n.mu.Lock()
		n.paused = false
		n.mu.Unlock()
	}
	return at
}

// restart starts a killed node again with the same flags and data dir.
func (c *cluster) restart(n *node) {
	c.t.Helper()
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p != nil {
		select {
		case <-p.exited:
		default:
			c.t.Fatalf("%s is still running", n.id)
		}
	}
	c.start(n)
}

// stopAll kills every process, waits for them, and closes the proxies.
func (c *cluster) stopAll() {
	for _, n := range c.nodes {
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p != nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	for _, n := range c.nodes {
		if n.raftProxy != nil {
			_ = n.raftProxy.Close()
			_ = n.httpProxy.Close()
		}
	}
}

// dumpLogs prints the tail of every node's log, and what the admin API of
// each running node says now.
func (c *cluster) dumpLogs() {
	for _, n := range c.nodes {
		c.t.Logf("----- %s (%s) log tail -----\n%s", n.id, n.logPath, tail(n.logPath, 60))
		if !n.running() {
			continue
		}
		for _, path := range []string{"/admin/v1/status", "/admin/v1/matches"} {
			var raw json.RawMessage
			if err := c.get(n, path, &raw); err != nil {
				c.t.Logf("%s %s: %v", n.id, path, err)
				continue
			}
			var b bytes.Buffer
			_ = json.Compact(&b, raw)
			c.t.Logf("%s %s: %s", n.id, path, b.String())
		}
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// logLines returns n's JSON log lines (every run) decoded, skipping others.
func logLines(n *node) []map[string]any {
	f, err := os.Open(n.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// adoptedAt finds n's log line for adopting match id at epoch from a
// checkpoint (game.Manager.Adopt logs it) and returns the checkpoint's tick
// and the line's time. Informational: tests do not fail on log wording.
func adoptedAt(n *node, id string, epoch uint64) (tick uint32, at time.Time, ok bool) {
	for _, l := range logLines(n) {
		if l["message"] != "match adopted from a checkpoint" || l["match"] != id {
			continue
		}
		if e, _ := l["epoch"].(float64); uint64(e) != epoch {
			continue
		}
		tf, _ := l["tick"].(float64)
		ts, _ := l["time"].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		return uint32(tf), at, err == nil
	}
	return 0, time.Time{}, false
}

// byID returns the node with id.
func (c *cluster) byID(id string) *node {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %q", id)
	return nil
}

// others returns every node but n.
func (c *cluster) others(n *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// urls are the advertised game URLs of every node, starting with first's
// (nil: in node order).
func (c *cluster) urls(first *node) []string {
	var out []string
	if first != nil {
		out = append(out, first.advertise())
	}
	for _, n := range c.nodes {
		if n != first {
			out = append(out, n.advertise())
		}
	}
	return out
}

// ---- admin API (JSON, bearer token), called on the real listener ----

type adminNode struct {
	ID        string `json:"id"`
	Advertise string `json:"advertise"`
	RaftAddr  string `json:"raft_addr"`
	State     string `json:"state"`
	Leader    bool   `json:"leader"`
	Load      int    `json:"load"`
}

type adminMatch struct {
	ID              string  `json:"id"`
	Game            string  `json:"game"`
	Owner           string  `json:"owner"`
	Epoch           uint64  `json:"epoch"`
	Players         int     `json:"players"`
	Status          string  `json:"status"`
	Tick            *uint32 `json:"tick"`
	CheckpointTick  uint32  `json:"checkpoint_tick"`
	CheckpointEpoch uint64  `json:"checkpoint_epoch"`
	CheckpointBytes int     `json:"checkpoint_bytes"`
}

type status struct {
	ID           string `json:"id"`
	RaftState    string `json:"raft_state"`
	Leader       string `json:"leader"`
	AppliedIndex uint64 `json:"applied_index"`
	LeaseValid   bool   `json:"lease_valid"`
	Owned        int    `json:"owned"`
	Checkpoints  struct {
		Batches   uint64 `json:"batches"`
		Items     uint64 `json:"items"`
		Rejected  uint64 `json:"rejected"`
		BytesIn   uint64 `json:"bytes_in"`
		BytesOut  uint64 `json:"bytes_out"`
		ApplyMean int64  `json:"apply_mean_ns"`
		ApplyMax  int64  `json:"apply_max_ns"`
	} `json:"checkpoints"`
}

// apiError is a non-2xx answer of the admin API.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Status, strings.TrimSpace(e.Body))
}

func (c *cluster) do(n *node, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.api()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, path, n.id, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s on %s: %w", method, path, n.id, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s on %s: %w", method, path, n.id, &apiError{resp.StatusCode, string(data)})
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s on %s: decode %q: %w", method, path, n.id, data, err)
		}
	}
	return nil
}

func (c *cluster) get(n *node, path string, out any) error {
	return c.do(n, http.MethodGet, path, nil, out)
}

func (c *cluster) nodesOf(n *node) ([]adminNode, error) {
	var out []adminNode
	err := c.get(n, "/admin/v1/nodes", &out)
	return out, err
}

func (c *cluster) matchOn(n *node, id string) (adminMatch, error) {
	var m adminMatch
	err := c.get(n, "/admin/v1/matches/"+id, &m)
	return m, err
}

// live returns the running nodes, optionally without some.
func (c *cluster) live(except ...*node) []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.running() && !slices.Contains(except, n) {
			out = append(out, n)
		}
	}
	return out
}

// leader returns the node that every running node (but except) names as
// leader, waiting up to timeout.
func (c *cluster) leader(timeout time.Duration, except ...*node) *node {
	c.t.Helper()
	var id string
	checkFor(c.t, timeout, func() error {
		id = ""
		for _, n := range c.live(except...) {
			var st status
			if err := c.get(n, "/admin/v1/status", &st); err != nil {
				return err
			}
			if st.Leader == "" || (id != "" && st.Leader != id) {
				return fmt.Errorf("%s names leader %q (others %q)", n.id, st.Leader, id)
			}
			id = st.Leader
		}
		return nil
	})
	return c.byID(id)
}

// followers are the running nodes that are not the leader.
func (c *cluster) followers(leader *node) []*node { return c.live(leader) }

// waitConverged waits until every running node lists every running node
// alive, agrees on the leader, and holds a valid owner lease.
func (c *cluster) waitConverged(timeout time.Duration) {
	c.t.Helper()
	checkFor(c.t, timeout, func() error { return c.converged() })
}

func (c *cluster) converged() error {
	live := c.live()
	leader := ""
	for _, n := range live {
		var st status
		if err := c.get(n, "/admin/v1/status", &st); err != nil {
			return err
		}
		if !st.LeaseValid {
			return fmt.Errorf("%s: no valid lease", n.id)
		}
		if st.Leader == "" || (leader != "" && st.Leader != leader) {
			return fmt.Errorf("%s: leader %q, others %q", n.id, st.Leader, leader)
		}
		leader = st.Leader
		nodes, err := c.nodesOf(n)
		if err != nil {
			return err
		}
		for _, want := range live {
			i := slices.IndexFunc(nodes, func(a adminNode) bool { return a.ID == want.id })
			if i < 0 || nodes[i].State != "alive" {
				return fmt.Errorf("%s sees %s as %+v", n.id, want.id, nodes)
			}
		}
	}
	return nil
}

// createMatch creates an arena match through the admin API of via, on node
// on (nil: wherever the cluster places it).
func (c *cluster) createMatch(via, on *node) adminMatch {
	c.t.Helper()
	req := map[string]any{"game": "arena"}
	if on != nil {
		req["node"] = on.id
	}
	var m adminMatch
	checkFor(c.t, 10*time.Second, func() error { return c.do(via, http.MethodPost, "/admin/v1/matches", req, &m) })
	if on != nil && m.Owner != on.id {
		c.t.Fatalf("match %s created on %q, asked for %s", m.ID, m.Owner, on.id)
	}
	return m
}

// waitOwner waits until every running node but except reports match id
// owned by a node other than old, at an epoch above oldEpoch, and returns
// it as the first of them sees it.
func (c *cluster) waitOwner(id, old string, oldEpoch uint64, timeout time.Duration, except ...*node) adminMatch {
	c.t.Helper()
	var m adminMatch
	checkFor(c.t, timeout, func() error {
		for i, n := range c.live(except...) {
			got, err := c.matchOn(n, id)
			if err != nil {
				return err
			}
			if got.Owner == old || got.Owner == "" || got.Epoch <= oldEpoch {
				return fmt.Errorf("%s sees %s owned by %q at epoch %d (was %s at %d)", n.id, id, got.Owner, got.Epoch, old, oldEpoch)
			}
			if i == 0 {
				m = got
			} else if got.Owner != m.Owner || got.Epoch != m.Epoch {
				return fmt.Errorf("nodes disagree on %s: %s@%d vs %s@%d", id, m.Owner, m.Epoch, got.Owner, got.Epoch)
			}
		}
		return nil
	})
	return m
}

// waitCheckpoint waits until match id has a checkpoint at a tick ≥ minTick.
func (c *cluster) waitCheckpoint(via *node, id string, minTick uint32, timeout time.Duration) adminMatch {
	c.t.Helper()
	var m adminMatch
	checkFor(c.t, timeout, func() error {
		var err error
		if m, err = c.matchOn(via, id); err != nil {
			return err
		}
		if m.CheckpointTick < minTick {
			return fmt.Errorf("%s: checkpoint tick %d, want ≥ %d", id, m.CheckpointTick, minTick)
		}
		return nil
	})
	return m
}

// ---- partitions ----

// isolate cuts n off from the other nodes: the cluster port (Raft and
// node-to-node HTTP) both ways, and the HTTP listeners between nodes.
// Players (127.0.0.1) keep reaching every node.
func (c *cluster) isolate(n *node, fault faultproxy.Fault) {
	if c.opts.direct {
		c.t.Fatal("isolate: a direct cluster has no fault proxies")
	}
	others := c.others(n)
	n.raftProxy.SetAll(fault)
	var otherIPs []netip.Addr
	for _, o := range others {
		o.raftProxy.Set(fault, n.ip)
		o.httpProxy.Set(fault, n.ip)
		otherIPs = append(otherIPs, o.ip)
	}
	n.httpProxy.Set(fault, otherIPs...)
}

// heal lifts every fault.
func (c *cluster) heal() {
	for _, n := range c.nodes {
		n.raftProxy.Heal()
		n.httpProxy.Heal()
	}
}
