package arena

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/games/arena/arenafb"
	"github.com/ticksync/ticksync/schema/gameschema"
)

var inputSeed = flag.Uint64("seed", 0, "TestInputRoundTrip's seed (0: from the clock)")

// randomInput draws an input within the schema's ranges; one in eight
// axes is an edge value.
func randomInput(rng *rand.Rand) Input {
	axis := func() int8 {
		if rng.IntN(8) == 0 {
			return [...]int8{-AxisMax, 0, AxisMax}[rng.IntN(3)]
		}
		return int8(rng.IntN(2*AxisMax+1) - AxisMax)
	}
	return Input{MoveX: axis(), MoveY: axis(), Aim: uint16(rng.Uint32()), Buttons: uint8(rng.Uint32())}
}

// buildInput writes in with flatc's generated builder: another layout
// (vtable after the table, default fields left out).
func buildInput(b *flatbuffers.Builder, in Input) []byte {
	b.Reset()
	arenafb.InputStart(b)
	arenafb.InputAddMoveX(b, in.MoveX)
	arenafb.InputAddMoveY(b, in.MoveY)
	arenafb.InputAddAim(b, in.Aim)
	arenafb.InputAddButtons(b, in.Buttons)
	b.Finish(arenafb.InputEnd(b))
	return b.FinishedBytes()
}

// TestInputRoundTrip: AppendInput's buffers pass the schema's verifier and
// read back the same through gameschema, flatc's accessors and ReadInput;
// ReadInput also reads flatc's builder's buffers. Replay a failure with
// -seed.
func TestInputRoundTrip(t *testing.T) {
	seed := *inputSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test -run TestInputRoundTrip -seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var v gameschema.Values
	b := flatbuffers.NewBuilder(64)
	s := Schema()
	for i := range 20000 {
		in := randomInput(rng)
		if i == 0 {
			in = Input{}
		}
		prefix := make([]byte, rng.IntN(9))
		for j := range prefix {
			prefix[j] = byte(rng.Uint32())
		}
		buf := AppendInput(prefix, in)
		if string(buf[:len(prefix)]) != string(prefix) {
			t.Fatalf("%+v: AppendInput changed dst's bytes", in)
		}
		data := buf[len(prefix):]
		if err := s.DecodeInput(data, &v); err != nil {
			t.Fatalf("%+v: %x: %v", in, data, err)
		}
		got := Input{
			MoveX: int8(v.Int(s.Input.Field("move_x").Index)), MoveY: int8(v.Int(s.Input.Field("move_y").Index)),
			Aim: uint16(v.Int(s.Input.Field("aim").Index)), Buttons: uint8(v.Int(s.Input.Field("buttons").Index)),
		}
		if got != in {
			t.Fatalf("gameschema reads %+v, want %+v", got, in)
		}
		fb := arenafb.GetRootAsInput(data, 0)
		if got := (Input{fb.MoveX(), fb.MoveY(), fb.Aim(), fb.Buttons()}); got != in {
			t.Fatalf("flatc's accessors read %+v, want %+v", got, in)
		}
		if got := ReadInput(data); got != in {
			t.Fatalf("ReadInput: %+v, want %+v", got, in)
		}
		if got := readInput(data); got != in {
			t.Fatalf("ReadInput's general path: %+v, want %+v", got, in)
		}
		built := buildInput(b, in)
		if err := s.VerifyInput(built); err != nil {
			t.Fatalf("%+v: flatc's builder's %x: %v", in, built, err)
		}
		if got := ReadInput(built); got != in {
			t.Fatalf("ReadInput of flatc's builder's %x: %+v, want %+v", built, got, in)
		}
	}
}

func TestAppendInputOutOfRange(t *testing.T) {
	err := Schema().VerifyInput(AppendInput(nil, Input{MoveX: -AxisMax - 1}))
	if !errors.Is(err, gameschema.ErrOutOfRange) {
		t.Fatalf("move_x %d: %v, want ErrOutOfRange", -AxisMax-1, err)
	}
}

func TestReadInputEmpty(t *testing.T) {
	for _, b := range [][]byte{nil, {}, make([]byte, 7)} {
		if got := ReadInput(b); got != (Input{}) {
			t.Errorf("ReadInput(%x) = %+v, want the zero Input", b, got)
		}
	}
}

func TestInputAllocs(t *testing.T) {
	if raceBuild {
		t.Skip("allocation counts are checked without -race")
	}
	in := Input{MoveX: -71, MoveY: 71, Aim: 40000, Buttons: 5}
	dst := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { dst = AppendInput(dst[:0], in) }); n != 0 {
		t.Errorf("AppendInput with room: %v allocs", n)
	}
	var got Input
	if n := testing.AllocsPerRun(100, func() { got = ReadInput(dst) }); n != 0 {
		t.Errorf("ReadInput: %v allocs", n)
	}
	if got != in {
		t.Fatalf("read %+v, want %+v", got, in)
	}
}

// FuzzReadInput: ReadInput never panics, reads what its general path reads
// (AppendInput's layout has a fast path), and reads every buffer the
// schema's verifier accepts as gameschema does.
func FuzzReadInput(f *testing.F) {
	b := flatbuffers.NewBuilder(64)
	for _, in := range []Input{{}, {MoveX: 100, MoveY: -100, Aim: 65535, Buttons: 255}, {MoveX: -3}} {
		f.Add(AppendInput(nil, in))
		f.Add(append([]byte(nil), buildInput(b, in)...))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	s := Schema()
	var v gameschema.Values
	f.Fuzz(func(t *testing.T, data []byte) {
		got := ReadInput(data)
		if general := readInput(data); general != got {
			t.Fatalf("ReadInput(%x) = %+v, its general path reads %+v", data, got, general)
		}
		if s.DecodeInput(data, &v) != nil {
			return
		}
		want := Input{
			MoveX: int8(v.Int(s.Input.Field("move_x").Index)), MoveY: int8(v.Int(s.Input.Field("move_y").Index)),
			Aim: uint16(v.Int(s.Input.Field("aim").Index)), Buttons: uint8(v.Int(s.Input.Field("buttons").Index)),
		}
		if got != want {
			t.Fatalf("ReadInput(%x) = %+v, gameschema reads %+v", data, got, want)
		}
	})
}
