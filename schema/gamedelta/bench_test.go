package gamedelta

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ticksync/ticksync/schema"
)

// envelopeSize is the size of a ServerMessage whose Snapshot carries the
// generic delta bytes in one byte vector (measured with the Snapshot's
// changes vector, which has the same layout as a new [ubyte] field would).
func envelopeSize(enc *schema.Encoder, tick, base uint32, delta []byte) int {
	msg, _ := enc.Snapshot(&schema.Snapshot{Tick: tick, BaselineTick: base, LastInputSeq: tick - 100,
		Changes: delta, ServerTimeMS: 1_790_000_000_000})
	return len(msg)
}

// compareArena runs the arena for ticks ticks and returns, per snapshot
// against the world dt ticks earlier, the average delta bytes and whole
// message bytes of today's arena codec and of this one.
func compareArena(ticks, dt int) (oldDelta, oldMsg, newDelta, newMsg float64) {
	a := newArenaSim(1)
	for range 120 {
		a.step()
	}
	c, err := Compile(arenaLayout)
	if err != nil {
		panic(err)
	}
	hist := [][]schema.Entity{slices.Clone(a.ents)}
	worlds := []*World{NewWorld(c)}
	a.fill(worlds[0])
	var d schema.Delta
	var gd Delta
	var buf []byte
	enc := schema.NewEncoder(4096)
	var so, sm, sn, sg, n int
	for t := 1; t <= ticks; t++ {
		a.step()
		hist = append(hist, slices.Clone(a.ents))
		w := NewWorld(c)
		a.fill(w)
		worlds = append(worlds, w)
		if t < dt {
			continue
		}
		tick, base := uint32(1000+t), uint32(1000+t-dt)
		schema.Diff(&d, hist[t-dt], hist[t], uint32(dt))
		msg, _ := enc.Snapshot(&schema.Snapshot{Tick: tick, BaselineTick: base, LastInputSeq: tick - 100,
			Spawned: d.Spawned, Changes: d.Changes, Removed: d.Removed, ServerTimeMS: 1_790_000_000_000})
		so += len(d.Changes) + 24*len(d.Spawned) + 4*len(d.Removed)
		sm += len(msg)
		buf = gd.Append(buf[:0], worlds[t-dt], nil, w, nil, 1, uint32(dt))
		sg += len(buf)
		sn += envelopeSize(enc, tick, base, buf)
		n++
	}
	f := float64(n)
	return float64(so) / f, float64(sm) / f, float64(sg) / f, float64(sn) / f
}

// TestCompareArena measures the arena scenario of schema/DELTA.md with
// today's arena codec and with the generic one on the same worlds, and
// keeps the generic one within 1 % of the arena's whole message.
func TestCompareArena(t *testing.T) {
	for dt := 1; dt <= 3; dt++ {
		od, om, nd, nm := compareArena(3000, dt)
		t.Logf("arena 64 entities dt=%d: arena codec delta %.1f B, message %.1f B (%.0f B/client/s); generic delta %.1f B, message %.1f B (%.0f B/client/s)",
			dt, od, om, om*30, nd, nm, nm*30)
		if nm > om*1.01 {
			t.Errorf("dt=%d: generic message %.1f B against the arena codec's %.1f B", dt, nm, om)
		}
	}
	// Full snapshots.
	a := newArenaSim(1)
	c := mustCompile(t, arenaLayout)
	w := NewWorld(c)
	a.fill(w)
	var gd Delta
	full := gd.Append(nil, nil, nil, w, nil, 1, 0)
	msg, _ := schema.NewEncoder(0).Snapshot(&schema.Snapshot{Tick: 5, Spawned: a.ents})
	t.Logf("full 64-entity snapshot: arena codec message %d B; generic delta %d B, message %d B",
		len(msg), len(full), envelopeSize(schema.NewEncoder(0), 5, 0, full))
}

