package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser test drives Debian's Chromium through the DevTools protocol
// (chromedp), as the arena's page tests do: headless, no sandbox (root),
// no GPU, no background networking, a fresh profile, one tab per player.

// missingTool ends a test that needs a tool from outside Go (chromium): on
// CI (TICKSYNC_REQUIRE_BROWSER=1) it fails the test, elsewhere it skips it.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("TICKSYNC_REQUIRE_BROWSER") == "1" {
		t.Fatalf("TICKSYNC_REQUIRE_BROWSER=1: "+format, args...)
	}
	t.Skipf(format, args...)
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

// startBrowser starts headless Chromium (skipping or failing the test when
// it is missing) and returns its context, from which newTab opens tabs.
// Cleanup stops the browser.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	path := chromiumPath()
	if path == "" {
		missingTool(t, "chromium not found (apt-get install -y chromium, or set TICKSYNC_CHROMIUM)")
	}
	var stderr syncBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
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
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 700),
		chromedp.CombinedOutput(&stderr),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v\n%s", path, err, stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// tab is one browser tab and what its console said.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
	errors  []string // exceptions and console errors
}

// newTab opens a tab of the browser; it closes when the test ends.
func newTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: t, name: name, ctx: ctx}
	done := make(chan struct{})
	go func() { // ends with the tab's context
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, m.String())
			// The browser asks for /favicon.ico, which the page has none of.
			if (m.IsException() || m.Type == chromedp.ConsoleError) && !strings.HasSuffix(m.URL, "/favicon.ico") {
				tb.errors = append(tb.errors, m.String()+" at "+m.URL)
			}
			tb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			tb.mu.Lock()
			t.Logf("%s's console:\n%s", name, strings.Join(tb.console, "\n"))
			tb.mu.Unlock()
		}
	})
	return tb
}

// navigate loads url in the tab.
func (tb *tab) navigate(url string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		tb.t.Fatalf("%s: navigate %s: %v", tb.name, url, err)
	}
}

// eval evaluates a JavaScript expression that yields a string.
func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// checkNoErrors fails the test if the page threw or logged an error.
func (tb *tab) checkNoErrors() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errors) > 0 {
		tb.t.Errorf("%s's page errors:\n%s", tb.name, strings.Join(tb.errors, "\n"))
	}
}

// tableView is what the cards page shows (web/index.html, web/cards.js),
// read from its DOM.
type tableView struct {
	Status  string   `json:"status"`
	Joined  bool     `json:"joined"` // the table is shown
	Seats   []seatEl `json:"seats"`
	Hand    []cardEl `json:"hand"`
	Pile    string   `json:"pile"`
	Deck    string   `json:"deck"`
	Clock   string   `json:"clock"`
	Log     []string `json:"log"`
	Buttons int      `json:"buttons"` // every card button on the page
}

type seatEl struct {
	Text string `json:"text"`
	Turn bool   `json:"turn"`
}

type cardEl struct {
	Text     string `json:"text"`
	Playable bool   `json:"playable"`
}

// readView is the script that reads a tableView from the page.
const readView = `JSON.stringify({
  status: document.getElementById("status").textContent,
  joined: !document.getElementById("table").hidden,
  seats: [...document.querySelectorAll("#seats .seat")].map((e) => ({ text: e.textContent, turn: e.classList.contains("turn") })),
  hand: [...document.querySelectorAll("#hand button")].map((b) => ({ text: b.textContent, playable: b.classList.contains("playable") })),
  pile: document.getElementById("pile").textContent,
  deck: document.getElementById("deck").textContent,
  clock: document.getElementById("clock").textContent,
  log: [...document.querySelectorAll("#log div")].map((e) => e.textContent),
  buttons: document.querySelectorAll("button.card").length,
})`

func (tb *tab) view() tableView {
	tb.t.Helper()
	var v tableView
	if err := json.Unmarshal([]byte(tb.eval(readView)), &v); err != nil {
		tb.t.Fatalf("%s: read the page: %v", tb.name, err)
	}
	return v
}

