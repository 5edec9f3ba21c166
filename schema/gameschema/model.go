package gameschema

import (
	"fmt"
	"math"
)

// Schema is a game's compiled schema as ticksync sees it: the tables the
// author marked with a role, their fields flattened to leaves, and what the
// attributes declare. A Schema is immutable after Load and safe for
// concurrent use by any number of goroutines.
type Schema struct {
	// Name is the schema's FlatBuffers namespace (e.g. "arena"), which every
	// marked table shares.
	Name string
	// Hash identifies the schema's wire contract: sha256 of Canonical().
	// Two .bfbs files with the same Hash accept and produce the same bytes
	// and mean the same by them.
	Hash [32]byte
	// Entities are the entity kinds, by ascending Kind.
	Entities []*Table
	// Input is the player input table.
	Input *Table
	// ClientEvents are the events clients send; ServerEvents the events the
	// server sends. Either may be nil when the game has none.
	ClientEvents *Events
	ServerEvents *Events
	// Join is the payload of a player's Hello; nil when the game has none.
	Join *Table

	canonical string
}

// Entity returns the entity kind with the given kind id, or nil.
func (s *Schema) Entity(kind int) *Table {
	for _, t := range s.Entities {
		if t.Kind == kind {
			return t
		}
	}
	return nil
}

// Canonical returns the canonical text of the schema that Hash digests
// (its format is described in schema/DESIGN.md).
func (s *Schema) Canonical() string { return s.canonical }

// HashString returns Hash in lower-case hex.
func (s *Schema) HashString() string { return fmt.Sprintf("%x", s.Hash) }

// Role is what a table is for.
type Role uint8

// Roles, set by the ticksync_* table attributes (see schema/DESIGN.md).
const (
	RoleEntity Role = iota + 1 // (ticksync_entity: "kind")
	RoleInput                  // (ticksync_input)
	RoleEvent                  // a member of a (ticksync_events: "...") wrapper's union
	RoleJoin                   // (ticksync_join)
)

