package gamedelta

import (
	"fmt"
	"math"
)

// FieldType is the wire type of a field.
type FieldType uint8

// Field types. Every scalar of a game's schema (integers of any width,
// enums, bools, quantized floats, the leaves of flattened structs) is a
// FieldInt; short strings and byte vectors are FieldBytes.
const (
	FieldInt   FieldType = iota // an integer of Bits bits, held in an int64
	FieldBytes                  // a byte string of at most MaxLen bytes
)

// String returns "int" or "bytes".
func (t FieldType) String() string {
	switch t {
	case FieldInt:
		return "int"
	case FieldBytes:
		return "bytes"
	}
	return fmt.Sprintf("FieldType(%d)", uint8(t))
}

// Field describes one field of an entity kind. The zero value of every
// option means "plain": a signed 64-bit integer, not predicted, visible to
// everyone who sees the entity.
type Field struct {
	Name string
	Type FieldType
	// Bits is the width of a FieldInt, 1..64 (0 means 64). A value must fit:
	// Signed: -2^(Bits-1) .. 2^(Bits-1)-1, else 0 .. 2^Bits-1 (an unsigned
	// 64-bit value is held as the int64 of the same bits). A bool is an
	// unsigned 1-bit field, a uint16 angle an unsigned 16-bit one.
	Bits   int
	Signed bool
	// Wrap makes a FieldInt modular (angles): values wrap modulo 2^Bits and
	// a change is sent the shorter way round.
	Wrap bool
	// Min and Max narrow a FieldInt's values to Min..Max (the schema's
	// range attribute). Both 0: the range of Bits. Not with Wrap; for an
	// unsigned 64-bit field, within 0..math.MaxInt64.
	Min, Max int64
	// Velocity names a FieldInt of the same kind whose baseline value,
	// times the ticks elapsed since the baseline, predicts this field (x
	// from vx). A field that moves as predicted costs nothing. "" means
	// the field is predicted unchanged.
	Velocity string
	// OwnerOnly fields are sent only to the player that owns the entity
	// (Entity owner == the client's player id); others see 0 or empty.
	OwnerOnly bool
	// MaxLen is the longest value of a FieldBytes, 1..MaxBytesLen (0 means
	// DefaultMaxLen). Decoders refuse longer values.
	MaxLen int
}

// Kind is an entity kind: a named list of fields. Field i of a kind is
// addressed by its index i in World accessors and on the wire.
type Kind struct {
	Name   string
	Fields []Field
}

// Layout is what the codec needs to know of a game's schema: its entity
// kinds. The kind of an entity is its index in Kinds. A game's compiled
// schema (entity tables with their scalar leaves and attributes) maps onto
// it field by field.
type Layout struct {
	Kinds []Kind
}

// Limits of a Layout.
const (
	MaxKinds      = 1 << 16 // kinds per layout
	MaxFields     = 63      // fields per kind: a change mask is one uint64 with the owner bit
	MaxBytesLen   = 1 << 16 // longest FieldBytes value
	DefaultMaxLen = 255     // FieldBytes MaxLen when 0
)

// Codec is a compiled Layout: resolved velocity indexes and value ranges.
// It is immutable and shared by every World, Encoder and Decoder of a
// game, on any goroutine.
type Codec struct {
	kinds     []kindInfo
	nf        []uint16 // fields per kind
	ownerOnly bool     // some field is OwnerOnly: views of different players differ
}

