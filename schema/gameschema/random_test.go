package gameschema

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/internal/reflection"
)

// Random schemas and random values for them, for the property tests and
// the fuzz targets. randomSpec only makes schemas Load must accept;
// randValues only makes values Verify must accept.

var intBases = []reflection.BaseType{tByte, tUByte, tShort, tUShort, tInt, tUInt, tLong, tULong}

// baseLimits returns the bounds of an integer base type that the generator
// uses (all of them but the top half of ulong).
func baseLimits(bt reflection.BaseType) (lo, hi int64) {
	return scalarType(bt).limits()
}

// randBound returns an integer of the type, biased to small values and the
// type's ends.
func randBound(rng *rand.Rand, lo, hi int64) int64 {
	switch rng.IntN(4) {
	case 0:
		return lo
	case 1:
		return hi
	case 2:
		return max(lo, min(hi, rng.Int64N(41)-20))
	}
	return randIn(rng, lo, hi)
}

var quanta = []string{"0.5", "0.01", "0.0625", "1", "0.001", "2"}

func randomSpec(rng *rand.Rand) *specSchema {
	s := &specSchema{}
	// Enums.
	for i := range rng.IntN(4) {
		bt := intBases[rng.IntN(len(intBases))]
		lo, hi := baseLimits(bt)
		e := specEnum{name: fmt.Sprintf("r.E%d", i), underlying: bt}
		n := 1 + rng.IntN(6)
		seen := map[int64]bool{}
		switch rng.IntN(3) {
		case 0: // contiguous
			start := max(lo, min(hi-int64(n), rng.Int64N(21)-10))
			for k := range n {
				seen[start+int64(k)] = true
			}
		case 1: // bit flags
			for k := range min(n, 7) {
				seen[1<<k] = true
			}
		default: // sparse
			for range n {
				seen[max(lo, min(hi, rng.Int64N(201)-100))] = true
			}
		}
		for x := range seen {
			e.values = append(e.values, specEnumVal{name: "V" + strconv.FormatInt(x+1000, 10), value: x})
		}
		slices.SortFunc(e.values, func(a, b specEnumVal) int { return int(a.value - b.value) })
		s.enums = append(s.enums, e)
	}
	// Structs, each possibly holding the one before.
	for i := range rng.IntN(3) {
		var fields []specField
		for k := range 1 + rng.IntN(4) {
			f := specField{name: fmt.Sprintf("s%d", k)}
			switch x := rng.IntN(10); {
			case x < 2:
				f.base = []reflection.BaseType{tFloat, tDouble}[rng.IntN(2)]
				if rng.IntN(2) == 0 {
					f.attrs = attr(AttrQuantum, quanta[rng.IntN(len(quanta))])
				}
			case x < 3:
				f.base = tBool
			case x < 4 && i > 0:
				f.base, f.ref = tObj, fmt.Sprintf("r.S%d", i-1)
			default:
				f.base = intBases[rng.IntN(len(intBases))]
			}
			fields = append(fields, f)
		}
		s.objects = append(s.objects, s.strct(fmt.Sprintf("r.S%d", i), fields...))
	}
	nStructs := len(s.objects)
	table := func(name string, attrs []kv, entity bool) {
		var fields []specField
		for k := range rng.IntN(9) {
			fields = append(fields, s.randomField(rng, fmt.Sprintf("f%d", k), nStructs, entity))
		}
		if entity && rng.IntN(3) == 0 {
			fields = append(fields,
				specField{name: "p", base: tInt, attrs: attr(AttrPredict, "v", AttrQuantum, "0.0625")},
				specField{name: "v", base: tShort})
		}
		s.objects = append(s.objects, tbl(name, attrs, fields...))
	}
	kinds := map[int]bool{}
	for i := range 1 + rng.IntN(3) {
		k := 1 + rng.IntN(65535)
		for kinds[k] {
			k = 1 + rng.IntN(65535)
		}
		kinds[k] = true
		table(fmt.Sprintf("r.Entity%d", i), attr(AttrEntity, strconv.Itoa(k)), true)
	}
	table("r.Input", attr(AttrInput, "0"), false)
	if rng.IntN(2) == 0 {
		table("r.Join", attr(AttrJoin, "0"), false)
		if j := &s.objects[len(s.objects)-1]; len(j.fields) > 0 {
			// The first join field is a matchmaking key (no draw: the
			// rest of the schema stays what the seed made before).
			j.fields[0].attrs = append(j.fields[0].attrs, kv{AttrMatchKey, "0"})
		}
	}
	for _, dir := range []string{"client", "server"} {
		if rng.IntN(3) == 0 {
			continue
		}
		u := specEnum{name: "r.U" + dir, isUnion: true, values: []specEnumVal{{"NONE", 0, ""}}}
		for i := range 1 + rng.IntN(3) {
			name := fmt.Sprintf("r.Ev%s%d", dir, i)
			table(name, nil, false)
			u.values = append(u.values, specEnumVal{name: name[2:], value: int64(i + 1), table: name})
		}
		s.enums = append(s.enums, u)
		s.objects = append(s.objects, tbl("r.Wrap"+dir, attr(AttrEvents, dir), specField{name: "event", base: tUnion, ref: u.name}))
	}
	return s
}

