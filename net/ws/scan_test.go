package ws

import (
	"encoding/binary"
	"testing"
)

func TestFrameScanner(t *testing.T) {
	frame := func(op byte, n int, masked bool) []byte {
		b := []byte{0x80 | op}
		m := byte(0)
		if masked {
			m = 0x80
		}
		switch {
		case n < 126:
			b = append(b, m|byte(n))
		case n < 1<<16:
			b = binary.BigEndian.AppendUint16(append(b, m|126), uint16(n))
		default:
			b = binary.BigEndian.AppendUint64(append(b, m|127), uint64(n))
		}
		if masked {
			b = append(b, 1, 2, 3, 4)
		}
		return append(b, make([]byte, n)...)
	}
	var stream []byte
	stream = append(stream, frame(0x2, 10, true)...)
	stream = append(stream, frame(0x8, 0x8, true)[:0]...) // nothing
	stream = append(stream, frame(0x2, 300, true)...)
	stream = append(stream, frame(0x2, 70000, true)...)
	stream = append(stream, frame(0x9, 0, true)...)
	before := len(stream)
	stream = append(stream, frame(0x8, 2, true)...)
	for _, chunk := range []int{1, 3, 7, 512, len(stream)} {
		var f frameScanner
		for i := 0; i < len(stream); i += chunk {
			end := min(i+chunk, len(stream))
			if f.closeSeen {
				t.Fatalf("chunk %d: close seen early at %d", chunk, i)
			}
			f.scan(stream[i:end])
			if end <= before && f.closeSeen {
				t.Fatalf("chunk %d: close seen before the close frame", chunk)
			}
		}
		if !f.closeSeen {
			t.Fatalf("chunk %d: close not seen", chunk)
		}
	}
	var f frameScanner
	f.scan(frame(0x8, 0, false))
	if !f.closeSeen {
		t.Fatal("empty close not seen")
	}
}
