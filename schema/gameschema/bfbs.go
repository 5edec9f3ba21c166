package gameschema

// The .bfbs verifier. A compiled schema is itself a FlatBuffer (root
// reflection.Schema, file identifier "BFBS"), and a damaged or hostile file
// must not make Load panic. Before the generated reflection accessors read
// it, verifyBFBS walks it against a plan of the reflection schema: every
// field Load reads is checked (offsets, vtables, vector lengths, strings,
// required fields); the ones Load never reads (documentation, services,
// declaration files) are not visited. TestPlanMatchesReflection checks the
// plan against reflection.fbs itself, compiled by flatc.

// plan kinds of a field of the reflection schema.
const (
	pScalar   = iota + 1 // inline scalar of size bytes
	pString              // string
	pTable               // table (sub)
	pVecTable            // vector of tables (sub)
)

type planField struct {
	slot     uint32
	name     string
	path     string // "Table.field", for errors (set by init)
	kind     int
	size     uint32 // pScalar: inline size
	required bool
	sub      *plan
}

type plan struct {
	name   string
	fields []planField
}

var (
	planType = &plan{name: "Type", fields: []planField{
		{slot: 0, name: "base_type", kind: pScalar, size: 1},
		{slot: 1, name: "element", kind: pScalar, size: 1},
		{slot: 2, name: "index", kind: pScalar, size: 4},
		{slot: 3, name: "fixed_length", kind: pScalar, size: 2},
		{slot: 4, name: "base_size", kind: pScalar, size: 4},
		{slot: 5, name: "element_size", kind: pScalar, size: 4},
	}}
	planKeyValue = &plan{name: "KeyValue", fields: []planField{
		{slot: 0, name: "key", kind: pString, required: true},
		{slot: 1, name: "value", kind: pString},
	}}
	planEnumVal = &plan{name: "EnumVal", fields: []planField{
		{slot: 0, name: "name", kind: pString, required: true},
		{slot: 1, name: "value", kind: pScalar, size: 8},
		{slot: 3, name: "union_type", kind: pTable, sub: planType},
		{slot: 5, name: "attributes", kind: pVecTable, sub: planKeyValue},
	}}
	planEnum = &plan{name: "Enum", fields: []planField{
		{slot: 0, name: "name", kind: pString, required: true},
		{slot: 1, name: "values", kind: pVecTable, required: true, sub: planEnumVal},
		{slot: 2, name: "is_union", kind: pScalar, size: 1},
		{slot: 3, name: "underlying_type", kind: pTable, required: true, sub: planType},
		{slot: 4, name: "attributes", kind: pVecTable, sub: planKeyValue},
	}}
	planFld = &plan{name: "Field", fields: []planField{
		{slot: 0, name: "name", kind: pString, required: true},
		{slot: 1, name: "type", kind: pTable, required: true, sub: planType},
		{slot: 2, name: "id", kind: pScalar, size: 2},
		{slot: 3, name: "offset", kind: pScalar, size: 2},
		{slot: 4, name: "default_integer", kind: pScalar, size: 8},
		{slot: 5, name: "default_real", kind: pScalar, size: 8},
		{slot: 6, name: "deprecated", kind: pScalar, size: 1},
		{slot: 7, name: "required", kind: pScalar, size: 1},
		{slot: 9, name: "attributes", kind: pVecTable, sub: planKeyValue},
		{slot: 11, name: "optional", kind: pScalar, size: 1},
		{slot: 12, name: "padding", kind: pScalar, size: 2},
		{slot: 13, name: "offset64", kind: pScalar, size: 1},
	}}
	planObject = &plan{name: "Object", fields: []planField{
		{slot: 0, name: "name", kind: pString, required: true},
		{slot: 1, name: "fields", kind: pVecTable, required: true, sub: planFld},
		{slot: 2, name: "is_struct", kind: pScalar, size: 1},
		{slot: 3, name: "minalign", kind: pScalar, size: 4},
		{slot: 4, name: "bytesize", kind: pScalar, size: 4},
		{slot: 5, name: "attributes", kind: pVecTable, sub: planKeyValue},
	}}
	planSchema = &plan{name: "Schema", fields: []planField{
		{slot: 0, name: "objects", kind: pVecTable, required: true, sub: planObject},
		{slot: 1, name: "enums", kind: pVecTable, required: true, sub: planEnum},
		{slot: 2, name: "file_ident", kind: pString},
	}}
)

func init() {
	for _, p := range []*plan{planType, planKeyValue, planEnumVal, planEnum, planFld, planObject, planSchema} {
		for i := range p.fields {
			p.fields[i].path = p.name + "." + p.fields[i].name
		}
	}
}

// bfbsIdentifier is the file identifier of a compiled schema.
const bfbsIdentifier = "BFBS"

// bfbsVerifier walks a .bfbs against the plans above.
type bfbsVerifier struct {
	reader
	tables int // tables visited so far
	max    int // bound on tables visited (Config.MaxSchemaTables)
	depth  int
}

// maxBFBSDepth bounds nesting: Schema → Enum → EnumVal → Type is 4 deep.
const maxBFBSDepth = 8

// verifyBFBS checks b as a compiled schema and returns the position of its
// root table.
func verifyBFBS(b []byte, maxTables int) (uint32, error) {
	v := bfbsVerifier{reader: reader{buf: b}, max: maxTables}
	root, err := v.root("schema file")
	if err != nil {
		return 0, err
	}
	if string(b[4:8]) != bfbsIdentifier {
		return 0, malformed("schema file: identifier %q: want %q (compile with flatc --binary --schema)", b[4:8], bfbsIdentifier)
	}
	if err := v.walk(root, planSchema); err != nil {
		return 0, err
	}
	return root, nil
}

func (v *bfbsVerifier) walk(pos uint32, p *plan) error {
	v.tables++
	if v.tables > v.max {
		return malformed("schema file: more than %d tables", v.max)
	}
	v.depth++
	defer func() { v.depth-- }()
	if v.depth > maxBFBSDepth {
		return malformed("schema file: %s nested deeper than %d", p.name, maxBFBSDepth)
	}
	t, err := v.table(pos, p.name)
	if err != nil {
		return err
	}
	for i := range p.fields {
		f := &p.fields[i]
		size := f.size
		if f.kind != pScalar {
			size = 4
		}
		at, err := v.field(&t, f.slot, size, size, f.path)
		if err != nil {
			return err
		}
		if at == 0 {
			if f.required {
				return malformed("schema file: %s: required field missing", f.path)
			}
			continue
		}
		switch f.kind {
		case pString:
			if _, err := v.str(at, f.path); err != nil {
				return err
			}
		case pTable:
			sub, err := v.ref(at, f.path)
			if err != nil {
				return err
			}
			if err := v.walk(sub, f.sub); err != nil {
				return err
			}
		case pVecTable:
			data, n, err := v.vector(at, 4, f.path)
			if err != nil {
				return err
			}
			for j := range n {
				sub, err := v.ref(data+4*j, f.path)
				if err != nil {
					return err
				}
				if err := v.walk(sub, f.sub); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
