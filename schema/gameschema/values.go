package gameschema

import "math"

// Values holds the field values of one table, indexed by Field.Index: what
// Decode reads and what Build writes. A Values is reused from message to
// message without allocating. It is not safe for concurrent use.
//
// Integer-like fields (integers, enums, bools) are held as int64 (Uint64
// as its bits), floats as float64, strings and byte vectors as []byte. The
// accessors convert: Int of a float field is its value in quanta
// (round(x / Quantum)), Float of an integer field is its real value
// (x × Quantum for a fixed-point field). Accessors do not check the index
// or the field's type beyond what those conversions need; a wrong index
// panics like a slice index.
type Values struct {
	Table *Table

	nums []uint64 // integer-like: int64 bits; floats: float64 bits
	refs [][]byte // String and Bytes
	offs []uint32 // Build: offsets of the strings and vectors
	tmp  []byte   // Build: one struct's bytes
}

// Reset sets v to hold t's fields, every value zero (not the defaults).
func (v *Values) Reset(t *Table) {
	v.Table = t
	n := len(t.Fields)
	if cap(v.nums) < n {
		v.nums = make([]uint64, n)
		v.refs = make([][]byte, n)
	}
	v.nums = v.nums[:n]
	v.refs = v.refs[:n]
	clear(v.nums)
	clear(v.refs)
}

// SetDefaults sets every field to its default value (strings and byte
// vectors to absent).
func (v *Values) SetDefaults() {
	for i := range v.Table.Fields {
		v.setDefault(&v.Table.Fields[i])
	}
}

func (v *Values) setDefault(f *Field) {
	switch {
	case f.Type.IsFloat():
		v.nums[f.Index] = math.Float64bits(f.DefaultFloat)
	case f.Type == String || f.Type == Bytes:
		v.refs[f.Index] = nil
	default:
		v.nums[f.Index] = uint64(f.DefaultInt)
	}
}

func (v *Values) field(i int) *Field { return &v.Table.Fields[i] }

// Int returns field i as an integer: its value for integers, enums and
// bools (the bits of a Uint64), its value in quanta for floats.
func (v *Values) Int(i int) int64 {
	f := v.field(i)
	if f.Type.IsFloat() {
		return int64(math.Round(math.Float64frombits(v.nums[i]) / f.Quantum))
	}
	return int64(v.nums[i])
}

// Uint returns field i's raw integer bits as a uint64 (for Uint64 fields).
func (v *Values) Uint(i int) uint64 { return v.nums[i] }

// Float returns field i's real value: a float as sent, an integer times its
// Quantum when it has one.
func (v *Values) Float(i int) float64 {
	f := v.field(i)
	switch {
	case f.Type.IsFloat():
		return math.Float64frombits(v.nums[i])
	case f.Type == Uint64:
		x := float64(v.nums[i])
		if f.Quantum != 0 {
			x *= f.Quantum
		}
		return x
	}
	x := float64(int64(v.nums[i]))
	if f.Quantum != 0 {
		x *= f.Quantum
	}
	return x
}

// Bool returns field i as a bool (non-zero).
func (v *Values) Bool(i int) bool { return v.nums[i] != 0 }

// Bytes returns a string or byte-vector field: after Decode it aliases the
// decoded buffer; nil when absent.
func (v *Values) Bytes(i int) []byte { return v.refs[i] }

// Text returns a string field as a Go string (a copy).
func (v *Values) Text(i int) string { return string(v.refs[i]) }

// SetInt sets an integer, enum or bool field (Uint64: its bits); for a
// float field x is in quanta.
func (v *Values) SetInt(i int, x int64) {
	f := v.field(i)
	if f.Type.IsFloat() {
		v.nums[i] = math.Float64bits(float64(x) * f.Quantum)
		return
	}
	v.nums[i] = uint64(x)
}

// SetUint sets an integer field from its uint64 bits.
func (v *Values) SetUint(i int, x uint64) { v.nums[i] = x }

// SetFloat sets a float field; for an integer field x is the real value,
// stored as round(x / Quantum) (or round(x) without a quantum).
func (v *Values) SetFloat(i int, x float64) {
	f := v.field(i)
	if f.Type.IsFloat() {
		v.nums[i] = math.Float64bits(x)
		return
	}
	if f.Quantum != 0 {
		x /= f.Quantum
	}
	if f.Type == Uint64 {
		v.nums[i] = uint64(math.Round(x))
		return
	}
	v.nums[i] = uint64(int64(math.Round(x)))
}

// SetBool sets a bool field.
func (v *Values) SetBool(i int, b bool) {
	v.nums[i] = 0
	if b {
		v.nums[i] = 1
	}
}

// SetBytes sets a string or byte-vector field (nil: absent). Build copies b.
func (v *Values) SetBytes(i int, b []byte) { v.refs[i] = b }
