package bots

import (
	"context"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/tools/floor"
)

// startFloor starts a floor server (tools/floor) on a free loopback port:
// a minimal server whose frames are valid snapshots, so the swarm can be
// tested without a ticksync node.
func startFloor(t *testing.T, rate, frame int) *floor.Server {
	t.Helper()
	cfg := floor.DefaultConfig()
	cfg.TickRate, cfg.FrameSize = rate, frame
	srv, err := floor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("floor shutdown: %v", err)
		}
	})
	return srv
}

func testLogger(t *testing.T) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.InfoLevel)
	}
	return zerolog.Nop()
}

func TestSwarmAgainstFloor(t *testing.T) {
	for _, b := range []Behavior{Wander, Chase, Idle} {
		t.Run(string(b), func(t *testing.T) {
			srv := startFloor(t, 30, 300)
			cfg := DefaultConfig()
			cfg.URLs = []string{srv.URL()}
			cfg.Bots, cfg.PerRoom = 20, 8
			cfg.Ramp, cfg.Duration = 200*time.Millisecond, 1500*time.Millisecond
			cfg.Behavior = b
			cfg.TickRate = 0 // from the Welcome
			var progress strings.Builder
			sw, err := New(cfg, &progress, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			st0, start := srv.Stats(), time.Now()
			rep, err := sw.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The floor's own pace over the run: 30 Hz on a quiet machine,
			// less when a loaded machine stalls its clock into skipping.
			serverHz := float64(srv.Stats().Ticks-st0.Ticks) / time.Since(start).Seconds()
			if !rep.OK() {
				t.Errorf("verdict: %s", rep.Verdict())
			}
			if rep.Bots.Connected != 20 || rep.Bots.Failed != 0 {
				t.Errorf("bots = %+v", rep.Bots)
			}
			if rep.TickRate != 30 {
				t.Errorf("tick rate = %d, want 30 (from the Welcome)", rep.TickRate)
			}
			if rep.RTT.Count == 0 || rep.RTT.P50 <= 0 {
				t.Errorf("rtt = %+v, want samples", rep.RTT)
			}
			// What the swarm reports is checked against what the floor did,
			// not against the nominal rate: a loaded machine delivers less
			// (the floor's writers drop frames they could not write in time,
			// its clock skips after a stall), and the report must say so.
			snaps := rep.Snapshots
			if snaps.Total == 0 || snaps.Full == 0 {
				t.Errorf("snapshots %+v, want full snapshots counted", snaps)
			}
			if f := snaps.PerBotPerS / 30; snaps.PerBotPerS > 1.2*30 || math.Abs(snaps.DeliveredFrac-f) > 1e-9 {
				t.Errorf("snapshots per bot per s = %.1f (delivered fraction %.3f): want at most one per tick and a fraction of %.3f",
					snaps.PerBotPerS, snaps.DeliveredFrac, f)
			}
			// Each tick of the floor while a bot was connected either
			// arrived or shows as a gap, and every gap is a frame the floor
			// dropped or failed to write.
			if spanned := float64(snaps.Total+snaps.Gaps) / rep.BotSeconds; spanned < 0.5*serverHz || spanned > 1.2*30 {
				t.Errorf("snapshots + gaps per bot per s = %.1f, want about the floor's %.1f Hz", spanned, serverHz)
			}
			if st := srv.Stats(); snaps.Gaps > st.Dropped+st.WriteErrors {
				t.Errorf("%d gaps counted, the floor dropped %d frames and failed %d writes", snaps.Gaps, st.Dropped, st.WriteErrors)
			}
			// The inter-arrival times add up to the time the bots were
			// connected, in milliseconds.
			gap := rep.SnapshotGap
			if sum := gap.Mean * float64(gap.Count) / 1000; sum < 0.5*rep.BotSeconds || sum > 1.2*rep.BotSeconds {
				t.Errorf("snapshot gaps %+v add up to %.2f s, want about the %.2f bot-seconds connected", gap, sum, rep.BotSeconds)
			}
			if gap.P50 <= 0 || gap.P50 > gap.P99 || gap.P99 > gap.Max {
				t.Errorf("snapshot gap %+v, want 0 < p50 <= p99 <= max", gap)
			}
			// Bytes and snapshots are counted at slightly different instants
			// at the window's edges: about the frame's size, not exactly.
			if fb := float64(srv.Stats().FrameBytes); rep.Snapshots.MeanBytes < 0.9*fb || rep.Snapshots.MeanBytes > 1.1*fb {
				t.Errorf("mean snapshot %.2f B, the floor's frame is %.0f B", rep.Snapshots.MeanBytes, fb)
			}
			if rep.BytesUpPerBotPerS <= 0 {
				t.Errorf("bytes up per bot per s = %.0f", rep.BytesUpPerBotPerS)
			}
			// One input per bot per tick at most; each one sent reaches the
			// floor.
			if in := rep.Inputs; in.Sent == 0 || in.PerBotPerS > 1.2*30 {
				t.Errorf("inputs %+v, want at most one per bot per tick", in)
			}
			testutil.CheckTrue(t, 5*time.Second, func() bool { return srv.Stats().Inputs >= rep.Inputs.Sent })
			if testing.Verbose() {
				_ = rep.WriteTable(os.Stderr)
				t.Log(progress.String())
			}
		})
	}
}

func TestSwarmFailsWithoutServer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URLs = []string{"ws://127.0.0.1:1/ws"} // nothing listens on port 1
	cfg.Bots, cfg.PerRoom = 3, 2
	cfg.Ramp, cfg.Duration = 0, 100*time.Millisecond
	cfg.JoinTimeout = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Without a node nobody serves the game's schema: the run ends before
	// the ramp.
	sw, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Run(ctx); err == nil || !strings.Contains(err.Error(), "no node answered") {
		t.Fatalf("run without a node: %v", err)
	}

	// With the schema given, every bot's dial fails and the report says so.
	cfg.Schema = arena.Schema()
	sw, err = New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Bots.Failed != 3 || rep.Errors["dial"] == 0 {
		t.Errorf("report: ok=%v bots=%+v errors=%v", rep.OK(), rep.Bots, rep.Errors)
	}
}
