package schema

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// arenaSim is an arena-like world for measuring delta sizes: 8 avatars that
// change direction every 30 ticks and 56 NPCs moving at 32 quanta/tick that
// pick a random heading every 60 ticks, in a walled square where they
// bounce; each entity loses hp with probability 0.002 per tick.
type arenaSim struct {
	rng   *rand.Rand
	ents  []Entity
	timer []int
}

const (
	arenaSize    = 1 << 15 // quanta (2,048 units)
	arenaAvatars = 8
	arenaNPCs    = 56
)

func newArenaSim(seed uint64) *arenaSim {
	a := &arenaSim{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	for i := range arenaAvatars + arenaNPCs {
		e := Entity{
			ID: uint32(i + 1), X: a.rng.Int32N(arenaSize), Y: a.rng.Int32N(arenaSize),
			Kind: 2, HP: 100,
		}
		period := 60
		if i < arenaAvatars {
			e.Owner, e.Kind, period = uint32(i+1), 1, 30
		}
		a.ents = append(a.ents, e)
		a.timer = append(a.timer, a.rng.IntN(period))
		a.turn(i)
	}
	return a
}

// turn gives entity i a random heading at its speed.
func (a *arenaSim) turn(i int) {
	e := &a.ents[i]
	speed := 32.0
	if e.Kind == 1 {
		speed = 40
	}
	e.Angle = uint16(a.rng.Uint32())
	rad := float64(e.Angle) / 65536 * 2 * math.Pi
	e.VX = int16(math.Round(speed * math.Cos(rad)))
	e.VY = int16(math.Round(speed * math.Sin(rad)))
}

// step advances the world by one tick.
func (a *arenaSim) step() {
	for i := range a.ents {
		e := &a.ents[i]
		period := 60
		if e.Kind == 1 {
			period = 30
		}
		if a.timer[i]++; a.timer[i] >= period {
			a.timer[i] = 0
			a.turn(i)
		}
		e.X += int32(e.VX)
		e.Y += int32(e.VY)
		if e.X < 0 || e.X >= arenaSize {
			e.X = min(max(e.X, 0), arenaSize-1)
			e.VX = -e.VX
			e.Angle = 32768 - e.Angle
		}
		if e.Y < 0 || e.Y >= arenaSize {
			e.Y = min(max(e.Y, 0), arenaSize-1)
			e.VY = -e.VY
			e.Angle = -e.Angle
		}
		if e.HP > 1 && a.rng.Float64() < 0.002 {
			e.HP -= uint8(1 + a.rng.IntN(int(min(e.HP-1, 10))))
		}
	}
}

// arenaSizes runs the arena for ticks ticks and returns the average delta
// payload (changes + spawned + removed bytes) and the average encoded
// Snapshot message, each tick diffed against the world dt ticks earlier.
func arenaSizes(ticks, dt int) (delta, msg float64) {
	a := newArenaSim(1)
	hist := make([][]Entity, 0, ticks+1)
	for range 120 { // warm up: timers spread
		a.step()
	}
	hist = append(hist, append([]Entity(nil), a.ents...))
	var d Delta
	enc := NewEncoder(4096)
	var sumDelta, sumMsg, n int
	for t := 1; t <= ticks; t++ {
		a.step()
		hist = append(hist, append([]Entity(nil), a.ents...))
		if t < dt {
			continue
		}
		Diff(&d, hist[t-dt], hist[t], uint32(dt))
		b, _ := enc.Snapshot(&Snapshot{
			Tick: uint32(1000 + t), BaselineTick: uint32(1000 + t - dt), LastInputSeq: uint32(900 + t),
			Spawned: d.Spawned, Changes: d.Changes, Removed: d.Removed, ServerTimeMS: 1_790_000_000_000,
		})
		sumDelta += len(d.Changes) + entitySize*len(d.Spawned) + 4*len(d.Removed)
		sumMsg += len(b)
		n++
	}
	return float64(sumDelta) / float64(n), float64(sumMsg) / float64(n)
}

// TestArenaDeltaSize keeps the arena's downstream under the ~4,000
// B/client/s budget at 30 Hz for baselines 1..3 ticks old.
func TestArenaDeltaSize(t *testing.T) {
	for dt := 1; dt <= 3; dt++ {
		delta, msg := arenaSizes(3000, dt)
		perSec := msg * 30
		t.Logf("arena 64 entities dt=%d: delta %.1f B, message %.1f B, %.0f B/client/s at 30 Hz", dt, delta, msg, perSec)
		if perSec > 4000 {
			t.Errorf("dt=%d: %.0f B/client/s: over the 4,000 budget", dt, perSec)
		}
	}
}

func BenchmarkArenaDelta(b *testing.B) {
	for dt := 1; dt <= 3; dt++ {
		b.Run(fmt.Sprintf("dt=%d", dt), func(b *testing.B) {
			var delta, msg float64
			for b.Loop() {
				delta, msg = arenaSizes(600, dt)
			}
			b.ReportMetric(delta, "delta-B")
			b.ReportMetric(msg, "msg-B")
			b.ReportMetric(msg*30, "B/client/s")
		})
	}
}
