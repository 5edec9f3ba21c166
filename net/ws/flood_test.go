package ws

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/schema"
)

// startStack runs the real stack on loopback (game.Manager with the arena,
// this package's Server, httpserver) with the given edits to both configs,
// and returns the Server, the Manager and the address.
func startStack(t *testing.T, wsMod func(*Config), gameMod func(*game.Config)) (*Server, *game.Manager, string) {
	t.Helper()
	reg := game.NewRegistry()
	if err := arena.Register(reg); err != nil {
		t.Fatal(err)
	}
	gc := game.DefaultConfig()
	gc.NodeID = "n1"
	if gameMod != nil {
		gameMod(&gc)
	}
	mgr, err := game.NewManager(gc, reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	cfg.Joiner = mgr
	if wsMod != nil {
		wsMod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hc := httpserver.DefaultConfig()
	hc.Addr = "127.0.0.1:0"
	hs, err := httpserver.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	hs.Handle("/ws", srv.Handler())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := hs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = mgr.Shutdown(ctx)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("ws shutdown: %v", err)
		}
		// The flood's garbage is collected now, not in the middle of the
		// next test's timings.
		runtime.GC()
	})
	return srv, mgr, hs.Addr().String()
}

// floodRate is the attempts a second of the flood tests: the rate of a
// determined client on a good link, and bounded, so that the test measures
// the node's answer to it rather than how fast a 2-core machine can open
// sockets against itself.
const floodRate = 2500

// raceBuild is set under -race (race_test.go).
var raceBuild bool

// envInt reads a positive count from the environment, or returns def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}

// quantile returns the q-quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

// floodResult counts how a flood's connection attempts ended.
type floodResult struct {
	upgraded, refused429, refused503, failed int64
}

// Flood child process: a flood runs in a process of its own, as an
// attacker's client would; in the node's process its dials, writes and
// reads would compete with the node for the same two Ps.
const envFloodChild = "TICKSYNC_FLOOD_CHILD" // "addr src n parallel rate"

// startFlood runs flood in a child process (TestFloodChild) and returns
// its counts once every attempt has ended; the child holds the upgraded
// connections open until the test ends.
func startFlood(t *testing.T, addr, src string, n, parallel, rate int) floodResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodChild$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d %d %d", envFloodChild, addr, src, n, parallel, rate))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the child closes its connections and exits
		_ = cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the flood process exited before it was done")
			}
			var r floodResult
			if n, _ := fmt.Sscanf(line, "done %d %d %d %d", &r.upgraded, &r.refused429, &r.refused503, &r.failed); n == 4 {
				go func() { // drain what the child prints when it exits
					for range lines {
					}
				}()
				return r
			}
		case <-timeout:
			t.Fatal("the flood process did not finish in 2 minutes")
		}
	}
}

// TestFloodChild is the flood process of TestConnectionFloodFromOneIP; it
// runs only when started by it (envFloodChild).
func TestFloodChild(t *testing.T) {
	spec := os.Getenv(envFloodChild)
	if spec == "" {
		t.Skip("the flood process of TestConnectionFloodFromOneIP; started by it")
	}
	var addr, src string
	var n, parallel, rate int
	if k, err := fmt.Sscan(spec, &addr, &src, &n, &parallel, &rate); k != 5 {
		t.Fatalf("%s=%q: %v", envFloodChild, spec, err)
	}
	r := flood(t, addr, src, n, parallel, rate)
	fmt.Printf("done %d %d %d %d\n", r.upgraded.Load(), r.refused429.Load(), r.refused503.Load(), r.failed.Load())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done measuring
}

// floodCounts counts a flood's attempts as they end.
type floodCounts struct {
	upgraded, refused429, refused503, failed atomic.Int64
}

// flood opens n WebSocket connections from the loopback address src to
// addr, rate attempts a second with at most `parallel` in flight. Each
// upgraded connection sends a guest Hello (matchmaking) and is held open,
// unread, until the test ends, like a client that wants seats and nothing
// else.
func flood(t *testing.T, addr, src string, n, parallel, rate int) *floodCounts {
	t.Helper()
	res := &floodCounts{}
	hello := schema.NewEncoder(256)
	helloMsg := append([]byte(nil), hello.Hello(&schema.Hello{})...)
	frame := maskedFrame(helloMsg)
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	req := []byte(fmt.Sprintf("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr))
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for range jobs {
				conn, err := d.Dial("tcp", addr)
				if err != nil {
					res.failed.Add(1)
					continue
				}
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				resp, err := func() (*http.Response, error) {
					if _, err := conn.Write(req); err != nil {
						return nil, err
					}
					return http.ReadResponse(bufio.NewReader(conn), nil)
				}()
				switch {
				case err != nil:
					res.failed.Add(1)
				case resp.StatusCode == http.StatusSwitchingProtocols:
					res.upgraded.Add(1)
					if _, err := conn.Write(frame); err != nil {
						res.failed.Add(1)
					}
					_ = conn.SetDeadline(time.Time{})
					mu.Lock()
					held = append(held, conn)
					mu.Unlock()
					continue
				case resp.StatusCode == http.StatusTooManyRequests:
					res.refused429.Add(1)
				case resp.StatusCode == http.StatusServiceUnavailable:
					res.refused503.Add(1)
				default:
					res.failed.Add(1)
				}
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				_ = conn.Close()
			}
		})
	}
	// Attempt i starts no earlier than i/rate after the first.
	pace := time.NewTicker(time.Millisecond)
	defer pace.Stop()
	begin := time.Now()
	for i := range n {
		for time.Since(begin) < time.Duration(i)*time.Second/time.Duration(rate) {
			<-pace.C
		}
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	return res
}

