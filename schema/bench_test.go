package schema

import (
	"slices"
	"testing"
)

// BenchmarkDecodeInput: verify and decode one Input, the per-frame cost on
// the server. Target: 0 allocs.
func BenchmarkDecodeInput(b *testing.B) {
	msg := clone(NewEncoder(0).Input(&Input{Seq: 1234, TargetTick: 5000, AckTick: 4998, MoveX: -70, MoveY: 30, Aim: 12000, Buttons: 1}))
	var m ClientMessage
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClientMessage(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// arenaWorlds returns the arena world at two ticks dt apart.
func arenaWorlds(dt int) (base, cur []Entity) {
	a := newArenaSim(2)
	for range 200 {
		a.step()
	}
	base = slices.Clone(a.ents)
	for range dt {
		a.step()
	}
	return base, slices.Clone(a.ents)
}

// BenchmarkEncodeFullSnapshot: a full 64-entity snapshot with a reused
// Encoder. Target: 0 allocs after warm-up.
func BenchmarkEncodeFullSnapshot(b *testing.B) {
	_, cur := arenaWorlds(0)
	e := NewEncoder(0)
	s := Snapshot{Tick: 5000, LastInputSeq: 77, Spawned: cur, ServerTimeMS: 1_790_000_000_000}
	msg, _ := e.Snapshot(&s) // warm-up: the builder grows once
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		e.Snapshot(&s)
	}
}

// BenchmarkDiff64: the delta of a 64-entity arena world against the world 2
// ticks earlier.
func BenchmarkDiff64(b *testing.B) {
	base, cur := arenaWorlds(2)
	var d Delta
	Diff(&d, base, cur, 2)
	b.ReportAllocs()
	for b.Loop() {
		Diff(&d, base, cur, 2)
	}
	b.ReportMetric(float64(len(d.Changes)), "changes-B")
}

// BenchmarkApply64: the client side of BenchmarkDiff64.
func BenchmarkApply64(b *testing.B) {
	base, cur := arenaWorlds(2)
	var d Delta
	Diff(&d, base, cur, 2)
	dst := make([]Entity, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = Apply(dst, base, 2, d.Spawned, d.Changes, d.Removed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeGameSnapshot: a generic game's snapshot, 1 KiB of state
// and 3 pending events, with a reused Encoder. Target: 0 allocs.
func BenchmarkEncodeGameSnapshot(b *testing.B) {
	s := gameSnapshot(1024, 3)
	e := NewEncoder(0)
	msg, _ := e.Snapshot(&s) // warm-up: the builder grows once
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		e.Snapshot(&s)
	}
}

// BenchmarkDecodeGameSnapshot: the client side of BenchmarkEncodeGameSnapshot
// (verify and decode into a reused ServerMessage). Target: 0 allocs.
func BenchmarkDecodeGameSnapshot(b *testing.B) {
	s := gameSnapshot(1024, 3)
	msg, _ := NewEncoder(0).Snapshot(&s)
	msg = clone(msg)
	var m ServerMessage
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeServerMessage(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeGameInput: a generic game's Input (a 28-byte input table
// and an event ack), the per-frame cost on the server. Target: 0 allocs.
func BenchmarkDecodeGameInput(b *testing.B) {
	msg := clone(NewEncoder(0).Input(&Input{Seq: 1234, TargetTick: 5000, AckTick: 4998, Data: make([]byte, 28), EventAck: 17}))
	var m ClientMessage
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClientMessage(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent: one client Event of 32 bytes. Target: 0 allocs.
func BenchmarkDecodeEvent(b *testing.B) {
	msg := clone(NewEncoder(0).Event(&Event{Seq: 9, Data: make([]byte, 32)}))
	var m ClientMessage
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeClientMessage(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}
