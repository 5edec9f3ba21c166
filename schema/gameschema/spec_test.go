package gameschema

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// A spec describes a reflection schema in Go, for tests that need schemas
// flatc would refuse to write or many random ones: bytes() builds the .bfbs
// that flatc --binary --schema would write for it. Objects and enums are
// referred to by name; an unknown name becomes an out-of-range index.

type specSchema struct {
	objects []specObject
	enums   []specEnum
}

type specObject struct {
	name               string
	isStruct           bool
	minalign, bytesize int32
	attrs              []kv
	fields             []specField
}

type specField struct {
	name          string
	id            uint16
	offset        uint16
	base, element reflection.BaseType
	ref           string // object (Obj, vector element) or enum (enum-typed, union) name
	defInt        int64
	defReal       float64
	deprecated    bool
	required      bool
	optional      bool
	attrs         []kv
}

type specEnum struct {
	name       string
	isUnion    bool
	underlying reflection.BaseType
	values     []specEnumVal
	attrs      []kv
}

type specEnumVal struct {
	name  string
	value int64
	table string // union member
}

// attr makes attributes from key, value pairs.
func attr(pairs ...string) []kv {
	var out []kv
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, kv{pairs[i], pairs[i+1]})
	}
	return out
}

// sf is a scalar, string or vector field with attributes from pairs.
func sf(name string, base reflection.BaseType, pairs ...string) specField {
	return specField{name: name, base: base, attrs: attr(pairs...)}
}

// tbl makes a table, numbering its fields' ids in order (a union field
// takes two) unless they are set.
func tbl(name string, attrs []kv, fields ...specField) specObject {
	id := uint16(0)
	var out []specField
	for _, f := range fields {
		if f.base == reflection.BaseTypeUnion {
			out = append(out, specField{name: f.name + "_type", id: id, offset: 4 + 2*id, base: reflection.BaseTypeUType, ref: f.ref})
			id++
		}
		if f.id == 0 {
			f.id = id
		}
		if f.offset == 0 {
			f.offset = 4 + 2*f.id
		}
		out = append(out, f)
		id = f.id + 1
	}
	return specObject{name: name, attrs: attrs, fields: out}
}

// scalarSize is the size of a scalar base type.
func scalarSize(bt reflection.BaseType) int32 {
	switch bt {
	case reflection.BaseTypeBool, reflection.BaseTypeByte, reflection.BaseTypeUByte:
		return 1
	case reflection.BaseTypeShort, reflection.BaseTypeUShort:
		return 2
	case reflection.BaseTypeInt, reflection.BaseTypeUInt, reflection.BaseTypeFloat:
		return 4
	case reflection.BaseTypeLong, reflection.BaseTypeULong, reflection.BaseTypeDouble:
		return 8
	}
	return 0
}

// strct makes a struct laid out as flatc does: each field aligned to its
// size, the whole padded to its alignment. Nested structs must be in s
// already (their size is looked up there).
func (s *specSchema) strct(name string, fields ...specField) specObject {
	o := specObject{name: name, isStruct: true, minalign: 1}
	var off int32
	for i, f := range fields {
		size, align := scalarSize(f.base), scalarSize(f.base)
		if f.base == reflection.BaseTypeObj {
			sub := s.obj(f.ref)
			size, align = sub.bytesize, sub.minalign
		}
		off = (off + align - 1) / align * align
		f.id, f.offset = uint16(i), uint16(off)
		off += size
		o.minalign = max(o.minalign, align)
		o.fields = append(o.fields, f)
	}
	o.bytesize = (off + o.minalign - 1) / o.minalign * o.minalign
	return o
}

func (s *specSchema) obj(name string) *specObject {
	for i := range s.objects {
		if s.objects[i].name == name {
			return &s.objects[i]
		}
	}
	return nil
}

func (o *specObject) field(name string) *specField {
	for i := range o.fields {
		if o.fields[i].name == name {
			return &o.fields[i]
		}
	}
	return nil
}

func (s *specSchema) index(name string) int32 {
	for i := range s.objects {
		if s.objects[i].name == name {
			return int32(i)
		}
	}
	for i := range s.enums {
		if s.enums[i].name == name {
			return int32(i)
		}
	}
	if name == "" {
		return -1
	}
	return 1 << 20
}

