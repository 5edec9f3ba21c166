package systemtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/ticksync/ticksync/internal/testutil"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/net/client"
)

// nginxConf is the configuration shipped for a cluster behind one address.
const nginxConf = "../deploy/nginx/nginx.conf"

// TestBehindNginx: Debian's nginx, configured by deploy/nginx/nginx.conf,
// in front of a real 3-node cluster whose nodes advertise their own path
// through it (ws://PROXY/n/<id>/ws). Players know only ws://PROXY/ws. They
// join, play, follow a planned move of their match and then the kill -9 of
// its new owner, each time through the proxy, and keep their player ids.
// The admin API is called on the nodes directly; through the proxy it is
// not there.
func TestBehindNginx(t *testing.T) {
	bin := nginxBinary(t)
	// The proxy has a loopback IP of its own, below the nodes' (127.0.0.11
	// and up): no other test's socket takes its port between freePort and
	// nginx's bind, which waits for the cluster to start.
	ip := netip.AddrFrom4([4]byte{127, 0, 0, 10})
	front := netip.AddrPortFrom(ip, uint16(freePort(t, ip))).String()
	c := startCluster(t, clusterOpts{advertise: func(id string) string { return "ws://" + front + "/n/" + id + "/ws" }})
	ngx := startNginx(t, bin, front, c)

	// Operator endpoints do not pass the proxy; the nodes advertise their
	// game endpoint through it.
	for _, path := range []string{"/admin/v1/status", "/admin/v1/nodes", "/metrics", "/debug/pprof/", "/n/n9/ws"} {
		if code := ngx.get(t, path); code != http.StatusNotFound {
			t.Errorf("GET %s through the proxy: HTTP %d, want 404", path, code)
		}
	}
	leader := c.leader(5 * time.Second)
	nodes, err := c.nodesOf(leader)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if want := "ws://" + front + "/n/" + n.ID + "/ws"; n.Advertise != want {
			t.Fatalf("%s advertises %q, want %q", n.ID, n.Advertise, want)
		}
	}

	// Join and play through the one address.
	fs := c.followers(leader)
	owner, target := fs[0], fs[1]
	m := c.createMatch(leader, owner)
	start := time.Now()
	entry := "ws://" + front + "/ws"
	ps := joinPlayersWith(t, c, m.ID, 4, nil, func(cfg *client.Config) { cfg.URLs = []string{entry} })
	startInputs(t, c.opts.rate(), ps)
	waitPlaying(t, ps, owner.id, start, 30, 10*time.Second)
	seq := waitAcked(t, ps, nil, 10*time.Second)
	t.Logf("4 players joined through %s and play on %s: 30 snapshots each and inputs acked up to seq %v after %v",
		entry, owner.id, seq, time.Since(start).Round(time.Millisecond))

	// (a) A planned move, asked of the leader's admin API (not through the
	// proxy): the owner hands over with a final checkpoint and redirects
	// its players to the new owner's path.
	redirects := make([]uint64, len(ps))
	for i, p := range ps {
		redirects[i] = p.c.Stats().Redirects
	}
	moveAt := time.Now()
	var moved adminMatch
	if err := c.do(leader, http.MethodPost, "/admin/v1/matches/"+m.ID+"/move", map[string]string{"node": target.id}, &moved); err != nil {
		t.Fatal(err)
	}
	if moved.Owner != target.id || moved.Epoch <= m.Epoch {
		t.Fatalf("move: %+v (was %s@%d)", moved, owner.id, m.Epoch)
	}
	waitResumed(t, ps, target.id, 10*time.Second)
	waitPlaying(t, ps, target.id, moveAt, 15, 10*time.Second)
	seq = waitAcked(t, ps, seq, 10*time.Second)
	var back []int64
	for i, p := range ps {
		if got := p.c.Stats().Redirects; got <= redirects[i] {
			t.Errorf("%s: no Redirect for the move (%d before, %d after): %v", p.name, redirects[i], got, p)
		}
		last, _ := p.lastFrom(owner.id)
		first, ok := p.firstFrom(target.id, moveAt)
		if !ok {
			t.Fatalf("%s: no snapshot from %s after the move", p.name, target.id)
		}
		back = append(back, first.recv.Sub(moveAt).Milliseconds())
		if first.tick < last.tick {
			t.Errorf("%s: planned move rolled the match back from tick %d on %s to %d on %s", p.name, last.tick, owner.id, first.tick, target.id)
		}
	}
	t.Logf("planned move %s@%d → %s@%d: players back at +%v ms, inputs acked up to seq %v", owner.id, m.Epoch, target.id, moved.Epoch, back, seq)

	// (b) kill -9 of the new owner: its path answers 502, the players go
	// back to /ws, where a live node redirects them to the next owner.
	kind := "follower"
	if c.leader(5*time.Second) == target {
		kind = "leader"
	}
	killedAt := time.Now()
	k := killOwner(t, c, target, kind, m.ID, ps)
	for _, e := range k.overBound {
		t.Error(e)
	}
	waitPlaying(t, ps, k.newOwner, killedAt, 15, 10*time.Second)
	seq = waitAcked(t, ps, seq, 10*time.Second)
	t.Logf("after the failover the players play on %s: inputs acked up to seq %v", k.newOwner, seq)
	checkHistory(t, snapshotObs(ps), 300*time.Millisecond, 5*time.Millisecond)

	// The proxy's view: the move sent every player to the new owner's path;
	// the killed node's path answers 502 (the players that were on it tried
	// it once after the kill, then /ws).
	if code := ngx.get(t, "/n/"+target.id+"/ws"); code != http.StatusBadGateway {
		t.Errorf("GET /n/%s/ws through the proxy after the kill: HTTP %d, want 502", target.id, code)
	}
	counts := ngx.accessCounts(t)
	t.Logf("nginx access log (path status: requests): %v", counts)
	if counts["/n/"+target.id+"/ws 101"] == 0 {
		t.Errorf("no WebSocket on /n/%s/ws in the access log: %v", target.id, counts)
	}
}

