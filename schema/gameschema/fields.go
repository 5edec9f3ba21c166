package gameschema

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// Building a table's fields: each table field becomes one leaf, or one per
// scalar leaf of its struct; attributes are parsed and checked on the way.

// attrs are the ticksync attributes of one field.
type attrs struct {
	rng, quantum, predict, maxLen   string
	hasRange, hasQuantum, hasMaxLen bool
	hasPredict, ownerOnly, matchKey bool
}

func parseAttrs(list []kv) attrs {
	var a attrs
	for _, x := range list {
		switch x.key {
		case AttrRange:
			a.rng, a.hasRange = x.value, true
		case AttrQuantum:
			a.quantum, a.hasQuantum = x.value, true
		case AttrPredict:
			a.predict, a.hasPredict = x.value, true
		case AttrMaxLen:
			a.maxLen, a.hasMaxLen = x.value, true
		case AttrOwnerOnly:
			a.ownerOnly = true
		case AttrMatchKey:
			a.matchKey = true
		}
	}
	return a
}

// pendingPredict is a predict attribute resolved once all fields are known.
type pendingPredict struct {
	field       string // the table field carrying it
	target      string
	first, last int // its leaves: Fields[first:last]
}

// tableBuild is the state of one table being built.
type tableBuild struct {
	t        *Table
	predicts []pendingPredict
	inline   int // inline bytes of the fields so far, padding included
}

// table builds the table at object index oi.
func (l *loader) table(oi int32, role Role, kind int) (*Table, error) {
	o, ok := l.object(oi)
	if !ok {
		return nil, badSchema("object index %d out of range", oi)
	}
	name := string(o.Name())
	if o.IsStruct() {
		return nil, schemaErr(name, "", "is a struct; a %s must be a table", role)
	}
	b := tableBuild{t: &Table{Name: name, Role: role, Kind: kind}}
	type idField struct {
		id int
		f  reflection.Field
	}
	var fields []idField
	seen := map[int]string{}
	for j := range o.FieldsLength() {
		var f reflection.Field
		if !o.Fields(&f, j) {
			continue
		}
		id, fname := int(f.Id()), string(f.Name())
		if prev, dup := seen[id]; dup {
			return nil, schemaErr(name, fname, "field id %d already used by %s", id, prev)
		}
		seen[id] = fname
		if int(f.Offset()) != 4+2*id {
			return nil, schemaErr(name, fname, "vtable offset %d does not match id %d", f.Offset(), id)
		}
		if id >= maxFieldID {
			return nil, schemaErr(name, fname, "field id %d: ticksync accepts ids below %d", id, maxFieldID)
		}
		b.t.NumSlots = max(b.t.NumSlots, id+1)
		if !f.Deprecated() {
			fields = append(fields, idField{id, f})
		}
	}
	slices.SortFunc(fields, func(a, b idField) int { return a.id - b.id })
	for i := range fields {
		if err := l.tableField(&b, &fields[i].f); err != nil {
			return nil, err
		}
	}
	if err := b.resolvePredicts(); err != nil {
		return nil, err
	}
	for i := range b.t.Fields {
		f := &b.t.Fields[i]
		f.Index = i
		f.path = name + "." + f.Name
	}
	return b.t, nil
}

// scalarType maps a reflection scalar base type to a leaf Type (0 if not a scalar).
func scalarType(bt reflection.BaseType) Type {
	if bt >= reflection.BaseTypeBool && bt <= reflection.BaseTypeDouble {
		return Type(bt - reflection.BaseTypeBool + 1)
	}
	return 0
}

// describe names a reflection type for error messages.
func (l *loader) describe(t *reflection.Type) string {
	bt := t.BaseType()
	switch bt {
	case reflection.BaseTypeUnion, reflection.BaseTypeUType:
		return "a union"
	case reflection.BaseTypeArray:
		return "a fixed-size array"
	case reflection.BaseTypeVector64:
		return "a 64-bit vector"
	case reflection.BaseTypeObj:
		return "a nested table"
	case reflection.BaseTypeVector:
		el := t.Element()
		switch {
		case el == reflection.BaseTypeObj:
			if o, ok := l.object(t.Index()); ok && o.IsStruct() {
				return "a vector of structs"
			}
			return "a vector of tables"
		case el == reflection.BaseTypeString:
			return "a vector of strings"
		case el == reflection.BaseTypeUnion || el == reflection.BaseTypeUType:
			return "a vector of unions"
		case t.Index() >= 0:
			return "a vector of enums"
		}
		if st := scalarType(el); st != 0 {
			return "a vector of " + st.String()
		}
		return "a vector"
	}
	if name, ok := reflection.EnumNamesBaseType[bt]; ok {
		return "type " + name
	}
	return fmt.Sprintf("type %d", bt)
}

