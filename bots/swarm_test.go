package bots

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

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
			rep, err := sw.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
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
			if f := rep.Snapshots.DeliveredFrac; f < 0.8 || f > 1.2 {
				t.Errorf("snapshots per bot per s = %.1f (%.2f of 30)", rep.Snapshots.PerBotPerS, f)
			}
			if rep.Inputs.PerBotPerS < 20 || rep.Inputs.PerBotPerS > 40 {
				t.Errorf("inputs per bot per s = %.1f, want about 30", rep.Inputs.PerBotPerS)
			}
			if rep.BytesDownPerBotPerS < 30*250 || rep.BytesUpPerBotPerS <= 0 {
				t.Errorf("bytes down %.0f up %.0f per bot per s", rep.BytesDownPerBotPerS, rep.BytesUpPerBotPerS)
			}
			if rep.SnapshotGap.P50 < 20 || rep.SnapshotGap.P50 > 50 {
				t.Errorf("snapshot gap p50 = %.1f ms, want about 33", rep.SnapshotGap.P50)
			}
			if rep.Snapshots.Full == 0 {
				t.Errorf("no full snapshots counted")
			}
			if st := srv.Stats(); st.Inputs == 0 || st.Delivered == 0 {
				t.Errorf("floor stats = %+v", st)
			}
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
	sw, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Bots.Failed != 3 || rep.Errors["dial"] == 0 {
		t.Errorf("report: ok=%v bots=%+v errors=%v", rep.OK(), rep.Bots, rep.Errors)
	}
}
