package gameschema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// loadFile loads testdata/name.bfbs.
func loadFile(t testing.TB, name string) *Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(b)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

func TestLoadTestdata(t *testing.T) {
	for _, name := range []string{"arena", "cards"} {
		s := loadFile(t, name)
		t.Logf("%s %x\n%s", s.Name, s.Hash, s.Canonical())
	}
}

// BaseType shorthands for specs.
const (
	tBool   = reflection.BaseTypeBool
	tByte   = reflection.BaseTypeByte
	tUByte  = reflection.BaseTypeUByte
	tShort  = reflection.BaseTypeShort
	tUShort = reflection.BaseTypeUShort
	tInt    = reflection.BaseTypeInt
	tUInt   = reflection.BaseTypeUInt
	tLong   = reflection.BaseTypeLong
	tULong  = reflection.BaseTypeULong
	tFloat  = reflection.BaseTypeFloat
	tDouble = reflection.BaseTypeDouble
	tString = reflection.BaseTypeString
	tVector = reflection.BaseTypeVector
	tObj    = reflection.BaseTypeObj
	tUnion  = reflection.BaseTypeUnion
	tArray  = reflection.BaseTypeArray
)

// baseSpec is a small valid game: an entity with fixed-point, enum, struct,
// predicted, string and owner-only fields, an input, a client event and a
// join payload.
func baseSpec() *specSchema {
	s := &specSchema{enums: []specEnum{
		{name: "g.Team", underlying: tUByte, values: []specEnumVal{{"Red", 0, ""}, {"Blue", 1, ""}}},
		{name: "g.Event", isUnion: true, values: []specEnumVal{{"NONE", 0, ""}, {"Say", 1, "g.Say"}}},
	}}
	s.objects = append(s.objects, s.strct("g.Vec2", sf("x", tFloat), sf("y", tFloat)))
	s.objects = append(s.objects,
		tbl("g.Ship", attr(AttrEntity, "1"),
			sf("x", tInt, AttrQuantum, "0.0625", AttrPredict, "vx"),
			sf("vx", tShort),
			specField{name: "team", base: tUByte, ref: "g.Team"},
			specField{name: "pos", base: tObj, ref: "g.Vec2", attrs: attr(AttrQuantum, "0.01", AttrPredict, "vel")},
			specField{name: "vel", base: tObj, ref: "g.Vec2", attrs: attr(AttrQuantum, "0.01")},
			sf("name", tString, AttrMaxLen, "16"),
			sf("secret", tUInt, AttrOwnerOnly, "0"),
		),
		tbl("g.Input", attr(AttrInput, "0"), sf("move", tByte, AttrRange, "-100..100"), sf("fire", tBool)),
		tbl("g.Say", nil, sf("text", tString)),
		tbl("g.Events", attr(AttrEvents, "client"), specField{name: "event", base: tUnion, ref: "g.Event"}),
		tbl("g.Join", attr(AttrJoin, "0"), sf("name", tString, AttrMaxLen, "16")),
	)
	return s
}