func (r Role) String() string {
	switch r {
	case RoleEntity:
		return "entity"
	case RoleInput:
		return "input"
	case RoleEvent:
		return "event"
	case RoleJoin:
		return "join"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// Table is one table of the game's schema with its fields flattened: a
// struct field becomes one Field per scalar leaf, named with dots
// ("pos.x"). Fields are in wire order: by FlatBuffers field id, then by
// position inside the struct.
type Table struct {
	Name     string // fully qualified FlatBuffers name, e.g. "arena.Avatar"
	Role     Role
	Kind     int // RoleEntity: the kind id (1..65535); RoleEvent: the union type (1..255)
	Fields   []Field
	NumSlots int // vtable slots: the highest field id + 1
}

// Field returns the field with the given (dotted) name, or nil.
func (t *Table) Field(name string) *Field {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// Events is a (ticksync_events) wrapper table: a table with one union field
// whose members are the event tables. An event on the wire is a buffer whose
// root is the wrapper.
type Events struct {
	Wrapper string   // the wrapper table's name, e.g. "arena.ClientEvents"
	Union   string   // the union's name, e.g. "arena.ClientEvent"
	Tables  []*Table // the members; Tables[i].Kind == i+1 is the union type

	typeSlot, valueSlot uint32
}

// Event returns the member table of union type typ, or nil.
func (e *Events) Event(typ int) *Table {
	if typ < 1 || typ > len(e.Tables) {
		return nil
	}
	return e.Tables[typ-1]
}

// Type is the wire type of a leaf field.
type Type uint8

// Leaf types.
const (
	Bool Type = iota + 1
	Int8
	Uint8
	Int16
	Uint16
	Int32
	Uint32
	Int64
	Uint64
	Float32
	Float64
	String // UTF-8 text, at most MaxLen bytes
	Bytes  // [ubyte] or [byte], at most MaxLen bytes
)

var typeNames = [...]string{"invalid", "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
	"int64", "uint64", "float32", "float64", "string", "bytes"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Size is the inline size of the type in bytes (4, a uoffset, for String
// and Bytes).
func (t Type) Size() int {
	switch t {
	case Bool, Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32, String, Bytes:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// IsInteger reports a signed or unsigned integer type.
func (t Type) IsInteger() bool { return t >= Int8 && t <= Uint64 }

// IsSigned reports a signed integer type.
func (t Type) IsSigned() bool { return t == Int8 || t == Int16 || t == Int32 || t == Int64 }

// IsFloat reports float32 or float64.
func (t Type) IsFloat() bool { return t == Float32 || t == Float64 }

// IsNumeric reports an integer or float type.
func (t Type) IsNumeric() bool { return t.IsInteger() || t.IsFloat() }

// limits returns the type's own bounds as int64 (integers other than Uint64).
func (t Type) limits() (lo, hi int64) {
	switch t {
	case Bool:
		return 0, 1
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Uint8:
		return 0, math.MaxUint8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Uint16:
		return 0, math.MaxUint16
	case Int32:
		return math.MinInt32, math.MaxInt32
	case Uint32:
		return 0, math.MaxUint32
	case Int64:
		return math.MinInt64, math.MaxInt64
	case Uint64:
		return 0, math.MaxInt64 // callers use UMin/UMax
	}
	return 0, 0
}

// Field is one leaf field. Which value fields apply depends on Type.
type Field struct {
	Name  string // dotted for struct leaves: "pointer.x"
	Index int    // position in Table.Fields, the index Values uses
	Type  Type
	Enum  *Enum // the enum of an enum-typed integer field, else nil

	ID     int // FlatBuffers field id of the table field (struct leaves share their struct's)
	Offset int // byte offset of the leaf inside its struct; 0 for a table field
	Struct int // inline size of the enclosing struct field; 0 for a table field
	Align  int // alignment of the table field (the struct's minalign, or Type.Size())

	// Default is the value an absent field has: DefaultInt for integers
	// (uint64 bits for Uint64), enums and bools, DefaultFloat for floats.
	DefaultInt   int64
	DefaultFloat float64
	Required     bool // String/Bytes: must be present

	// Range bounds the stored value: Min..Max for integers, enums and bools
	// (every type but Uint64), UMin..UMax for Uint64, FMin..FMax for floats.
	// Without a range attribute it is the type's (or enum's) own range.
	Min, Max   int64
	UMin, UMax uint64
	FMin, FMax float64
	HasRange   bool // a range attribute was declared

	// Quantum is the declared quantization step (0: none): a float field is
	// sent as the nearest multiple of Quantum; an integer field with a
	// quantum is fixed-point, its real value Quantum × the stored integer.
	Quantum float64
	// Predict is the Index of the velocity field this field is predicted
	// from (value += velocity each tick), or -1.
	Predict int
	// OwnerOnly: only the entity's owning player receives this field.
	OwnerOnly bool
	// MatchKey (join fields): matchmaking seats a player only in a match
	// whose creator's join payload has the same values in every MatchKey
	// field (a game mode, a map, a region).
	MatchKey bool
	// MaxLen bounds String and Bytes fields, in bytes.
	MaxLen int

	path       string // "table.field", for errors
	defaultBad bool   // the default breaks the range: the field must be present
}

// Enum is an enum used by some field.
type Enum struct {
	Name     string // fully qualified
	Type     Type   // underlying integer type
	Values   []EnumValue
	BitFlags bool // (bit_flags): any combination of the values' bits is valid

	contiguous bool   // Values cover Min..Max without gaps
	mask       uint64 // BitFlags: the union of the values
}

// EnumValue is one named value of an Enum.
type EnumValue struct {
	Name  string
	Value int64
}

// valid reports whether x (as stored, sign-extended for signed types) is a
// value of the enum.
func (e *Enum) valid(x int64) bool {
	if e.BitFlags {
		return uint64(x)&^e.mask == 0
	}
	if e.contiguous {
		return x >= e.Values[0].Value && x <= e.Values[len(e.Values)-1].Value
	}
	lo, hi := 0, len(e.Values)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e.Values[m].Value < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(e.Values) && e.Values[lo].Value == x
}
