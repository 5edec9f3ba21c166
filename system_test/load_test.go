package systemtest

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

var (
	loadRooms    = flag.Int("load.rooms", 500, "TestCheckpointLoad: rooms (one player each)")
	loadDuration = flag.Duration("load.duration", 2*time.Minute, "TestCheckpointLoad: how long the load runs")
)

// TestCheckpointLoad runs -load.rooms arena rooms (default 500), one player
// each sending an input every tick, on three real nodes for -load.duration,
// and reports checkpoint bytes per room per second, the checkpointer's Raft
// apply latency (mean and max, per node, from the admin API), the tick
// log's load on Raft (batches and bytes per second, apply latency p50 / p99
// / max per node), the whole Raft load (applies and bytes per second) and
// the data dir of each node over time. TICKSYNC_SOAK=1 only: it loads the
// machine.
func TestCheckpointLoad(t *testing.T) {
	if !soak() {
		t.Skip("measurement: run with TICKSYNC_SOAK=1 (-load.rooms, -load.duration)")
	}
	// Every player dials from 127.0.0.1: the node's per-IP admission limits
	// (the default caps connections per address well below -load.rooms)
	// are lifted, as TestSoak does.
	var extra []string
	needCluster(t)
	for _, f := range []string{"max-conns-per-ip", "max-upgrades-per-ip", "max-matches-per-ip"} {
		if binaryFlags[f] {
			extra = append(extra, "-"+f, "0")
		}
	}
	c := startCluster(t, clusterOpts{extra: extra})
	leader := c.leader(5 * time.Second)

	// Create the matches through the leader, a few requests at a time.
	begin := time.Now()
	ids := make([]string, *loadRooms)
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, 4)
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var m adminMatch
			err := poll(10*time.Second, func() error {
				return c.do(leader, http.MethodPost, "/admin/v1/matches", map[string]any{"game": "arena"}, &m)
			})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = m.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	created := time.Now()

	// One player per room: small client footprint, inputs every tick.
	players := make([]*client.Client, 0, len(ids))
	for _, id := range ids {
		cfg := client.DefaultConfig()
		cfg.URLs = c.urls(nil)
		cfg.MatchID = id
		cfg.WorldRing = 8
		cl, err := dial(t, cfg)
		if err != nil {
			t.Fatalf("join %s: %v", id, err)
		}
		players = append(players, cl)
		t.Cleanup(func() { _ = cl.Close() })
	}
	ctx, cancel := context.WithCancel(context.Background())
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		tk := time.NewTicker(time.Second / time.Duration(c.opts.rate()))
		defer tk.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			for j, p := range players {
				dir := int8(100)
				if (i/30+j)%2 == 1 {
					dir = -100
				}
				_ = p.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: dir, MoveY: dir})})
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-pumpDone
	})
	t.Logf("%d rooms created in %v, %d players seated after %v", len(ids), created.Sub(begin).Round(time.Millisecond), len(players), time.Since(created).Round(time.Millisecond))

	type sample struct {
		at  time.Duration
		st  map[string]loadStatus
		dir map[string]int64
	}
	read := func(start time.Time) sample {
		s := sample{at: time.Since(start), st: make(map[string]loadStatus), dir: make(map[string]int64)}
		for _, n := range c.nodes {
			var st loadStatus
			if err := c.get(n, "/admin/v1/status", &st); err != nil {
				t.Fatal(err)
			}
			s.st[n.id], s.dir[n.id] = st, dirSize(n.dataDir)
		}
		return s
	}
	start := time.Now()
	first := read(start)
	samples := []sample{first}
	tk := time.NewTicker(10 * time.Second)
	defer tk.Stop()
	for time.Since(start) < *loadDuration {
		<-tk.C
		samples = append(samples, read(start))
	}
	last := samples[len(samples)-1]
	secs := last.at.Seconds() - first.at.Seconds()

	var b strings.Builder
	fmt.Fprintf(&b, "\ncheckpoint load: %d arena rooms × 1 player (input every tick), tick %d Hz, checkpoint every %v, 3 nodes, %v\n",
		len(ids), c.opts.rate(), c.opts.checkpoint(), last.at.Round(time.Second))
	fmt.Fprintf(&b, "| node | rooms owned | checkpoints/s | batches/s | state B/checkpoint | compressed B/checkpoint | compressed B/room/s | apply mean (window) / max (since start) (ms) | rejected | data dir start → max → end (MiB) |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range c.nodes {
		a, z := first.st[n.id].Checkpoints, last.st[n.id].Checkpoints
		items := float64(z.Items - a.Items)
		var in, out float64
		if items > 0 {
			in, out = float64(z.BytesIn-a.BytesIn)/items, float64(z.BytesOut-a.BytesOut)/items
		}
		var maxDir int64
		for _, s := range samples {
			maxDir = max(maxDir, s.dir[n.id])
		}
		owned := last.st[n.id].Owned
		perRoom := 0.0
		if owned > 0 {
			perRoom = float64(z.BytesOut-a.BytesOut) / secs / float64(owned)
		}
		// The admin API gives the mean since start; the window's mean comes
		// from the totals at both ends. The max is since start (it includes
		// the burst of 500 creations and joins).
		var windowMean float64
		if nb := z.Batches - a.Batches; nb > 0 {
			windowMean = (float64(z.ApplyMean)*float64(z.Batches) - float64(a.ApplyMean)*float64(a.Batches)) / float64(nb)
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.1f | %.0f | %.0f | %.0f | %.1f / %.1f | %d | %.1f → %.1f → %.1f |\n",
			n.id, owned, items/secs, float64(z.Batches-a.Batches)/secs, in, out, perRoom,
			windowMean/1e6, float64(z.ApplyMax)/1e6, z.Rejected-a.Rejected,
			mib(first.dir[n.id]), mib(maxDir), mib(last.dir[n.id]))
	}
	fmt.Fprintf(&b, "\ntick log (every room's record of each tick, one batch per node per %v)\n", 50*time.Millisecond)
	fmt.Fprintf(&b, "| node | batches/s | ticks/s | B/tick | B/s | apply p50 / p99 (last 1,024 batches) / max (ms) | rejected | dropped |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	var applies, raftBytes float64
	for _, n := range c.nodes {
		a, z := first.st[n.id], last.st[n.id]
		ta, tz := a.TickLog, z.TickLog
		ticks := float64(tz.Records - ta.Records)
		perTick := 0.0
		if ticks > 0 {
			perTick = float64(tz.Bytes-ta.Bytes) / ticks
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.1f | %.0f | %.1f / %.1f / %.1f | %d | %d |\n", n.id,
			float64(tz.Batches-ta.Batches)/secs, ticks/secs, perTick, float64(tz.Bytes-ta.Bytes)/secs,
			float64(tz.ApplyP50)/1e6, float64(tz.ApplyP99)/1e6, float64(tz.ApplyMax)/1e6, tz.Rejected-ta.Rejected, tz.Dropped-ta.Dropped)
		applies += float64(tz.Batches-ta.Batches+z.Checkpoints.Batches-a.Checkpoints.Batches) / secs
		raftBytes += float64(tz.Bytes-ta.Bytes+z.Checkpoints.BytesOut-a.Checkpoints.BytesOut) / secs
	}
	fmt.Fprintf(&b, "Raft load, whole cluster: %.1f applies/s (checkpoint and tick log batches), %.0f B/s of checkpoints and tick logs\n", applies, raftBytes)
	fmt.Fprintf(&b, "data dir over time (MiB, n1 n2 n3):")
	for _, s := range samples {
		fmt.Fprintf(&b, " %v:[%.1f %.1f %.1f]", s.at.Round(time.Second), mib(s.dir["n1"]), mib(s.dir["n2"]), mib(s.dir["n3"]))
	}
	t.Log(b.String())
	for _, n := range c.nodes {
		if r := last.st[n.id].Checkpoints.Rejected - first.st[n.id].Checkpoints.Rejected; r > 0 {
			t.Errorf("%s: %d checkpoints rejected under load without any fault", n.id, r)
		}
		if r := last.st[n.id].TickLog.Rejected - first.st[n.id].TickLog.Rejected; r > 0 {
			t.Errorf("%s: %d tick log runs rejected under load without any fault", n.id, r)
		}
		if r := last.st[n.id].TickLog.Records - first.st[n.id].TickLog.Records; r == 0 && last.st[n.id].Owned > 0 {
			t.Errorf("%s owns %d rooms and shipped no tick log", n.id, last.st[n.id].Owned)
		}
	}
}

// loadStatus is a node's status with its tick logger's counters.
type loadStatus struct {
	status
	TickLog struct {
		Batches  uint64 `json:"batches"`
		Rejected uint64 `json:"rejected"`
		Dropped  uint64 `json:"dropped"`
		Records  uint64 `json:"records"`
		Bytes    uint64 `json:"bytes"`
		ApplyP50 int64  `json:"apply_p50_ns"`
		ApplyP99 int64  `json:"apply_p99_ns"`
		ApplyMax int64  `json:"apply_max_ns"`
	} `json:"tick_log"`
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
