package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/ticksync/ticksync/internal/testutil"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/ticksync/ticksync/games/arena"
)

// The real-browser tests drive Debian's Chromium through the DevTools
// protocol (chromedp). Chromium runs headless with the flags this machine
// kind needs (no sandbox as root, no GPU, no background networking: the
// network is closed) and a fresh profile per test.

// debugState mirrors the page's window.__ticksync (src/arena.ts DebugState).
type debugState struct {
	State        string       `json:"state"`
	URL          string       `json:"url"`
	Nodes        []string     `json:"nodes"`
	Game         string       `json:"game"`
	SchemaHash   string       `json:"schemaHash"`
	NodeID       string       `json:"nodeId"`
	MatchID      string       `json:"matchId"`
	PlayerID     uint32       `json:"playerId"`
	OwnEntityID  uint32       `json:"ownEntityId"`
	Tick         uint32       `json:"tick"`
	Entities     int          `json:"entities"`
	Own          *debugEntity `json:"own"`
	Snapshots    int          `json:"snapshots"`
	FullSnaps    int          `json:"fullSnapshots"`
	BadSnapshots int          `json:"badSnapshots"`
	InputSeq     uint32       `json:"inputSeq"`
	LastInputSeq uint32       `json:"lastInputSeq"`
	PingMS       float64      `json:"pingMs"`
	BytesPerSec  int          `json:"bytesPerSec"`
	Reconnects   int          `json:"reconnects"`
	Stalls       int          `json:"stalls"`
	Redirects    int          `json:"redirects"`
	LastClose    int          `json:"lastClose"`
	LastError    string       `json:"lastError"`
}

type debugEntity struct {
	ID    uint32 `json:"id"`
	Owner uint32 `json:"owner"`
	Kind  string `json:"kind"`
	X     int32  `json:"x"`
	Y     int32  `json:"y"`
	HP    uint8  `json:"hp"`
}

// chromiumPath finds the browser: $TICKSYNC_CHROMIUM, /usr/bin/chromium, or
// chromium / chromium-browser on PATH.
func chromiumPath() string {
	if p := os.Getenv("TICKSYNC_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// page is one headless Chromium tab and what its console said.
type page struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []string
	errors  []string // exceptions and console errors
}

// newPage starts Chromium (skipping or failing the test when it is missing,
// see missingTool) and returns its first tab. Cleanup stops the browser.
func newPage(t *testing.T) *page {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := chromiumPath()
	if path == "" {
		missingTool(t, "chromium not found (apt-get install -y chromium, or set TICKSYNC_CHROMIUM)")
	}
	var stderr testutil.SyncBuffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 700),
		chromedp.CombinedOutput(&stderr),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	p := &page{t: t, ctx: ctx}
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v\n%s", path, err, stderr.String())
	}
	// The console reader exits when the tab's context ends.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m.String())
			if m.IsException() || m.Type == chromedp.ConsoleError {
				text := m.String()
				if m.Source != "" {
					// The browser's own log: "[network] error: ..."
					text = "[" + m.Source + "] " + text
				}
				p.errors = append(p.errors, text)
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(p.consoleLines(), "\n"))
		}
	})
	return p
}

func (p *page) consoleLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// checkNoErrors fails the test if the page threw or logged an error.
func (p *page) checkNoErrors() {
	p.t.Helper()
	p.checkNoErrorsExcept(func(string) bool { return false })
}

// checkNoErrorsExcept is checkNoErrors for the errors that expected does
// not accept, and returns how many it accepted.
func (p *page) checkNoErrorsExcept(expected func(string) bool) int {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var bad []string
	for _, e := range p.errors {
		if !expected(e) {
			bad = append(bad, e)
		}
	}
	if len(bad) > 0 {
		p.t.Errorf("page errors:\n%s", strings.Join(bad, "\n"))
	}
	return len(p.errors) - len(bad)
}