// tableField adds the leaves of one table field.
func (l *loader) tableField(b *tableBuild, f *reflection.Field) error {
	t := b.t
	fname := string(f.Name())
	if err := l.spend(t.Name, fname); err != nil {
		return err
	}
	a := parseAttrs(fieldAttrs(f))
	if (a.ownerOnly || a.hasPredict) && t.Role != RoleEntity {
		attr := AttrOwnerOnly
		if a.hasPredict {
			attr = AttrPredict
		}
		return schemaErr(t.Name, fname, "(%s) applies to entity fields only; %s is the %s table", attr, t.Name, t.Role)
	}
	if a.matchKey && t.Role != RoleJoin {
		return schemaErr(t.Name, fname, "(%s) applies to fields of the (%s) table only; %s is the %s table", AttrMatchKey, AttrJoin, t.Name, t.Role)
	}
	var typ reflection.Type
	if f.Type(&typ) == nil {
		return schemaErr(t.Name, fname, "no type")
	}
	if f.Optional() && scalarType(typ.BaseType()) != 0 {
		return schemaErr(t.Name, fname, "optional scalars (= null) are not supported: give the field a default")
	}
	id := int(f.Id())
	first := len(t.Fields)
	bt := typ.BaseType()
	if st := scalarType(bt); st != 0 {
		leaf := Field{Name: fname, ID: id, Type: st, Align: st.Size(), Predict: -1, OwnerOnly: a.ownerOnly,
			MatchKey: a.matchKey, DefaultInt: f.DefaultInteger(), DefaultFloat: f.DefaultReal()}
		if typ.Index() >= 0 {
			e, err := l.enum(typ.Index(), st, t.Name, fname)
			if err != nil {
				return err
			}
			leaf.Enum = e
		}
		if err := l.leaf(t, &leaf, a); err != nil {
			return err
		}
	} else {
		switch bt {
		case reflection.BaseTypeString, reflection.BaseTypeVector:
			st := String
			if bt == reflection.BaseTypeVector {
				el := typ.Element()
				if (el != reflection.BaseTypeByte && el != reflection.BaseTypeUByte) || typ.Index() >= 0 {
					return schemaErr(t.Name, fname, "%s is not supported: a %s table holds scalars, enums, structs, strings and [ubyte]", l.describe(&typ), t.Role)
				}
				st = Bytes
			}
			leaf := Field{Name: fname, ID: id, Type: st, Align: 4, Predict: -1, OwnerOnly: a.ownerOnly, MatchKey: a.matchKey, Required: f.Required()}
			if err := l.leaf(t, &leaf, a); err != nil {
				return err
			}
		case reflection.BaseTypeObj:
			so, ok := l.object(typ.Index())
			if !ok {
				return schemaErr(t.Name, fname, "object index %d out of range", typ.Index())
			}
			if !so.IsStruct() {
				return schemaErr(t.Name, fname, "%s is not supported: a %s table holds scalars, enums, structs, strings and [ubyte]", l.describe(&typ), t.Role)
			}
			if a.hasMaxLen {
				return schemaErr(t.Name, fname, "(%s) applies to strings and [ubyte] only", AttrMaxLen)
			}
			size, align, err := structShape(&so, t.Name, fname)
			if err != nil {
				return err
			}
			if err := l.flatten(t, &so, fname, 0, 1, a, id, size, align); err != nil {
				return err
			}
		case reflection.BaseTypeUType:
			// flatc names a union's type field "<union>_type": name the union.
			return schemaErr(t.Name, strings.TrimSuffix(fname, "_type"), "a union is not supported: only a (%s) table holds a union", AttrEvents)
		default:
			return schemaErr(t.Name, fname, "%s is not supported: a %s table holds scalars, enums, structs, strings and [ubyte]", l.describe(&typ), t.Role)
		}
	}
	if a.hasPredict {
		b.predicts = append(b.predicts, pendingPredict{field: fname, target: a.predict, first: first, last: len(t.Fields)})
	}
	if len(t.Fields) > first {
		last := &t.Fields[len(t.Fields)-1]
		size := last.Struct
		if size == 0 {
			size = last.Type.Size()
		}
		b.inline += size + last.Align
		if b.inline > maxTableInline {
			return schemaErr(t.Name, fname, "the table's fields take more than %d bytes inline", maxTableInline)
		}
	}
	return nil
}

