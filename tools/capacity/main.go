// Command capacity is ticksync's repeatable capacity benchmark. It builds
// and starts a one-node ticksync on loopback, ramps bots (cmd/ticksync-bots)
// against it in steps, and for each step prints the server's cost and the
// players' experience next to the floor: a minimal gws server (tools/floor)
// that writes one same-sized pre-encoded frame per client per tick to the
// same number of bots. It stops at the first step that breaks the budget
// (p99 tick time over 25% of the tick period, any overrun, or p99
// input→ack RTT over 100 ms).
//
//	go run ./tools/capacity                      # 250..1500 bots, unpinned
//	go run ./tools/capacity -pin                 # server on CPU 0, bots on CPU 1
//	go run ./tools/capacity -steps 100,200 -measure 5s
//
// Everything runs on 127.0.0.1, every wait is bounded, and the processes it
// starts are stopped when it ends (or after -timeout). README.md in this
// directory explains the columns.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ticksync/ticksync/bots"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorServeCmd {
		os.Exit(floorServe(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	steps      []int
	perRoom    int
	tickRate   int
	ramp       time.Duration
	warmup     time.Duration
	measure    time.Duration
	pin        bool
	floor      bool
	frameSize  int
	behavior   string
	timeout    time.Duration
	jsonOut    string
	keep       bool
	serverArgs []string
	rttBudget  time.Duration
	maxOther   float64
	maxLate    float64
	retries    int
	quietWait  time.Duration
	botWorld   bool
	procs      int
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("capacity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	steps := fs.String("steps", "250,500,750,1000,1250,1500", "bot counts to run, in order")
	fs.IntVar(&o.perRoom, "per-room", 8, "bots per match (arena-8x64: 8)")
	fs.IntVar(&o.tickRate, "tick-rate", 30, "server tick rate")
	fs.DurationVar(&o.ramp, "ramp", 4*time.Second, "ramp of each step")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up after the ramp, not measured")
	fs.DurationVar(&o.measure, "measure", 10*time.Second, "measured window of each step")
	fs.BoolVar(&o.pin, "pin", false, "pin the server (or floor) to CPU 0 and the bots to CPU 1 with taskset")
	fs.BoolVar(&o.floor, "floor", true, "also measure the floor at each step")
	fs.IntVar(&o.frameSize, "frame-size", 0, "floor frame size in bytes (0: the mean snapshot size of the step's real run)")
	fs.StringVar(&o.behavior, "behavior", "wander", "bot behaviour: wander, chase or idle")
	fs.DurationVar(&o.timeout, "timeout", 45*time.Minute, "stop everything after this long")
	fs.StringVar(&o.jsonOut, "json", "", "also write the steps as JSON to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (binaries, data, bot reports)")
	serverArgs := fs.String("server-args", "", "extra flags for ticksync, space-separated")
	fs.DurationVar(&o.rttBudget, "rtt-budget", 100*time.Millisecond, "p99 input→ack RTT budget")
	fs.Float64Var(&o.maxLate, "max-late", 0.001, "largest fraction of ticks that may start late (overruns ÷ ticks; a node's room ticks, the floor's ticks); 0: any overrun breaks")
	fs.Float64Var(&o.maxOther, "max-other", 10, "run a step's side again when other processes used more than this % of a core in its window (0: never)")
	fs.IntVar(&o.retries, "retries", 3, "at most this many extra runs of a noisy step's side")
	fs.IntVar(&o.procs, "procs", 0, "GOMAXPROCS of the node and the floor alike (0: Go's default, the CPUs they may run on: 1 with -pin)")
	fs.BoolVar(&o.botWorld, "bot-world", false, "the bots rebuild the world from each snapshot (off: they verify, decode and ack only, the same work against the node's deltas as against the floor's full frames)")
	fs.DurationVar(&o.quietWait, "quiet-wait", time.Minute, "before each run, wait at most this long for 2 s in which all processes use less than -max-other of a core (0: do not wait)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > bots.MaxBots {
			return o, fmt.Errorf("invalid -steps %q: each must be 1..%d", s, bots.MaxBots)
		}
		o.steps = append(o.steps, n)
	}
	switch {
	case o.perRoom < 1 || o.perRoom > bots.MaxPerRoom:
		return o, fmt.Errorf("invalid -per-room %d: must be 1..%d", o.perRoom, bots.MaxPerRoom)
	case o.tickRate < 1 || o.tickRate > bots.MaxTickRate:
		return o, fmt.Errorf("invalid -tick-rate %d: must be 1..%d", o.tickRate, bots.MaxTickRate)
	case o.measure <= 0:
		return o, fmt.Errorf("invalid -measure %s: must be > 0", o.measure)
	case o.ramp < 0 || o.warmup < 0:
		return o, errors.New("invalid -ramp or -warmup: must be >= 0")
	case o.frameSize < 0:
		return o, fmt.Errorf("invalid -frame-size %d: must be >= 0", o.frameSize)
	case o.timeout <= 0:
		return o, fmt.Errorf("invalid -timeout %s: must be > 0", o.timeout)
	case o.maxLate < 0 || o.maxLate >= 1:
		return o, fmt.Errorf("invalid -max-late %g: must be 0..1", o.maxLate)
	case o.procs < 0 || o.procs > 64:
		return o, fmt.Errorf("invalid -procs %d: must be 0..64", o.procs)
	case o.maxOther < 0:
		return o, fmt.Errorf("invalid -max-other %g: must be >= 0", o.maxOther)
	case o.retries < 0 || o.retries > 10:
		return o, fmt.Errorf("invalid -retries %d: must be 0..10", o.retries)
	}
	if _, err := bots.ParseBehavior(o.behavior); err != nil {
		return o, fmt.Errorf("invalid -%w", err)
	}
	o.serverArgs = strings.Fields(*serverArgs)
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "capacity: %v\n", err)
		return 2
	}
	if o.pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(stderr, "capacity: -pin needs taskset (util-linux)")
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	b, err := newBench(ctx, o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "capacity: %v\n", err)
		return 1
	}
	defer b.cleanup()
	results, err := b.run(ctx, stdout)
	if o.jsonOut != "" && len(results) > 0 {
		raw, _ := json.MarshalIndent(map[string]any{"options": o.describe(), "steps": results}, "", "  ")
		if werr := os.WriteFile(o.jsonOut, append(raw, '\n'), 0o644); werr != nil {
			fmt.Fprintf(stderr, "capacity: %v\n", werr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "capacity: %v\n", err)
		return 1
	}
	return 0
}