// waitHUD waits until the HUD shows a bytes/s figure, so that a screenshot
// has all of it.
func (p *page) waitHUD() string {
	p.t.Helper()
	var hud string
	checkFor(p.t, 5*time.Second, "the HUD to show bytes/s", func() bool {
		hud = p.eval(`document.getElementById("hud").textContent`)
		return strings.Contains(hud, "KiB/s") && !strings.Contains(hud, " 0.0 KiB/s")
	}, func() string { return "HUD " + hud })
	return hud
}

// do runs actions with a timeout.
func (p *page) do(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("chromedp: %v", err)
	}
}

// eval evaluates a JavaScript expression that yields a string.
func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// state reads window.__ticksync; nil before the client has started.
func (p *page) state() *debugState {
	p.t.Helper()
	raw := p.eval(`JSON.stringify(window.__ticksync ?? null)`)
	var s *debugState
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		p.t.Fatalf("decode window.__ticksync %q: %v", raw, err)
	}
	return s
}

// waitState polls the page until ok accepts its state, and returns it.
func (p *page) waitState(timeout time.Duration, what string, ok func(*debugState) bool) *debugState {
	p.t.Helper()
	var last *debugState
	checkFor(p.t, timeout, what, func() bool {
		last = p.state()
		return last != nil && ok(last)
	}, func() string { return fmt.Sprintf("last state %+v", last) })
	return last
}

// key sends a key down or up event with the DOM code the client listens to.
func (p *page) key(typ input.DispatchKeyEventType, key, code string, vk int64) {
	p.t.Helper()
	p.do(5*time.Second, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: key, Code: code, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk,
		})
		return err
	}))
}

// screenshot saves the viewport as a PNG under $TICKSYNC_SCREENSHOT_DIR (set
// it to keep the pictures; otherwise they go to the test's temp dir) and
// returns its path.
func (p *page) screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("TICKSYNC_SCREENSHOT_DIR")
	if dir == "" {
		dir = p.t.TempDir()
	}
	f, err := os.CreateTemp(dir, name+"-*.png")
	if err != nil {
		p.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(png); err != nil {
		p.t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		p.t.Fatalf("screenshot is not a PNG")
	}
	return f.Name()
}

