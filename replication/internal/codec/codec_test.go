package codec

import (
	"errors"
	"math"
	"testing"
)

func TestRoundTripAndErrors(t *testing.T) {
	var e Encoder
	e.U8(7)
	e.Uvarint(math.MaxUint64)
	e.Varint(-5)
	e.Uvarint(1 << 32)
	e.Str("hello")
	e.Bytes([]byte{1, 2, 3})
	e.Uvarint(2) // a count of two 4-byte records…
	e.Bytes([]byte{9, 9, 9})

	d := NewDecoder(e.B)
	if d.U8("a") != 7 || d.Uvarint("b") != math.MaxUint64 || d.Varint("c") != -5 {
		t.Fatal("numbers")
	}
	if d.U32("too big") != 0 || !errors.Is(d.Err(), ErrBadCommand) {
		t.Fatalf("a uvarint over 32 bits read as u32: %v", d.Err())
	}
	if d.Str("after an error") != "" || d.Bytes("after an error") != nil {
		t.Fatal("reads after an error must return zero values")
	}

	d = NewDecoder(e.B[1+10+1+5:])
	if d.Str("s") != "hello" || string(d.Bytes("b")) != "\x01\x02\x03" {
		t.Fatal("string or bytes")
	}
	if n := d.Count("records", 4); n != 0 || d.Err() == nil {
		t.Fatalf("count 2 of 4-byte records in 4 bytes: %d, %v", n, d.Err())
	}

	d = NewDecoder([]byte{3, 'a', 'b', 'c', 0})
	if d.Str("s") != "abc" {
		t.Fatal("str")
	}
	if err := d.Finish("record"); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("trailing byte: %v", err)
	}
	if err := NewDecoder([]byte{5, 'a'}).Finish("x"); err == nil {
		t.Fatal("unread input accepted")
	}
	d = NewDecoder([]byte{5, 'a'})
	if d.Str("s") != "" || !errors.Is(d.Finish("x"), ErrBadCommand) {
		t.Fatal("a length past the end")
	}
}
