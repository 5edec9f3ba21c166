package gameschema

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ticksync/ticksync/schema/gamedelta"
)

// TestDeltaLayoutTestdata: the test games' layouts compile, kind i is
// Entities[i] and a field's Index is its codec index.
func TestDeltaLayoutTestdata(t *testing.T) {
	for _, name := range []string{"arena", "cards"} {
		t.Run(name, func(t *testing.T) {
			s := loadFile(t, name)
			l, err := s.DeltaLayout()
			if err != nil {
				t.Fatal(err)
			}
			c, err := gamedelta.Compile(l)
			if err != nil {
				t.Fatal(err)
			}
			if c.NumKinds() != len(s.Entities) {
				t.Fatalf("%d kinds, %d entity tables", c.NumKinds(), len(s.Entities))
			}
			for k, e := range s.Entities {
				if c.KindIndex(e.Name) != k || c.NumFields(k) != len(e.Fields) {
					t.Errorf("kind %d: %s at %d with %d fields, want %d", k, e.Name, c.KindIndex(e.Name), c.NumFields(k), len(e.Fields))
				}
				for _, f := range e.Fields {
					if got := c.FieldIndex(k, f.Name); got != f.Index {
						t.Errorf("%s.%s: codec index %d, schema index %d", e.Name, f.Name, got, f.Index)
					}
				}
			}
		})
	}
}

// TestDeltaLayoutMapping: each kind of leaf maps as documented.
func TestDeltaLayoutMapping(t *testing.T) {
	spec := baseSpec()
	o := spec.obj("g.Ship")
	o.fields = append(o.fields,
		specField{name: "hp", id: 20, offset: 44, base: tUByte, attrs: attr(AttrRange, "0..100")},
		specField{name: "alive", id: 21, offset: 46, base: tBool},
		specField{name: "heat", id: 22, offset: 48, base: tDouble, attrs: attr(AttrQuantum, "0.1", AttrRange, "-1.05..1.05")},
		specField{name: "big", id: 23, offset: 50, base: tULong, attrs: attr(AttrRange, "0..10")},
		specField{name: "blob", id: 24, offset: 52, base: tVector, element: tUByte, attrs: attr(AttrMaxLen, "9")},
	)
	s, err := Load(spec.bytes())
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.DeltaLayout()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gamedelta.Compile(l); err != nil {
		t.Fatal(err)
	}
	want := map[string]gamedelta.Field{
		"x":      {Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
		"vx":     {Name: "vx", Bits: 16, Signed: true},
		"team":   {Name: "team", Bits: 8},
		"pos.x":  {Name: "pos.x", Bits: 64, Signed: true, Velocity: "vel.x"},
		"vel.y":  {Name: "vel.y", Bits: 64, Signed: true},
		"name":   {Name: "name", Type: gamedelta.FieldBytes, MaxLen: 16},
		"secret": {Name: "secret", Bits: 32, OwnerOnly: true},
		"hp":     {Name: "hp", Bits: 8, Min: 0, Max: 100},
		"alive":  {Name: "alive", Bits: 1},
		"heat":   {Name: "heat", Bits: 64, Signed: true, Min: -11, Max: 11},
		"big":    {Name: "big", Bits: 64},
		"blob":   {Name: "blob", Type: gamedelta.FieldBytes, MaxLen: 9},
	}
	ship := s.Entity(1)
	if len(l.Kinds) != 1 || len(l.Kinds[0].Fields) != len(ship.Fields) {
		t.Fatalf("layout %+v", l)
	}
	for i, g := range l.Kinds[0].Fields {
		if g.Name != ship.Fields[i].Name {
			t.Errorf("field %d: %s, schema %s", i, g.Name, ship.Fields[i].Name)
		}
		if w, ok := want[g.Name]; ok && g != w {
			t.Errorf("%s: %+v, want %+v", g.Name, g, w)
		}
	}
	// Every value of the float range, rounded to quanta, is inside the
	// field's bounds.
	heat := ship.Field("heat")
	g := l.Kinds[0].Fields[heat.Index]
	for i := range 1001 {
		x := heat.FMin + (heat.FMax-heat.FMin)*float64(i)/1000
		if q := int64(math.Round(x / heat.Quantum)); q < g.Min || q > g.Max {
			t.Fatalf("heat %v: %d quanta outside %d..%d", x, q, g.Min, g.Max)
		}
	}
}

// TestDeltaLayoutRefuses: what the codec cannot carry is refused naming the
// table and field.
func TestDeltaLayoutRefuses(t *testing.T) {
	cases := []struct {
		name         string
		mutate       func(s *specSchema)
		table, field string
		reason       string
	}{
		{"owner-only velocity of a public field", func(s *specSchema) {
			s.obj("g.Ship").field("vx").attrs = attr(AttrOwnerOnly, "0")
		}, "g.Ship", "x", "owner_only"},
		{"too many fields", func(s *specSchema) {
			o := s.obj("g.Ship")
			for i := range 60 {
				o.fields = append(o.fields, specField{name: "f" + strings.Repeat("x", i+1), id: uint16(20 + i), offset: uint16(4 + 2*(20+i)), base: tUByte})
			}
		}, "g.Ship", "", "at most 63"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := baseSpec()
			c.mutate(spec)
			s, err := Load(spec.bytes())
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.DeltaLayout()
			var se *SchemaError
			if !errors.As(err, &se) || !errors.Is(err, ErrBadSchema) {
				t.Fatalf("error %v: want a *SchemaError", err)
			}
			if se.Table != c.table || se.Field != c.field || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q names %s.%s, want %s.%s saying %q", err, se.Table, se.Field, c.table, c.field, c.reason)
			}
		})
	}
}

// TestMatchKey: (match_key) marks join fields, struct leaves included, and
// is part of the hash.
func TestMatchKey(t *testing.T) {
	plain, err := Load(baseSpec().bytes())
	if err != nil {
		t.Fatal(err)
	}
	spec := baseSpec()
	j := spec.obj("g.Join")
	j.fields = append(j.fields,
		specField{name: "mode", id: 1, offset: 6, base: tUByte, attrs: attr(AttrMatchKey, "0")},
		specField{name: "spot", id: 2, offset: 8, base: tObj, ref: "g.Vec2", attrs: attr(AttrQuantum, "0.5", AttrMatchKey, "0")},
	)
	s, err := Load(spec.bytes())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, f := range s.Join.Fields {
		if f.MatchKey {
			keys = append(keys, f.Name)
		}
	}
	if got := strings.Join(keys, " "); got != "mode spot.x spot.y" {
		t.Errorf("match keys %q, want %q", got, "mode spot.x spot.y")
	}
	if !strings.Contains(s.Canonical(), " mode uint8 id=1 default=0 match_key\n") {
		t.Errorf("canonical text lacks the match key:\n%s", s.Canonical())
	}
	spec.obj("g.Join").field("mode").attrs = nil
	unkeyed, err := Load(spec.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if unkeyed.Hash == s.Hash || strings.Contains(plain.Canonical(), "match_key") {
		t.Error("match_key does not change the hash, or appears without being declared")
	}
}