// structShape checks a struct's size and alignment.
func structShape(o *reflection.Object, table, field string) (size, align int, err error) {
	size, align = int(o.Bytesize()), int(o.Minalign())
	if size < 1 || size > maxStructSize {
		return 0, 0, schemaErr(table, field, "struct %s of %d bytes: must be 1..%d", o.Name(), size, maxStructSize)
	}
	if align != 1 && align != 2 && align != 4 && align != 8 && align != 16 || size%align != 0 {
		return 0, 0, schemaErr(table, field, "struct %s: alignment %d for %d bytes", o.Name(), align, size)
	}
	return size, align, nil
}

// flatten adds the scalar leaves of struct so (at byte offset base inside
// the table field id of inline size size) to t, named prefix.leaf.
func (l *loader) flatten(t *Table, so *reflection.Object, prefix string, base, depth int, outer attrs, id, size, align int) error {
	if depth > maxStructDepth {
		return schemaErr(t.Name, prefix, "structs nested deeper than %d", maxStructDepth)
	}
	ssize := int(so.Bytesize())
	type offField struct {
		off int
		f   reflection.Field
	}
	var fields []offField
	for j := range so.FieldsLength() {
		var f reflection.Field
		if so.Fields(&f, j) {
			fields = append(fields, offField{int(f.Offset()), f})
		}
	}
	slices.SortFunc(fields, func(a, b offField) int { return a.off - b.off })
	end := 0 // end of the previous field: fields must not overlap
	for i := range fields {
		f := &fields[i].f
		off := fields[i].off
		name := prefix + "." + string(f.Name())
		if err := l.spend(t.Name, name); err != nil {
			return err
		}
		own := parseAttrs(fieldAttrs(f))
		if own.hasPredict || own.ownerOnly || own.hasMaxLen || own.matchKey {
			return schemaErr(t.Name, name, "(%s), (%s), (%s) and (%s) go on the table's field, not inside the struct", AttrPredict, AttrOwnerOnly, AttrMaxLen, AttrMatchKey)
		}
		var typ reflection.Type
		if f.Type(&typ) == nil {
			return schemaErr(t.Name, name, "no type")
		}
		bt := typ.BaseType()
		a := outer
		if st := scalarType(bt); st == Bool || st != 0 && typ.Index() >= 0 {
			// A quantum or range on the struct field covers the leaves
			// they apply to: not bools and enums.
			a.hasQuantum, a.hasRange = false, false
		}
		if own.hasRange {
			a.rng, a.hasRange = own.rng, true
		}
		if own.hasQuantum {
			a.quantum, a.hasQuantum = own.quantum, true
		}
		if st := scalarType(bt); st != 0 {
			if off%st.Size() != 0 || off+st.Size() > ssize || off < end {
				return schemaErr(t.Name, name, "offset %d of a %s outside, misaligned or overlapping in a struct of %d bytes", off, st, ssize)
			}
			end = off + st.Size()
			leaf := Field{Name: name, ID: id, Type: st, Offset: base + off, Struct: size, Align: align,
				Predict: -1, OwnerOnly: outer.ownerOnly, MatchKey: outer.matchKey, DefaultInt: f.DefaultInteger(), DefaultFloat: f.DefaultReal()}
			if typ.Index() >= 0 {
				e, err := l.enum(typ.Index(), st, t.Name, name)
				if err != nil {
					return err
				}
				leaf.Enum = e
			}
			if err := l.leaf(t, &leaf, a); err != nil {
				return err
			}
			continue
		}
		if bt != reflection.BaseTypeObj {
			return schemaErr(t.Name, name, "%s is not supported inside a struct", l.describe(&typ))
		}
		sub, ok := l.object(typ.Index())
		if !ok || !sub.IsStruct() {
			return schemaErr(t.Name, name, "object index %d is not a struct", typ.Index())
		}
		subSize, subAlign, err := structShape(&sub, t.Name, name)
		if err != nil {
			return err
		}
		if off%subAlign != 0 || off+subSize > ssize || off < end {
			return schemaErr(t.Name, name, "offset %d of a %d-byte struct outside, misaligned or overlapping in a struct of %d bytes", off, subSize, ssize)
		}
		end = off + subSize
		if err := l.flatten(t, &sub, name, base+off, depth+1, a, id, size, align); err != nil {
			return err
		}
	}
	return nil
}

