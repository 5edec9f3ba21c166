package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

const testAdminToken = "cluster-test-admin-token"

// makeCerts runs `ticksync certs` for ids into a fresh directory and
// returns it.
func makeCerts(t *testing.T, ids ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	out, err := exec.Command(binary, "certs", "-out", dir, "-nodes", strings.Join(ids, ",")).CombinedOutput()
	if err != nil {
		t.Fatalf("ticksync certs: %v\n%s", err, out)
	}
	return dir
}

// certFlags are node id's cluster flags for the certificates in dir (no
// -node-id: it defaults to the certificate's).
func certFlags(dir, id string) []string {
	return []string{"-cluster-ca", filepath.Join(dir, "ca.crt"),
		"-cluster-cert", filepath.Join(dir, id+".crt"), "-cluster-key", filepath.Join(dir, id+".key")}
}

// startCluster starts three ticksync processes on 127.0.0.1 (free ports)
// with cluster certificates: n1 with -bootstrap, n2 and n3 with -join n1,
// one admin token, and waits until each is ready (holds its lease) and n1
// lists all three alive.
func startCluster(t *testing.T, extra ...string) []*proc {
	t.Helper()
	dir := makeCerts(t, "n1", "n2", "n3")
	args := func(id string, more ...string) []string {
		a := append([]string{"-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0", "-admin-token", testAdminToken}, certFlags(dir, id)...)
		return append(append(a, extra...), more...)
	}
	n1 := startProc(t, args("n1", "-bootstrap"))
	n2 := startProc(t, args("n2", "-join", "http://"+n1.addr))
	n3 := startProc(t, args("n3", "-join", "http://"+n1.addr))
	procs := []*proc{n1, n2, n3}
	for _, p := range procs {
		p.waitReady(t, 15*time.Second)
	}
	testutil.CheckTrue(t, 10*time.Second, func() bool {
		var nodes []admin.Node
		if adminGet(n1, "/admin/v1/nodes", &nodes) != nil || len(nodes) != 3 {
			return false
		}
		for _, nd := range nodes {
			if nd.State != replication.NodeAlive {
				return false
			}
		}
		return true
	})
	return procs
}

// adminGet GETs an admin API path of p with the bearer token into out.
func adminGet(p *proc, path string, out any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
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

// checkAdminAuth: the admin API and /debug/pprof need the bearer token.
func checkAdminAuth(t *testing.T, p *proc) {
	t.Helper()
	for _, path := range []string{"/admin/v1/nodes", "/debug/pprof/"} {
		for _, tok := range []string{"", "wrong", testAdminToken} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusUnauthorized
			if tok == testAdminToken {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Fatalf("GET %s with token %q: %d, want %d", path, tok, resp.StatusCode, want)
			}
		}
	}
}

func findMatch(t *testing.T, p *proc, id string) (admin.Match, bool) {
	t.Helper()
	var ms []admin.Match
	if err := adminGet(p, "/admin/v1/matches", &ms); err != nil {
		return admin.Match{}, false
	}
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return admin.Match{}, false
}

func wsURLs(procs []*proc) []string {
	var urls []string
	for _, p := range procs {
		urls = append(urls, "ws://"+p.addr+"/ws")
	}
	return urls
}

// resumes reports the client's resumes, and records the ticks it received
// per node.
type resumes struct {
	tickLog
	got chan time.Duration
}

func (r *resumes) OnResumed(_ *client.Client, downtime time.Duration) {
	select {
	case r.got <- downtime:
	default:
	}
}