// randomField makes one valid table field.
func (s *specSchema) randomField(rng *rand.Rand, name string, nStructs int, entity bool) specField {
	f := specField{name: name}
	var pairs []string
	switch x := rng.IntN(20); {
	case x < 7:
		f.base = intBases[rng.IntN(len(intBases))]
		lo, hi := baseLimits(f.base)
		if rng.IntN(2) == 0 {
			a, b := randBound(rng, lo, hi), randBound(rng, lo, hi)
			a, b = min(a, b), max(a, b)
			pairs = append(pairs, AttrRange, fmt.Sprintf("%d..%d", a, b))
		}
		if rng.IntN(4) == 0 {
			f.defInt = randBound(rng, lo, hi) // may fall outside the range
		}
		if rng.IntN(5) == 0 {
			pairs = append(pairs, AttrQuantum, quanta[rng.IntN(len(quanta))])
		}
	case x < 9:
		f.base = tBool
		f.defInt = rng.Int64N(2)
	case x < 11:
		f.base = []reflection.BaseType{tFloat, tDouble}[rng.IntN(2)]
		pairs = append(pairs, AttrQuantum, quanta[rng.IntN(len(quanta))])
		if rng.IntN(2) == 0 {
			a, b := float64(rng.IntN(4001)-2000)/2, float64(rng.IntN(4001)-2000)/2
			pairs = append(pairs, AttrRange, fmtFloat(min(a, b))+".."+fmtFloat(max(a, b)))
		}
		if rng.IntN(4) == 0 {
			f.defReal = float64(rng.IntN(201)-100) / 4
		}
	case x < 13 && s.numEnums() > 0:
		e := s.enums[rng.IntN(s.numEnums())]
		f.base, f.ref = e.underlying, e.name
		f.defInt = e.values[0].value
		if e.values[0].value == 1 { // bit flags: 0 is valid too
			f.defInt = 0
		}
	case x < 15:
		f.base = tString
		f.required = rng.IntN(5) == 0
		if rng.IntN(2) == 0 {
			pairs = append(pairs, AttrMaxLen, strconv.Itoa(1+rng.IntN(40)))
		}
	case x < 17:
		f.base, f.element = tVector, []reflection.BaseType{tByte, tUByte}[rng.IntN(2)]
		if rng.IntN(2) == 0 {
			pairs = append(pairs, AttrMaxLen, strconv.Itoa(1+rng.IntN(40)))
		}
	case x < 19 && nStructs > 0:
		st := s.objects[rng.IntN(nStructs)]
		f.base, f.ref = tObj, st.name
		// A quantum on the field covers float leaves without their own.
		pairs = append(pairs, AttrQuantum, quanta[rng.IntN(len(quanta))])
	default:
		f.base, f.deprecated = intBases[rng.IntN(len(intBases))], true
	}
	if entity && rng.IntN(5) == 0 {
		pairs = append(pairs, AttrOwnerOnly, "0")
	}
	f.attrs = attr(pairs...)
	return f
}

func (s *specSchema) numEnums() int {
	n := 0
	for _, e := range s.enums {
		if !e.isUnion {
			n++
		}
	}
	return n
}

// randValues sets v to random values valid for t.
func randValues(rng *rand.Rand, t *Table, v *Values) {
	v.Reset(t)
	v.Randomize(rng)
}

// sameValues reports the first field where a and b differ.
func sameValues(a, b *Values) error {
	if a.Table != b.Table {
		return fmt.Errorf("table %s, want %s", b.Table.Name, a.Table.Name)
	}
	for i := range a.Table.Fields {
		f := &a.Table.Fields[i]
		if f.Type == String || f.Type == Bytes {
			if !bytes.Equal(a.Bytes(i), b.Bytes(i)) {
				return fmt.Errorf("%s: %q, want %q", f.Name, b.Bytes(i), a.Bytes(i))
			}
		} else if f.Type.IsFloat() {
			if a.Float(i) != b.Float(i) { // -0 and 0 are the same value
				return fmt.Errorf("%s: %v, want %v", f.Name, b.Float(i), a.Float(i))
			}
		} else if a.nums[i] != b.nums[i] {
			return fmt.Errorf("%s: %#x, want %#x", f.Name, b.nums[i], a.nums[i])
		}
	}
	return nil
}