// waitAcked waits until every player's newest input acknowledged by the
// server (Snapshot.last_input_seq) is past before (nil: past 0) and returns
// the new figures.
func waitAcked(t *testing.T, ps []*player, before []uint32, timeout time.Duration) []uint32 {
	t.Helper()
	out := make([]uint32, len(ps))
	checkFor(t, timeout, func() error {
		for i, p := range ps {
			out[i] = p.c.LastInputSeq()
			var was uint32
			if before != nil {
				was = before[i]
			}
			if out[i] <= was {
				return fmt.Errorf("%s: input seq %d acknowledged, want > %d: %v", p.name, out[i], was, p)
			}
		}
		return nil
	})
	return out
}

// nginxBinary finds nginx (Debian's package installs /usr/sbin/nginx, often
// not on a user's PATH). Without it the test fails on CI (CI set) and is
// skipped elsewhere.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx not found (CI set): install it (apt-get install -y nginx)")
	}
	t.Skip("nginx not found: apt-get install -y nginx to run this test")
	return ""
}

// nginxProc is one nginx master process serving the cluster at addr.
type nginxProc struct {
	addr   string
	dir    string // its prefix: config, pid, access log, temp files
	http   *http.Client
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *testutil.SyncBuffer
}

// startNginx renders nginxConf for c (the example node addresses replaced
// by the nodes' real listeners, the listen address by addr) and runs nginx
// in the foreground with a temporary prefix. It waits until nginx answers
// and stops it when t ends.
func startNginx(t *testing.T, bin, addr string, c *cluster) *nginxProc {
	t.Helper()
	src, err := os.ReadFile(nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(src)
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(conf, old) {
			t.Fatalf("%s has no %q: the test's substitutions need updating", nginxConf, old)
		}
		conf = strings.ReplaceAll(conf, old, new)
	}
	replace("listen 127.0.0.1:8080;", "listen "+addr+";")
	for i, n := range c.nodes {
		if want := fmt.Sprintf("n%d", i+1); n.id != want {
			t.Fatalf("node %d is %s: %s routes n1..n3", i, n.id, nginxConf)
		}
		replace(fmt.Sprintf("server 127.0.0.1:%d", 7350+10*i), "server "+n.httpAddr)
	}

	dir := t.TempDir()
	// As root, nginx's workers run as an unprivileged user: let them in.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &nginxProc{
		addr:   addr,
		dir:    dir,
		http:   &http.Client{Timeout: 3 * time.Second},
		exited: make(chan struct{}),
		stderr: &testutil.SyncBuffer{},
	}
	p.cmd = exec.Command(bin, "-p", dir, "-e", "stderr", "-g", "daemon off;", "-c", confPath)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	// Its own process group: the workers go with the master.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		// SIGQUIT is nginx's graceful stop; the kill bounds it.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("----- nginx stderr -----\n%s", p.stderr.String())
			t.Logf("----- nginx access log (tail) -----\n%s", tail(filepath.Join(dir, "access.log"), 40))
		}
	})
	checkFor(t, 10*time.Second, func() error {
		select {
		case <-p.exited:
			return errors.New("nginx exited")
		default:
		}
		if code := p.get(t, "/healthz"); code != http.StatusOK {
			return fmt.Errorf("GET /healthz through nginx: %d", code)
		}
		return nil
	})
	select {
	case <-p.exited:
		t.Fatalf("nginx exited: %s", p.stderr.String())
	default:
	}
	return p
}

// get requests path through the proxy with the admin token and returns the
// status (0 when the request failed).
func (p *nginxProc) get(t *testing.T, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := p.http.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// accessLine picks the path and status out of a line in the config's
// "ticksync" log format.
var accessLine = regexp.MustCompile(`"GET (\S+) HTTP/1\.1" (\d{3}) `)

// accessCounts counts the access log's lines by "path status". A
// WebSocket's line is written when it closes.
func (p *nginxProc) accessCounts(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(p.dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := accessLine.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]+" "+m[2]]++
		}
	}
	return out
}