// mySeat returns the page's own seat row ("... (you; n playable)").
func (v tableView) mySeat() (seatEl, bool) {
	for _, s := range v.Seats {
		if strings.Contains(s.Text, "(you;") {
			return s, true
		}
	}
	return seatEl{}, false
}

// cardsOf returns the hand size a seat row shows ("seat 1: ann, 3 cards,
// score 0"), -1 when it shows none.
func cardsOf(row string) int {
	m := cardsRe.FindStringSubmatch(row)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

var cardsRe = regexp.MustCompile(`, (\d+) cards, `)

// logHas reports whether the page's log has a line with the prefix.
func (v tableView) logHas(prefix string) bool {
	return slices.ContainsFunc(v.Log, func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// TestBrowserCards plays the cards page in a real browser against the
// server as main wires it: three tabs sit down at once (?name=&mode=1, the
// quick mode), are matched into one table, each shows its own hand and
// never another's (at the deal it is the cards its Dealt event named; the
// hands the pages show are disjoint and each matches its seat's card count
// on every page), a chat line typed in one tab
// appears in the others, and the tabs play (a playable card, or draw)
// until the game is over: every tab shows the same winner.
func TestBrowserCards(t *testing.T) {
	t.Parallel() // mostly waits: on its nodes, its browser, its clocks
	start := time.Now()
	browser := startBrowser(t)
	n := startServer(t)
	base := "http://" + n.Addr().String()

	names := []string{"ann", "bob", "cat"}
	var tabs []*tab
	for _, name := range names {
		tb := newTab(t, browser, name)
		tb.navigate(base + "/?name=" + name + "&mode=1")
		// Seated before the next tab comes: seats follow arrival.
		waitView(t, tb, 20*time.Second, "seated", func(v tableView) bool { _, ok := v.mySeat(); return ok })
		tabs = append(tabs, tb)
	}
	t.Logf("3 tabs seated in %v", time.Since(start).Round(time.Millisecond))

	// The deal: StartSeconds after the second player sat down.
	for _, tb := range tabs {
		waitView(t, tb, 20*time.Second, "the deal", func(v tableView) bool {
			return strings.HasPrefix(v.Clock, "playing") && len(v.Hand) == 3 && v.logHas("you got ")
		})
	}
	views := checkHands(t, tabs)
	for i, v := range views {
		// The hand is the cards the server dealt to this player (its Dealt
		// event, logged as "you got 9♣ A♥ Q♣").
		var hand []string
		for _, c := range v.Hand {
			hand = append(hand, c.Text)
		}
		dealt := strings.Fields(strings.TrimPrefix(v.Log[slices.IndexFunc(v.Log, func(l string) bool { return strings.HasPrefix(l, "you got ") })], "you got "))
		slices.Sort(hand)
		slices.Sort(dealt)
		if !slices.Equal(hand, dealt) {
			t.Errorf("%s shows the hand %v, was dealt %v", names[i], hand, dealt)
		}
		t.Logf("%s holds %v, pile %s", names[i], hand, v.Pile)
	}

	// Chat from ann reaches bob and cat.
	tabs[0].eval(`(() => { document.getElementById("say").value = "hello from the browser"; document.getElementById("chat").requestSubmit(); return ""; })()`)
	for _, tb := range tabs {
		waitView(t, tb, 10*time.Second, "ann's chat line", func(v tableView) bool { return v.logHas("ann: hello from the browser") })
	}

	// Play: whoever's turn it is plays a playable card or draws, by
	// clicking the page's buttons; check the hands every round.
	played, drawn := 0, 0
	last := make([]string, len(tabs))
	deadline := time.Now().Add(40 * time.Second)
	for {
		over := 0
		for i, tb := range tabs {
			v := tb.view()
			if strings.HasPrefix(v.Clock, "game over") || v.logHas("game over: ") {
				over++
				continue
			}
			me, ok := v.mySeat()
			if !ok || !me.Turn {
				continue
			}
			// Act once per state the page shows: a click changes it.
			key := fmt.Sprint(v.Pile, v.Deck, len(v.Hand))
			if key == last[i] {
				continue
			}
			last[i] = key
			if tb.eval(`(() => { const b = document.querySelector("#hand button.playable"); if (b) { b.click(); return "play"; } document.getElementById("draw").click(); return "draw"; })()`) == "play" {
				played++
			} else {
				drawn++
			}
		}
		if over == len(tabs) {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		checkHands(t, tabs)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d clicks on a playable card, %d on draw; %v", played, drawn, time.Since(start).Round(time.Millisecond))
	if played == 0 {
		t.Fatal("no playable card was ever shown on a player's turn")
	}
	var winner string
	for i, tb := range tabs {
		v := waitView(t, tb, 10*time.Second, "the game over line", func(v tableView) bool { return v.logHas("game over: ") })
		line := v.Log[slices.IndexFunc(v.Log, func(l string) bool { return strings.HasPrefix(l, "game over: ") })]
		if i == 0 {
			winner = line
		} else if line != winner {
			t.Errorf("%s shows %q, ann %q", names[i], line, winner)
		}
		if !v.logHas("played ") {
			t.Errorf("%s never logged a played card: %q", names[i], v.Log)
		}
	}
	t.Logf("every tab shows %q; test took %v", winner, time.Since(start).Round(time.Millisecond))
	for _, tb := range tabs {
		tb.checkNoErrors()
	}
}

// waitView polls the tab's page until ok accepts it, and returns it.
func waitView(t *testing.T, tb *tab, timeout time.Duration, what string, ok func(tableView) bool) tableView {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := tb.view()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out after %v waiting for %s; page shows %+v", tb.name, timeout, what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHands reads every tab and checks that each shows its own hand only:
// no card appears in two hands, every card button is in the own hand, and
// each hand has as many cards as its seat's row says on every page. Pages
// update at their own pace, so a mismatch is read again before it fails.
func checkHands(t *testing.T, tabs []*tab) []tableView {
	t.Helper()
	var views []tableView
	var problem string
	for try := 0; try < 20; try++ {
		views, problem = views[:0], ""
		for _, tb := range tabs {
			views = append(views, tb.view())
		}
		problem = handProblem(tabs, views)
		if problem == "" {
			return views
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s; pages show %+v", problem, views)
	return nil
}

// handProblem says what is wrong with the hands of views, "" if nothing.
func handProblem(tabs []*tab, views []tableView) string {
	held := map[string]string{}
	for i, v := range views {
		if v.Buttons != len(v.Hand) {
			return fmt.Sprintf("%s shows %d card buttons, %d in its hand", tabs[i].name, v.Buttons, len(v.Hand))
		}
		me, ok := v.mySeat()
		if !ok {
			return tabs[i].name + " shows no own seat"
		}
		if n := cardsOf(me.Text); n != len(v.Hand) {
			return fmt.Sprintf("%s's seat row %q, its hand %v", tabs[i].name, me.Text, v.Hand)
		}
		for _, c := range v.Hand {
			if other, dup := held[c.Text]; dup {
				return fmt.Sprintf("%s and %s both show %s", other, tabs[i].name, c.Text)
			}
			held[c.Text] = tabs[i].name
		}
		// Every page shows the same card count for this seat.
		for j, w := range views {
			if !slices.ContainsFunc(w.Seats, func(s seatEl) bool {
				return strings.Contains(s.Text, ": "+tabs[i].name+", ") && cardsOf(s.Text) == len(v.Hand)
			}) {
				return fmt.Sprintf("%s's seats %v; %s holds %d", tabs[j].name, w.Seats, tabs[i].name, len(v.Hand))
			}
		}
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the browser's output goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
