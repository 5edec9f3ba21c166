package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/replication/command"
)

// gameState returns ~size bytes that look like a room's state: 32-byte
// entity records (id, kind, quantized position and velocity, angle, hp,
// flags, a few bytes of per-entity data); a third of the entities move each
// tick, the rest idle.
func gameState(dst []byte, room, tick, size int) []byte {
	dst = dst[:0]
	rng := rand.New(rand.NewPCG(uint64(room), uint64(tick)))
	for e := 0; len(dst)+32 <= size; e++ {
		var rec [32]byte
		moving := e%3 == 0
		vx, vy := 0, 0
		if moving {
			vx, vy = e%7-3, e%5-2
		}
		binary.LittleEndian.PutUint32(rec[0:], uint32(room*1000+e))
		rec[4] = byte(e % 4)
		binary.LittleEndian.PutUint32(rec[5:], uint32(int32(e*4000+tick*vx*16)))
		binary.LittleEndian.PutUint32(rec[9:], uint32(int32(e*2500+tick*vy*16)))
		binary.LittleEndian.PutUint16(rec[13:], uint16(vx*16))
		binary.LittleEndian.PutUint16(rec[15:], uint16(vy*16))
		binary.LittleEndian.PutUint16(rec[17:], uint16(e*1000))
		rec[19] = byte(100 - (e*7)%60)
		if moving {
			binary.LittleEndian.PutUint16(rec[17:], uint16(tick*37+e*1000))
			rec[21] = byte(rng.IntN(4))
			binary.LittleEndian.PutUint16(rec[24:], uint16(rng.Uint32()))
		}
		dst = append(dst, rec[:]...)
	}
	return dst
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// BenchmarkCheckpointBatch: one op = 500 rooms' 2 KB checkpoints compressed
// and applied as CheckpointBatch entries through a 3-node cluster, from the
// leader or from a follower (forwarded over HTTP). Unpaced: the throughput
// ceiling.
func BenchmarkCheckpointBatch(b *testing.B) {
	const rooms, size = 500, 2048
	for _, on := range []string{"leader", "follower"} {
		b.Run("rooms=500/on="+on, func(b *testing.B) {
			c := startCluster(b, 3, nil)
			var n *testNode
			for _, x := range c {
				if x.IsLeader() == (on == "leader") {
					n = x
					break
				}
			}
			ms := make([]MatchInfo, rooms)
			for i := range rooms {
				m, err := c.waitLeader(b, 10*time.Second).CreateMatch(context.Background(), command.CreateMatch{ID: fmt.Sprintf("r%03d", i), Game: "arena", Owner: n.ID()})
				if err != nil {
					b.Fatal(err)
				}
				ms[i] = m
			}
			var buf []byte
			b.SetBytes(rooms * size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for r, m := range ms {
					buf = gameState(buf, r, i, size)
					n.Checkpointer().Checkpoint(m.ID, m.Epoch, uint32(i+1), buf)
				}
				if err := n.Checkpointer().Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := n.Checkpointer().Stats()
			b.ReportMetric(float64(rooms*b.N)/b.Elapsed().Seconds(), "checkpoints/s")
			b.ReportMetric(float64(st.BytesOut)/float64(st.Items), "B/checkpoint")
			if st.Rejected != 0 {
				b.Fatalf("%d rejected", st.Rejected)
			}
		})
	}
}

// BenchmarkCheckpointLoad runs the target load paced: 500 rooms spread over
// a 3-node cluster, each checkpointing 2 KB twice a second (the default
// interval). One op = one second of load. It reports the batch apply
// latency percentiles, bytes per room per second, and the data dir of each
// node at the end (run with -benchtime=60x for a minute).
func BenchmarkCheckpointLoad(b *testing.B) {
	const rooms, size = 500, 2048
	c := startCluster(b, 3, nil)
	r := runCheckpointLoad(b, c, rooms, size, time.Duration(b.N)*time.Second)
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(r.max.Microseconds())/1000, "max-ms")
	b.ReportMetric(r.bytesPerRoomSec, "B/room/s")
	b.ReportMetric(float64(r.maxDataDir)/(1<<20), "datadir-MB")
}

type loadResult struct {
	batches, items       int
	p50, p99, max        time.Duration
	bytesPerRoomSec      float64
	maxDataDir, endBytes int64
}

// runCheckpointLoad drives rooms × 2 checkpoints/s of size bytes for d and
// samples the data dirs every second.
func runCheckpointLoad(tb testing.TB, c cluster, rooms, size int, d time.Duration) loadResult {
	tb.Helper()
	for i := range rooms {
		if _, err := c.waitLeader(tb, 10*time.Second).CreateMatch(context.Background(), command.CreateMatch{ID: fmt.Sprintf("load%04d", i), Game: "arena"}); err != nil {
			tb.Fatal(err)
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	items := 0
	for _, n := range c {
		n.Checkpointer().onApply = func(d time.Duration, k int) {
			mu.Lock()
			lat = append(lat, d)
			items += k
			mu.Unlock()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	before := make(map[string]uint64)
	for _, n := range c {
		before[n.ID()] = n.Checkpointer().Stats().BytesOut
		owned, _ := n.fsm.ownedBy(n.ID())
		ids := sortedKeys(owned)
		wg.Add(1)
		go func() { // this node's rooms: one checkpoint each per 500 ms, spread over the interval
			defer wg.Done()
			var buf []byte
			tick := 0
			step := 500 * time.Millisecond / time.Duration(max(len(ids), 1))
			next := time.Now()
			for ctx.Err() == nil {
				tick += 15 // 30 Hz rooms checkpointing every 500 ms
				for i, id := range ids {
					buf = gameState(buf, i, tick, size)
					n.Checkpointer().Checkpoint(id, owned[id].Epoch, uint32(tick), buf)
					next = next.Add(step)
					if w := time.Until(next); w > 0 {
						select {
						case <-ctx.Done():
							return
						case <-time.After(w):
						}
					}
				}
			}
		}()
	}
	var maxDir int64
	t := time.NewTicker(time.Second)
	start := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
			for _, n := range c {
				maxDir = max(maxDir, dirSize(n.cfg.DataDir))
			}
		}
	}
	t.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	var out uint64
	for _, n := range c {
		out += n.Checkpointer().Stats().BytesOut - before[n.ID()]
		if st := n.Checkpointer().Stats(); st.Rejected != 0 || st.Failures != 0 {
			tb.Errorf("%s: %d rejected, %d failed batches", n.ID(), st.Rejected, st.Failures)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	r := loadResult{batches: len(lat), items: items, maxDataDir: maxDir}
	if len(lat) > 0 {
		r.p50, r.p99, r.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	r.bytesPerRoomSec = float64(out) / float64(rooms) / elapsed.Seconds()
	for _, n := range c {
		r.endBytes = max(r.endBytes, dirSize(n.cfg.DataDir))
	}
	tb.Logf("load %d rooms × 2/s × %d B for %v: %d batches, %d checkpoints, apply p50 %v p99 %v max %v, %.0f B/room/s compressed, data dir max %.1f MiB, at end %.1f MiB",
		rooms, size, elapsed.Round(time.Second), r.batches, r.items, r.p50, r.p99, r.max, r.bytesPerRoomSec,
		float64(r.maxDataDir)/(1<<20), float64(r.endBytes)/(1<<20))
	return r
}

// BenchmarkLeaseValid: the check every room makes before each tick.
func BenchmarkLeaseValid(b *testing.B) {
	c := startCluster(b, 1, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !c[0].LeaseValid() {
			b.Fatal("no lease")
		}
	}
}

// BenchmarkCompress: zstd on one 2 KB room state.
func BenchmarkCompress(b *testing.B) {
	st := gameState(nil, 1, 100, 2048)
	var dst []byte
	b.SetBytes(int64(len(st)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = compress(dst[:0], st)
	}
	b.ReportMetric(float64(len(dst)), "B/out")
}

func soak(t *testing.T) time.Duration {
	if os.Getenv("TICKSYNC_SOAK") == "" {
		t.Skip("set TICKSYNC_SOAK=1 (and optionally TICKSYNC_SOAK_DURATION=10m) to run")
	}
	d := 10 * time.Minute
	if s := os.Getenv("TICKSYNC_SOAK_DURATION"); s != "" {
		if v, err := time.ParseDuration(s); err == nil {
			d = v
		}
	}
	return d
}