type kindInfo struct {
	name      string
	fields    []fieldInfo
	hot       []fieldHot // what the encoder's loop reads, compact
	plain     bool       // int fields only, none owner-only
	ints      []int      // indexes of the FieldInt fields
	ints32    bool       // every field a FieldInt of at most 32 bits
	predicted []int      // of the FieldInt fields with a velocity
	blobs     []int      // of the FieldBytes fields
	// bounds bound each field's values for World.Check (a FieldBytes
	// field: any slot, checked apart).
	bounds []bound
	// runLo and runSpan are bounds' lo and span repeated for checkRun
	// entities (a kind with int fields only; empty otherwise): Check
	// tests a run of such entities, adjacent in the world's slots, as one
	// flat array.
	runLo   []int64
	runSpan []uint64
	// runPred is pred repeated for predRun entities of a plain kind
	// (empty otherwise), vel indexing the run's slots: predictedRun tests
	// a run of common entities as one flat array.
	runPred []runField
	// pred is the encoder's per-field prediction of a plain kind, without
	// branches: the residual is (cur - base[f] - base[vel]·(dt&mul)) <<
	// sh >> sh.
	pred []fieldPred
	// The same fields split for asPredicted's test of a whole entity:
	// exact (neither predicted nor wrapping: as predicted when equal),
	// wrapped (wrapping, not predicted) and moved (predicted by a
	// velocity).
	exact   []int32
	wrapped []fieldTest
	moved   []fieldTest
}

// fieldTest is a field of asPredicted's test: field f, its velocity's
// index vel (moved fields), and sh = 64-bits for a wrapping field.
type fieldTest struct {
	f, vel int32
	sh     uint8
}

// bound is the values of an int field: v fits when uint64(v-lo) <= span.
type bound struct {
	lo   int64
	span uint64
}

// fieldPred is how a plain kind's int field is predicted: vel is the
// velocity field's index (the field itself when none, then mul is 0), mul
// is -1 with a velocity, sh is 64-bits for a wrapping field (else 0).
type fieldPred struct {
	vel int32
	sh  uint8
	mul int64
}

// runField is how a value of a run of a plain kind's entities is
// predicted (runPredicted): vel is the slot of its velocity in the run
// (its own without one, then mul is 0), mul is -1 with a velocity, keep
// masks the bits that count (a wrapping field's low bits; all otherwise).
type runField struct {
	vel, mul, keep int64
}

// fieldHot is the part of a fieldInfo that the encoder reads for every
// field of every entity, in 4 bytes.
type fieldHot struct {
	vel   int16 // index of the velocity field, -1: none
	bits  uint8
	flags uint8
}

// Flags of a fieldHot.
const (
	hotWrap = 1 << iota
	hotOwnerOnly
	hotBytes
)

type fieldInfo struct {
	name      string
	typ       FieldType
	bits      uint8 // 1..64
	signed    bool
	wrap      bool
	ownerOnly bool
	vel       int // index of the velocity field, -1: none
	maxLen    int
	min, max  int64 // range of a FieldInt
	anyValue  bool  // every int64 is a value (64 bits, no range)
}

