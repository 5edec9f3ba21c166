package gameschema

import (
	"os"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"
)

// arenaInput is an arena input as a client sends it.
func arenaInput(tb testing.TB) (*Schema, []byte) {
	s := loadFile(tb, "arena")
	var v Values
	v.Reset(s.Input)
	v.SetInt(s.Input.Field("move_x").Index, -70)
	v.SetInt(s.Input.Field("move_y").Index, 30)
	v.SetInt(s.Input.Field("aim").Index, 12000)
	v.SetInt(s.Input.Field("buttons").Index, 5)
	b := flatbuffers.NewBuilder(64)
	b.Finish(s.Input.Build(b, &v))
	return s, b.FinishedBytes()
}

// BenchmarkDecodeInput: verify and decode one game input into Values, the
// per-frame cost on the server. Target: 0 allocs, well under 1 µs.
func BenchmarkDecodeInput(b *testing.B) {
	b.Run("game=arena", func(b *testing.B) {
		s, buf := arenaInput(b)
		var v Values
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if err := s.DecodeInput(buf, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("game=cards", func(b *testing.B) {
		s := loadFile(b, "cards")
		var v Values
		v.Reset(s.Input)
		v.SetFloat(s.Input.Field("pointer.x").Index, 0.25)
		v.SetFloat(s.Input.Field("pointer.y").Index, 1.5)
		v.SetInt(s.Input.Field("hover").Index, 17)
		v.SetBool(s.Input.Field("grab").Index, true)
		fb := flatbuffers.NewBuilder(64)
		fb.Finish(s.Input.Build(fb, &v))
		buf := fb.FinishedBytes()
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if err := s.DecodeInput(buf, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifyInput: verification alone.
func BenchmarkVerifyInput(b *testing.B) {
	s, buf := arenaInput(b)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.VerifyInput(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent: a client event with a string (cards Say).
func BenchmarkDecodeEvent(b *testing.B) {
	s := loadFile(b, "cards")
	say := s.ClientEvents.Event(3)
	var v Values
	v.Reset(say)
	v.SetBytes(0, []byte("well played, all"))
	fb := flatbuffers.NewBuilder(64)
	fb.Finish(s.ClientEvents.Build(fb, &v))
	buf := fb.FinishedBytes()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DecodeEvent(buf, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad: loading the cards schema (once per game per node).
func BenchmarkLoad(b *testing.B) {
	buf, err := os.ReadFile("testdata/cards.bfbs")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(buf); err != nil {
			b.Fatal(err)
		}
	}
}
