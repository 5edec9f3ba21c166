package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ticksync/ticksync/bots"
)

// side is one target's figures at one step: the ticksync node or the floor.
type side struct {
	Connected        int     `json:"connected"`
	CPUPct           float64 `json:"cpu_pct"` // of one core, over the window
	RSSMiB           float64 `json:"rss_mib"`
	TickP99MS        float64 `json:"tick_p99_ms"`
	Overruns         float64 `json:"overruns"`      // ticks started after the next was due (sim.Clock, both sides), in the window
	Ticks            uint64  `json:"ticks"`         // ticks run in the window: room ticks on a node, the one clock's on the floor
	LateFraction     float64 `json:"late_fraction"` // Overruns / Ticks
	RTTP99MS         float64 `json:"rtt_p99_ms"`
	GapP99MS         float64 `json:"snapshot_gap_p99_ms"` // between consecutive snapshots of a bot
	GapMaxMS         float64 `json:"snapshot_gap_max_ms"`
	BytesPerClientS  float64 `json:"bytes_per_client_per_s"`
	SnapshotBytes    float64 `json:"snapshot_bytes"`
	Delivered        uint64  `json:"delivered"` // snapshots the bots received in the window
	DeliveredFrac    float64 `json:"delivered_fraction"`
	Dropped          uint64  `json:"dropped"` // ticks the bots missed (tick gaps)
	ServerDropped    float64 `json:"server_dropped"`
	USPerSnapshot    float64 `json:"us_per_snapshot"` // server CPU per delivered snapshot
	BotCPUPerBotPct  float64 `json:"bot_cpu_per_bot_pct"`
	BotUSPerSnapshot float64 `json:"bot_us_per_snapshot"`
	Errors           uint64  `json:"errors"`
	Verdict          string  `json:"bots_verdict"`
	// OtherCPUPct is the CPU that processes other than the target and the
	// bots used during the window (machine busy time from /proc/stat minus
	// both), % of one core: a figure measured on a busy machine is not the
	// target's alone. Tries counts the runs of this side (see -retries).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	Tries       int     `json:"tries"`
}

// step is one row of the table.
type step struct {
	Bots   int     `json:"bots"`
	Server *side   `json:"server"`
	Floor  *side   `json:"floor,omitempty"`
	Ratio  float64 `json:"cpu_ratio,omitempty"`   // server µs/snapshot ÷ floor's
	Broke  string  `json:"broke,omitempty"`       // why the server broke the budget
	Floor0 string  `json:"floor_broke,omitempty"` // why the floor broke the same budget
}

// run runs the steps in order and prints a row per step; it stops after
// the first step whose server breaks the budget.
func (b *bench) run(ctx context.Context, stdout io.Writer) ([]step, error) {
	fmt.Fprintf(stdout, "capacity: arena %d per room, %d Hz, %s bots (world rebuilt: %v), pin=%v, procs=%d, window %s after %s ramp + %s warm-up\n",
		b.o.perRoom, b.o.tickRate, b.o.behavior, b.o.botWorld || b.o.behavior == string(bots.Chase), b.o.pin, b.o.procs, b.o.measure, b.o.ramp, b.o.warmup)
	fmt.Fprintln(stdout, header)
	var out []step
	serverBroke, size := false, b.o.frameSize
	for _, n := range b.o.steps {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		st := step{Bots: n}
		if !serverBroke {
			srv, err := b.quiet(ctx, n, "node", func() (*side, error) { return b.serverStep(ctx, n) })
			if err != nil {
				return out, fmt.Errorf("step %d: server: %w", n, err)
			}
			st.Server = srv
			st.Broke = b.broke(srv)
			if b.o.frameSize == 0 {
				size = max(64, int(srv.SnapshotBytes+0.5))
			}
		}
		if b.o.floor {
			fl, err := b.quiet(ctx, n, "floor", func() (*side, error) { return b.floorStep(ctx, n, size) })
			if err != nil {
				return out, fmt.Errorf("step %d: floor: %w", n, err)
			}
			st.Floor = fl
			st.Floor0 = b.broke(fl)
			if fl.USPerSnapshot > 0 && st.Server != nil {
				st.Ratio = st.Server.USPerSnapshot / fl.USPerSnapshot
			}
		}
		out = append(out, st)
		fmt.Fprintln(stdout, row(st))
		if st.Broke != "" {
			fmt.Fprintf(stdout, "capacity: the node broke the budget at %d bots: %s\n", n, st.Broke)
			serverBroke = true
		}
		// Past the node's limit, go on with the floor alone until it
		// breaks too, so that both capacities are known.
		if serverBroke && (!b.o.floor || st.Floor0 != "") {
			if st.Floor0 != "" {
				fmt.Fprintf(stdout, "capacity: the floor broke at %d bots: %s\n", n, st.Floor0)
			}
			break
		}
	}
	summary(stdout, out)
	return out, nil
}