func (o options) describe() map[string]any {
	return map[string]any{
		"steps": o.steps, "per_room": o.perRoom, "tick_rate": o.tickRate, "ramp_s": o.ramp.Seconds(),
		"warmup_s": o.warmup.Seconds(), "measure_s": o.measure.Seconds(), "pin": o.pin, "behavior": o.behavior,
		"max_late": o.maxLate, "procs": o.procs, "bot_world": o.botWorld, "max_other_pct": o.maxOther, "retries": o.retries, "quiet_wait_s": o.quietWait.Seconds(),
	}
}

// bench holds the built binaries and the work directory.
type bench struct {
	o                  options
	log                io.Writer
	dir                string
	serverBin, botsBin string
	self               string // this program, for floor-serve
}

func newBench(ctx context.Context, o options, log io.Writer) (*bench, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ticksync-capacity-")
	if err != nil {
		return nil, err
	}
	b := &bench{o: o, log: log, dir: dir,
		serverBin: filepath.Join(dir, "ticksync"), botsBin: filepath.Join(dir, "ticksync-bots")}
	for pkg, out := range map[string]string{"./cmd/ticksync": b.serverBin, "./cmd/ticksync-bots": b.botsBin} {
		fmt.Fprintf(log, "capacity: go build %s\n", pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir, cmd.Stderr = root, log
		if err := cmd.Run(); err != nil {
			b.cleanup()
			return nil, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	if b.self, err = os.Executable(); err != nil {
		b.cleanup()
		return nil, err
	}
	return b, nil
}

func (b *bench) cleanup() {
	if b.o.keep {
		fmt.Fprintf(b.log, "capacity: work directory kept: %s\n", b.dir)
		return
	}
	_ = os.RemoveAll(b.dir)
}

// moduleRoot is the directory of the go.mod this program was run from.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run capacity from inside the ticksync module (go run ./tools/capacity)")
	}
	return filepath.Dir(mod), nil
}
