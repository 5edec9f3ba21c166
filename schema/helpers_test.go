package schema

import (
	"encoding/binary"
	"testing"
)

// Buffer surgery for hand-corrupted messages. The helpers read a valid
// buffer the way the FlatBuffers layout defines it, independently of the
// verifier.

func rd16(b []byte, p int) int      { return int(binary.LittleEndian.Uint16(b[p:])) }
func rd32(b []byte, p int) int      { return int(binary.LittleEndian.Uint32(b[p:])) }
func wr16(b []byte, p int, v int)   { binary.LittleEndian.PutUint16(b[p:], uint16(v)) }
func wr32(b []byte, p int, v int64) { binary.LittleEndian.PutUint32(b[p:], uint32(v)) }

// rootPos is the position of the root table.
func rootPos(b []byte) int { return rd32(b, 0) }

// vtPos is the position of the vtable of the table at t.
func vtPos(b []byte, t int) int { return t - int(int32(rd32(b, t))) }

// slotEntry is the position of the vtable entry of field slot of table t.
func slotEntry(b []byte, t, slot int) int { return vtPos(b, t) + 4 + 2*slot }

// fieldPos is the absolute position of field slot of table t (it must be
// present).
func fieldPos(tb testing.TB, b []byte, t, slot int) int {
	tb.Helper()
	e := slotEntry(b, t, slot)
	if e+2 > vtPos(b, t)+rd16(b, vtPos(b, t)) || rd16(b, e) == 0 {
		tb.Fatalf("field %d of table at %d absent", slot, t)
	}
	return t + rd16(b, e)
}

// deref follows the uoffset at p.
func deref(b []byte, p int) int { return p + rd32(b, p) }

// bodyPos is the position of the union body table of a message.
func bodyPos(tb testing.TB, b []byte) int {
	tb.Helper()
	return deref(b, fieldPos(tb, b, rootPos(b), 1))
}

// clone copies an Encoder's output (which aliases its builder).
func clone(b []byte) []byte { return append([]byte(nil), b...) }