func TestLoadBaseSpec(t *testing.T) {
	s, err := Load(baseSpec().bytes())
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "g" || len(s.Entities) != 1 || s.Input == nil || s.Join == nil || s.ClientEvents == nil || s.ServerEvents != nil {
		t.Fatalf("model: %+v", s)
	}
	ship := s.Entity(1)
	var names []string
	for _, f := range ship.Fields {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "x vx team pos.x pos.y vel.x vel.y name secret"; got != want {
		t.Fatalf("fields %q, want %q", got, want)
	}
	if f := ship.Field("x"); f.Predict != ship.Field("vx").Index || f.Quantum != 0.0625 || f.Type != Int32 {
		t.Errorf("x: %+v", f)
	}
	if f := ship.Field("pos.y"); f.Predict != ship.Field("vel.y").Index || f.Quantum != 0.01 || f.Offset != 4 || f.Struct != 8 {
		t.Errorf("pos.y: %+v", f)
	}
	if f := ship.Field("team"); f.Enum == nil || f.Enum.Name != "g.Team" || f.Min != 0 || f.Max != 1 {
		t.Errorf("team: %+v", f)
	}
	if f := ship.Field("secret"); !f.OwnerOnly {
		t.Errorf("secret: %+v", f)
	}
	if f := ship.Field("name"); f.MaxLen != 16 {
		t.Errorf("name: %+v", f)
	}
	if f := s.Input.Field("move"); !f.HasRange || f.Min != -100 || f.Max != 100 {
		t.Errorf("move: %+v", f)
	}
	if f := s.Join.Field("name"); f.MaxLen != 16 {
		t.Errorf("join name: %+v", f)
	}
	if e := s.ClientEvents.Event(1); e == nil || e.Name != "g.Say" || e.Field("text").MaxLen != DefaultConfig().DefaultMaxLen {
		t.Errorf("event 1: %+v", e)
	}
	// The hash is of the model: the same schema built twice hashes the same,
	// a changed range does not.
	again, _ := Load(baseSpec().bytes())
	if again.Hash != s.Hash {
		t.Error("same schema, different hash")
	}
	changed := baseSpec()
	changed.obj("g.Input").field("move").attrs = attr(AttrRange, "-99..100")
	if c, err := Load(changed.bytes()); err != nil || c.Hash == s.Hash {
		t.Errorf("changed range: err %v, same hash %v", err, c != nil && c.Hash == s.Hash)
	}
}

// TestLoadAccepts: schemas that must load.
func TestLoadAccepts(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(s *specSchema)
	}{
		{"base", func(*specSchema) {}},
		{"deprecated field of any type", func(s *specSchema) {
			o := s.obj("g.Ship")
			o.fields = append(o.fields, specField{name: "old", id: 20, offset: 44, base: tVector, element: tObj, ref: "g.Say", deprecated: true})
		}},
		{"every integer width with ranges", func(s *specSchema) {
			o := s.obj("g.Input")
			o.fields = append(o.fields,
				specField{name: "a", id: 10, offset: 24, base: tUByte, attrs: attr(AttrRange, "0..255")},
				specField{name: "b", id: 11, offset: 26, base: tShort, attrs: attr(AttrRange, "-32768..32767")},
				specField{name: "c", id: 12, offset: 28, base: tUShort},
				specField{name: "d", id: 13, offset: 30, base: tInt, attrs: attr(AttrRange, "-5..5")},
				specField{name: "e", id: 14, offset: 32, base: tUInt, attrs: attr(AttrQuantum, "0.5")},
				specField{name: "f", id: 15, offset: 34, base: tLong, attrs: attr(AttrRange, "-9223372036854775808..9223372036854775807")},
				specField{name: "g", id: 16, offset: 36, base: tULong, attrs: attr(AttrRange, "0..18446744073709551615")},
				specField{name: "h", id: 17, offset: 38, base: tDouble, attrs: attr(AttrQuantum, "1e-3", AttrRange, "-1.5..1e3")},
			)
		}},
		{"bit flags enum", func(s *specSchema) {
			s.enums = append(s.enums, specEnum{name: "g.Buttons", underlying: tUByte, values: []specEnumVal{{"A", 1, ""}, {"B", 2, ""}, {"C", 4, ""}}})
			o := s.obj("g.Input")
			o.fields = append(o.fields, specField{name: "buttons", id: 2, offset: 8, base: tUByte, ref: "g.Buttons"})
		}},
		{"default outside the range", func(s *specSchema) {
			s.obj("g.Input").field("move").attrs = attr(AttrRange, "1..13")
		}},
		{"struct leaf with its own quantum", func(s *specSchema) {
			s.objects[0].fields[1].attrs = attr(AttrQuantum, "0.5")
		}},
		{"no join, no events", func(s *specSchema) {
			s.obj("g.Join").attrs = nil
			s.obj("g.Events").attrs = nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseSpec()
			c.mutate(s)
			if _, err := Load(s.bytes()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoadRefuses: schemas that must be refused, with the table and field
// at fault named.
func TestLoadRefuses(t *testing.T) {
	add := func(table string, f specField) func(s *specSchema) {
		return func(s *specSchema) {
			o := s.obj(table)
			f.id = uint16(len(o.fields) + 10)
			f.offset = 4 + 2*f.id
			o.fields = append(o.fields, f)
		}
	}
	setAttrs := func(table, field string, pairs ...string) func(s *specSchema) {
		return func(s *specSchema) { s.obj(table).field(field).attrs = attr(pairs...) }
	}
	cases := []struct {
		name         string
		mutate       func(s *specSchema)
		table, field string // the SchemaError must name them ("" table: not a SchemaError)
		reason       string // substring of the error
	}{
		{"float without quantum", add("g.Ship", sf("speed", tFloat)), "g.Ship", "speed", "quantum"},
		{"double without quantum", add("g.Input", sf("aim", tDouble)), "g.Input", "aim", "quantum"},
		{"struct of floats without quantum", add("g.Input", specField{name: "look", base: tObj, ref: "g.Vec2"}), "g.Input", "look.x", "quantum"},
		{"predict without its velocity", setAttrs("g.Ship", "x", AttrPredict, "vz"), "g.Ship", "x", `no field "vz"`},
		{"predict from a string", setAttrs("g.Ship", "x", AttrPredict, "name"), "g.Ship", "x", "numeric"},
		{"predict from an enum", setAttrs("g.Ship", "x", AttrPredict, "team"), "g.Ship", "x", "numeric"},
		{"predict of a struct from a scalar", setAttrs("g.Ship", "pos", AttrQuantum, "0.01", AttrPredict, "vx"), "g.Ship", "pos", "2 values predicted from 1"},
		{"predict itself", setAttrs("g.Ship", "x", AttrPredict, "x"), "g.Ship", "x", "own velocity"},
		{"predict on an input", setAttrs("g.Input", "move", AttrPredict, "fire"), "g.Input", "move", "entity fields only"},
		{"owner_only on an input", setAttrs("g.Input", "fire", AttrOwnerOnly, "0"), "g.Input", "fire", "entity fields only"},
		{"vector of tables in an entity", add("g.Ship", specField{name: "crew", base: tVector, element: tObj, ref: "g.Say"}), "g.Ship", "crew", "vector of tables"},
		{"vector of structs", add("g.Ship", specField{name: "path", base: tVector, element: tObj, ref: "g.Vec2"}), "g.Ship", "path", "vector of structs"},
		{"vector of strings", add("g.Input", specField{name: "words", base: tVector, element: tString}), "g.Input", "words", "vector of strings"},
		{"vector of ints", add("g.Input", specField{name: "ids", base: tVector, element: tInt}), "g.Input", "ids", "vector of int32"},
		{"vector of enums", add("g.Input", specField{name: "teams", base: tVector, element: tUByte, ref: "g.Team"}), "g.Input", "teams", "vector of enums"},
		{"union in an entity", add("g.Ship", specField{name: "cargo", base: tUnion, ref: "g.Event"}), "g.Ship", "cargo", "union"},
		{"nested table in an input", add("g.Input", specField{name: "say", base: tObj, ref: "g.Say"}), "g.Input", "say", "nested table"},
		{"range lo above hi", setAttrs("g.Input", "move", AttrRange, "5..1"), "g.Input", "move", "lo above hi"},
		{"range beyond the type", setAttrs("g.Input", "move", AttrRange, "0..300"), "g.Input", "move", "outside what a int8 holds"},
		{"range not numbers", setAttrs("g.Input", "move", AttrRange, "a..b"), "g.Input", "move", "integers"},
		{"range without dots", setAttrs("g.Input", "move", AttrRange, "1-2"), "g.Input", "move", `"lo..hi"`},
		{"range on a bool", setAttrs("g.Input", "fire", AttrRange, "0..1"), "g.Input", "fire", "does not apply to a bool"},
		{"range on an enum", setAttrs("g.Ship", "team", AttrRange, "0..0"), "g.Ship", "team", "does not apply to an enum"},
		{"default beyond the type", func(s *specSchema) { s.obj("g.Input").field("move").defInt = 300 }, "g.Input", "move", "outside what a int8 holds"},
		{"bool default 2", func(s *specSchema) { s.obj("g.Input").field("fire").defInt = 2 }, "g.Input", "fire", "outside what a bool holds"},
		{"empty structs nested wide and deep", func(s *specSchema) {
			// S0 is empty (one byte, no fields), S1 holds 64 S0, S2 64 S1;
			// three entities hold 7 S2 each: 87,000 field visits.
			s.objects = append(s.objects, specObject{name: "g.S0", isStruct: true, minalign: 1, bytesize: 1})
			for k := 1; k <= 2; k++ {
				size := int32(1) << (6 * k)
				o := specObject{name: fmt.Sprintf("g.S%d", k), isStruct: true, minalign: 1, bytesize: size}
				for j := range 64 {
					o.fields = append(o.fields, specField{name: fmt.Sprintf("f%d", j), id: uint16(j), offset: uint16(j * int(size) / 64), base: tObj, ref: fmt.Sprintf("g.S%d", k-1)})
				}
				s.objects = append(s.objects, o)
			}
			for e := 2; e <= 4; e++ {
				var fields []specField
				for j := range 7 {
					fields = append(fields, specField{name: fmt.Sprintf("big%d", j), base: tObj, ref: "g.S2"})
				}
				s.objects = append(s.objects, tbl(fmt.Sprintf("g.Big%d", e), attr(AttrEntity, fmt.Sprint(e)), fields...))
			}
		}, "g.Big4", "big1.f47.f53", "too complex"},
		{"float range too wide for its quantum", setAttrs("g.Ship", "pos", AttrQuantum, "1e-300", AttrRange, "-1e10..1e10"), "g.Ship", "pos.x", "2^53"},
		{"quantum zero", setAttrs("g.Ship", "vel", AttrQuantum, "0"), "g.Ship", "vel.x", "positive"},
		{"quantum negative", setAttrs("g.Ship", "vel", AttrQuantum, "-0.5"), "g.Ship", "vel.x", "positive"},
		{"quantum not a number", setAttrs("g.Ship", "vel", AttrQuantum, "fine"), "g.Ship", "vel.x", "positive"},
		{"quantum on a string", setAttrs("g.Ship", "name", AttrQuantum, "1"), "g.Ship", "name", "numeric fields"},
		{"quantum on an enum", setAttrs("g.Ship", "team", AttrQuantum, "1"), "g.Ship", "team", "enum"},
		{"max_len on an int", setAttrs("g.Ship", "vx", AttrMaxLen, "3"), "g.Ship", "vx", "strings and [ubyte]"},
		{"max_len zero", setAttrs("g.Ship", "name", AttrMaxLen, "0"), "g.Ship", "name", "1..65536"},
		{"max_len huge", setAttrs("g.Ship", "name", AttrMaxLen, "100000"), "g.Ship", "name", "1..65536"},
		{"optional scalar", func(s *specSchema) { s.obj("g.Input").field("move").optional = true }, "g.Input", "move", "optional"},
		{"fixed-size array in a struct", func(s *specSchema) {
			s.objects[0].fields[1].base = tArray
		}, "g.Ship", "pos.y", "fixed-size array"},
		{"struct leaf outside its struct", func(s *specSchema) { s.objects[0].fields[1].offset = 6 }, "g.Ship", "pos.y", "outside, misaligned or overlapping"},
		{"struct leaves overlapping", func(s *specSchema) { s.objects[0].fields[1].offset = 0 }, "g.Ship", "pos.y", "overlapping"},
		{"field id too large", func(s *specSchema) { f := s.obj("g.Input").field("fire"); f.id, f.offset = 5000, 4+2*5000 }, "g.Input", "fire", "ids below 4096"},
		{"struct containing itself", func(s *specSchema) {
			s.objects[0].fields = []specField{{name: "y", base: tObj, ref: "g.Vec2"}}
		}, "g.Ship", "pos.y.y.y.y.y.y.y.y", "deeper"},
		{"field id and vtable offset disagree", func(s *specSchema) { s.obj("g.Input").field("fire").offset = 40 }, "g.Input", "fire", "vtable offset"},
		{"duplicate field id", func(s *specSchema) { f := s.obj("g.Input").field("fire"); f.id, f.offset = 0, 4 }, "g.Input", "fire", "id 0 already used"},
		{"enum index out of range", func(s *specSchema) { s.obj("g.Ship").field("team").ref = "g.Nope" }, "g.Ship", "team", "enum index"},
		{"union used as an enum", func(s *specSchema) { s.obj("g.Ship").field("team").ref = "g.Event" }, "g.Ship", "team", "is a union"},
		{"two input tables", func(s *specSchema) { s.obj("g.Join").attrs = attr(AttrInput, "0") }, "g.Join", "", "second table marked"},
		{"two roles on one table", func(s *specSchema) { s.obj("g.Join").attrs = attr(AttrJoin, "0", AttrEntity, "2") }, "g.Join", "", "both"},
		{"duplicate entity kind", func(s *specSchema) { s.obj("g.Join").attrs = attr(AttrEntity, "1") }, "g.Join", "", "kind 1 already used"},
		{"entity kind zero", func(s *specSchema) { s.obj("g.Ship").attrs = attr(AttrEntity, "0") }, "g.Ship", "", "1..65535"},
		{"entity kind not a number", func(s *specSchema) { s.obj("g.Ship").attrs = attr(AttrEntity, "ship") }, "g.Ship", "", "1..65535"},
		{"entity kind too large", func(s *specSchema) { s.obj("g.Ship").attrs = attr(AttrEntity, "70000") }, "g.Ship", "", "1..65535"},
		{"unknown ticksync attribute", func(s *specSchema) { s.obj("g.Ship").attrs = attr("ticksync_entiti", "1") }, "g.Ship", "", "unknown attribute"},
		{"events neither client nor server", func(s *specSchema) { s.obj("g.Events").attrs = attr(AttrEvents, "both") }, "g.Events", "", `"client" or "server"`},
		{"events wrapper with another field", add("g.Events", sf("when", tUInt)), "g.Events", "when", "only its union"},
		{"events wrapper without a union", func(s *specSchema) { s.obj("g.Events").fields = nil }, "g.Events", "", "exactly one union"},
		{"event union holding a struct", func(s *specSchema) { s.enums[1].values[1].table = "g.Vec2" }, "g.Event", "Say", "tables only"},
		{"event union numbered with a gap", func(s *specSchema) { s.enums[1].values[1].value = 3 }, "g.Event", "Say", "numbered"},
		{"event table also the join", func(s *specSchema) { s.enums[1].values[1].table = "g.Join" }, "g.Join", "", "cannot also be"},
		{"struct marked as entity", func(s *specSchema) { s.objects[0].attrs = attr(AttrEntity, "2") }, "g.Vec2", "", "marks a table"},
		{"no namespace", func(s *specSchema) { s.obj("g.Input").name = "Input" }, "Input", "", "namespace"},
		{"marked tables in two namespaces", func(s *specSchema) { s.obj("g.Join").name = "h.Join" }, "h.Join", "", "namespace"},
		{"match_key on an input", setAttrs("g.Input", "move", AttrRange, "-100..100", AttrMatchKey, "0"), "g.Input", "move", "(ticksync_join) table only"},
		{"match_key on an entity", setAttrs("g.Ship", "vx", AttrMatchKey, "0"), "g.Ship", "vx", "(ticksync_join) table only"},
		{"match_key inside a struct", func(s *specSchema) { s.objects[0].fields[1].attrs = attr(AttrMatchKey, "0") }, "g.Ship", "pos.y", "not inside the struct"},
		{"no input", func(s *specSchema) { s.obj("g.Input").attrs = nil }, "", "", "no table marked (ticksync_input)"},
		{"no entity", func(s *specSchema) { s.obj("g.Ship").attrs = nil }, "", "", "no table marked (ticksync_entity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := baseSpec()
			c.mutate(s)
			_, err := Load(s.bytes())
			if err == nil {
				t.Fatal("loaded")
			}
			if !errors.Is(err, ErrBadSchema) {
				t.Fatalf("%v does not wrap ErrBadSchema", err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
			var se *SchemaError
			if c.table == "" {
				return
			}
			if !errors.As(err, &se) {
				t.Fatalf("%v is not a *SchemaError", err)
			}
			if se.Table != c.table || se.Field != c.field {
				t.Errorf("error names %s.%s, want %s.%s: %v", se.Table, se.Field, c.table, c.field, err)
			}
		})
	}
}

// TestLoadDamaged: damaged .bfbs files are refused with ErrBadSchema and
// ErrMalformed, never a panic.
func TestLoadDamaged(t *testing.T) {
	good, err := os.ReadFile("testdata/cards.bfbs")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":           nil,
		"short":           good[:7],
		"truncated":       good[:len(good)/2],
		"not a schema":    append([]byte{8, 0, 0, 0, 'T', 'S', 'Y', '1'}, good[8:]...),
		"root past end":   append([]byte{0xf0, 0xff, 0, 0}, good[4:]...),
		"misaligned root": append([]byte{good[0] + 1, good[1], good[2], good[3]}, good[4:]...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(b)
			if !errors.Is(err, ErrBadSchema) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v: want ErrBadSchema and ErrMalformed", err)
			}
		})
	}
	// Every truncation and a change of every byte: no panic. (FuzzLoad
	// goes further.)
	for n := range len(good) {
		Load(good[:n])
	}
	b := bytes.Clone(good)
	for i := range b {
		old := b[i]
		b[i] ^= byte(0xff >> (i % 8))
		Load(b)
		b[i] = old
	}
}