// quiet waits for the machine to be quiet (-quiet-wait), runs one side of
// a step, and runs it again (at most -retries more
// times) while other processes used more than -max-other of a core during
// its window: on a shared machine their load shows up as late ticks and
// RTT that are not the target's. The last run is kept either way.
func (b *bench) quiet(ctx context.Context, n int, what string, run func() (*side, error)) (*side, error) {
	for try := 1; ; try++ {
		if b.o.quietWait > 0 {
			if waited, ok := waitQuiet(ctx, b.o.maxOther, 2*time.Second, b.o.quietWait); !ok {
				fmt.Fprintf(b.log, "capacity: step %d: %s: the machine was not quiet within %s; running anyway\n", n, what, waited.Round(time.Second))
			}
		}
		s, err := run()
		if err != nil {
			return nil, err
		}
		s.Tries = try
		if b.o.maxOther <= 0 || s.OtherCPUPct <= b.o.maxOther || try > b.o.retries {
			return s, nil
		}
		fmt.Fprintf(b.log, "capacity: step %d: %s: other processes used %.0f%% of a core in the window (over -max-other %.0f%%): run %d of %d\n",
			n, what, s.OtherCPUPct, b.o.maxOther, try+1, b.o.retries+1)
	}
}

// header and row format the table with fixed widths, one line per step as
// it completes.
const header = "   bots  cpu%  rss MiB  tick p99 ms  overruns  rtt p99 ms  B/client/s  dropped  µs/snap  oth%" +
	" | floor cpu%  overruns  rtt p99 ms  µs/snap  oth% | ratio  bot cpu%/bot"

func row(st step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%7d", st.Bots)
	if s := st.Server; s != nil {
		fmt.Fprintf(&b, "  %4.0f  %7.0f  %11.2f  %8.0f  %10.1f  %10.0f  %7d  %7.1f  %4.0f", s.CPUPct, s.RSSMiB, s.TickP99MS,
			s.Overruns, s.RTTP99MS, s.BytesPerClientS, s.Dropped, s.USPerSnapshot, s.OtherCPUPct)
	} else {
		fmt.Fprintf(&b, "  %4s  %7s  %11s  %8s  %10s  %10s  %7s  %7s  %4s", "-", "-", "-", "-", "-", "-", "-", "-", "-")
	}
	if f := st.Floor; f != nil {
		fmt.Fprintf(&b, " | %10.0f  %8.0f  %10.1f  %7.1f  %4.0f", f.CPUPct, f.Overruns, f.RTTP99MS, f.USPerSnapshot, f.OtherCPUPct)
	} else {
		fmt.Fprintf(&b, " | %10s  %8s  %10s  %7s  %4s", "-", "-", "-", "-", "-")
	}
	botCPU := 0.0
	if st.Server != nil {
		botCPU = st.Server.BotCPUPerBotPct
	} else if st.Floor != nil {
		botCPU = st.Floor.BotCPUPerBotPct
	}
	if st.Ratio > 0 {
		fmt.Fprintf(&b, " | %5.2f  %11.3f", st.Ratio, botCPU)
	} else {
		fmt.Fprintf(&b, " | %5s  %11.3f", "-", botCPU)
	}
	return b.String()
}

func summary(w io.Writer, steps []step) {
	held, floorHeld := 0, 0
	for _, st := range steps {
		if st.Server != nil && st.Broke == "" {
			held = st.Bots
		}
		if st.Floor != nil && st.Floor0 == "" {
			floorHeld = st.Bots
		}
	}
	fmt.Fprintf(w, "capacity: the node held %d bots within budget", held)
	if floorHeld > 0 {
		fmt.Fprintf(w, "; the floor held %d (node = %.0f%% of the floor)", floorHeld, 100*float64(held)/float64(floorHeld))
	}
	fmt.Fprintln(w)
}

