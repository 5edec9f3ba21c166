// Command ticksync-bots runs a swarm of headless bots against a ticksync
// cluster and reports what they saw: a progress line each second on stderr,
// a table on stdout at the end, and optionally the same as JSON (-json).
// It exits 0 on a clean run, 1 when a bot failed to connect or the error
// rate crossed -max-error-rate, and 2 for a bad flag.
//
// The bots play the arena by default (-game arena). For any game, the
// arena's included, they fetch its compiled schema from the first node
// that answers (GET /games/NAME/schema on the -url host) and play it by
// its field names: an input with integer fields move_x and move_y is
// steered (-behavior wander, or chase towards the nearest entity by the
// entities' x and y); another input gets random values within the
// schema's ranges (a new one each second; -behavior idle sends the
// defaults). A game with client events gets random ones at -event-rate, a
// game with a join table a random join payload per bot, and the report
// adds the event counts of a game with events.
//
//	ticksync-bots -url ws://127.0.0.1:7350/ws -bots 1000 -per-room 8 -duration 30s -ramp 10s
//	ticksync-bots -url ws://127.0.0.1:7350/ws -game cards -bots 64 -per-room 4 -event-rate 1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/bots"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, jsonPath, logLevel, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "ticksync-bots: %v\n", err)
		return 2
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).
		Level(logLevel).With().Timestamp().Logger()

	sw, err := bots.New(cfg, stderr, log)
	if err != nil {
		fmt.Fprintf(stderr, "ticksync-bots: invalid -%v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := sw.Run(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "ticksync-bots: %v\n", err)
	}
	if rep == nil {
		return 1
	}
	if err := rep.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "ticksync-bots: %v\n", err)
	}
	if jsonPath != "" {
		if err := rep.WriteJSON(jsonPath); err != nil {
			fmt.Fprintf(stderr, "ticksync-bots: %v\n", err)
			return 1
		}
	}
	if err != nil || !rep.OK() {
		return 1
	}
	return 0
}

// parseFlags turns the command line into a Config. An error names the flag.
func parseFlags(args []string, stderr io.Writer) (cfg bots.Config, jsonPath string, level zerolog.Level, err error) {
	cfg = bots.DefaultConfig()
	fs := flag.NewFlagSet("ticksync-bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("url", strings.Join(cfg.URLs, ","), "game endpoint URLs, comma-separated (ws:// or wss://)")
	fs.IntVar(&cfg.Bots, "bots", cfg.Bots, "number of bots")
	fs.IntVar(&cfg.PerRoom, "per-room", cfg.PerRoom, "bots per match")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the measured window, after the ramp and warm-up")
	fs.DurationVar(&cfg.Ramp, "ramp", cfg.Ramp, "spread the bots' first connections over this time")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "wait this long after the ramp before measuring")
	fs.IntVar(&cfg.TickRate, "tick-rate", cfg.TickRate, "server tick rate: inputs per bot per second (0: from the server's Welcome)")
	fs.StringVar(&cfg.Origin, "origin", cfg.Origin, "Origin header of the upgrade (default: the URL's own)")
	fs.StringVar(&cfg.TokenSecret, "token-secret", cfg.TokenSecret, "sign an HS256 JWT per bot (sub = player id) with this secret; empty: guests")
	behavior := fs.String("behavior", string(cfg.Behavior), "bot behaviour: wander, chase or idle")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	fs.Int64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the bots' random choices")
	fs.BoolVar(&cfg.Insecure, "insecure", cfg.Insecure, "skip TLS certificate verification (self-signed wss)")
	fs.Float64Var(&cfg.MaxErrorRate, "max-error-rate", cfg.MaxErrorRate, "largest acceptable errors / inputs ratio")
	fs.StringVar(&cfg.ServerStatsURL, "server-stats", "", "a node's /metrics URL to read the server's side from")
	fs.StringVar(&cfg.ServerStatsToken, "server-stats-token", os.Getenv("TICKSYNC_ADMIN_TOKEN"), "the node's admin token for -server-stats (default $TICKSYNC_ADMIN_TOKEN; not needed on its -metrics-addr)")
	fs.StringVar(&cfg.Game, "game", cfg.Game, "game to play (its schema fetched from the node): inputs with move_x/move_y are steered, others random within the schema's ranges; random events and join payloads")
	fs.Float64Var(&cfg.EventRate, "event-rate", cfg.EventRate, "random client events per bot per second, in a game with a schema (0: none)")
	fs.DurationVar(&cfg.JoinTimeout, "join-timeout", cfg.JoinTimeout, "give up on a bot not seated within this time")
	fs.IntVar(&cfg.WorldRing, "world-ring", cfg.WorldRing, "worlds each bot keeps as delta baselines (0: the client's default, 64)")
	fs.BoolVar(&cfg.SkipWorld, "skip-world", cfg.SkipWorld, "do not rebuild the world from snapshots (verify, decode and ack only; not with -behavior chase)")
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "drop and resume a connection that brings no snapshot for this long (a frozen node); 0: off, else at least 1s")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return cfg, "", 0, err
	}
	if fs.NArg() > 0 {
		return cfg, "", 0, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	cfg.URLs = nil
	for _, u := range strings.Split(*urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.URLs = append(cfg.URLs, u)
		}
	}
	if cfg.Behavior, err = bots.ParseBehavior(*behavior); err != nil {
		return cfg, "", 0, fmt.Errorf("invalid -%w", err)
	}
	if level, err = zerolog.ParseLevel(*logLevel); err != nil || *logLevel == "" {
		return cfg, "", 0, fmt.Errorf("invalid -log-level %q: must be debug, info, warn or error", *logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", 0, fmt.Errorf("invalid -%w", err)
	}
	return cfg, jsonPath, level, nil
}