// BenchmarkArenaTick is one arena-8x64 room tick with the generic codec:
// the simulation step, filling the World, Record, and Encode for 8
// clients acknowledging one tick behind, either all seeing everything (one
// shared encoding) or each its own area of interest (8 encodings).
func BenchmarkArenaTick(b *testing.B) {
	for _, bc := range []struct {
		name string
		mode viewMode
	}{{"views=shared", allViews}, {"views=8", aoiViews}} {
		b.Run(bc.name, func(b *testing.B) {
			sc := newArenaScenario(b, 8, bc.mode)
			for range 300 {
				sc.tick(b)
			}
			st0, bytes0, snaps0, n0 := sc.enc.Stats(), sc.bytes, sc.snaps, sc.n
			b.ReportAllocs()
			for b.Loop() {
				sc.tick(b)
			}
			st1 := sc.enc.Stats()
			per := float64(sc.bytes-bytes0) / float64(sc.snaps-snaps0)
			b.ReportMetric(per, "B/snapshot")
			b.ReportMetric(per*30, "B/client/s")
			b.ReportMetric(float64(st1.Encodes-st0.Encodes)/float64(sc.n-n0), "encodes/tick")
		})
	}
}

// BenchmarkArenaSim is the part of BenchmarkArenaTick that is not the
// codec: the simulation step and filling the World, to subtract.
func BenchmarkArenaSim(b *testing.B) {
	sc := newArenaScenario(b, 8, allViews)
	b.ReportAllocs()
	for b.Loop() {
		sc.sim.step()
		sc.sim.fill(sc.w)
	}
}

// BenchmarkCardsTick is one tick of the card table: 8 players, 60
// entities, owner-only hands and ranks (so 8 encodings per tick).
func BenchmarkCardsTick(b *testing.B) {
	sc := newCardsScenario(b)
	for range 300 {
		sc.tick(b)
	}
	st0, bytes0, snaps0, n0 := sc.enc.Stats(), sc.bytes, sc.snaps, sc.n
	b.ReportAllocs()
	for b.Loop() {
		sc.tick(b)
	}
	st1 := sc.enc.Stats()
	per := float64(sc.bytes-bytes0) / float64(sc.snaps-snaps0)
	b.ReportMetric(per, "B/snapshot")
	b.ReportMetric(per*30, "B/client/s")
	b.ReportMetric(float64(st1.Encodes-st0.Encodes)/float64(sc.n-n0), "encodes/tick")
}

// arenaPair returns the arena world at two ticks dt apart.
func arenaPair(c *Codec, dt int) (base, cur *World) {
	a := newArenaSim(2)
	for range 200 {
		a.step()
	}
	base, cur = NewWorld(c), NewWorld(c)
	a.fill(base)
	for range dt {
		a.step()
	}
	a.fill(cur)
	return base, cur
}

// BenchmarkDelta64 is one encoding of the 64-entity arena against the
// world dt ticks earlier (schema's BenchmarkDiff64 is the arena codec's).
func BenchmarkDelta64(b *testing.B) {
	c := mustCompile(b, arenaLayout)
	for _, dt := range []int{0, 1, 2} {
		name := fmt.Sprintf("dt=%d", dt)
		if dt == 0 {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			base, cur := arenaPair(c, max(dt, 1))
			if dt == 0 {
				base = nil
			}
			var d Delta
			buf := d.Append(nil, base, nil, cur, nil, 1, uint32(dt))
			b.ReportAllocs()
			for b.Loop() {
				buf = d.Append(buf[:0], base, nil, cur, nil, 1, uint32(dt))
			}
			b.ReportMetric(float64(len(buf)), "delta-B")
		})
	}
}

// BenchmarkApply64 is the client side of BenchmarkDelta64.
func BenchmarkApply64(b *testing.B) {
	c := mustCompile(b, arenaLayout)
	for _, dt := range []int{0, 1, 2} {
		name := fmt.Sprintf("dt=%d", dt)
		if dt == 0 {
			name = "full"
		}
		b.Run(name, func(b *testing.B) {
			base, cur := arenaPair(c, max(dt, 1))
			if dt == 0 {
				base = nil
			}
			var d Delta
			data := d.Append(nil, base, nil, cur, nil, 1, uint32(dt))
			dec, dst := NewDecoder(c, 1), NewWorld(c)
			b.ReportAllocs()
			for b.Loop() {
				if err := dec.Apply(dst, base, uint32(dt), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheck64 is Record's test of the 64-entity arena world (ids
// ascending, every value fitting its field).
func BenchmarkCheck64(b *testing.B) {
	c := mustCompile(b, arenaLayout)
	_, w := arenaPair(c, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