// leaf applies the attributes a to a leaf, checks it and appends it to t.
func (l *loader) leaf(t *Table, f *Field, a attrs) error {
	if len(t.Fields) >= l.cfg.MaxFields {
		return schemaErr(t.Name, f.Name, "more than %d fields (struct leaves counted)", l.cfg.MaxFields)
	}
	isText := f.Type == String || f.Type == Bytes
	switch {
	case a.hasMaxLen && !isText:
		return schemaErr(t.Name, f.Name, "(%s) applies to strings and [ubyte] only", AttrMaxLen)
	case a.hasQuantum && !f.Type.IsNumeric():
		return schemaErr(t.Name, f.Name, "(%s) applies to numeric fields; this is a %s", AttrQuantum, f.Type)
	case a.hasQuantum && f.Enum != nil:
		return schemaErr(t.Name, f.Name, "(%s) does not apply to an enum", AttrQuantum)
	case a.hasRange && (isText || f.Type == Bool):
		return schemaErr(t.Name, f.Name, "(%s) does not apply to a %s", AttrRange, f.Type)
	case a.hasRange && f.Enum != nil:
		return schemaErr(t.Name, f.Name, "(%s) does not apply to an enum: its values are its range", AttrRange)
	}
	if isText {
		f.MaxLen = l.cfg.DefaultMaxLen
		if a.hasMaxLen {
			n, err := strconv.Atoi(a.maxLen)
			if err != nil || n < 1 || n > maxLenLimit {
				return schemaErr(t.Name, f.Name, "(%s: %q): must be an integer 1..%d", AttrMaxLen, a.maxLen, maxLenLimit)
			}
			f.MaxLen = n
		}
		t.Fields = append(t.Fields, *f)
		return nil
	}
	if a.hasQuantum {
		q, err := strconv.ParseFloat(a.quantum, 64)
		if err != nil || !(q > 0) || math.IsInf(q, 0) {
			return schemaErr(t.Name, f.Name, "(%s: %q): must be a positive number", AttrQuantum, a.quantum)
		}
		f.Quantum = q
	}
	if f.Type.IsFloat() && f.Quantum == 0 {
		return schemaErr(t.Name, f.Name, "a %s needs a (%s: \"step\") attribute: ticksync sends floats quantized", f.Type, AttrQuantum)
	}
	if err := setRange(t, f, a); err != nil {
		return err
	}
	t.Fields = append(t.Fields, *f)
	return nil
}