// TestClusterThreeProcesses: three real ticksync processes form a cluster
// (bootstrap + two joins). Players arriving through different nodes are
// matched into one match placed through Raft; every node's admin API lists
// it with its owner and epoch, and the owner reports its live tick and its
// checkpoints. Then the owner is killed (SIGKILL): the match is given to
// another node at a new epoch and the players resume there in their own
// seats and entities.
func TestClusterThreeProcesses(t *testing.T) {
	start := time.Now()
	procs := startCluster(t)
	t.Logf("cluster ready in %v", time.Since(start).Round(time.Millisecond))
	urls := wsURLs(procs)
	checkAdminAuth(t, procs[1])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var players []*client.Client
	var handlers []*resumes
	for i := range 3 {
		cfg := client.DefaultConfig()
		// Each player knows every node but starts at a different one.
		cfg.URLs = append(append([]string(nil), urls[i:]...), urls[:i]...)
		h := &resumes{got: make(chan time.Duration, 1), tickLog: tickLog{first: map[string]uint32{}, last: map[string]uint32{}}}
		cfg.Handler = h
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("player %d: %v", i, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		players = append(players, c)
		handlers = append(handlers, h)
	}
	w0 := players[0].Welcome()
	var first []schema.Welcome
	for _, c := range players {
		first = append(first, c.Welcome())
	}
	for i, c := range players {
		if w := c.Welcome(); w.MatchID != w0.MatchID || w.NodeID != w0.NodeID {
			t.Fatalf("player %d in match %s on %s, want %s on %s (matchmaking fills one match)", i, w.MatchID, w.NodeID, w0.MatchID, w0.NodeID)
		}
	}
	var owner *proc
	for i, p := range procs {
		if fmt.Sprintf("n%d", i+1) == w0.NodeID {
			owner = p
		}
	}

	// Every node lists the match with its owner and epoch; the player count
	// arrives with the checkpoints.
	var listed admin.Match
	for _, p := range procs {
		testutil.CheckTrue(t, 5*time.Second, func() bool {
			m, ok := findMatch(t, p, w0.MatchID)
			listed = m
			return ok && m.Owner == w0.NodeID && m.Epoch > 0 && m.Players == 3 && m.Game == "arena"
		})
	}
	// The owner also reports the room's live tick and the checkpoint tick.
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		m, _ := findMatch(t, owner, w0.MatchID)
		listed = m
		return m.Tick != nil && *m.Tick > 0 && m.CheckpointTick > 0 && m.CheckpointTick <= *m.Tick
	})
	t.Logf("match %s on %s at epoch %d, tick %d, checkpoint tick %d", listed.ID, listed.Owner, listed.Epoch, *listed.Tick, listed.CheckpointTick)
	for _, c := range players {
		if err := c.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: 100})}); err != nil {
			t.Fatal(err)
		}
	}

	// Let the match run past its join-time checkpoints, so that the kill
	// lands at a random point of the checkpoint schedule.
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		m, _ := findMatch(t, owner, w0.MatchID)
		return m.Tick != nil && *m.Tick > 50
	})
	// kill -9 the owner.
	killed := time.Now()
	if err := owner.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, c := range players {
		select {
		case d := <-handlers[i].got:
			w := c.Welcome()
			if w.NodeID == w0.NodeID || w.MatchID != w0.MatchID {
				t.Fatalf("player %d resumed on %s in %s", i, w.NodeID, w.MatchID)
			}
			t.Logf("player %d back on %s after %v (takeover as the player sees it: %v after the kill)", i, w.NodeID, d.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("player %d did not resume within 10 s of the kill (stats %+v)", i, c.Stats())
		}
	}
	for i, c := range players {
		if w := c.Welcome(); w.PlayerID != first[i].PlayerID || w.EntityID != first[i].EntityID {
			t.Fatalf("player %d resumed as player %d entity %d, want %d and %d", i, w.PlayerID, w.EntityID, first[i].PlayerID, first[i].EntityID)
		}
		testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes >= 1 && c.AckTick() > listed.CheckpointTick })
	}
	var survivor *proc
	for _, p := range procs {
		if p != owner {
			survivor = p
			break
		}
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		m, ok := findMatch(t, survivor, w0.MatchID)
		return ok && m.Owner != w0.NodeID && m.Owner != "" && m.Epoch > listed.Epoch
	})
	m, _ := findMatch(t, survivor, w0.MatchID)
	t.Logf("after the kill: %s on %s at epoch %d", m.ID, m.Owner, m.Epoch)
	// Game time rolled back: the newest tick the old owner sent against the
	// tick the new owner restored (its first snapshot is restored+1 or later).
	for i, c := range players {
		_, oldLast, _ := handlers[i].get(w0.NodeID)
		newFirst, _, ok := handlers[i].get(c.Welcome().NodeID)
		if !ok {
			continue
		}
		back := int(oldLast) - int(newFirst) + 1
		t.Logf("player %d: old owner's last tick %d, new owner's first %d: %d ticks (%v) rolled back",
			i, oldLast, newFirst, back, time.Duration(back)*time.Second/30)
		// Bound: one flush interval (15 ticks; the rooms capture just before
		// each flush) plus the capture wait and Raft's apply latency; twice
		// the interval leaves slack for a loaded machine.
		if back > 2*15+5 {
			t.Errorf("player %d: %d ticks rolled back", i, back)
		}
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

// tickLog records, per node, the first and the newest snapshot tick a
// player received (client goroutine → test goroutine).
type tickLog struct {
	client.NopHandler
	mu    sync.Mutex
	first map[string]uint32
	last  map[string]uint32
}

func (l *tickLog) OnSnapshot(c *client.Client, sn *schema.Snapshot, _ *client.World) {
	node := c.Welcome().NodeID
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.first[node]; !ok {
		l.first[node] = sn.Tick
	}
	l.last[node] = max(l.last[node], sn.Tick)
}

func (l *tickLog) get(node string) (first, last uint32, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, ok = l.first[node]
	return first, l.last[node], ok
}

// TestClusterDrainOnSigterm: SIGTERM on the node that owns a match hands
// the match over with a final checkpoint: the player is redirected, resumes
// on the new owner in its seat, and sees no rollback of game time (the
// new owner's first tick follows the last one the old owner sent). The old
// process exits 0.
func TestClusterDrainOnSigterm(t *testing.T) {
	procs := startCluster(t)
	log := &tickLog{first: map[string]uint32{}, last: map[string]uint32{}}
	cfg := client.DefaultConfig()
	cfg.URLs = wsURLs(procs)
	cfg.Handler = log
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := c.Welcome()
	var owner *proc
	for i, p := range procs {
		if fmt.Sprintf("n%d", i+1) == w.NodeID {
			owner = p
		}
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, last, _ := log.get(w.NodeID); return last > 10 })
	owner.stop(t) // SIGTERM; exit status 0
	testutil.CheckTrue(t, 10*time.Second, func() bool { return c.Stats().Resumes >= 1 })
	now := c.Welcome()
	if now.NodeID == w.NodeID || now.PlayerID != w.PlayerID || now.EntityID != w.EntityID || now.MatchID != w.MatchID {
		t.Fatalf("after the drain: %+v, want player %d entity %d of %s on another node", now, w.PlayerID, w.EntityID, w.MatchID)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, _, ok := log.get(now.NodeID); return ok })
	_, oldLast, _ := log.get(w.NodeID)
	newFirst, _, _ := log.get(now.NodeID)
	if newFirst <= oldLast {
		t.Fatalf("game time rolled back: the old owner sent tick %d, the new one started at %d", oldLast, newFirst)
	}
	if st := c.Stats(); st.Redirects == 0 {
		t.Fatalf("stats %+v: the player was not redirected", st)
	}
	t.Logf("handed over from %s (last tick %d) to %s (first tick %d) in %v", w.NodeID, oldLast, now.NodeID, newFirst, c.Stats().LastResume)
}

// TestJoinWithWrongTokenExits: a node whose -join the cluster refuses for
// good (a wrong admin token) exits with status 1 instead of waiting.
func TestJoinWithWrongTokenExits(t *testing.T) {
	n1 := startProc(t, []string{"-node-id", "n1", "-bootstrap", "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0",
		"-admin-token", testAdminToken, "-insecure-cluster"})
	n1.waitReady(t, 15*time.Second)
	n2 := startProc(t, []string{"-node-id", "n2", "-http-addr", "127.0.0.1:0", "-raft-addr", "127.0.0.1:0",
		"-admin-token", "not-the-cluster-token", "-insecure-cluster", "-join", "http://" + n1.addr})
	select {
	case err := <-n2.exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a node refused by the cluster did not exit")
	}
}
