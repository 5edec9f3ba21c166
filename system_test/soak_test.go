package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The soak test's knobs: environment variables, so that CI and a person at
// a terminal choose the size without a flag of the test binary.
const (
	envSoakDuration = "TICKSYNC_SOAK_DURATION" // the steady window after every bot is seated (default 20s)
	envSoakBots     = "TICKSYNC_SOAK_BOTS"     // bots over the three nodes (default 48)
	envSoakRamp     = "TICKSYNC_SOAK_RAMP"     // the bots' first dials spread over this (default bots × 20 ms, at least 2s)
	envSoakInterval = "TICKSYNC_SOAK_INTERVAL" // how often each node's /metrics is read (default 1s)
)

// Flatness bounds: the mean of the last quarter of the steady window against
// the mean of its second quarter (the first is warm-up). Memory may grow by
// the larger of soakGrowth and an absolute slack (GC makes a small heap
// noisy); goroutines by a small constant.
const (
	soakGrowth          = 0.15
	soakRSSSlack        = 16 << 20
	soakHeapSlack       = 8 << 20
	soakGoroutineSlack  = 20
	soakTableRows       = 40 // time rows of the logged curve (samples averaged per row)
	soakPerRoom         = 8  // the arena's seats: matchmaking fills rooms to this
	soakDefaultBots     = 48
	soakDefaultDuration = 20 * time.Second
)

// soakConfig is the size of a soak run.
type soakConfig struct {
	duration time.Duration // the judged steady window, after every bot is seated
	bots     int
	ramp     time.Duration
	interval time.Duration
}

// soakConfigFromEnv reads the TICKSYNC_SOAK_* variables; unset ones take
// the short defaults of the plain `go test` run.
func soakConfigFromEnv() (soakConfig, error) {
	cfg := soakConfig{duration: soakDefaultDuration, bots: soakDefaultBots, interval: time.Second}
	durationVar := func(name string, dst *time.Duration, minimum time.Duration) error {
		v := os.Getenv(name)
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < minimum {
			return fmt.Errorf("%s=%q: must be a duration of at least %v", name, v, minimum)
		}
		*dst = d
		return nil
	}
	if err := durationVar(envSoakInterval, &cfg.interval, 100*time.Millisecond); err != nil {
		return cfg, err
	}
	// Each quarter of the window needs a few samples.
	if err := durationVar(envSoakDuration, &cfg.duration, 8*cfg.interval); err != nil {
		return cfg, err
	}
	if err := durationVar(envSoakRamp, &cfg.ramp, 0); err != nil {
		return cfg, err
	}
	if v := os.Getenv(envSoakBots); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3 || n > 100000 {
			return cfg, fmt.Errorf("%s=%q: must be 3..100000", envSoakBots, v)
		}
		cfg.bots = n
	}
	if os.Getenv(envSoakRamp) == "" {
		cfg.ramp = max(2*time.Second, time.Duration(cfg.bots)*20*time.Millisecond)
	}
	return cfg, nil
}

