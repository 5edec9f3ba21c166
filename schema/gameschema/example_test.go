package gameschema_test

import (
	"fmt"
	"os"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/gameschema"
)

// A node loads a game's compiled schema once, then verifies and reads each
// player's input by field index.
func Example() {
	bfbs, err := os.ReadFile("testdata/arena.bfbs") // flatc --binary --schema arena.fbs
	if err != nil {
		panic(err)
	}
	s, err := gameschema.Load(bfbs)
	if err != nil {
		panic(err)
	}
	in := s.Input
	moveX, buttons := in.Field("move_x").Index, in.Field("buttons").Index

	// A client builds an input (with flatc's generated code, or generically).
	var v gameschema.Values
	v.Reset(in)
	v.SetInt(moveX, -70)
	v.SetInt(buttons, 5)
	b := flatbuffers.NewBuilder(64)
	b.Finish(in.Build(b, &v))
	frame := b.FinishedBytes()

	// The server: untrusted bytes in, values out, nothing allocated.
	var got gameschema.Values
	if err := s.DecodeInput(frame, &got); err != nil {
		fmt.Println("close 1007:", err)
		return
	}
	fmt.Println(s.Name, in.Name, got.Int(moveX), got.Int(buttons))

	// A value outside the declared range is refused.
	v.SetInt(moveX, 120)
	b.Reset()
	b.Finish(in.Build(b, &v))
	fmt.Println(s.VerifyInput(b.FinishedBytes()))
	// Output:
	// arena arena.Input -70 5
	// value out of range: arena.Input.move_x: 120: must be -100..100
}
