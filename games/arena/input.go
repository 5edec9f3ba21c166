package arena

import "encoding/binary"

// AxisMax is the largest magnitude of an input axis (Input.MoveX, MoveY):
// the schema's range -100..100.
const AxisMax = 100

// Input is one player's command, as in the schema's Input table.
type Input struct {
	// MoveX and MoveY are the movement axes, -AxisMax..AxisMax; the
	// avatar moves at AvatarSpeed in their direction whatever their length
	// (0, 0: it stands still).
	MoveX, MoveY int8
	// Aim is where the avatar faces, in 1/65536 turns.
	Aim uint16
	// Buttons is a bit set of the buttons held; the arena ignores it.
	Buttons uint8
}

// The vtable slots (FlatBuffers field ids) of the Input table's fields;
// check verifies them against the schema.
const (
	slotMoveX   = 0
	slotMoveY   = 1
	slotAim     = 2
	slotButtons = 3
)

// AppendInput's buffer: the root offset, a vtable of the four fields, then
// the table (its soffset back to the vtable and the fields), padded to a
// multiple of 4 bytes. Every field is written, defaults included, so the
// buffer has one size and one layout.
//
//	 0  root uoffset = 16
//	 4  vtable: size 12, table size 12, field offsets 4, 5, 6, 8
//	16  table: soffset 12 (the vtable is at 16 - 12 = 4)
//	20  move_x i8 | 21 move_y i8 | 22 aim u16 | 24 buttons u8 | 25 padding
const (
	inputLen   = 28
	inputTable = 16
)

var inputHeader = [inputLen]byte{
	0: inputTable,
	4: 12, 6: 12, 8: 4, 10: 5, 12: 6, 14: 8,
	16: inputTable - 4,
}

// AppendInput appends the FlatBuffers buffer of in (root: arena.Input; what
// schema.Input.Data carries) to dst and returns the extended slice. The
// buffer starts at len(dst). It allocates nothing when dst has room for it
// (28 bytes).
func AppendInput(dst []byte, in Input) []byte {
	b := inputHeader
	b[inputTable+4] = byte(in.MoveX)
	b[inputTable+5] = byte(in.MoveY)
	binary.LittleEndian.PutUint16(b[inputTable+6:], in.Aim)
	b[inputTable+8] = in.Buttons
	return append(dst, b[:]...)
}

// ReadInput reads an input buffer (PlayerInput.Input.Data, which the node
// has verified against the schema's Input table): any FlatBuffers layout of
// the table, not only AppendInput's. Empty data, and absent fields, read
// as zero. It allocates nothing and never panics: bytes that are not a
// valid buffer read as the fields it can find in bounds, zero for the rest.
func ReadInput(data []byte) Input {
	if len(data) == inputLen && hasInputHeader(data) {
		// AppendInput's layout: the fields at their fixed offsets.
		return Input{
			MoveX:   int8(data[inputTable+4]),
			MoveY:   int8(data[inputTable+5]),
			Aim:     binary.LittleEndian.Uint16(data[inputTable+6:]),
			Buttons: data[inputTable+8],
		}
	}
	return readInput(data)
}

// The root offset, vtable and soffset of AppendInput's buffer, as words:
// a buffer of inputLen bytes that starts with them has its fields where
// AppendInput writes them.
var (
	inputHead0 = binary.LittleEndian.Uint64(inputHeader[0:])
	inputHead1 = binary.LittleEndian.Uint64(inputHeader[8:])
	inputHead2 = binary.LittleEndian.Uint32(inputHeader[16:])
)

// hasInputHeader reports whether data (inputLen bytes) starts with
// AppendInput's root offset, vtable and table soffset.
func hasInputHeader(data []byte) bool {
	le := binary.LittleEndian
	return le.Uint64(data[0:]) == inputHead0 && le.Uint64(data[8:]) == inputHead1 &&
		le.Uint32(data[16:]) == inputHead2
}

// readInput is ReadInput for any layout of the table.
func readInput(data []byte) Input {
	n := uint64(len(data))
	if n < 8 {
		return Input{}
	}
	le := binary.LittleEndian
	root := uint64(le.Uint32(data))
	if root+4 > n {
		return Input{}
	}
	vt := int64(root) - int64(int32(le.Uint32(data[root:])))
	if vt < 0 || uint64(vt)+4 > n {
		return Input{}
	}
	t := table{data: data, pos: root, vt: uint64(vt), vsize: uint64(le.Uint16(data[vt:]))}
	var in Input
	if p, ok := t.field(slotMoveX, 1); ok {
		in.MoveX = int8(data[p])
	}
	if p, ok := t.field(slotMoveY, 1); ok {
		in.MoveY = int8(data[p])
	}
	if p, ok := t.field(slotAim, 2); ok {
		in.Aim = le.Uint16(data[p:])
	}
	if p, ok := t.field(slotButtons, 1); ok {
		in.Buttons = data[p]
	}
	return in
}

// table is a FlatBuffers table found in data: the positions of the table
// and of its vtable, and the vtable's length.
type table struct {
	data           []byte
	pos, vt, vsize uint64
}

// field returns the position of the field in vtable slot of size bytes,
// and false when the field is absent or not inside data.
func (t *table) field(slot, size uint64) (uint64, bool) {
	vo := 4 + 2*slot
	if vo+2 > t.vsize || t.vt+vo+2 > uint64(len(t.data)) {
		return 0, false
	}
	off := uint64(binary.LittleEndian.Uint16(t.data[t.vt+vo:]))
	if off == 0 {
		return 0, false
	}
	p := t.pos + off
	if p+size > uint64(len(t.data)) {
		return 0, false
	}
	return p, true
}
