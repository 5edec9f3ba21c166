package gameschema

import (
	"encoding/binary"
	"fmt"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"
)

// Build writes v (whose Table must be t) into b as a table of t and returns
// its offset; the caller finishes the buffer (b.Finish) or nests it. Fields
// equal to their default are omitted, as flatc's builders do; struct fields
// are always written; nil strings and byte vectors are omitted. Build does
// not check values against the schema: a buffer of out-of-range values
// fails Verify. It allocates only when b or v must grow.
func (t *Table) Build(b *flatbuffers.Builder, v *Values) flatbuffers.UOffsetT {
	if v.Table != t {
		panic(fmt.Sprintf("gameschema: Build of %s with values of another table", t.Name))
	}
	n := len(t.Fields)
	if cap(v.offs) < n {
		v.offs = make([]uint32, n)
	}
	v.offs = v.offs[:n]
	for i := range t.Fields {
		f := &t.Fields[i]
		v.offs[i] = 0
		if v.refs[i] == nil {
			continue
		}
		switch f.Type {
		case String:
			v.offs[i] = uint32(b.CreateByteString(v.refs[i]))
		case Bytes:
			v.offs[i] = uint32(b.CreateByteVector(v.refs[i]))
		}
	}
	b.StartObject(t.NumSlots)
	for i := 0; i < n; {
		f := &t.Fields[i]
		slot := f.ID
		if f.Struct != 0 {
			// The leaves of one struct field are consecutive: lay out
			// its bytes, then place them back to front.
			if cap(v.tmp) < f.Struct {
				v.tmp = make([]byte, f.Struct)
			}
			tmp := v.tmp[:f.Struct]
			clear(tmp)
			j := i
			for ; j < n && t.Fields[j].ID == slot; j++ {
				putLeaf(tmp[t.Fields[j].Offset:], &t.Fields[j], v.nums[j])
			}
			b.Prep(f.Align, f.Struct)
			for k := len(tmp) - 1; k >= 0; k-- {
				b.PlaceByte(tmp[k])
			}
			b.Slot(slot)
			i = j
			continue
		}
		x := v.nums[i]
		switch f.Type {
		case Bool:
			b.PrependBoolSlot(slot, x != 0, f.DefaultInt != 0)
		case Int8:
			b.PrependInt8Slot(slot, int8(x), int8(f.DefaultInt))
		case Uint8:
			b.PrependUint8Slot(slot, uint8(x), uint8(f.DefaultInt))
		case Int16:
			b.PrependInt16Slot(slot, int16(x), int16(f.DefaultInt))
		case Uint16:
			b.PrependUint16Slot(slot, uint16(x), uint16(f.DefaultInt))
		case Int32:
			b.PrependInt32Slot(slot, int32(x), int32(f.DefaultInt))
		case Uint32:
			b.PrependUint32Slot(slot, uint32(x), uint32(f.DefaultInt))
		case Int64:
			b.PrependInt64Slot(slot, int64(x), f.DefaultInt)
		case Uint64:
			b.PrependUint64Slot(slot, x, uint64(f.DefaultInt))
		case Float32:
			b.PrependFloat32Slot(slot, float32(math.Float64frombits(x)), float32(f.DefaultFloat))
		case Float64:
			b.PrependFloat64Slot(slot, math.Float64frombits(x), f.DefaultFloat)
		case String, Bytes:
			if v.offs[i] != 0 {
				b.PrependUOffsetTSlot(slot, flatbuffers.UOffsetT(v.offs[i]), 0)
			}
		}
		i++
	}
	return b.EndObject()
}

// putLeaf writes one struct leaf (little-endian) at the start of dst.
func putLeaf(dst []byte, f *Field, x uint64) {
	switch f.Type {
	case Bool, Int8, Uint8:
		dst[0] = byte(x)
	case Int16, Uint16:
		binary.LittleEndian.PutUint16(dst, uint16(x))
	case Int32, Uint32:
		binary.LittleEndian.PutUint32(dst, uint32(x))
	case Int64, Uint64:
		binary.LittleEndian.PutUint64(dst, x)
	case Float32:
		binary.LittleEndian.PutUint32(dst, math.Float32bits(float32(math.Float64frombits(x))))
	case Float64:
		binary.LittleEndian.PutUint64(dst, x)
	}
}

// Build writes the event v (whose Table must be one of e.Tables) and its
// wrapper into b and returns the wrapper's offset, for b.Finish.
func (e *Events) Build(b *flatbuffers.Builder, v *Values) flatbuffers.UOffsetT {
	t := v.Table
	if t == nil || e.Event(t.Kind) != t {
		panic("gameschema: Events.Build with values of a table not in " + e.Union)
	}
	member := t.Build(b, v)
	b.StartObject(int(e.valueSlot) + 1)
	b.PrependUOffsetTSlot(int(e.valueSlot), member, 0)
	b.PrependByteSlot(int(e.typeSlot), byte(t.Kind), 0)
	return b.EndObject()
}
