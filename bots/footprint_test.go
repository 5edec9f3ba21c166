package bots

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// The swarm's own footprint: N idle bots connected to a floor server whose
// frames carry the arena's 64 entities, measured in a child process (this
// test binary re-run) so that the floor's memory is not counted.
//
//	go test ./bots -run Footprint -v                    # 200 bots
//	TICKSYNC_SOAK=1 go test ./bots -run Footprint -v    # 5,000 bots, target < 500 MB
const (
	envFootprintChild = "TICKSYNC_BOTS_FOOTPRINT_CHILD" // child: the floor's URL
	envFootprintOut   = "TICKSYNC_BOTS_FOOTPRINT_OUT"   // child: where to write the result
	envFootprintBots  = "TICKSYNC_BOTS_FOOTPRINT_BOTS"
	envFootprintRate  = "TICKSYNC_BOTS_FOOTPRINT_RATE"
	// envFootprintHeap, when set, names a file for a heap profile the child
	// writes in the middle of its measured window (go tool pprof -sample_index=inuse_space).
	envFootprintHeap = "TICKSYNC_BOTS_FOOTPRINT_HEAP"
)

// footprint is what the child measured.
type footprint struct {
	Bots        int     `json:"bots"`
	Connected   int     `json:"connected"`
	BaseRSS     int64   `json:"base_rss"`
	RSS         int64   `json:"rss"`
	HeapInuse   uint64  `json:"heap_inuse"`
	StackInuse  uint64  `json:"stack_inuse"`
	Goroutines  int     `json:"goroutines"`
	BytesPerBot float64 `json:"bytes_per_bot"` // (RSS - base) / bots
	Snapshots   uint64  `json:"snapshots"`
	CPUPerBot   float64 `json:"cpu_per_bot_pct"`
}

func TestFootprintIdleBots(t *testing.T) {
	if testing.Short() {
		t.Skip("footprint: -short")
	}
	bots, rate, limit := 200, 30, int64(0)
	if os.Getenv("TICKSYNC_SOAK") == "1" {
		// 5,000 bots at 5 Hz (the machine's two cores cannot also carry 30 Hz
		// for them; memory does not depend on the rate once each bot's World
		// ring has filled).
		bots, rate, limit = 5000, 5, 500<<20
	}
	// A full arena snapshot: 64 entities. The floor fits its entities to
	// a frame size; its values are not ours, so the size of 64 of ours is
	// scaled once by what the floor made of it.
	size := arenaFrameSize(t, 64)
	srv := startFloor(t, rate, size)
	if n := srv.Stats().Entities; n != 64 {
		srv = startFloor(t, rate, size*64/n)
	}
	if n := srv.Stats().Entities; n < 62 || n > 66 {
		t.Fatalf("floor frames carry %d entities, want about 64", n)
	}
	out := filepath.Join(t.TempDir(), "footprint.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFootprintChild$", "-test.v")
	cmd.Env = append(os.Environ(), envFootprintChild+"="+srv.URL(), envFootprintOut+"="+out,
		envFootprintBots+"="+strconv.Itoa(bots), envFootprintRate+"="+strconv.Itoa(rate))
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, raw)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("child wrote no result: %v\n%s", err, raw)
	}
	var fp footprint
	if err := json.Unmarshal(b, &fp); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d idle bots (%d connected) at %d Hz: RSS %.1f MiB (%.1f MiB over the base), heap %.1f MiB, stacks %.1f MiB, %d goroutines: %.0f B per bot; bot CPU %.3f%% of a core per bot",
		fp.Bots, fp.Connected, rate, float64(fp.RSS)/(1<<20), float64(fp.RSS-fp.BaseRSS)/(1<<20),
		float64(fp.HeapInuse)/(1<<20), float64(fp.StackInuse)/(1<<20), fp.Goroutines, fp.BytesPerBot, fp.CPUPerBot)
	if fp.Connected != bots {
		t.Errorf("%d of %d bots connected", fp.Connected, bots)
	}
	if fp.Goroutines > bots+64 {
		t.Errorf("%d goroutines for %d bots: want at most one per bot plus a few", fp.Goroutines, bots)
	}
	if limit > 0 && fp.RSS > limit {
		t.Errorf("RSS %.0f MiB for %d bots: over the %d MiB target", float64(fp.RSS)/(1<<20), bots, limit>>20)
	}
}

// arenaFrameSize is the size of a full snapshot of n arena NPCs at random
// places and headings, as a node sends it (gamedelta state in the
// envelope).
func arenaFrameSize(t *testing.T, n int) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	w := gamedelta.NewWorld(arena.Codec())
	for id := range n {
		i := w.Add(uint32(id+1), arena.KindNPC, 0)
		w.SetInt(i, arena.FieldX, int64(rng.IntN(arena.MaxPos+1)))
		w.SetInt(i, arena.FieldY, int64(rng.IntN(arena.MaxPos+1)))
		w.SetInt(i, arena.FieldVX, int64(rng.IntN(65)-32))
		w.SetInt(i, arena.FieldVY, int64(rng.IntN(65)-32))
		w.SetInt(i, arena.FieldAngle, int64(rng.IntN(1<<16)))
		w.SetInt(i, arena.FieldHP, arena.MaxHP)
	}
	enc, err := gamedelta.NewEncoder(arena.Codec(), gamedelta.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Record(1, w); err != nil {
		t.Fatal(err)
	}
	e, err := enc.Encode(enc.NewClient(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := schema.NewEncoder(0).Snapshot(&schema.Snapshot{Tick: 1, LastInputSeq: 1, ServerTimeMS: 1, State: e.Data})
	return len(msg)
}

// TestFootprintChild is the child process of TestFootprintIdleBots; it does
// nothing unless started by it.
func TestFootprintChild(t *testing.T) {
	url := os.Getenv(envFootprintChild)
	if url == "" {
		t.Skip("run by TestFootprintIdleBots")
	}
	bots, _ := strconv.Atoi(os.Getenv(envFootprintBots))
	rate, _ := strconv.Atoi(os.Getenv(envFootprintRate))
	runtime.GC()
	base := rssBytes()
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	cfg.Bots, cfg.PerRoom, cfg.TickRate = bots, 8, rate
	cfg.Behavior = Idle
	cfg.Ramp = time.Duration(bots) * time.Millisecond // 1,000 dials per second
	// Measure once every bot's World ring has filled.
	cfg.Warmup = time.Duration((cfg.WorldRing+6)*1000/rate) * time.Millisecond
	cfg.Duration = 2 * time.Second
	cfg.JoinTimeout = 30 * time.Second
	sw, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv(envFootprintHeap); path != "" {
		profileDone := make(chan struct{})
		defer func() { <-profileDone }()
		go func() {
			defer close(profileDone)
			time.Sleep(cfg.Ramp + cfg.Warmup + cfg.Duration/2)
			runtime.GC()
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	// The report's memory figures are read when the window closes, with
	// every bot still connected.
	rep, err := sw.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fp := footprint{RSS: rep.CPU.RSSBytes, HeapInuse: rep.CPU.HeapBytes, StackInuse: rep.CPU.StackBytes, Goroutines: rep.CPU.Goroutines}
	fp.Bots, fp.Connected, fp.BaseRSS = bots, rep.Bots.Connected, base
	fp.BytesPerBot = float64(fp.RSS-base) / float64(bots)
	fp.Snapshots = rep.Snapshots.Total
	fp.CPUPerBot = rep.CPU.PerBotPct
	raw, _ := json.Marshal(fp)
	if err := os.WriteFile(os.Getenv(envFootprintOut), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Println(rep.Verdict())
}
