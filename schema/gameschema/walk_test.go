package gameschema

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// TestTestdataRoundTrip: for every table of the arena and cards schemas,
// random valid values build into buffers that verify and decode the same.
func TestTestdataRoundTrip(t *testing.T) {
	b := flatbuffers.NewBuilder(256)
	var v, got Values
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"arena", "cards"} {
		s := loadFile(t, name)
		for _, tg := range targets(s) {
			for range 50 {
				randValues(rng, tg.table, &v)
				buf := tg.build(b, &v)
				if err := tg.decode(buf, &got); err != nil {
					t.Fatalf("%s: %v", tg.name, err)
				}
				if err := sameValues(&v, &got); err != nil {
					t.Fatalf("%s: %v", tg.name, err)
				}
			}
		}
	}
}

// TestVerifyRefuses: buffers of the cards schema that are well formed but
// break a rule, and buffers that are not well formed.
func TestVerifyRefuses(t *testing.T) {
	s := loadFile(t, "cards")
	b := flatbuffers.NewBuilder(256)
	var v Values
	build := func(tb *Table, set func()) []byte {
		v.Reset(tb)
		v.SetDefaults()
		if tb.Field("rank") != nil {
			v.SetInt(tb.Field("rank").Index, 5)
		}
		if tb.Field("text") != nil {
			v.SetBytes(tb.Field("text").Index, []byte("hi"))
		}
		set()
		b.Reset()
		if tb.Role == RoleEvent {
			b.Finish(s.ClientEvents.Build(b, &v))
		} else {
			b.Finish(tb.Build(b, &v))
		}
		return append([]byte(nil), b.FinishedBytes()...)
	}
	in, say, play := s.Input, s.ClientEvents.Event(3), s.ClientEvents.Event(1)
	idx := func(tb *Table, name string) int { return tb.Field(name).Index }
	// A valid input, to corrupt by hand.
	valid := append([]byte(nil), build(in, func() { v.SetBool(idx(in, "grab"), true) })...)
	if err := s.VerifyInput(valid); err != nil {
		t.Fatal(err)
	}
	withByte := func(buf []byte, at int, x byte) []byte {
		m := append([]byte(nil), buf...)
		m[at] = x
		return m
	}
	// Find the grab byte: the one that is 1.
	grabAt := -1
	for i := len(valid) - 1; i >= 0; i-- {
		if valid[i] == 1 {
			grabAt = i
			break
		}
	}
	cases := []struct {
		name string
		buf  []byte
		ev   bool
		want error
	}{
		{"hover above its range", build(in, func() { v.SetInt(idx(in, "hover"), 52) }), false, ErrOutOfRange},
		{"hover below its range", build(in, func() { v.SetInt(idx(in, "hover"), -2) }), false, ErrOutOfRange},
		{"NaN pointer", build(in, func() { v.SetFloat(idx(in, "pointer.y"), math.NaN()) }), false, ErrOutOfRange},
		{"infinite pointer", build(in, func() { v.SetFloat(idx(in, "pointer.z"), math.Inf(1)) }), false, ErrOutOfRange},
		{"bool byte 2", withByte(valid, grabAt, 2), false, ErrOutOfRange},
		{"empty", nil, false, ErrMalformed},
		{"truncated", valid[:len(valid)-3], false, ErrMalformed},
		{"root past the end", withByte(valid, 0, 0xfc), false, ErrMalformed},
		{"misaligned root", withByte(valid, 0, valid[0]+2), false, ErrMalformed},
		{"rank 0 (absent, default outside the range)", build(play, func() { v.SetInt(idx(play, "rank"), 0) }), true, ErrOutOfRange},
		{"rank 14", build(play, func() { v.SetInt(idx(play, "rank"), 14) }), true, ErrOutOfRange},
		{"suit not in the enum", build(play, func() { v.SetInt(idx(play, "suit"), 4) }), true, ErrOutOfRange},
		{"say without its required text", build(say, func() { v.SetBytes(idx(say, "text"), nil) }), true, ErrMalformed},
		{"say too long", build(say, func() { v.SetBytes(idx(say, "text"), make([]byte, 81)) }), true, ErrOutOfRange},
		{"say not UTF-8", build(say, func() { v.SetBytes(idx(say, "text"), []byte{'a', 0xff}) }), true, ErrOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.ev {
				_, err = s.VerifyEvent(c.buf)
			} else {
				err = s.VerifyInput(c.buf)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
	// Event wrapper: unknown type, NONE with a value, a type without one.
	ev := build(say, func() {})
	var w Values
	if tb, err := s.DecodeEvent(ev, &w); err != nil || tb != say || w.Text(idx(say, "text")) != "hi" {
		t.Fatalf("say: %v %v", tb, err)
	}
	typeAt := -1
	for i := range ev {
		if ev[i] == 3 && i > 4 { // the union type byte (Say = 3)
			typeAt = i
			break
		}
	}
	for _, x := range []byte{0, 4, 0xff} {
		if _, err := s.VerifyEvent(withByte(ev, typeAt, x)); !errors.Is(err, ErrMalformed) {
			t.Errorf("event type %d: error %v, want ErrMalformed", x, err)
		}
	}
	// A server event is not a client event: Trick is server type 1, and
	// client type 1 is PlayCard, whose rank 0 is refused.
	v.Reset(s.ServerEvents.Event(1))
	b.Reset()
	b.Finish(s.ServerEvents.Build(b, &v))
	if _, err := s.VerifyServerEvent(b.FinishedBytes()); err != nil {
		t.Errorf("trick: %v", err)
	}
	if _, err := s.VerifyEvent(b.FinishedBytes()); err == nil {
		t.Error("a trick was accepted as a play")
	}
}

// TestJoin: the join payload may be empty (defaults) unless a field is
// required, and decodes like any table.
func TestJoin(t *testing.T) {
	s := loadFile(t, "cards")
	var v Values
	if err := s.DecodeJoin(nil, &v); err != nil {
		t.Fatal(err)
	}
	if got := v.Int(s.Join.Field("seat_pref").Index); got != -1 {
		t.Errorf("default seat_pref %d, want -1", got)
	}
	b := flatbuffers.NewBuilder(64)
	v.SetBytes(s.Join.Field("name").Index, []byte("ada"))
	v.SetInt(s.Join.Field("seat_pref").Index, 3)
	b.Finish(s.Join.Build(b, &v))
	var got Values
	if err := s.DecodeJoin(b.FinishedBytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Text(s.Join.Field("name").Index) != "ada" || got.Int(s.Join.Field("seat_pref").Index) != 3 {
		t.Errorf("join decoded as %v", got.nums)
	}
	if err := s.VerifyJoin([]byte{1, 2, 3}); !errors.Is(err, ErrMalformed) {
		t.Errorf("3 bytes: %v", err)
	}
}

// TestValuesConversions: Int of a float is in quanta, Float of a
// fixed-point integer is its real value.
func TestValuesConversions(t *testing.T) {
	s := loadFile(t, "arena")
	var v Values
	av := s.Entity(1)
	v.Reset(av)
	x := av.Field("x").Index
	v.SetFloat(x, 10.5) // 168 sixteenths
	if v.Int(x) != 168 || v.Float(x) != 10.5 {
		t.Errorf("x: %d %v", v.Int(x), v.Float(x))
	}
	c := loadFile(t, "cards")
	p := c.Entity(1)
	v.Reset(p)
	px := p.Field("pointer.x").Index
	v.SetFloat(px, 1.25)
	if v.Int(px) != 125 {
		t.Errorf("pointer.x in quanta: %d", v.Int(px))
	}
	v.SetInt(px, -3)
	if v.Float(px) != -0.03 {
		t.Errorf("pointer.x from quanta: %v", v.Float(px))
	}
}