// Compile checks l and compiles it. It refuses: no kinds or more than
// MaxKinds; a kind with more than MaxFields fields; an unknown FieldType;
// Bits outside 0..64; a Velocity that names no FieldInt of the kind, the
// field itself, or an OwnerOnly field when the predicted field is not
// OwnerOnly (a client that cannot see the velocity could not predict);
// prediction or Wrap on a FieldBytes; MaxLen outside 0..MaxBytesLen.
// Names need not be unique except where a Velocity refers to them.
func Compile(l Layout) (*Codec, error) {
	if len(l.Kinds) == 0 || len(l.Kinds) > MaxKinds {
		return nil, fmt.Errorf("layout: %d kinds: must be 1..%d", len(l.Kinds), MaxKinds)
	}
	c := &Codec{kinds: make([]kindInfo, len(l.Kinds))}
	for k, kd := range l.Kinds {
		if len(kd.Fields) > MaxFields {
			return nil, fmt.Errorf("layout: kind %q: %d fields: must be 0..%d", kd.Name, len(kd.Fields), MaxFields)
		}
		n := len(kd.Fields)
		ki := kindInfo{name: kd.Name, fields: make([]fieldInfo, n), hot: make([]fieldHot, n), plain: true,
			bounds: make([]bound, n), pred: make([]fieldPred, n)}
		for i, f := range kd.Fields {
			fi, err := compileField(kd, i)
			if err != nil {
				return nil, fmt.Errorf("layout: kind %q field %q: %w", kd.Name, f.Name, err)
			}
			ki.fields[i] = fi
			h := fieldHot{vel: int16(fi.vel), bits: fi.bits}
			if fi.wrap {
				h.flags |= hotWrap
			}
			if fi.ownerOnly {
				h.flags |= hotOwnerOnly
				ki.plain = false
			}
			if fi.typ == FieldBytes {
				h.flags |= hotBytes
				ki.plain = false
			}
			ki.hot[i] = h
			ki.bounds[i] = bound{lo: math.MinInt64, span: math.MaxUint64}
			if fi.typ == FieldInt && !fi.anyValue {
				ki.bounds[i] = bound{lo: fi.min, span: uint64(fi.max - fi.min)}
			}
			ki.pred[i] = fieldPred{vel: int32(i)}
			if fi.vel >= 0 {
				ki.pred[i].vel, ki.pred[i].mul = int32(fi.vel), -1
			}
			if fi.wrap {
				ki.pred[i].sh = 64 - fi.bits
			}
			switch p := ki.pred[i]; {
			case fi.typ == FieldBytes:
			case fi.vel >= 0:
				ki.moved = append(ki.moved, fieldTest{f: int32(i), vel: int32(fi.vel), sh: p.sh})
			case fi.wrap:
				ki.wrapped = append(ki.wrapped, fieldTest{f: int32(i), sh: p.sh})
			default:
				ki.exact = append(ki.exact, int32(i))
			}
			c.ownerOnly = c.ownerOnly || f.OwnerOnly
			switch {
			case fi.typ == FieldBytes:
				ki.blobs = append(ki.blobs, i)
			case fi.vel >= 0:
				ki.predicted = append(ki.predicted, i)
				fallthrough
			default:
				ki.ints = append(ki.ints, i)
			}
		}
		if len(ki.blobs) == 0 && n > 0 {
			for range checkRun {
				for _, b := range ki.bounds {
					ki.runLo = append(ki.runLo, b.lo)
					ki.runSpan = append(ki.runSpan, b.span)
				}
			}
		}
		if ki.plain && n > 0 {
			for e := range predRun {
				for _, p := range ki.pred {
					ki.runPred = append(ki.runPred, runField{vel: int64(p.vel) + int64(e*n), mul: p.mul, keep: int64(^uint64(0) >> (p.sh & 63))})
				}
			}
		}
		ki.ints32 = len(ki.blobs) == 0
		for _, fi := range ki.fields {
			ki.ints32 = ki.ints32 && fi.bits <= 32
		}
		c.kinds[k] = ki
		c.nf = append(c.nf, uint16(n))
	}
	return c, nil
}