// TestSoak plays arena with real ticksync-bots against three real nodes and
// checks that every node's memory and goroutines stay flat while the same
// bots keep playing, and that no bot is lost: every bot is seated and still
// seated when the bots' window closes. Each node's RSS, heap in use and
// goroutines are read from its /metrics every TICKSYNC_SOAK_INTERVAL and
// logged as a Markdown table. The plain run is short (48 bots, 20 s);
// TICKSYNC_SOAK_DURATION and TICKSYNC_SOAK_BOTS make it long (CI: 2m;
// the full soak: 1h with 1000 bots).
func TestSoak(t *testing.T) {
	cfg, err := soakConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	// The node's per-IP admission limits (0: no limit): every bot dials from
	// 127.0.0.1 and creates matches as a guest, so a node that knows these
	// flags gets them lifted. Older
	// binaries without the flags have no such limit.
	var extra []string
	needCluster(t)
	for _, f := range []string{"max-conns-per-ip", "max-upgrades-per-ip", "max-matches-per-ip"} {
		if binaryFlags[f] {
			extra = append(extra, "-"+f, "0")
		}
	}
	// Direct: the fault proxies would copy every byte between the nodes
	// (and of redirected players) through this test process, a large share
	// of a small machine at 1,000 bots; the soak measures the nodes.
	c := startCluster(t, clusterOpts{extra: extra, direct: true})
	botsBin := buildBots(t)

	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, "ws://"+n.httpAddr+"/ws")
	}
	s := &soakRun{t: t, c: c, cfg: cfg, http: &http.Client{Timeout: 5 * time.Second}}
	idle := s.sample(0, "idle")
	s.rounds = append(s.rounds, idle)

	// The bots' own window opens once every bot has been dialled; ours opens
	// when every bot is seated (the same moment, seen by the nodes), so the
	// bots' window closes after ours: they play a little longer.
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "bots.json")
	progressPath := filepath.Join(dir, "bots.progress")
	botsDuration := cfg.duration + max(15*time.Second, cfg.duration/20)
	args := []string{
		"-url", strings.Join(urls, ","), "-game", "arena", "-bots", strconv.Itoa(cfg.bots),
		"-per-room", strconv.Itoa(soakPerRoom), "-duration", botsDuration.String(), "-ramp", cfg.ramp.String(),
		"-tick-rate", strconv.Itoa(c.opts.rate()), "-join-timeout", "30s", "-json", jsonPath, "-log-level", "warn",
	}
	bots := startBots(t, botsBin, args, progressPath, cfg.ramp+botsDuration+2*time.Minute)
	t.Logf("soak: %d bots (%d per room) over 3 nodes, ramp %v, steady window %v, /metrics every %v; bots: %s %s",
		cfg.bots, soakPerRoom, cfg.ramp, cfg.duration, cfg.interval, botsBin, strings.Join(args, " "))

	s.run(bots)
	rep := bots.wait(t)
	s.afterBots()

	t.Log(s.curve())
	// A window in which players moved between nodes (a failover: a node
	// starved of CPU lost its lease) compares different loads: say so
	// first, as the flatness verdicts below are then about that.
	failures := s.steadiness(rep.Reconnects)
	summary, flat := s.judge()
	t.Log(summary)
	moved := len(failures) > 0 && os.Getenv(envSoakDuration) == "" && os.Getenv(envSoakBots) == ""
	if moved {
		// The short default run shares the machine with the rest of the
		// suite: a node starved of CPU may lose its lease and its players
		// move (as designed). Flatness is then not measurable; the bots
		// must still all be back. A soak asked for by its variables (CI's
		// .ci/soak) runs alone and fails here instead.
		for _, f := range failures {
			t.Logf("not judged for flatness: %s", f)
		}
		failures = nil
	} else {
		failures = append(failures, flat...)
	}
	t.Logf("bots: %d target, %d connected, %d failed, %d at end; reconnects %d; errors %v (rate %.5f, max %.3f); rooms %d (%d..%d bots); run %.0f s",
		rep.Bots.Target, rep.Bots.Connected, rep.Bots.Failed, rep.Bots.AtEnd, rep.Reconnects, rep.Errors,
		rep.ErrorRate, rep.MaxErrorRate, rep.Rooms.Count, rep.Rooms.MinBots, rep.Rooms.MaxBots, rep.RunS)
	if rep.Bots.Connected != cfg.bots || rep.Bots.Failed != 0 || rep.Bots.AtEnd != cfg.bots {
		failures = append(failures, fmt.Sprintf("bots lost: %d target, %d connected, %d failed, %d seated at the end",
			cfg.bots, rep.Bots.Connected, rep.Bots.Failed, rep.Bots.AtEnd))
	}
	// While a starved node's matches move, their bots are answered
	// "unavailable" and retry (as designed); on the shared machine of the
	// short run that rate says how starved the machine was, not how the
	// nodes behave. The bots must still all be back (above).
	if rep.ErrorRate > rep.MaxErrorRate && moved {
		t.Logf("error rate %.5f not judged (players moved): %v", rep.ErrorRate, rep.Errors)
	} else if rep.ErrorRate > rep.MaxErrorRate {
		failures = append(failures, fmt.Sprintf("bots' error rate %.5f over %.3f: %v", rep.ErrorRate, rep.MaxErrorRate, rep.Errors))
	}
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		t.Logf("bots' progress (tail):\n%s", tail(progressPath, 30))
		t.Logf("bots' report:\n%s", bots.stdout.String())
	}
}

