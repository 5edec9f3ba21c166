package arena

import (
	"testing"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// BenchmarkStep is the game's share of a room tick in arena-8x64: Step
// with 8 players' inputs (each read with ReadInput) and WriteState into
// the room's world. It allocates nothing.
func BenchmarkStep(b *testing.B) {
	a := New(1)
	joinN(b, a, 8)
	w := gamedelta.NewWorld(Codec())
	inputs := make([][]sim.PlayerInput, 8)
	for phase := range inputs { // the bots' eight directions, in turn
		inputs[phase] = botInputs(nil, 8, uint32(phase*30))
	}
	b.ReportAllocs()
	tick := uint32(0)
	for b.Loop() {
		tick++
		a.Step(tick, inputs[(tick/30)%8])
		w.Reset()
		a.WriteState(w)
	}
}

// BenchmarkStateBytes reports the size of the gamedelta state one client
// receives per second in arena-8x64 (8 players, 64 entities, 30 Hz, every
// snapshot acknowledged the tick after): the Snapshot.state bytes only,
// without the envelope.
func BenchmarkStateBytes(b *testing.B) {
	a := New(1)
	joinN(b, a, 8)
	enc, err := gamedelta.NewEncoder(Codec(), gamedelta.DefaultEncoderConfig())
	if err != nil {
		b.Fatal(err)
	}
	cl := enc.NewClient(1)
	w := gamedelta.NewWorld(Codec())
	inputs := make([][]sim.PlayerInput, 8)
	for phase := range inputs {
		inputs[phase] = botInputs(nil, 8, uint32(phase*30))
	}
	var bytes, ticks int
	b.ReportAllocs()
	tick := uint32(0)
	for b.Loop() {
		tick++
		a.Step(tick, inputs[(tick/30)%8])
		w.Reset()
		a.WriteState(w)
		if err := enc.Record(tick, w); err != nil {
			b.Fatal(err)
		}
		e, err := enc.Encode(cl, nil)
		if err != nil {
			b.Fatal(err)
		}
		if tick > 30 { // past the first full snapshot
			bytes += len(e.Data)
			ticks++
		}
		cl.Ack(tick)
	}
	if ticks > 0 {
		b.ReportMetric(float64(bytes)/float64(ticks)*DefaultRate, "state-B/client/s")
	}
}
