package schema

import "testing"

// BenchmarkDecodeInput: verify and decode one Input (a 28-byte game input
// and an event ack), the per-frame cost on the server. Target: 0 allocs.
func BenchmarkDecodeInput(b *testing.B) {
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

// BenchmarkEncodeFullSnapshot: a full snapshot (baseline 0) of 2 KiB of
// state with a reused Encoder. Target: 0 allocs after warm-up.
func BenchmarkEncodeFullSnapshot(b *testing.B) {
	s := testSnapshot(2048, 0)
	s.BaselineTick = 0
	e := NewEncoder(0)
	msg, _ := e.Snapshot(&s) // warm-up: the builder grows once
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		e.Snapshot(&s)
	}
}

// BenchmarkEncodeSnapshot: a delta snapshot of 1 KiB of state and 3
// pending events, with a reused Encoder. Target: 0 allocs.
func BenchmarkEncodeSnapshot(b *testing.B) {
	s := testSnapshot(1024, 3)
	e := NewEncoder(0)
	msg, _ := e.Snapshot(&s) // warm-up: the builder grows once
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		e.Snapshot(&s)
	}
}

// BenchmarkDecodeSnapshot: the client side of BenchmarkEncodeSnapshot
// (verify and decode into a reused ServerMessage). Target: 0 allocs.
func BenchmarkDecodeSnapshot(b *testing.B) {
	s := testSnapshot(1024, 3)
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