func compileField(kd Kind, i int) (fieldInfo, error) {
	f := kd.Fields[i]
	fi := fieldInfo{name: f.Name, typ: f.Type, ownerOnly: f.OwnerOnly, vel: -1}
	switch f.Type {
	case FieldInt:
		if f.MaxLen != 0 {
			return fi, fmt.Errorf("max length %d on an int field", f.MaxLen)
		}
		b := f.Bits
		if b == 0 {
			b = 64
		}
		if b < 1 || b > 64 {
			return fi, fmt.Errorf("bits %d: must be 0..64", f.Bits)
		}
		fi.bits, fi.signed, fi.wrap = uint8(b), f.Signed, f.Wrap
		switch {
		case b == 64 && f.Signed:
			fi.min, fi.max = math.MinInt64, math.MaxInt64
		case b == 64:
			fi.min, fi.max = 0, math.MaxInt64 // for a range; without one, any bits
		case f.Signed:
			fi.min, fi.max = -1<<(b-1), 1<<(b-1)-1
		default:
			fi.min, fi.max = 0, 1<<b-1
		}
		fi.anyValue = b == 64
		if f.Min != 0 || f.Max != 0 {
			if f.Wrap || f.Min > f.Max || f.Min < fi.min || f.Max > fi.max {
				return fi, fmt.Errorf("range %d..%d: must be within %d..%d, and not on a wrapping field", f.Min, f.Max, fi.min, fi.max)
			}
			fi.min, fi.max, fi.anyValue = f.Min, f.Max, false
		}
		if f.Velocity != "" {
			v := -1
			for j, g := range kd.Fields {
				if g.Name == f.Velocity {
					v = j
					break
				}
			}
			switch {
			case v < 0:
				return fi, fmt.Errorf("velocity %q: no such field", f.Velocity)
			case v == i:
				return fi, fmt.Errorf("velocity %q: the field itself", f.Velocity)
			case kd.Fields[v].Type != FieldInt:
				return fi, fmt.Errorf("velocity %q: not an int field", f.Velocity)
			case kd.Fields[v].OwnerOnly && !f.OwnerOnly:
				return fi, fmt.Errorf("velocity %q: owner-only, but the field is not", f.Velocity)
			}
			fi.vel = v
		}
	case FieldBytes:
		if f.Velocity != "" || f.Wrap || f.Bits != 0 || f.Signed || f.Min != 0 || f.Max != 0 {
			return fi, fmt.Errorf("velocity, wrap, bits, signed or range on a bytes field")
		}
		fi.maxLen = f.MaxLen
		if fi.maxLen == 0 {
			fi.maxLen = DefaultMaxLen
		}
		if fi.maxLen < 1 || fi.maxLen > MaxBytesLen {
			return fi, fmt.Errorf("max length %d: must be 0..%d", f.MaxLen, MaxBytesLen)
		}
	default:
		return fi, fmt.Errorf("type %v: must be FieldInt or FieldBytes", f.Type)
	}
	return fi, nil
}

// NumKinds returns the number of entity kinds.
func (c *Codec) NumKinds() int { return len(c.kinds) }

// NumFields returns the number of fields of kind k.
func (c *Codec) NumFields(k int) int { return len(c.kinds[k].fields) }

// FieldType returns the type of field f of kind k.
func (c *Codec) FieldType(k, f int) FieldType { return c.kinds[k].fields[f].typ }

// IntsOnly reports whether every field of kind k is a FieldInt: then
// World.Ints holds all of an entity's values.
func (c *Codec) IntsOnly(k int) bool { return len(c.kinds[k].blobs) == 0 }

// Ints32 reports whether every field of kind k is a FieldInt of at most 32
// bits: then each value of a world that passed World.Check fits in 32 bits
// (uint32(v) loses nothing), so that two of them can share a word (a state
// digest does).
func (c *Codec) Ints32(k int) bool { return c.kinds[k].ints32 }

// FieldIndex returns the index of the first field of kind k named name, or
// -1.
func (c *Codec) FieldIndex(k int, name string) int {
	for i, f := range c.kinds[k].fields {
		if f.name == name {
			return i
		}
	}
	return -1
}

// KindIndex returns the index of the first kind named name, or -1.
func (c *Codec) KindIndex(name string) int {
	for i, k := range c.kinds {
		if k.name == name {
			return i
		}
	}
	return -1
}

// HasOwnerOnly reports whether some field is OwnerOnly, that is whether
// clients of different players may see different values of the same
// entity.
func (c *Codec) HasOwnerOnly() bool { return c.ownerOnly }

// fits reports whether v is a value of the int field.
func (f *fieldInfo) fits(v int64) bool {
	return f.anyValue || v >= f.min && v <= f.max
}

// reduce maps v into a wrapping field's range (mod 2^bits).
func (f *fieldInfo) reduce(v int64) int64 {
	if f.bits == 64 {
		return v
	}
	if f.signed {
		return signExtend(v, f.bits)
	}
	return v & (1<<f.bits - 1)
}

// signExtend returns the low b bits of v as a signed b-bit number.
func signExtend(v int64, b uint8) int64 {
	s := 64 - b
	return v << s >> s
}