// maskedFrame builds one masked binary frame (a client's) of payload.
func maskedFrame(payload []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{0x82}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126, byte(n>>8), byte(n))
	}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// TestConnectionFloodFromOneIP: players watch a room at 30 Hz while one
// source address (127.0.0.2) opens connections as fast as 16 parallel
// dialers in another process can, each sending a guest Hello and holding
// its socket. The
// default limits refuse most of them before the upgrade (429, 503) and the
// guest-match cap refuses the Hellos past 30 new matches (Error rate
// limited), all counted; the address never holds more than
// MaxConnsPerIP sessions nor creates more than MaxMatchesPerIP matches; and
// the watchers' snapshots keep arriving every tick: p99 gap under 50 ms,
// each gap less the time the machine held the node's process off the CPU
// meanwhile (cpuwait_test.go: on a shared 2-core machine other processes
// alone cause 100–300 ms stalls). Under -race, which slows the node several
// times, the gaps are logged, not judged.
//
// 5,000 connections (about 1.5 s on a 2-core machine, 2–3 s with -race);
// TICKSYNC_FLOOD_CONNS sets another count.
func TestConnectionFloodFromOneIP(t *testing.T) {
	n := envInt(t, "TICKSYNC_FLOOD_CONNS", 5000)
	machine := startCPUWait(t)
	began := time.Now()
	srv, mgr, addr := startStack(t, nil, nil)
	wsDef, gameDef := DefaultConfig(), game.DefaultConfig()

	const watchers = 4
	var ps []*player
	for range watchers {
		_, p := dialPlayer(t, addr)
		ps = append(ps, p)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		for _, p := range ps {
			p.mu.Lock()
			k := len(p.arrivals)
			p.mu.Unlock()
			if k < 30 {
				return false
			}
		}
		return true
	})

	start := time.Now()
	res := startFlood(t, addr, "127.0.0.2", n, 16, floodRate)
	// A second of play after the last attempt: the Hellos admitted last
	// are joined (or refused) meanwhile.
	time.Sleep(time.Second)
	end := time.Now()

	// The watchers' gaps during the flood, each less the time the machine
	// held this process off the CPU meanwhile (cpuwait_test.go).
	period := time.Second / time.Duration(gameDef.TickRate)
	var gaps, all []time.Duration
	for i, p := range ps {
		p.mu.Lock()
		for k := 1; k < len(p.arrivals); k++ {
			a, b := p.arrivals[k-1], p.arrivals[k]
			if a.After(start) && !b.After(end) {
				all = append(all, b.Sub(a))
				gaps = append(gaps, machine.judged(a, b, period))
			}
		}
		p.mu.Unlock()
		if p.ticksSeen() == 0 {
			t.Fatalf("watcher %d got nothing", i)
		}
	}
	st, gs := srv.Stats(), mgr.Stats()
	rawP99, rawWorst := quantile(all, 0.99), quantile(all, 1)
	p50, p99, worst := quantile(gaps, 0.5), quantile(gaps, 0.99), quantile(gaps, 1)
	t.Logf("flood of %d from one address in %v: %d upgraded, %d refused 429, %d refused 503, %d failed; "+
		"refusals counted: ws upgrades_per_ip %d conns_per_ip %d, game matches_per_ip %d; %d matches; "+
		"watchers' gaps (less the machine's CPU waits) p50 %v p99 %v max %v over %d; as measured p99 %v max %v",
		n, end.Sub(start).Round(time.Millisecond), res.upgraded, res.refused429, res.refused503, res.failed,
		st.RefusedUpgradesPerIP, st.RefusedConnsPerIP, gs.RefusedMatchesPerIP, gs.Matches,
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond), len(gaps),
		rawP99.Round(time.Microsecond), rawWorst.Round(time.Microsecond))

	if got := res.upgraded + res.refused429 + res.refused503 + res.failed; got != int64(n) {
		t.Fatalf("%d attempts accounted for, want %d", got, n)
	}
	if res.failed > 0 {
		t.Errorf("%d attempts failed without an HTTP answer", res.failed)
	}
	if uint64(res.refused429) != st.RefusedUpgradesPerIP || uint64(res.refused503) != st.RefusedConnsPerIP {
		t.Errorf("refusals seen by the client (429: %d, 503: %d) and counted (%d, %d) differ",
			res.refused429, res.refused503, st.RefusedUpgradesPerIP, st.RefusedConnsPerIP)
	}
	if res.refused429+res.refused503 == 0 {
		t.Errorf("no upgrade refused")
	}
	// The address's upgrades: at most the bucket's burst plus its rate over
	// the flood.
	maxUp := int64(2*wsDef.MaxUpgradesPerIP) + int64(float64(wsDef.MaxUpgradesPerIP)*end.Sub(start).Seconds()) + 1
	if up := res.upgraded; up > maxUp {
		t.Errorf("%d upgrades from one address, want at most %d", up, maxUp)
	}
	if s := st.Sessions; s > int64(wsDef.MaxConnsPerIP)+watchers {
		t.Errorf("%d sessions open, want at most %d from the flooding address plus %d watchers", s, wsDef.MaxConnsPerIP, watchers)
	}
	// One match is the watchers'; the flood creates at most its budget:
	// the bucket's burst, plus what it refilled meanwhile.
	budget := gameDef.MaxMatchesPerIP + int(float64(gameDef.MaxMatchesPerIP)*time.Since(began).Minutes()) + 1
	if gs.Matches > budget+1 {
		t.Errorf("%d matches, want at most %d", gs.Matches, budget+1)
	}
	// The target is a p99 gap under 50 ms (1.5 ticks at 30 Hz), measured
	// with TICKSYNC_FLOOD_STRICT=1 on a machine running nothing else. In
	// the default suite other test binaries share the cores and take
	// memory bandwidth and caches the CPU-wait discount cannot see, so the
	// bound there is 3 ticks: still far under what a flood did to the
	// watchers before the limits (p99 236 ms, max 655 ms).
	bound := 100 * time.Millisecond
	if os.Getenv("TICKSYNC_FLOOD_STRICT") == "1" {
		bound = 50 * time.Millisecond
	}
	switch {
	case raceBuild:
		t.Logf("-race: the watchers' p99 gap %v is not judged (the race detector slows the node several times)", p99)
	case p99 >= bound:
		t.Errorf("watchers' snapshot gap p99 %v during the flood, want < %v", p99, bound)
	}
}