// bytes builds the .bfbs.
func (s *specSchema) bytes() []byte {
	b := flatbuffers.NewBuilder(1024)
	str := func(x string) flatbuffers.UOffsetT { return b.CreateString(x) }
	kvs := func(list []kv, start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT) flatbuffers.UOffsetT {
		if len(list) == 0 {
			return 0
		}
		offs := make([]flatbuffers.UOffsetT, len(list))
		for i, a := range list {
			k, v := str(a.key), str(a.value)
			reflection.KeyValueStart(b)
			reflection.KeyValueAddKey(b, k)
			reflection.KeyValueAddValue(b, v)
			offs[i] = reflection.KeyValueEnd(b)
		}
		return vec(b, offs, start)
	}
	typ := func(base, element reflection.BaseType, index int32) flatbuffers.UOffsetT {
		reflection.TypeStart(b)
		reflection.TypeAddBaseType(b, base)
		reflection.TypeAddElement(b, element)
		reflection.TypeAddIndex(b, index)
		reflection.TypeAddBaseSize(b, uint32(max(scalarSize(base), 1)))
		return reflection.TypeEnd(b)
	}
	objs := make([]flatbuffers.UOffsetT, len(s.objects))
	for i, o := range s.objects {
		fields := make([]flatbuffers.UOffsetT, len(o.fields))
		for j, f := range o.fields {
			name := str(f.name)
			t := typ(f.base, f.element, s.index(f.ref))
			attrs := kvs(f.attrs, reflection.FieldStartAttributesVector)
			reflection.FieldStart(b)
			reflection.FieldAddName(b, name)
			reflection.FieldAddType(b, t)
			reflection.FieldAddId(b, f.id)
			reflection.FieldAddOffset(b, f.offset)
			reflection.FieldAddDefaultInteger(b, f.defInt)
			reflection.FieldAddDefaultReal(b, f.defReal)
			reflection.FieldAddDeprecated(b, f.deprecated)
			reflection.FieldAddRequired(b, f.required)
			reflection.FieldAddOptional(b, f.optional || f.base == reflection.BaseTypeString || f.base == reflection.BaseTypeVector)
			if attrs != 0 {
				reflection.FieldAddAttributes(b, attrs)
			}
			fields[j] = reflection.FieldEnd(b)
		}
		fv := vec(b, fields, reflection.ObjectStartFieldsVector)
		name := str(o.name)
		attrs := kvs(o.attrs, reflection.ObjectStartAttributesVector)
		reflection.ObjectStart(b)
		reflection.ObjectAddName(b, name)
		reflection.ObjectAddFields(b, fv)
		reflection.ObjectAddIsStruct(b, o.isStruct)
		reflection.ObjectAddMinalign(b, max(o.minalign, 1))
		reflection.ObjectAddBytesize(b, o.bytesize)
		if attrs != 0 {
			reflection.ObjectAddAttributes(b, attrs)
		}
		objs[i] = reflection.ObjectEnd(b)
	}
	enums := make([]flatbuffers.UOffsetT, len(s.enums))
	for i, e := range s.enums {
		vals := make([]flatbuffers.UOffsetT, len(e.values))
		for j, v := range e.values {
			name := str(v.name)
			var ut flatbuffers.UOffsetT
			if v.table != "" {
				ut = typ(reflection.BaseTypeObj, 0, s.index(v.table))
			} else {
				ut = typ(0, 0, -1)
			}
			reflection.EnumValStart(b)
			reflection.EnumValAddName(b, name)
			reflection.EnumValAddValue(b, v.value)
			reflection.EnumValAddUnionType(b, ut)
			vals[j] = reflection.EnumValEnd(b)
		}
		vv := vec(b, vals, reflection.EnumStartValuesVector)
		name := str(e.name)
		under := e.underlying
		if e.isUnion {
			under = reflection.BaseTypeUType
		}
		ut := typ(under, 0, int32(i))
		attrs := kvs(e.attrs, reflection.EnumStartAttributesVector)
		reflection.EnumStart(b)
		reflection.EnumAddName(b, name)
		reflection.EnumAddValues(b, vv)
		reflection.EnumAddIsUnion(b, e.isUnion)
		reflection.EnumAddUnderlyingType(b, ut)
		if attrs != 0 {
			reflection.EnumAddAttributes(b, attrs)
		}
		enums[i] = reflection.EnumEnd(b)
	}
	ov := vec(b, objs, reflection.SchemaStartObjectsVector)
	ev := vec(b, enums, reflection.SchemaStartEnumsVector)
	reflection.SchemaStart(b)
	reflection.SchemaAddObjects(b, ov)
	reflection.SchemaAddEnums(b, ev)
	b.FinishWithFileIdentifier(reflection.SchemaEnd(b), []byte(bfbsIdentifier))
	return b.FinishedBytes()
}

func vec(b *flatbuffers.Builder, offs []flatbuffers.UOffsetT, start func(*flatbuffers.Builder, int) flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	start(b, len(offs))
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}