// setRange sets the field's bounds: its type's or enum's own, narrowed by a
// range attribute; and checks the default against them.
func setRange(t *Table, f *Field, a attrs) error {
	// flatc writes defaults within the type; anything else is a damaged file.
	switch {
	case f.Type == Float32:
		f.DefaultFloat = float64(float32(f.DefaultFloat)) // what a float32 field holds
	case f.Type.IsInteger() && f.Type != Uint64, f.Type == Bool:
		if lo, hi := f.Type.limits(); f.DefaultInt < lo || f.DefaultInt > hi {
			return schemaErr(t.Name, f.Name, "default %d outside what a %s holds", f.DefaultInt, f.Type)
		}
	}
	switch {
	case f.Type.IsFloat():
		lim := math.MaxFloat64
		if f.Type == Float32 {
			lim = math.MaxFloat32
		}
		f.FMin, f.FMax = -lim, lim
	case f.Type == Uint64:
		f.UMin, f.UMax = 0, math.MaxUint64
		if f.Enum != nil {
			f.UMin, f.UMax = math.MaxUint64, 0
			for _, v := range f.Enum.Values {
				f.UMin, f.UMax = min(f.UMin, uint64(v.Value)), max(f.UMax, uint64(v.Value))
			}
			if f.Enum.BitFlags {
				f.UMin, f.UMax = 0, f.Enum.mask
			}
		}
	default:
		f.Min, f.Max = f.Type.limits()
		if f.Enum != nil {
			f.Min, f.Max = f.Enum.Values[0].Value, f.Enum.Values[len(f.Enum.Values)-1].Value
			if f.Enum.BitFlags {
				f.Min, f.Max = 0, int64(f.Enum.mask)
			}
		}
	}
	if a.hasRange {
		lo, hi, ok := strings.Cut(a.rng, "..")
		bad := func(why string) error {
			return schemaErr(t.Name, f.Name, "(%s: %q): %s", AttrRange, a.rng, why)
		}
		if !ok {
			return bad(`must be "lo..hi"`)
		}
		f.HasRange = true
		switch {
		case f.Type.IsFloat():
			l, err1 := strconv.ParseFloat(lo, 64)
			h, err2 := strconv.ParseFloat(hi, 64)
			if err1 != nil || err2 != nil || math.IsInf(l, 0) || math.IsInf(h, 0) || math.IsNaN(l) || math.IsNaN(h) {
				return bad("bounds must be finite numbers")
			}
			if l < f.FMin || h > f.FMax {
				return bad("outside what a " + f.Type.String() + " holds")
			}
			if l > h {
				return bad("lo above hi")
			}
			if f.Type == Float32 {
				x := float32(l)
				if float64(x) < l {
					x = math.Nextafter32(x, float32(math.Inf(1)))
				}
				if float64(x) > h {
					return bad("no float32 value lies in it")
				}
			}
			if math.Abs(l)/f.Quantum > 1<<53 || math.Abs(h)/f.Quantum > 1<<53 {
				return bad("too wide for the quantum (more than 2^53 steps)")
			}
			f.FMin, f.FMax = l, h
		case f.Type == Uint64:
			l, err1 := strconv.ParseUint(lo, 10, 64)
			h, err2 := strconv.ParseUint(hi, 10, 64)
			if err1 != nil || err2 != nil {
				return bad("bounds must be integers 0..18446744073709551615")
			}
			if l > h {
				return bad("lo above hi")
			}
			f.UMin, f.UMax = l, h
		default:
			l, err1 := strconv.ParseInt(lo, 10, 64)
			h, err2 := strconv.ParseInt(hi, 10, 64)
			if err1 != nil || err2 != nil {
				return bad("bounds must be integers")
			}
			tlo, thi := f.Type.limits()
			if l < tlo || h > thi {
				return bad(fmt.Sprintf("outside what a %s holds (%d..%d)", f.Type, tlo, thi))
			}
			if l > h {
				return bad("lo above hi")
			}
			f.Min, f.Max = l, h
		}
	}
	// The default is what an absent field decodes to. One outside the range
	// (rank: ubyte (range: "1..13") defaults to 0) is allowed: the verifier
	// then refuses a buffer that leaves the field out.
	switch {
	case f.Type.IsFloat():
		f.defaultBad = f.DefaultFloat < f.FMin || f.DefaultFloat > f.FMax || math.IsNaN(f.DefaultFloat)
	case f.Type == Uint64:
		f.defaultBad = uint64(f.DefaultInt) < f.UMin || uint64(f.DefaultInt) > f.UMax
	default:
		f.defaultBad = f.DefaultInt < f.Min || f.DefaultInt > f.Max || f.Enum != nil && !f.Enum.valid(f.DefaultInt)
	}
	return nil
}

