package gameschema

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// The attribute vocabulary (schema/DESIGN.md explains each). A game's .fbs
// declares the ones it uses with `attribute "name";`.
const (
	// Table attributes: what the table is for.
	AttrEntity = "ticksync_entity" // (ticksync_entity: "1"): an entity kind and its kind id, 1..65535
	AttrInput  = "ticksync_input"  // (ticksync_input): the player input table (exactly one)
	AttrEvents = "ticksync_events" // (ticksync_events: "client"|"server"): an event wrapper (one union field)
	AttrJoin   = "ticksync_join"   // (ticksync_join): the join payload of Hello (at most one)

	// Field attributes.
	AttrRange     = "range"      // (range: "lo..hi"): bounds of the stored value, enforced by the verifier
	AttrQuantum   = "quantum"    // (quantum: "0.01"): quantization step; required on floats
	AttrPredict   = "predict"    // (predict: "vx"): predicted from that velocity field (entities)
	AttrOwnerOnly = "owner_only" // (owner_only): sent to the owning player only (entities)
	AttrMaxLen    = "max_len"    // (max_len: "32"): cap in bytes of a string or [ubyte]
	AttrMatchKey  = "match_key"  // (match_key): matchmaking seats together only players with equal values (join fields)
)

// maxStructDepth bounds struct nesting when flattening.
const maxStructDepth = 8

// maxStructSize bounds the inline size of a struct field.
const maxStructSize = 4096

// maxFieldID bounds field ids (vtable slots) of a game table.
const maxFieldID = 4096

// maxTableInline bounds the inline bytes of a game table's fields.
const maxTableInline = 1 << 15

// maxLoadWork bounds the fields Load visits (struct fields once per use),
// so that a hostile file of structs nesting many empty structs cannot make
// it walk for long.
const maxLoadWork = 1 << 16

// spend counts one field visit against the budget.
func (l *loader) spend(table, field string) error {
	l.budget--
	if l.budget < 0 {
		return schemaErr(table, field, "schema too complex: more than %d field visits", maxLoadWork)
	}
	return nil
}

// Load verifies a compiled schema (the .bfbs that `flatc --binary --schema`
// writes) and builds its model with DefaultConfig's limits. Nothing in bfbs
// is trusted: a damaged file yields an error wrapping ErrBadSchema, never a
// panic. The returned Schema does not retain bfbs.
func Load(bfbs []byte) (*Schema, error) { return LoadConfig(DefaultConfig(), bfbs) }

// LoadConfig is Load with explicit limits.
func LoadConfig(cfg Config, bfbs []byte) (*Schema, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gameschema: %w", err)
	}
	if len(bfbs) > cfg.MaxSchemaBytes {
		return nil, badSchema("schema file of %d bytes: larger than %d", len(bfbs), cfg.MaxSchemaBytes)
	}
	root, err := verifyBFBS(bfbs, cfg.MaxSchemaTables)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSchema, err)
	}
	l := loader{cfg: cfg, enums: map[int]*Enum{}, roles: map[int]Role{}, budget: maxLoadWork}
	l.s.Init(bfbs, flatbuffers.UOffsetT(root))
	return l.load()
}

type kv struct{ key, value string }

// loader builds a Schema from a verified .bfbs.
type loader struct {
	cfg    Config
	budget int // fields the loader may still visit
	s      reflection.Schema
	enums  map[int]*Enum // built enums by index
	roles  map[int]Role  // object index → role of the marked tables
}

func (l *loader) object(i int32) (reflection.Object, bool) {
	var o reflection.Object
	if i < 0 || int(i) >= l.s.ObjectsLength() {
		return o, false
	}
	return o, l.s.Objects(&o, int(i))
}

func objAttrs(o *reflection.Object) []kv {
	var a reflection.KeyValue
	var out []kv
	for j := range o.AttributesLength() {
		if o.Attributes(&a, j) {
			out = append(out, kv{string(a.Key()), string(a.Value())})
		}
	}
	return out
}

