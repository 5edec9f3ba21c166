package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// copyConn keeps the newest snapshot, as a real connection must (it
// copies), and counts bytes.
type copyConn struct {
	buf       []byte
	bytes     int
	n         int
	overflows int
}

func (c *copyConn) SendSnapshot(msg []byte) {
	c.buf = append(c.buf[:0], msg...)
	c.bytes += len(msg)
	c.n++
}

func (c *copyConn) Overflow() { c.overflows++ }

// bot is one arena-8x64 player: it changes direction every second and
// acknowledges the snapshot lag ticks behind (0: never acks). Its input
// travels as the arena's input buffer in Input.Data.
type bot struct {
	id   uint32
	seq  uint32
	data []byte
}

var botDirs = [8][2]int8{{100, 0}, {71, 71}, {0, 100}, {-71, 71}, {-100, 0}, {-71, -71}, {0, -100}, {71, -71}}

func (b *bot) input(tick, lag uint32) schema.Input {
	b.seq++
	phase := (tick/30 + b.id*3) % 8
	b.data = arena.AppendInput(b.data[:0], arena.Input{MoveX: botDirs[phase][0], MoveY: botDirs[phase][1], Aim: uint16(phase) << 13})
	in := schema.Input{Seq: b.seq, TargetTick: tick, Data: b.data}
	if lag > 0 && tick > lag {
		in.AckTick = tick - lag
	}
	return in
}

// arenaRoom is a room of 8 arena players driven by the benchmark.
type arenaRoom struct {
	room  *sim.Room
	bots  []bot
	conns []*copyConn
	tick  uint32
	lag   uint32
	now   time.Time
}

// newArenaRoom builds the room; opts add hooks (BenchmarkRoomTick records
// the tick log, as a node in a cluster does).
func newArenaRoom(b *testing.B, players int, lag uint32, opts ...sim.Option) *arenaRoom {
	b.Helper()
	cfg := sim.DefaultConfig()
	cfg.Codec = arena.Codec()
	r, err := sim.NewRoom("bench", cfg, arena.New(1), nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ar := &arenaRoom{room: r, lag: lag, now: time.Unix(1_700_000_000, 0)}
	for i := range players {
		c := &copyConn{}
		ar.conns = append(ar.conns, c)
		ar.bots = append(ar.bots, bot{id: uint32(i + 1)})
		if _, err := r.JoinForTest(uint32(i+1), c); err != nil {
			b.Fatal(err)
		}
	}
	return ar
}

// step plays one tick: every bot sends its input, then the room ticks.
func (ar *arenaRoom) step() {
	ar.tick++
	for i := range ar.bots {
		in := ar.bots[i].input(ar.tick, ar.lag)
		ar.room.PushInput(ar.bots[i].id, &in)
	}
	ar.now = ar.now.Add(time.Second / 30)
	ar.room.StepForTest(ar.now)
}

func (ar *arenaRoom) bytes() (total, n int) {
	for _, c := range ar.conns {
		total += c.bytes
		n += c.n
	}
	return total, n
}

// BenchmarkRoomTick is one room tick of the arena with all its players:
// drain, step, record the history, log the tick (the tick log a cluster
// node replicates: its record is copied out, as the node's logger does),
// encode (deltas, ack one tick behind) and hand out.
func BenchmarkRoomTick(b *testing.B) {
	for _, players := range []int{8, 64} {
		b.Run(fmt.Sprintf("players=%d", players), func(b *testing.B) {
			var logged []byte
			var recBytes, recs int
			ar := newArenaRoom(b, players, 1, sim.WithRecord(func(_ uint32, rec []byte) {
				logged = append(logged[:0], rec...)
				recBytes += len(rec)
				recs++
			}, nil))
			for range 200 {
				ar.step()
			}
			recBytes, recs = 0, 0 // the mean of the timed ticks
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ar.step()
			}
			b.ReportMetric(float64(recBytes)/float64(recs), "B/record")
		})
	}
}

// BenchmarkArenaBandwidth is the arena-8x64 scenario: 8 players, 64
// entities, 30 Hz, one input per player per tick, bots turning every
// second. It reports the snapshot payload per client per second for full
// snapshots and for deltas against an ack one tick and 100 ms (3 ticks)
// behind, and the encode time per room tick.
func BenchmarkArenaBandwidth(b *testing.B) {
	for _, bc := range []struct {
		name string
		lag  uint32
	}{
		{"full", 0},
		{"ack=1tick", 1},
		{"ack=100ms", 3},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ar := newArenaRoom(b, 8, bc.lag)
			for range 300 { // 10 s of play: every NPC has turned
				ar.step()
			}
			bytes0, n0 := ar.bytes()
			st0 := ar.room.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			ticks := 0
			for b.Loop() {
				ar.step()
				ticks++
			}
			b.StopTimer()
			bytes1, n1 := ar.bytes()
			st1 := ar.room.Stats()
			perClientTick := float64(bytes1-bytes0) / float64(n1-n0)
			b.ReportMetric(perClientTick*30, "B/client/s")
			b.ReportMetric(perClientTick, "B/snapshot")
			b.ReportMetric(float64(st1.EncodeTime-st0.EncodeTime)/float64(ticks), "encode-ns/tick")
			b.ReportMetric(float64(st1.Encodes-st0.Encodes)/float64(ticks), "encodes/tick")
		})
	}
}
