package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ticksync/ticksync/internal/testutil"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// clusterAdminToken is the admin token the failover test's nodes share.
const clusterAdminToken = "browser-failover-admin-token"

// clusterProc is one ticksync process of a real cluster, on its own
// loopback IP (so that each node is its own origin for the browser).
type clusterProc struct {
	id     string
	addr   string // HTTP host:port
	cmd    *exec.Cmd
	logs   *testutil.SyncBuffer
	exited chan error // receives cmd.Wait's result once
	done   bool       // exited was read
}

// advertise is the node's client URL: the default, ws://<http-addr>/ws.
func (c *clusterProc) advertise() string { return "ws://" + c.addr + "/ws" }

// kill sends SIGKILL and waits for the process to be gone.
func (c *clusterProc) kill(t *testing.T) {
	t.Helper()
	if c.done {
		return
	}
	_ = c.cmd.Process.Kill()
	select {
	case <-c.exited:
		c.done = true
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: no exit 15 s after SIGKILL", c.id)
	}
}

// freeAddrOn returns ip:port with a port free on ip a moment ago. Binding
// 127.0.0.x (x > 1) needs Linux's 127.0.0.0/8 on lo: elsewhere the test is
// skipped (failed with TICKSYNC_REQUIRE_BROWSER=1).
func freeAddrOn(t *testing.T, ip netip.Addr) string {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		missingTool(t, "cannot bind %s (this test needs 127.0.0.0/8 on lo, as on Linux): %v", ip, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startClusterNode runs bin (with env) as node id of a cluster on ip, with
// args after the node's own flags, and returns once the process runs.
// Cleanup kills it.
func startClusterNode(t *testing.T, bin string, env []string, dir, id string, ip netip.Addr, args ...string) *clusterProc {
	t.Helper()
	c := &clusterProc{id: id, addr: freeAddrOn(t, ip), logs: &testutil.SyncBuffer{}, exited: make(chan error, 1)}
	c.cmd = exec.Command(bin, append([]string{
		"-node-id", id,
		"-http-addr", c.addr,
		"-raft-addr", freeAddrOn(t, ip),
		"-data-dir", filepath.Join(dir, id),
		"-admin-token", clusterAdminToken,
		"-insecure-cluster", // a trusted loopback network
		"-log-format", "json",
	}, args...)...)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.kill(t)
		if t.Failed() {
			t.Logf("%s output (last 6 KiB):\n%s", id, tail(c.logs.String(), 6<<10))
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// clusterGet GETs path on node c into out (JSON) with the admin token.
func clusterGet(c *clusterProc, path string, out any) error {
	return clusterDo(c, http.MethodGet, path, nil, out)
}

func clusterDo(c *clusterProc, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, "http://"+c.addr+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+clusterAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s on %s: %s", method, path, c.id, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// liveURLs is the client URLs that GET /v1/cluster of c lists.
func liveURLs(c *clusterProc) ([]string, error) {
	var v struct {
		Nodes []struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"nodes"`
	}
	if err := clusterGet(c, "/v1/cluster", &v); err != nil {
		return nil, err
	}
	var urls []string
	for _, n := range v.Nodes {
		urls = append(urls, n.URL)
	}
	return urls, nil
}

// startBrowserCluster starts three nodes (nodeBinary), n1 on 127.0.0.21
// (-bootstrap), n2 and n3 on .22 and .23 (-join n1), and waits until every
// node is ready and lists all three in /v1/cluster.
func startBrowserCluster(t *testing.T) []*clusterProc {
	t.Helper()
	dir := t.TempDir()
	bin, env := nodeBinary(t)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 0, byte(21 + i)}) }
	n1 := startClusterNode(t, bin, env, dir, "n1", ip(0), "-bootstrap")
	waitNodeReady(t, n1)
	n2 := startClusterNode(t, bin, env, dir, "n2", ip(1), "-join", "http://"+n1.addr)
	n3 := startClusterNode(t, bin, env, dir, "n3", ip(2), "-join", "http://"+n1.addr)
	nodes := []*clusterProc{n1, n2, n3}
	want := []string{n1.advertise(), n2.advertise(), n3.advertise()}
	for _, c := range nodes {
		waitNodeReady(t, c)
		var got []string
		checkFor(t, 30*time.Second, c.id+" to list the three nodes", func() bool {
			got, _ = liveURLs(c)
			return slices.Equal(got, want)
		}, func() string { return fmt.Sprintf("%s lists %v, want %v", c.id, got, want) })
	}
	return nodes
}

// waitNodeReady polls /readyz of c (30 s: a busy machine).
func waitNodeReady(t *testing.T, c *clusterProc) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	status := "no answer"
	checkFor(t, 30*time.Second, c.id+" to be ready", func() bool {
		select {
		case err := <-c.exited:
			c.done = true
			t.Fatalf("%s exited: %v\n%s", c.id, err, tail(c.logs.String(), 6<<10))
		default:
		}
		resp, err := client.Get("http://" + c.addr + "/readyz")
		if err != nil {
			status = err.Error()
			return false
		}
		resp.Body.Close()
		status = resp.Status
		return resp.StatusCode == http.StatusOK
	}, func() string { return "/readyz: " + status })
}

// holdUntilMoved holds the key of m until the own entity has moved 20 arena
// units its way, releases it, and returns the state then.
func holdUntilMoved(p *page, m keyMove, timeout time.Duration) *debugState {
	p.t.Helper()
	x0 := p.state().Own.X
	p.key(input.DispatchKeyEventTypeKeyDown, m.key, m.code, m.vk)
	s := p.waitState(timeout, "the own entity to move with '"+m.key+"'", func(s *debugState) bool {
		return s.State == "playing" && s.Own != nil && (s.Own.X-x0)*m.sign > 16*20
	})
	p.key(input.DispatchKeyEventTypeKeyUp, m.key, m.code, m.vk)
	p.t.Logf("held %q on %s: own x %d -> %d", m.key, s.NodeID, x0, s.Own.X)
	return s
}

// roomyMove is the key that has more room ahead of the entity at x.
func roomyMove(x int32) keyMove {
	if x > arenaMax/2 {
		return keyMove{"a", "KeyA", 65, -1}
	}
	return keyMove{"d", "KeyD", 68, +1}
}

// TestBrowserFailover: a page served by a node of a real 3-node cluster
// survives the death of that node. The page is loaded from n2 (its own
// origin, 127.0.0.22) into a match n2 owns, plays (holding a key moves its
// entity), learns the cluster's nodes from GET /v1/cluster (fetched across
// origins after a resume), and then n2 is killed with SIGKILL: the page
// reconnects through the other nodes, is redirected to the match's new
// owner once the cluster has moved it, resumes with the same player and
// entity, and its entity moves again.
func TestBrowserFailover(t *testing.T) {
	start := time.Now()
	p := newPage(t)
	nodes := startBrowserCluster(t)
	n1, n2 := nodes[0], nodes[1]
	t.Logf("3 nodes ready in %v: %s %s %s", time.Since(start).Round(time.Millisecond), n1.addr, n2.addr, nodes[2].addr)

	// A match on n2, a follower: its death moves the match without waiting
	// for a leader election.
	var m struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
	}
	if err := clusterDo(n1, http.MethodPost, "/admin/v1/matches", map[string]string{"game": "arena", "node": "n2"}, &m); err != nil {
		t.Fatal(err)
	}
	if m.Owner != "n2" {
		t.Fatalf("match %s created on %q, want n2", m.ID, m.Owner)
	}

	// The owner reports a live tick once its room runs.
	checkFor(t, 15*time.Second, "n2 to run the match's room", func() bool {
		var am struct {
			Tick *uint32 `json:"tick"`
		}
		return clusterGet(n2, "/admin/v1/matches/"+m.ID, &am) == nil && am.Tick != nil
	}, func() string { return "no tick on n2" })

	page := "http://" + n2.addr + "/?name=failover&match=" + m.ID
	p.do(15*time.Second, chromedp.Navigate(page))
	want := []string{n1.advertise(), n2.advertise(), nodes[2].advertise()}
	s := p.waitState(20*time.Second, "playing on n2, with the node list", func(s *debugState) bool {
		return s.State == "playing" && s.NodeID == "n2" && s.Own != nil && slices.Equal(s.Nodes, want)
	})
	before := *s
	t.Logf("playing on %s (%s): match %s, player %d, entity %d, tick %d; knows %v",
		s.NodeID, s.URL, s.MatchID, s.PlayerID, s.OwnEntityID, s.Tick, s.Nodes)
	if s.MatchID != m.ID {
		t.Fatalf("page in match %q, want %q", s.MatchID, m.ID)
	}
	s = holdUntilMoved(p, roomyMove(s.Own.X), 15*time.Second)

	// kill -9 the node that served the page and runs its match.
	killedAt := time.Now()
	n2.kill(t)
	t.Logf("killed n2 at tick %d", s.Tick)
	p.waitState(10*time.Second, "the page to notice", func(s *debugState) bool {
		return s.State != "playing" || s.Reconnects > before.Reconnects
	})

	// On another node the page drops its worlds (the new owner's ticks are
	// not the old owner's) and applies a full snapshot first.
	s = p.waitState(40*time.Second, "playing again on another node", func(s *debugState) bool {
		return s.State == "playing" && s.NodeID != "" && s.NodeID != "n2" && s.Own != nil && s.FullSnaps > before.FullSnaps
	})
	t.Logf("resumed on %s (%s) %v after the kill: player %d, entity %d, tick %d, %d reconnects, %d redirects",
		s.NodeID, s.URL, time.Since(killedAt).Round(time.Millisecond), s.PlayerID, s.OwnEntityID, s.Tick,
		s.Reconnects, s.Redirects)
	if s.PlayerID != before.PlayerID || s.OwnEntityID != before.OwnEntityID || s.MatchID != before.MatchID {
		t.Fatalf("after failover: match %s player %d entity %d, want match %s player %d entity %d (the same seat)",
			s.MatchID, s.PlayerID, s.OwnEntityID, before.MatchID, before.PlayerID, before.OwnEntityID)
	}
	if s.URL == n2.advertise() {
		t.Fatalf("playing through %s, the dead node's URL", s.URL)
	}
	s = holdUntilMoved(p, roomyMove(s.Own.X), 15*time.Second)
	if s.BadSnapshots != 0 {
		t.Errorf("%d snapshots could not be applied (last error %q)", s.BadSnapshots, s.LastError)
	}

	// The survivors drop n2 from their list.
	alive := []string{n1.advertise(), nodes[2].advertise()}
	var got []string
	checkFor(t, 20*time.Second, "n1 to list n1 and n3 only", func() bool {
		got, _ = liveURLs(n1)
		return slices.Equal(got, alive)
	}, func() string { return fmt.Sprintf("lists %v", got) })
	// The page learns it too: from n1 or n3, another origin than the page's
	// (CORS), after its resume and then every 10 s.
	s = p.waitState(25*time.Second, "the page's node list without n2", func(s *debugState) bool {
		return slices.Equal(s.Nodes, alive)
	})
	t.Logf("after failover /v1/cluster lists %v, the page knows %v; test took %v",
		got, s.Nodes, time.Since(start).Round(time.Millisecond))
	t.Logf("screenshot: %s", p.screenshot("ticksync-failover"))

	// The browser logs the refused connections to the dead node; nothing
	// else may go wrong.
	dead := n2.addr
	expected := p.checkNoErrorsExcept(func(e string) bool {
		return strings.HasPrefix(e, "[network] ") && strings.Contains(e, dead)
	})
	t.Logf("%d network errors about the dead node in the page's log", expected)
}