// ---- the bots process ----

var (
	botsOnce sync.Once
	botsBin  string
	botsErr  error
)

// buildBots builds ./cmd/ticksync-bots next to the ticksync binary (once
// per test binary; TestMain removes binDir). The bots are the load, not the
// system under test: they are not race-built.
func buildBots(t *testing.T) string {
	t.Helper()
	needCluster(t)
	botsOnce.Do(func() {
		botsBin = filepath.Join(binDir, "ticksync-bots")
		out, err := exec.Command("go", "build", "-o", botsBin, "github.com/ticksync/ticksync/cmd/ticksync-bots").CombinedOutput()
		if err != nil {
			botsErr = fmt.Errorf("build ticksync-bots: %w\n%s", err, out)
		}
	})
	if botsErr != nil {
		t.Fatal(botsErr)
	}
	return botsBin
}

// botsProc is a running ticksync-bots.
type botsProc struct {
	cmd      *exec.Cmd
	stdout   bytes.Buffer // the report table; read after exited is closed
	exited   chan struct{}
	err      error // valid once exited is closed
	jsonPath string
}

// botsReport is what the soak reads of the bots' JSON report
// (bots/README.md documents every field).
type botsReport struct {
	Bots struct {
		Target    int `json:"target"`
		Connected int `json:"connected"`
		Failed    int `json:"failed"`
		AtEnd     int `json:"at_end"`
	} `json:"bots"`
	RunS  float64 `json:"run_s"`
	Rooms struct {
		Count   int `json:"count"`
		MinBots int `json:"min_bots"`
		MaxBots int `json:"max_bots"`
	} `json:"rooms"`
	Reconnects   uint64            `json:"reconnects"`
	Errors       map[string]uint64 `json:"errors"`
	ErrorRate    float64           `json:"error_rate"`
	MaxErrorRate float64           `json:"max_error_rate"`
}

