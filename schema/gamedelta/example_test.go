package gamedelta_test

import (
	"fmt"

	"github.com/ticksync/ticksync/schema/gamedelta"
)

// A room with one kind of entity, whose position is predicted from its
// velocity and whose fuel only its owner sees: the server records each
// tick's world and encodes it for a client, which applies the snapshots
// and acknowledges them.
func Example() {
	codec, err := gamedelta.Compile(gamedelta.Layout{Kinds: []gamedelta.Kind{{
		Name: "ship",
		Fields: []gamedelta.Field{
			{Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
			{Name: "vx", Bits: 16, Signed: true},
			{Name: "fuel", Bits: 8, OwnerOnly: true},
		},
	}}})
	if err != nil {
		panic(err)
	}
	enc, _ := gamedelta.NewEncoder(codec, gamedelta.DefaultEncoderConfig())
	rx, _ := gamedelta.NewReceiver(codec, gamedelta.DefaultReceiverConfig(7))
	client := enc.NewClient(7)

	world := gamedelta.NewWorld(codec)
	for tick := uint32(1); tick <= 4; tick++ {
		// The game writes its entities (ids ascending).
		world.Reset()
		i := world.Add(1, 0, 7) // entity 1 of kind 0, owned by player 7
		world.SetInt(i, 0, 100+5*int64(tick))
		world.SetInt(i, 1, 5)
		world.SetInt(i, 2, 90-int64(tick/3))

		// Server: record the tick, encode for each client.
		if err := enc.Record(tick, world); err != nil {
			panic(err)
		}
		snap, err := enc.Encode(client, nil)
		if err != nil {
			panic(err)
		}
		data, baseline := snap.Data, snap.Baseline

		// Client: apply, then acknowledge with the next input.
		got, err := rx.Apply(tick, baseline, data)
		if err != nil {
			panic(err)
		}
		fmt.Printf("tick %d against %d: %2d bytes, x=%d fuel=%d\n", tick, baseline, len(data), got.Int(0, 0), got.Int(0, 2))
		client.Ack(rx.Newest())
	}
	// Output:
	// tick 1 against 0: 10 bytes, x=105 fuel=90
	// tick 2 against 1:  0 bytes, x=110 fuel=90
	// tick 3 against 2:  3 bytes, x=115 fuel=89
	// tick 4 against 3:  0 bytes, x=120 fuel=89
}