// target is one kind of buffer a schema describes: a table at the root, or
// an event in its wrapper.
type target struct {
	name  string
	table *Table  // root table, or the event's member
	ev    *Events // non-nil for events
}

func targets(s *Schema) []target {
	var out []target
	for _, t := range s.Entities {
		out = append(out, target{name: t.Name, table: t})
	}
	out = append(out, target{name: s.Input.Name, table: s.Input})
	if s.Join != nil {
		out = append(out, target{name: s.Join.Name, table: s.Join})
	}
	for _, e := range []*Events{s.ClientEvents, s.ServerEvents} {
		if e == nil {
			continue
		}
		for _, t := range e.Tables {
			out = append(out, target{name: e.Wrapper + "/" + t.Name, table: t, ev: e})
		}
	}
	return out
}

func (tg target) build(b *flatbuffers.Builder, v *Values) []byte {
	b.Reset()
	if tg.ev != nil {
		b.Finish(tg.ev.Build(b, v))
	} else {
		b.Finish(tg.table.Build(b, v))
	}
	return b.FinishedBytes()
}

func (tg target) decode(buf []byte, v *Values) error {
	if tg.ev != nil {
		t, err := tg.ev.Decode(buf, v)
		if err == nil && t.Kind != v.Table.Kind {
			return fmt.Errorf("event decoded as %s", t.Name)
		}
		return err
	}
	return tg.table.Decode(buf, v)
}

// decodeAny decodes buf as the target's root: for an event target, as any
// member of its union.
func (tg target) decodeAny(buf []byte, v *Values) error {
	if tg.ev != nil {
		_, err := tg.ev.Decode(buf, v)
		return err
	}
	return tg.table.Decode(buf, v)
}

// roundTrip checks that values decoded from an accepted buffer build into a
// buffer that decodes to the same values.
func roundTrip(tg target, v *Values, b *flatbuffers.Builder) error {
	var again Values
	if v.Table != tg.table && tg.ev != nil {
		tg.table = v.Table
	}
	buf := tg.build(b, v)
	if err := tg.decodeAny(buf, &again); err != nil {
		return fmt.Errorf("rebuilt buffer refused: %w", err)
	}
	return sameValues(v, &again)
}

// TestRandomSchemas: random schemas load; random valid values build into
// buffers that verify and decode to the same values; random mutations of
// those buffers and of the schema file never panic, and whatever a mutated
// buffer decodes to rebuilds into a buffer that decodes the same.
func TestRandomSchemas(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	b := flatbuffers.NewBuilder(256)
	var v, got Values
	for seed := range uint64(n) {
		rng := rand.New(rand.NewPCG(seed, 7))
		bfbs := randomSpec(rng).bytes()
		s, err := Load(bfbs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, tg := range targets(s) {
			for range 4 {
				randValues(rng, tg.table, &v)
				buf := tg.build(b, &v)
				if err := tg.decode(buf, &got); err != nil {
					t.Fatalf("seed %d %s: built buffer refused: %v", seed, tg.name, err)
				}
				if err := sameValues(&v, &got); err != nil {
					t.Fatalf("seed %d %s: %v", seed, tg.name, err)
				}
				buf = bytes.Clone(buf)
				for range 16 {
					m := mutate(rng, buf)
					if tg.decodeAny(m, &got) == nil {
						if err := roundTrip(tg, &got, flatbuffers.NewBuilder(64)); err != nil {
							t.Fatalf("seed %d %s: mutated buffer %x accepted, but: %v", seed, tg.name, m, err)
						}
					}
				}
			}
		}
		for range 8 {
			Load(mutate(rng, bfbs))
		}
	}
}

// mutate returns a copy of buf with a few random changes.
func mutate(rng *rand.Rand, buf []byte) []byte {
	m := bytes.Clone(buf)
	for range 1 + rng.IntN(3) {
		if len(m) == 0 {
			break
		}
		switch rng.IntN(6) {
		case 0:
			m = m[:rng.IntN(len(m))]
		case 1:
			i := rng.IntN(len(m))
			m[i] = byte(rng.Uint32())
		case 2:
			i := rng.IntN(len(m))
			m[i] ^= 1 << rng.IntN(8)
		default:
			i := rng.IntN(len(m))
			m[i] = []byte{0, 1, 0x7f, 0x80, 0xff, 4, 8}[rng.IntN(7)]
		}
	}
	return m
}