// enum builds (once) the enum at index i used by a field of type st.
func (l *loader) enum(i int32, st Type, table, field string) (*Enum, error) {
	var e reflection.Enum
	if i < 0 || int(i) >= l.s.EnumsLength() || !l.s.Enums(&e, int(i)) {
		return nil, schemaErr(table, field, "enum index %d out of range", i)
	}
	if !st.IsInteger() {
		return nil, schemaErr(table, field, "a %s cannot be an enum", st)
	}
	if built, ok := l.enums[int(i)]; ok {
		if built.Type != st {
			return nil, schemaErr(table, field, "enum %s is a %s, the field a %s", built.Name, built.Type, st)
		}
		return built, nil
	}
	name := string(e.Name())
	if e.IsUnion() {
		return nil, schemaErr(table, field, "%s is a union: only a (%s) table holds a union", name, AttrEvents)
	}
	var ut reflection.Type
	if e.UnderlyingType(&ut) == nil || scalarType(ut.BaseType()) != st {
		return nil, schemaErr(table, field, "enum %s: underlying type does not match the field's %s", name, st)
	}
	out := &Enum{Name: name, Type: st}
	var v reflection.EnumVal
	lo, hi := st.limits()
	for j := range e.ValuesLength() {
		if !e.Values(&v, j) {
			continue
		}
		x := v.Value()
		if st != Uint64 && (x < lo || x > hi) {
			return nil, schemaErr(name, string(v.Name()), "value %d outside what a %s holds", x, st)
		}
		out.Values = append(out.Values, EnumValue{Name: string(v.Name()), Value: x})
		out.mask |= uint64(x)
	}
	if len(out.Values) == 0 {
		return nil, schemaErr(table, field, "enum %s has no values", name)
	}
	slices.SortStableFunc(out.Values, func(a, b EnumValue) int {
		switch {
		case a.Value < b.Value:
			return -1
		case a.Value > b.Value:
			return 1
		}
		return 0
	})
	// flatc 2.0.8 does not keep (bit_flags) in the .bfbs, but it numbers a
	// bit_flags enum's values 1, 2, 4...: an enum whose values are all
	// distinct powers of two is taken as a bit set (any combination valid).
	out.BitFlags = true
	out.contiguous = out.Values[len(out.Values)-1].Value-out.Values[0].Value == int64(len(out.Values)-1)
	for j, v := range out.Values {
		if v.Value <= 0 || v.Value&(v.Value-1) != 0 {
			out.BitFlags = false
		}
		if j > 0 && out.Values[j-1].Value == v.Value {
			out.BitFlags, out.contiguous = false, false
		}
	}
	l.enums[int(i)] = out
	return out, nil
}

// resolvePredicts pairs each predicted leaf with its velocity leaf.
func (b *tableBuild) resolvePredicts() error {
	t := b.t
	for _, p := range b.predicts {
		var vel []int
		for i := range t.Fields {
			if t.Fields[i].Name == p.target || strings.HasPrefix(t.Fields[i].Name, p.target+".") {
				vel = append(vel, i)
			}
		}
		if len(vel) == 0 {
			return schemaErr(t.Name, p.field, "(%s: %q): no field %q in %s", AttrPredict, p.target, p.target, t.Name)
		}
		if len(vel) != p.last-p.first {
			return schemaErr(t.Name, p.field, "(%s: %q): %d values predicted from %d velocities", AttrPredict, p.target, p.last-p.first, len(vel))
		}
		for k, vi := range vel {
			f, v := &t.Fields[p.first+k], &t.Fields[vi]
			switch {
			case vi >= p.first && vi < p.last:
				return schemaErr(t.Name, p.field, "(%s: %q): a field cannot be its own velocity", AttrPredict, p.target)
			case !f.Type.IsNumeric() || f.Enum != nil:
				return schemaErr(t.Name, f.Name, "(%s): a predicted field must be numeric, not a %s", AttrPredict, typeName(f))
			case !v.Type.IsNumeric() || v.Enum != nil:
				return schemaErr(t.Name, f.Name, "(%s: %q): the velocity %s must be numeric, not a %s", AttrPredict, p.target, v.Name, typeName(v))
			}
			f.Predict = vi
		}
	}
	return nil
}

func typeName(f *Field) string {
	if f.Enum != nil {
		return "enum " + f.Enum.Name
	}
	return f.Type.String()
}