// checkFor polls fn until it returns true, failing the test after timeout
// with what and detail().
func checkFor(t *testing.T, timeout time.Duration, what string, fn func() bool, detail func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; %s", timeout, what, detail())
		}
		<-tick.C
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startNode runs a node (nodeBinary: the arena of games/arena, this
// package's page at "/") as a one-node dev cluster on free loopback ports;
// it returns the base URL. Cleanup sends SIGINT and waits for the exit.
func startNode(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin, env := nodeBinary(t)

	httpAddr := freeAddr(t)
	var logs testutil.SyncBuffer
	cmd := exec.Command(bin,
		"-http-addr", httpAddr,
		"-raft-addr", freeAddr(t),
		"-data-dir", filepath.Join(dir, "data"),
		"-log-format", "json",
	)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("node exit after SIGINT: %v", err)
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("node did not exit within 15 s of SIGINT")
		}
		if t.Failed() {
			t.Logf("node output:\n%s", logs.String())
		}
	})

	base := "http://" + httpAddr
	client := &http.Client{Timeout: time.Second}
	checkFor(t, 30*time.Second, "the node to serve /", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("node exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := client.Get(base + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, logs.String)
	return base
}

// keyMove is a key to hold and the sign of the x motion it causes.
type keyMove struct {
	key, code string
	vk        int64
	sign      int32
}

// arenaMax is the arena's largest coordinate in wire units.
const arenaMax = arena.MaxPos

// TestBrowserArena plays the arena in a real browser against a real node:
// the page fetches the arena's schema, connects, renders snapshots (deltas
// against its acks) read through the schema, holding 'd' moves the own
// entity right and 'a' left, and a screenshot is kept.
func TestBrowserArena(t *testing.T) {
	base := startNode(t)
	p := newPage(t)

	p.do(15*time.Second, chromedp.Navigate(base+"/?name=browser-test"))
	s := p.waitState(20*time.Second, "snapshots with the own entity", func(s *debugState) bool {
		return s.State == "playing" && s.Tick > 0 && s.Entities > 1 && s.Own != nil
	})
	t.Logf("playing: player %d entity %d, tick %d, %d entities, own at (%d, %d)",
		s.PlayerID, s.OwnEntityID, s.Tick, s.Entities, s.Own.X, s.Own.Y)
	if want := arena.Schema().HashString(); s.Game != arena.Name || s.SchemaHash != want {
		t.Errorf("page plays %q with schema %s, want %q %s", s.Game, s.SchemaHash, arena.Name, want)
	}
	if s.Own.Kind != "Avatar" || s.Own.HP == 0 {
		t.Errorf("own entity %+v: want a live Avatar", *s.Own)
	}
	if s.Entities != arena.NPCs+1 {
		t.Errorf("%d entities, want the arena's %d NPCs and the page's avatar", s.Entities, arena.NPCs)
	}
	tick0 := s.Tick

	// Hold 'd' (right) and then 'a' (left); the avatar spawns anywhere, so
	// when it has under 100 units of room on the right, go left first.
	right := keyMove{"d", "KeyD", 68, +1}
	left := keyMove{"a", "KeyA", 65, -1}
	moves := []keyMove{right, left}
	if s.Own.X > arenaMax-16*100 {
		moves = []keyMove{left, right}
	}
	for _, m := range moves {
		x0 := p.state().Own.X
		p.key(input.DispatchKeyEventTypeKeyDown, m.key, m.code, m.vk)
		s = p.waitState(10*time.Second, "the own entity to move with '"+m.key+"'", func(s *debugState) bool {
			return s.Own != nil && (s.Own.X-x0)*m.sign > 16*20 // 20 arena units
		})
		p.key(input.DispatchKeyEventTypeKeyUp, m.key, m.code, m.vk)
		t.Logf("held %q: own x %d -> %d", m.key, x0, s.Own.X)
	}
	t.Logf("tick %d (+%d), last input seq %d, %d snapshots (%d full), %d B/s, ping %.0f ms",
		s.Tick, s.Tick-tick0, s.LastInputSeq, s.Snapshots, s.FullSnaps, s.BytesPerSec, s.PingMS)
	if s.BadSnapshots != 0 {
		t.Errorf("%d snapshots could not be applied (last error %q)", s.BadSnapshots, s.LastError)
	}
	if s.Snapshots <= s.FullSnaps {
		t.Logf("note: no delta snapshot applied (%d snapshots, all full)", s.Snapshots)
	}
	t.Logf("HUD: %s", p.waitHUD())
	t.Logf("screenshot: %s", p.screenshot("ticksync-arena"))
	p.checkNoErrors()
}

// TestBrowserUnknownMatch: a page sent to a match that does not exist
// (?match=) is refused by the node (match not found) and goes back to
// matchmaking: it plays in a match of the node's choosing, with the
// refusal gone from its banner.
func TestBrowserUnknownMatch(t *testing.T) {
	base := startNode(t)
	p := newPage(t)

	p.do(15*time.Second, chromedp.Navigate(base+"/?name=lost&match=no-such-match"))
	s := p.waitState(30*time.Second, "playing after the refusal", func(s *debugState) bool {
		return s.State == "playing" && s.Own != nil
	})
	if s.MatchID == "" || s.MatchID == "no-such-match" {
		t.Fatalf("playing in match %q, want one matchmaking chose", s.MatchID)
	}
	if s.LastError != "" {
		t.Errorf("last error %q while playing", s.LastError)
	}
	t.Logf("refused, then seated by matchmaking in %s as player %d", s.MatchID, s.PlayerID)
	p.checkNoErrors()
}