// ticksSeen returns how many snapshots the player got.
func (p *player) ticksSeen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ticks)
}

// TestHelloDropChurn: connections that send a guest Hello and drop at once
// leave seats waiting for a resume, then matches nobody is left in. They
// all close once the resume grace has passed (here 300 ms), well before
// EmptyTimeout (30 s): 2,000 churns leave no match behind. (About 0.7 s,
// 1.5 s with -race; TICKSYNC_CHURN sets another count.)
func TestHelloDropChurn(t *testing.T) {
	n := envInt(t, "TICKSYNC_CHURN", 2000)
	_, mgr, addr := startStack(t, func(c *Config) {
		c.MaxConnsPerIP, c.MaxUpgradesPerIP = 0, 0 // the churn's lifecycle, not the limits
	}, func(c *game.Config) {
		c.MaxMatchesPerIP = 0
		c.ResumeGrace = 300 * time.Millisecond
	})
	hello := schema.NewEncoder(256)
	frame := maskedFrame(append([]byte(nil), hello.Hello(&schema.Hello{})...))
	var wg sync.WaitGroup
	var welcomed atomic.Int64
	jobs := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for range jobs {
				c, resp, err := dialWS(t, addr, dialOpts{})
				if err != nil || c == nil {
					t.Errorf("dial: %v %v", resp, err)
					continue
				}
				if _, err := c.conn.Write(frame); err != nil {
					t.Errorf("hello: %v", err)
				}
				// Wait for the Welcome so that the Hello was certainly
				// seated, then vanish.
				if m, err := c.next(10 * time.Second); err == nil && m.welcome.ResumeToken != "" {
					welcomed.Add(1)
				}
				_ = c.conn.Close()
			}
		})
	}
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	after := mgr.Stats()
	t.Logf("%d churns: %d welcomed, %d matches and %d seats right after", n, welcomed.Load(), after.Matches, after.Players)
	if welcomed.Load() != int64(n) {
		t.Fatalf("%d of %d Hellos welcomed", welcomed.Load(), n)
	}
	testutil.CheckFor(t, 15*time.Second, func() error {
		if st := mgr.Stats(); st.Matches != 0 || st.Players != 0 {
			return fmt.Errorf("%d matches and %d seats left after the churn", st.Matches, st.Players)
		}
		return nil
	})
}
