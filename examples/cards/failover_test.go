package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/tools/certs"
)

// clusterAdminToken is the admin token of the failover test's nodes.
const clusterAdminToken = "cards-failover-admin-token"

// buildCards builds this directory's command (the cards server) into dir.
func buildCards(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	bin := filepath.Join(dir, "cards")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cardsProc is one cards server process of a cluster.
type cardsProc struct {
	id     string
	addr   string // HTTP host:port, from its "http listening" log line
	cmd    *exec.Cmd
	exited chan struct{}

	mu   sync.Mutex
	logs []string
}

// startCardsProc runs bin with args (JSON logs) and returns once it
// listens for HTTP. Cleanup kills it (SIGKILL) and waits for its exit.
func startCardsProc(t *testing.T, bin, id string, args ...string) *cardsProc {
	t.Helper()
	p := &cardsProc{id: id, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), "TICKSYNC_LOG_FORMAT=json")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = nil
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	go func() { // ends when the process's stderr closes
		defer close(p.exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs = append(p.logs, sc.Text())
			p.mu.Unlock()
			var m struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Message == "http listening" && m.Addr != "" {
				select {
				case addrs <- m.Addr:
				default:
				}
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			p.mu.Lock()
			logs := p.logs[max(0, len(p.logs)-40):]
			p.mu.Unlock()
			t.Logf("%s's last log lines:\n%s", id, strings.Join(logs, "\n"))
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.exited:
		t.Fatalf("%s exited before listening", id)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no 'http listening' log line within 20 s", id)
	}
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *cardsProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("%s: no exit 15 s after SIGKILL", p.id)
	}
}

func (p *cardsProc) url() string { return "ws://" + p.addr + "/ws" }

// adminGet GETs an admin API path of p into out.
func (p *cardsProc) adminGet(path string, out any) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+clusterAdminToken)
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s on %s: %s", path, p.id, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// match returns the match id as p lists it.
func (p *cardsProc) match(id string) (admin.Match, error) {
	var ms []admin.Match
	if err := p.adminGet("/admin/v1/matches", &ms); err != nil {
		return admin.Match{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return admin.Match{}, fmt.Errorf("%s does not list match %s", p.id, id)
}

// startCardsCluster builds the cards server and runs three of it as a
// cluster on 127.0.0.1 with cluster certificates (tools/certs): n1
// bootstraps, n2 and n3 join it; it returns once each is ready and n1
// lists the three alive.
func startCardsCluster(t *testing.T) []*cardsProc {
	t.Helper()
	dir := t.TempDir()
	bin := buildCards(t, dir)
	cfg := certs.DefaultConfig()
	cfg.Dir, cfg.Nodes = filepath.Join(dir, "certs"), []string{"n1", "n2", "n3"}
	if _, err := certs.Generate(cfg); err != nil {
		t.Fatal(err)
	}
	args := func(id string, more ...string) []string {
		return append([]string{
			"-node-id", id,
			"-http-addr", "127.0.0.1:0",
			"-raft-addr", "127.0.0.1:0",
			"-data-dir", filepath.Join(dir, id),
			"-admin-token", clusterAdminToken,
			"-cluster-ca", filepath.Join(cfg.Dir, "ca.crt"),
			"-cluster-cert", filepath.Join(cfg.Dir, certs.CertFile(id)),
			"-cluster-key", filepath.Join(cfg.Dir, certs.KeyFile(id)),
		}, more...)
	}
	n1 := startCardsProc(t, bin, "n1", args("n1", "-bootstrap")...)
	n2 := startCardsProc(t, bin, "n2", args("n2", "-join", "http://"+n1.addr)...)
	n3 := startCardsProc(t, bin, "n3", args("n3", "-join", "http://"+n1.addr)...)
	procs := []*cardsProc{n1, n2, n3}
	for _, p := range procs {
		testutil.CheckFor(t, 30*time.Second, func() error {
			resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + p.addr + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s /readyz: %s", p.id, resp.Status)
			}
			return nil
		})
	}
	testutil.CheckFor(t, 30*time.Second, func() error {
		var nodes []admin.Node
		if err := n1.adminGet("/admin/v1/nodes", &nodes); err != nil {
			return err
		}
		alive := 0
		for _, nd := range nodes {
			if nd.State == replication.NodeAlive {
				alive++
			}
		}
		if alive != 3 {
			return fmt.Errorf("n1 lists %+v", nodes)
		}
		return nil
	})
	return procs
}

// waitStates polls the players until ok accepts every one's table state,
// failing after timeout.
func waitStates(t *testing.T, players []*cardsClient, timeout time.Duration, what string, ok func(i int, st tableState) bool) []tableState {
	t.Helper()
	var sts []tableState
	testutil.CheckFor(t, timeout, func() error {
		sts = sts[:0]
		var bad []string
		for i, p := range players {
			_, st, problems := p.snapshot()
			if len(problems) > 0 {
				t.Fatalf("%s: %s", p.name, strings.Join(problems, "; "))
			}
			sts = append(sts, st)
			if !ok(i, st) {
				bad = append(bad, fmt.Sprintf("%s %+v", p.name, st))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("waiting for %s: %s", what, strings.Join(bad, "; "))
		}
		return nil
	})
	return sts
}

// takeTurn has the player whose turn it is play a matching card or draw,
// and waits until every player sees the turn pass. It returns the name of
// who acted and the card played (-1: drew).
func takeTurn(t *testing.T, players []*cardsClient, sts []tableState) (string, int) {
	t.Helper()
	for i, p := range players {
		if st := sts[i]; st.Seat == st.Turn {
			card := p.playOrDraw(st)
			waitStates(t, players, 10*time.Second, p.name+"'s turn to pass", func(j int, now tableState) bool {
				return now.Phase != 1 || now.Turn != st.Turn
			})
			return p.name, card
		}
	}
	t.Fatalf("no player's turn: %+v", sts)
	return "", 0
}

// TestFailover: three cards servers form a cluster (certificates, Raft),
// three Go players join one quick match through different nodes, get their
// cards and play a few turns; then the match's owner is killed with
// SIGKILL. Every player resumes its seat on a new owner with the same hand
// it held (decoded from the snapshots), and the game goes on there: the
// next player's play or draw is applied.
func TestFailover(t *testing.T) {
	t.Parallel() // mostly waits: on its nodes, its browser, its clocks
	start := time.Now()
	procs := startCardsCluster(t)
	t.Logf("3 nodes ready in %v", time.Since(start).Round(time.Millisecond))
	var urls []string
	for _, p := range procs {
		urls = append(urls, p.url())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := loadLayout(t)
	var players []*cardsClient
	for i, name := range []string{"ann", "bob", "cat"} {
		// Each player knows every node but starts at a different one.
		p := newCardsClient(t, l, name, append(slices.Clone(urls[i:]), urls[:i]...))
		p.start(t, ctx)
		players = append(players, p)
		// Seated before the next one comes: seats follow arrival.
		waitStates(t, players[i:], 15*time.Second, name+" seated", func(_ int, st tableState) bool { return st.Seat == i+1 })
	}
	w0, _, _ := players[0].snapshot()
	for _, p := range players {
		if w, _, _ := p.snapshot(); w.MatchID != w0.MatchID || w.NodeID != w0.NodeID {
			t.Fatalf("%s in match %s on %s, %s in %s on %s", p.name, w.MatchID, w.NodeID, players[0].name, w0.MatchID, w0.NodeID)
		}
	}
	var owner *cardsProc
	for _, p := range procs {
		if p.id == w0.NodeID {
			owner = p
		}
	}
	if owner == nil {
		t.Fatalf("the players are on %q, not a node of the cluster", w0.NodeID)
	}
	t.Logf("3 players in match %s on %s after %v", w0.MatchID, owner.id, time.Since(start).Round(time.Millisecond))

	sts := waitStates(t, players, 20*time.Second, "the deal", func(_ int, st tableState) bool {
		return st.Phase == 1 && len(st.Hand) == 3
	})
	for turn := 0; turn < 3; turn++ {
		who, card := takeTurn(t, players, sts)
		t.Logf("%s played %d (-1: drew)", who, card)
		sts = waitStates(t, players, 5*time.Second, "a state", func(int, tableState) bool { return true })
	}
	// The hands once every player has seen the last turn, and a checkpoint
	// of the match taken since: the new owner restores it, so the players'
	// hands must come back as they are now.
	var newest uint32
	for _, st := range sts {
		newest = max(newest, st.Tick)
	}
	before := sts
	testutil.CheckFor(t, 10*time.Second, func() error {
		m, err := owner.match(w0.MatchID)
		if err == nil && m.CheckpointTick <= newest {
			err = fmt.Errorf("checkpoint tick %d, the players saw tick %d", m.CheckpointTick, newest)
		}
		return err
	})
	m0, _ := owner.match(w0.MatchID)
	for i, p := range players {
		t.Logf("%s (seat %d) holds %v; top %d, turn %d, tick %d", p.name, before[i].Seat, before[i].Hand, before[i].Top, before[i].Turn, before[i].Tick)
	}

	heard := make([]int, len(players))
	for i, p := range players {
		heard[i] = p.eventsIn()
	}

	// kill -9 the owner.
	killed := time.Now()
	owner.kill(t)
	after := waitStates(t, players, 20*time.Second, "the players back on a new owner", func(_ int, st tableState) bool {
		return st.Node != "" && st.Node != owner.id
	})
	t.Logf("players back on %s %v after the kill", after[0].Node, time.Since(killed).Round(time.Millisecond))
	for i, p := range players {
		_, st, _ := p.snapshot()
		if st.Seat != before[i].Seat || !slices.Equal(st.Hand, before[i].Hand) || st.Top != before[i].Top || st.Turn != before[i].Turn {
			t.Errorf("%s after failover: seat %d hand %v top %d turn %d; before: seat %d hand %v top %d turn %d",
				p.name, st.Seat, st.Hand, st.Top, st.Turn, before[i].Seat, before[i].Hand, before[i].Top, before[i].Turn)
		}
		if st.Foreign != 0 {
			t.Errorf("%s received %d cards of other hands or of the deck", p.name, st.Foreign)
		}
	}
	var survivor *cardsProc
	for _, p := range procs {
		if p != owner {
			survivor = p
			break
		}
	}
	testutil.CheckFor(t, 10*time.Second, func() error {
		m, err := survivor.match(w0.MatchID)
		if err == nil && (m.Owner == owner.id || m.Owner == "" || m.Epoch <= m0.Epoch) {
			err = fmt.Errorf("%s lists %+v", survivor.id, m)
		}
		return err
	})
	m1, _ := survivor.match(w0.MatchID)
	t.Logf("match %s: owner %s epoch %d -> owner %s epoch %d", m1.ID, m0.Owner, m0.Epoch, m1.Owner, m1.Epoch)
	if after[0].Node != m1.Owner {
		t.Errorf("players on %s, the match's owner is %s", after[0].Node, m1.Owner)
	}

	// The game goes on on the new owner.
	who, card := takeTurn(t, players, after)
	now := waitStates(t, players, 5*time.Second, "a state", func(int, tableState) bool { return true })
	for i, p := range players {
		switch {
		case p.name != who:
			if !slices.Equal(now[i].Hand, before[i].Hand) {
				t.Errorf("%s's hand changed from %v to %v on another's turn", p.name, before[i].Hand, now[i].Hand)
			}
		case card >= 0:
			if slices.Contains(now[i].Hand, card) || now[i].Top != card {
				t.Errorf("%s played %d: hand %v, top %d", p.name, card, now[i].Hand, now[i].Top)
			}
		default:
			if len(now[i].Hand) != len(before[i].Hand)+1 {
				t.Errorf("%s drew: hand %v, before %v", p.name, now[i].Hand, before[i].Hand)
			}
		}
	}
	// The turn's events (a broadcast) reach every player: the new owner
	// numbers them after the newest each client held (Hello.event_ack),
	// none is dropped as a repeat of an old owner's seq.
	testutil.CheckFor(t, 10*time.Second, func() error {
		for i, p := range players {
			if n := p.eventsIn(); n <= heard[i] {
				return fmt.Errorf("%s was delivered no server event since the failover (%d before)", p.name, heard[i])
			}
		}
		return nil
	})
	t.Logf("on %s, %s played %d (-1: drew); test took %v", now[0].Node, who, card, time.Since(start).Round(time.Millisecond))
}