func fieldAttrs(f *reflection.Field) []kv {
	var a reflection.KeyValue
	var out []kv
	for j := range f.AttributesLength() {
		if f.Attributes(&a, j) {
			out = append(out, kv{string(a.Key()), string(a.Value())})
		}
	}
	return out
}

// namespace returns the part of a qualified name before its last dot.
func namespace(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return ""
}

type marked struct {
	obj  int32
	name string
	kind int
}

func (l *loader) load() (*Schema, error) {
	var (
		entities    []marked
		input, join = marked{obj: -1}, marked{obj: -1}
		events      = [2]marked{{obj: -1}, {obj: -1}} // client, server
		roleOf      = map[int32]string{}
		setOnce     = func(m *marked, o int32, name, attr string) error {
			if m.obj >= 0 {
				return schemaErr(name, "", "second table marked (%s); %s is the first", attr, m.name)
			}
			*m = marked{obj: o, name: name}
			return nil
		}
	)
	for i := range l.s.ObjectsLength() {
		o, _ := l.object(int32(i))
		name := string(o.Name())
		for _, a := range objAttrs(&o) {
			if !strings.HasPrefix(a.key, "ticksync_") {
				continue
			}
			if r, ok := roleOf[int32(i)]; ok {
				return nil, schemaErr(name, "", "marked both (%s) and (%s)", r, a.key)
			}
			roleOf[int32(i)] = a.key
			if o.IsStruct() {
				return nil, schemaErr(name, "", "(%s) marks a table, not a struct", a.key)
			}
			var err error
			switch a.key {
			case AttrEntity:
				k, perr := strconv.Atoi(a.value)
				if perr != nil || k < 1 || k > math.MaxUint16 || a.value != strconv.Itoa(k) {
					return nil, schemaErr(name, "", "(%s: %q): the kind id must be 1..65535, e.g. (%s: \"1\")", AttrEntity, a.value, AttrEntity)
				}
				for _, e := range entities {
					if e.kind == k {
						return nil, schemaErr(name, "", "entity kind %d already used by %s", k, e.name)
					}
				}
				entities = append(entities, marked{obj: int32(i), name: name, kind: k})
				l.roles[i] = RoleEntity
			case AttrInput:
				err = setOnce(&input, int32(i), name, a.key)
				l.roles[i] = RoleInput
			case AttrJoin:
				err = setOnce(&join, int32(i), name, a.key)
				l.roles[i] = RoleJoin
			case AttrEvents:
				switch a.value {
				case "client":
					err = setOnce(&events[0], int32(i), name, a.key+`: "client"`)
				case "server":
					err = setOnce(&events[1], int32(i), name, a.key+`: "server"`)
				default:
					err = schemaErr(name, "", "(%s: %q): must be \"client\" or \"server\"", AttrEvents, a.value)
				}
				l.roles[i] = RoleEvent
			default:
				err = schemaErr(name, "", "unknown attribute %s (known: %s, %s, %s, %s)", a.key, AttrEntity, AttrInput, AttrEvents, AttrJoin)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if input.obj < 0 {
		return nil, badSchema("no table marked (%s)", AttrInput)
	}
	if len(entities) == 0 {
		return nil, badSchema("no table marked (%s: \"kind\")", AttrEntity)
	}
	s := &Schema{Name: namespace(input.name)}
	if s.Name == "" {
		return nil, schemaErr(input.name, "", "declare a namespace: it names the game's schema")
	}
	all := append([]marked{input, join, events[0], events[1]}, entities...)
	for _, m := range all {
		if m.obj >= 0 && namespace(m.name) != s.Name {
			return nil, schemaErr(m.name, "", "namespace %q: every marked table must be in %q (the input's)", namespace(m.name), s.Name)
		}
	}
	slices.SortFunc(entities, func(a, b marked) int { return a.kind - b.kind })
	for _, e := range entities {
		t, err := l.table(e.obj, RoleEntity, e.kind)
		if err != nil {
			return nil, err
		}
		s.Entities = append(s.Entities, t)
	}
	var err error
	if s.Input, err = l.table(input.obj, RoleInput, 0); err != nil {
		return nil, err
	}
	if join.obj >= 0 {
		if s.Join, err = l.table(join.obj, RoleJoin, 0); err != nil {
			return nil, err
		}
	}
	if events[0].obj >= 0 {
		if s.ClientEvents, err = l.events(events[0].obj); err != nil {
			return nil, err
		}
	}
	if events[1].obj >= 0 {
		if s.ServerEvents, err = l.events(events[1].obj); err != nil {
			return nil, err
		}
	}
	s.canonical = canonical(s)
	s.Hash = sha256.Sum256([]byte(s.canonical))
	return s, nil
}

// events builds the event wrapper at object index oi.
func (l *loader) events(oi int32) (*Events, error) {
	o, _ := l.object(oi)
	name := string(o.Name())
	var f reflection.Field
	var typ reflection.Type
	var utype, union = -1, -1
	var uenum int32 = -1
	for j := range o.FieldsLength() {
		if !o.Fields(&f, j) || f.Deprecated() {
			continue
		}
		fname := string(f.Name())
		f.Type(&typ)
		switch typ.BaseType() {
		case reflection.BaseTypeUType:
			utype = int(f.Id())
		case reflection.BaseTypeUnion:
			if union >= 0 {
				return nil, schemaErr(name, fname, "a (%s) table holds exactly one union field", AttrEvents)
			}
			union, uenum = int(f.Id()), typ.Index()
		default:
			return nil, schemaErr(name, fname, "a (%s) table holds only its union field", AttrEvents)
		}
		if int(f.Offset()) != 4+2*int(f.Id()) {
			return nil, schemaErr(name, fname, "vtable offset %d does not match id %d", f.Offset(), f.Id())
		}
	}
	if union < 0 || utype != union-1 {
		return nil, schemaErr(name, "", "a (%s) table holds exactly one union field (e.g. event: ClientEvent)", AttrEvents)
	}
	var e reflection.Enum
	if uenum < 0 || int(uenum) >= l.s.EnumsLength() || !l.s.Enums(&e, int(uenum)) || !e.IsUnion() {
		return nil, schemaErr(name, "", "union index %d out of range", uenum)
	}
	ev := &Events{Wrapper: name, Union: string(e.Name()), typeSlot: uint32(utype), valueSlot: uint32(union)}
	var val reflection.EnumVal
	for j := range e.ValuesLength() {
		if !e.Values(&val, j) {
			continue
		}
		if val.Value() == 0 {
			continue // NONE
		}
		mname := string(val.Name())
		if val.Value() != int64(len(ev.Tables)+1) || len(ev.Tables) >= math.MaxUint8 {
			return nil, schemaErr(ev.Union, mname, "union value %d: members must be numbered 1, 2, 3... up to 255", val.Value())
		}
		var ut reflection.Type
		if val.UnionType(&ut) == nil || ut.BaseType() != reflection.BaseTypeObj {
			return nil, schemaErr(ev.Union, mname, "an event union holds tables only")
		}
		mo, ok := l.object(ut.Index())
		if !ok || mo.IsStruct() {
			return nil, schemaErr(ev.Union, mname, "an event union holds tables only")
		}
		if r, ok := l.roles[int(ut.Index())]; ok {
			return nil, schemaErr(string(mo.Name()), "", "an event table cannot also be the %s table", r)
		}
		t, err := l.table(ut.Index(), RoleEvent, len(ev.Tables)+1)
		if err != nil {
			return nil, err
		}
		ev.Tables = append(ev.Tables, t)
	}
	if len(ev.Tables) == 0 {
		return nil, schemaErr(ev.Union, "", "the event union has no members")
	}
	return ev, nil
}