// broke says how a step broke the budget ("" : it held). The node and the
// floor are held to the same budget, measured the same way: both tick on a
// sim.Clock and export the same metrics, which the bots scrape when their
// window opens and closes. Overruns count against the ticks that could
// have been late: a node runs one clock per room (~125 at 1,000 players,
// each serving 8 players), the floor one for everyone, so the same count
// means very different things; the fraction of ticks started late is the
// same measure on both (and, rooms being equal, the fraction of players'
// snapshots that started late).
func (b *bench) broke(s *side) string {
	period := time.Second / time.Duration(b.o.tickRate)
	var why []string
	if s.TickP99MS > 0.25*float64(period)/float64(time.Millisecond) {
		why = append(why, fmt.Sprintf("p99 tick %.2f ms > 25%% of %s", s.TickP99MS, period))
	}
	if s.Overruns > 0 && s.LateFraction > b.o.maxLate {
		why = append(why, fmt.Sprintf("%.0f overruns (%.3f%% of %d ticks)", s.Overruns, 100*s.LateFraction, s.Ticks))
	}
	if s.RTTP99MS > float64(b.o.rttBudget)/float64(time.Millisecond) {
		why = append(why, fmt.Sprintf("p99 rtt %.1f ms > %s", s.RTTP99MS, b.o.rttBudget))
	}
	if s.Verdict != "ok" {
		why = append(why, "bots: "+s.Verdict)
	}
	return strings.Join(why, "; ")
}

// targetEnv is the environment of the node and the floor alike: this
// process's, with GOMAXPROCS set when -procs asks for it.
func (b *bench) targetEnv() []string {
	env := os.Environ()
	if b.o.procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(b.o.procs))
	}
	return env
}

// cpu returns the CPU for the server (or floor) and the bots.
func (b *bench) cpus() (target, botsCPU int) {
	if b.o.pin {
		return 0, 1
	}
	return -1, -1
}

// serverStep starts a fresh node, runs n bots against it and stops it.
func (b *bench) serverStep(ctx context.Context, n int) (*side, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	raftAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(b.dir, "data-"+strconv.Itoa(n))
	logPath := filepath.Join(b.dir, "ticksync-"+strconv.Itoa(n)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	// /metrics wants the admin token: the bots get the same one.
	token := randomToken()
	args := append([]string{
		"-node-id", "cap1", "-http-addr", httpAddr, "-raft-addr", raftAddr, "-data-dir", dataDir,
		"-tick-rate", strconv.Itoa(b.o.tickRate), "-log-level", "warn", "-log-format", "json",
		// Every bot connects from this machine: no per-address limits.
		"-max-conns-per-ip", "0", "-max-upgrades-per-ip", "0", "-max-matches-per-ip", "0",
		"-admin-token", token,
	}, b.o.serverArgs...)
	target, _ := b.cpus()
	cmd := command(ctx, target, b.serverBin, args...)
	cmd.Env = b.targetEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	fmt.Fprintf(b.log, "capacity: step %d: starting ticksync on %s\n", n, httpAddr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = stopProcess(cmd, 10*time.Second) }()
	base := "http://" + httpAddr
	if err := waitHTTP(ctx, base+"/readyz", 30*time.Second); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, lastLines(logPath, 5))
	}
	smp := startSampler(cmd.Process.Pid, 250*time.Millisecond)
	rep, t0, err := b.runBots(ctx, n, "ws://"+httpAddr+"/ws", base+"/metrics", token, "server")
	smp.Stop()
	if err != nil {
		return nil, err
	}
	return b.side(rep, smp, t0, n), nil
}

// floorStep starts a floor-serve child with frames of size bytes, runs n
// bots against it and stops it.
func (b *bench) floorStep(ctx context.Context, n, size int) (*side, error) {
	target, _ := b.cpus()
	cmd := command(ctx, target, b.self, floorServeCmd, "-tick-rate", strconv.Itoa(b.o.tickRate),
		"-frame-size", strconv.Itoa(size))
	cmd.Env = b.targetEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = b.log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = stdin.Close()
		_ = stopProcess(cmd, 10*time.Second)
	}()
	url, err := readURLLine(stdout, 10*time.Second)
	if err != nil {
		return nil, err
	}
	metricsURL := "http://" + strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws") + "/metrics"
	fmt.Fprintf(b.log, "capacity: step %d: floor at %s, %d B frames\n", n, url, size)
	smp := startSampler(cmd.Process.Pid, 250*time.Millisecond)
	rep, t0, err := b.runBots(ctx, n, url, metricsURL, "", "floor")
	smp.Stop()
	if err != nil {
		return nil, err
	}
	return b.side(rep, smp, t0, n), nil
}