// startBots runs the bots binary with args, its progress lines going to
// progressPath. It is interrupted (SIGINT: the bots close and report) when
// timeout passes, and killed when the test ends.
func startBots(t *testing.T, bin string, args []string, progressPath string, timeout time.Duration) *botsProc {
	t.Helper()
	progress, err := os.Create(progressPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	b := &botsProc{exited: make(chan struct{}), jsonPath: args[slices.Index(args, "-json")+1]}
	b.cmd = exec.CommandContext(ctx, bin, args...)
	b.cmd.Cancel = func() error { return b.cmd.Process.Signal(os.Interrupt) }
	b.cmd.WaitDelay = 20 * time.Second
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, progress
	if err := b.cmd.Start(); err != nil {
		cancel()
		_ = progress.Close()
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		_ = progress.Close()
		cancel()
		close(b.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

// wait waits for the bots to exit and reads their JSON report. Exit status
// 1 (a bot not seated, too many errors) still has a report, which the test
// judges itself.
func (b *botsProc) wait(t *testing.T) botsReport {
	t.Helper()
	<-b.exited
	var rep botsReport
	raw, err := os.ReadFile(b.jsonPath)
	if err != nil {
		t.Fatalf("ticksync-bots (%v) wrote no report: %v\n%s", b.err, err, b.stdout.String())
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("ticksync-bots report: %v", err)
	}
	var ee *exec.ExitError
	if b.err != nil && !(errors.As(b.err, &ee) && ee.ExitCode() == 1) {
		t.Errorf("ticksync-bots: %v", b.err)
	}
	return rep
}

// ---- sampling ----

// nodeSample is one read of a node's /metrics.
type nodeSample struct {
	rss, heap, goroutines, sessions, matches float64
}

// soakRound is one read of every node.
type soakRound struct {
	at    time.Duration // since the bots started
	phase string        // idle, ramp, steady, after
	nodes []nodeSample  // in c.nodes order
}

func (r soakRound) sessions() float64 {
	var n float64
	for _, s := range r.nodes {
		n += s.sessions
	}
	return n
}

type soakRun struct {
	t      *testing.T
	c      *cluster
	cfg    soakConfig
	http   *http.Client
	start  time.Time // the bots were started
	rounds []soakRound
	// The judged window: rounds with at in [steadyFrom, steadyTo].
	steadyFrom, steadyTo time.Duration
}

// run samples every node each interval until the steady window is over (it
// opens when every bot is seated) or the bots exit.
func (s *soakRun) run(bots *botsProc) {
	s.start = time.Now()
	tk := time.NewTicker(s.cfg.interval)
	defer tk.Stop()
	seated := false
	// Every bot is seated within the ramp and the join timeout, or the run
	// is judged from there with the bots missing.
	seatBy := s.cfg.ramp + 40*time.Second
	// A bot holds a session on the node it dialled until that node
	// redirects it to its match's owner, so during the ramp the sum can
	// reach the bot count while sessions still move between nodes. The
	// window opens on the first sample whose per-node counts equal the
	// previous sample's and sum to the bot count.
	var prev *soakRound
	for {
		select {
		case <-bots.exited:
			if !seated || time.Since(s.start) < s.steadyTo {
				s.t.Errorf("ticksync-bots exited after %v, before the steady window ended: %v\n%s",
					time.Since(s.start).Round(time.Millisecond), bots.err, bots.stdout.String())
			}
			if !seated {
				s.steadyFrom, s.steadyTo = 0, time.Since(s.start)
			}
			return
		case <-tk.C:
		}
		at := time.Since(s.start)
		phase := "ramp"
		if seated {
			phase = "steady"
		}
		r := s.sample(at, phase)
		if !seated && ((r.sessions() == float64(s.cfg.bots) && sameSessions(prev, &r)) || at > seatBy) {
			seated, r.phase = true, "steady"
			s.steadyFrom, s.steadyTo = at, at+s.cfg.duration
			if at > seatBy {
				s.t.Errorf("after %v only %.0f of %d bots hold a session; judging from here", at.Round(time.Second), r.sessions(), s.cfg.bots)
			}
		}
		s.rounds = append(s.rounds, r)
		prev = &s.rounds[len(s.rounds)-1]
		if seated && at >= s.steadyTo {
			return
		}
	}
}

// sameSessions reports whether two rounds saw every node hold the same
// number of sessions.
func sameSessions(a, b *soakRound) bool {
	if a == nil || b == nil || len(a.nodes) != len(b.nodes) {
		return false
	}
	for i := range a.nodes {
		if a.nodes[i].sessions != b.nodes[i].sessions {
			return false
		}
	}
	return true
}

// afterBots waits (bounded) until the nodes hold no session once the bots
// have gone, and records that round.
func (s *soakRun) afterBots() {
	var r soakRound
	err := poll(30*time.Second, func() error {
		r = s.sample(time.Since(s.start), "after")
		if n := r.sessions(); n > 0 {
			return fmt.Errorf("%.0f sessions still open after the bots exited", n)
		}
		return nil
	})
	s.rounds = append(s.rounds, r)
	if err != nil {
		s.t.Error(err)
	}
}

// sample reads every node's /metrics. A node that stops answering fails the
// test: the soak has no faults.
func (s *soakRun) sample(at time.Duration, phase string) soakRound {
	s.t.Helper()
	r := soakRound{at: at, phase: phase}
	for _, n := range s.c.nodes {
		var ns nodeSample
		if err := poll(15*time.Second, func() error {
			if !n.running() {
				return fmt.Errorf("%s is not running", n.id)
			}
			var err error
			ns, err = s.scrape(n)
			return err
		}); err != nil {
			s.t.Fatalf("soak at %v: %v", at.Round(time.Millisecond), err)
		}
		r.nodes = append(r.nodes, ns)
	}
	return r
}

// scrape reads the figures of one node's /metrics (the Go and process
// collectors, and the node's sessions and matches).
func (s *soakRun) scrape(n *node) (nodeSample, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+n.httpAddr+"/metrics", nil)
	if err != nil {
		return nodeSample{}, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := s.http.Do(req)
	if err != nil {
		return nodeSample{}, fmt.Errorf("%s /metrics: %w", n.id, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeSample{}, fmt.Errorf("%s /metrics: %s", n.id, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nodeSample{}, fmt.Errorf("%s /metrics: %w", n.id, err)
	}
	// value sums a gauge family over its label sets.
	value := func(name string) (float64, error) {
		f, ok := families[name]
		if !ok {
			return 0, fmt.Errorf("%s /metrics: no %s", n.id, name)
		}
		var v float64
		for _, m := range f.GetMetric() {
			v += m.GetGauge().GetValue() + m.GetUntyped().GetValue()
		}
		return v, nil
	}
	var ns nodeSample
	for _, m := range []struct {
		name string
		dst  *float64
	}{
		{"process_resident_memory_bytes", &ns.rss},
		{"go_memstats_heap_inuse_bytes", &ns.heap},
		{"go_goroutines", &ns.goroutines},
		{"ticksync_ws_sessions", &ns.sessions},
		{"ticksync_game_matches", &ns.matches},
	} {
		if *m.dst, err = value(m.name); err != nil {
			return ns, err
		}
	}
	return ns, nil
}

// ---- judging and reporting ----

// steadiness checks that every node held the same sessions through the
// steady window (within 1% or 2: a bot between a drop and its resume), so
// that its second and last quarters carry the same load.
func (s *soakRun) steadiness(reconnects uint64) []string {
	var first *soakRound
	var failures []string
	for i, r := range s.rounds {
		if r.phase != "steady" {
			continue
		}
		if first == nil {
			first = &s.rounds[i]
			continue
		}
		for k, n := range s.c.nodes {
			want, got := first.nodes[k].sessions, r.nodes[k].sessions
			if diff := got - want; diff > max(2, want/100) || -diff > max(2, want/100) {
				failures = append(failures, fmt.Sprintf("the steady window was not steady: %s held %.0f sessions when it opened (%v) and %.0f at %v; the bots reconnected %d times (node logs above)",
					n.id, want, first.at.Round(time.Second), got, r.at.Round(time.Second), reconnects))
				return failures
			}
		}
	}
	return failures
}

// soakMetric is one judged figure of a node sample.
type soakMetric struct {
	name  string
	get   func(nodeSample) float64
	limit func(base float64) float64 // growth allowed over base
	unit  float64                    // for the table: MiB or 1
}

var soakMetrics = []soakMetric{
	{"RSS", func(s nodeSample) float64 { return s.rss },
		func(b float64) float64 {
			// A race-built node's RSS also holds the detector's shadow
			// memory, which keeps growing with every new address the heap
			// touches while the heap itself is flat.
			if raceBuild {
				return max(soakGrowth*b, 4*soakRSSSlack)
			}
			return max(soakGrowth*b, soakRSSSlack)
		}, 1 << 20},
	{"heap in use", func(s nodeSample) float64 { return s.heap },
		func(b float64) float64 { return max(soakGrowth*b, soakHeapSlack) }, 1 << 20},
	{"goroutines", func(s nodeSample) float64 { return s.goroutines },
		func(float64) float64 { return soakGoroutineSlack }, 1},
}

// quarter returns the steady rounds in quarter q (0..3) of the window.
func (s *soakRun) quarter(q int) []soakRound {
	span := s.steadyTo - s.steadyFrom
	from, to := s.steadyFrom+span*time.Duration(q)/4, s.steadyFrom+span*time.Duration(q+1)/4
	var out []soakRound
	for _, r := range s.rounds {
		if r.phase == "steady" && r.at >= from && (r.at < to || (q == 3 && r.at <= s.steadyTo)) {
			out = append(out, r)
		}
	}
	return out
}

func meanOf(rs []soakRound, node int, get func(nodeSample) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	var sum float64
	for _, r := range rs {
		sum += get(r.nodes[node])
	}
	return sum / float64(len(rs))
}

// judge compares, per node and metric, the mean of the window's last
// quarter with the mean of its second, and returns a Markdown summary and
// the failures.
func (s *soakRun) judge() (string, []string) {
	base, final := s.quarter(1), s.quarter(3)
	var b strings.Builder
	var failures []string
	fmt.Fprintf(&b, "\nsoak flatness: steady window %v → %v (since the bots started); mean of the last quarter (%d samples) against the second (%d samples)\n",
		s.steadyFrom.Round(time.Second), s.steadyTo.Round(time.Second), len(final), len(base))
	fmt.Fprintf(&b, "| node | metric | 2nd quarter | last quarter | growth | allowed | verdict |\n|---|---|---|---|---|---|---|\n")
	if len(base) < 2 || len(final) < 2 {
		return b.String(), []string{fmt.Sprintf("too few samples in the steady window (%d and %d): the run ended early", len(base), len(final))}
	}
	for i, n := range s.c.nodes {
		for _, m := range soakMetrics {
			b0, b1 := meanOf(base, i, m.get), meanOf(final, i, m.get)
			grow, allowed := b1-b0, m.limit(b0)
			verdict := "flat"
			if grow > allowed {
				verdict = "GROWS"
				failures = append(failures, fmt.Sprintf("%s: %s grew from %s to %s (allowed +%s); the curve is logged above",
					n.id, m.name, m.format(b0), m.format(b1), m.format(allowed)))
			}
			pct := 0.0
			if b0 > 0 {
				pct = 100 * grow / b0
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %+.1f%% | +%s | %s |\n", n.id, m.name, m.format(b0), m.format(b1), pct, m.format(allowed), verdict)
		}
	}
	return b.String(), failures
}

func (m soakMetric) format(v float64) string {
	if m.unit == 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f MiB", v/m.unit)
}

// curve renders every round as a Markdown table, one row per node per time
// step; long runs average consecutive rounds of a phase into one step, so
// that the table keeps about soakTableRows steps.
func (s *soakRun) curve() string {
	per := max(1, (len(s.rounds)+soakTableRows-1)/soakTableRows)
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak curve: 3 nodes, %d bots, /metrics every %v", s.cfg.bots, s.cfg.interval)
	if per > 1 {
		fmt.Fprintf(&b, " (each row the mean of up to %d samples)", per)
	}
	fmt.Fprintf(&b, "\n| t (s) | phase | node | RSS MiB | heap in use MiB | goroutines | sessions | matches |\n|---|---|---|---|---|---|---|---|\n")
	for i := 0; i < len(s.rounds); {
		j := i + 1
		for j < len(s.rounds) && j-i < per && s.rounds[j].phase == s.rounds[i].phase {
			j++
		}
		group := s.rounds[i:j]
		for k, n := range s.c.nodes {
			fmt.Fprintf(&b, "| %.0f | %s | %s | %.1f | %.1f | %.0f | %.0f | %.0f |\n",
				group[len(group)-1].at.Seconds(), group[0].phase, n.id,
				meanOf(group, k, func(x nodeSample) float64 { return x.rss })/(1<<20),
				meanOf(group, k, func(x nodeSample) float64 { return x.heap })/(1<<20),
				meanOf(group, k, func(x nodeSample) float64 { return x.goroutines }),
				meanOf(group, k, func(x nodeSample) float64 { return x.sessions }),
				meanOf(group, k, func(x nodeSample) float64 { return x.matches }))
		}
		i = j
	}
	return b.String()
}