// runBots runs ticksync-bots with n bots against url and returns its report
// and the time it started. statsURL, when set, is scraped with statsToken
// (a node's admin token; the floor wants none).
func (b *bench) runBots(ctx context.Context, n int, url, statsURL, statsToken, tag string) (*bots.Report, time.Time, error) {
	jsonPath := filepath.Join(b.dir, fmt.Sprintf("bots-%s-%d.json", tag, n))
	args := []string{
		"-url", url, "-bots", strconv.Itoa(n), "-per-room", strconv.Itoa(b.o.perRoom),
		"-ramp", b.o.ramp.String(), "-warmup", b.o.warmup.String(), "-duration", b.o.measure.String(),
		"-tick-rate", strconv.Itoa(b.o.tickRate), "-behavior", b.o.behavior, "-json", jsonPath,
		"-join-timeout", "20s",
	}
	if statsURL != "" {
		args = append(args, "-server-stats", statsURL)
	}
	if statsToken != "" {
		args = append(args, "-server-stats-token", statsToken)
	}
	if !b.o.botWorld && b.o.behavior != string(bots.Chase) {
		args = append(args, "-skip-world")
	}
	_, botsCPU := b.cpus()
	cmd := command(ctx, botsCPU, b.botsBin, args...)
	logPath := filepath.Join(b.dir, fmt.Sprintf("bots-%s-%d.log", tag, n))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, t0, fmt.Errorf("ticksync-bots: %w", err)
	}
	raw, rerr := os.ReadFile(jsonPath)
	if rerr != nil {
		return nil, t0, fmt.Errorf("ticksync-bots wrote no report (%v; log: %s)", err, lastLines(logPath, 5))
	}
	var rep bots.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, t0, fmt.Errorf("bots report: %w", err)
	}
	return &rep, t0, nil
}

// side turns a bots report (with the target's metrics over the window) and
// the target's /proc samples into a row half. The window is where the bots
// measured: it closed RunS after they started and lasted DurationS.
func (b *bench) side(rep *bots.Report, smp *sampler, t0 time.Time, n int) *side {
	to := t0.Add(time.Duration(rep.RunS * float64(time.Second)))
	from := to.Add(-time.Duration(rep.DurationS * float64(time.Second)))
	cpu, wall, rss, machine := smp.window(from, to)
	s := &side{
		Connected:        rep.Bots.Connected,
		RSSMiB:           float64(rss) / (1 << 20),
		RTTP99MS:         rep.RTT.P99,
		GapP99MS:         rep.SnapshotGap.P99,
		GapMaxMS:         rep.SnapshotGap.Max,
		BytesPerClientS:  rep.BytesDownPerBotPerS,
		SnapshotBytes:    rep.Snapshots.MeanBytes,
		Delivered:        rep.Snapshots.Total,
		DeliveredFrac:    rep.Snapshots.DeliveredFrac,
		Dropped:          rep.Snapshots.Gaps,
		BotCPUPerBotPct:  rep.CPU.PerBotPct,
		BotUSPerSnapshot: rep.CPU.USPerSnapshot,
		Errors:           rep.ErrorCount,
		Verdict:          rep.Verdict(),
	}
	if wall > 0 {
		s.CPUPct = 100 * cpu.Seconds() / wall.Seconds()
		// Scale the snapshots to the sampled part of the window.
		if rep.DurationS > 0 && rep.Snapshots.Total > 0 {
			snaps := float64(rep.Snapshots.Total) * wall.Seconds() / rep.DurationS
			s.USPerSnapshot = cpu.Seconds() * 1e6 / snaps
		}
		if machine > 0 {
			botsCPU := rep.CPU.Cores * wall.Seconds()
			s.OtherCPUPct = max(0, 100*(machine.Seconds()-cpu.Seconds()-botsCPU)/wall.Seconds())
		}
	}
	if sv := rep.Server; sv != nil {
		s.TickP99MS, s.Overruns, s.ServerDropped, s.Ticks = sv.TickP99MS, sv.Overruns, sv.Dropped, sv.Ticks
		if s.Ticks > 0 {
			s.LateFraction = s.Overruns / float64(s.Ticks)
		} else if s.Overruns > 0 {
			s.LateFraction = 1
		}
	} else {
		// Without the target's metrics the budget cannot be checked.
		s.Verdict = "no server stats: " + rep.ServerStatsError
		fmt.Fprintf(b.log, "capacity: step %d: server stats: %s\n", n, rep.ServerStatsError)
	}
	return s
}

// lastLines returns the last n lines of a file, for error messages.
func lastLines(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// randomToken returns 32 random hex digits (the node's admin token for a
// step).
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
