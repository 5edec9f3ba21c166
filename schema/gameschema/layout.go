package gameschema

import (
	"math"

	"github.com/ticksync/ticksync/schema/gamedelta"
)

// DeltaLayout maps the schema's entity kinds onto the delta codec's layout
// (schema/gamedelta): the one mapping the node, the Go client and
// clients/ts (layoutFromSchema) share, so that both ends compile the same
// codec from the same .bfbs.
//
//   - Kinds: s.Entities in order (ascending kind id); the wire's kind index
//     i is Entities[i], not the schema's kind id.
//   - Fields: the table's leaf fields in order, so that a Field's Index is
//     its gamedelta field index.
//   - Integers and enums: FieldInt of the type's width and sign; a declared
//     range (not on uint64) narrows it to Min..Max. A bool is an unsigned
//     1-bit int.
//   - Floats: FieldInt holding round(x / Quantum), signed 64-bit; a declared
//     range narrows it to floor(lo / Quantum)..ceil(hi / Quantum), which
//     holds the rounded quanta of every value in lo..hi.
//   - Strings and byte vectors: FieldBytes of their max_len.
//   - (predict: "v") names the velocity field; (owner_only) carries over.
//
// It refuses, with a *SchemaError naming the table and field, what the
// codec cannot carry: a kind of more than gamedelta.MaxFields leaves, a
// predicted field whose velocity is owner-only when it is not.
func (s *Schema) DeltaLayout() (gamedelta.Layout, error) {
	l := gamedelta.Layout{Kinds: make([]gamedelta.Kind, 0, len(s.Entities))}
	for _, t := range s.Entities {
		if len(t.Fields) > gamedelta.MaxFields {
			return gamedelta.Layout{}, schemaErr(t.Name, "", "%d fields (struct leaves counted): an entity kind carries at most %d", len(t.Fields), gamedelta.MaxFields)
		}
		k := gamedelta.Kind{Name: t.Name, Fields: make([]gamedelta.Field, 0, len(t.Fields))}
		for i := range t.Fields {
			f := &t.Fields[i]
			g := gamedelta.Field{Name: f.Name, OwnerOnly: f.OwnerOnly}
			if f.Predict >= 0 {
				v := &t.Fields[f.Predict]
				if v.OwnerOnly && !f.OwnerOnly {
					return gamedelta.Layout{}, schemaErr(t.Name, f.Name, "(%s: %q): the velocity is (%s) but the field is not: players who see the field could not predict it", AttrPredict, v.Name, AttrOwnerOnly)
				}
				g.Velocity = v.Name
			}
			switch {
			case f.Type == String || f.Type == Bytes:
				g.Type, g.MaxLen = gamedelta.FieldBytes, f.MaxLen
			case f.Type.IsFloat():
				g.Bits, g.Signed = 64, true
				if f.HasRange {
					g.Min, g.Max = int64(math.Floor(f.FMin/f.Quantum)), int64(math.Ceil(f.FMax/f.Quantum))
				}
			case f.Type == Bool:
				g.Bits = 1
			default:
				g.Bits = 8 * f.Type.Size()
				g.Signed = f.Type.IsSigned()
				if f.HasRange && f.Type != Uint64 {
					g.Min, g.Max = f.Min, f.Max
				}
			}
			k.Fields = append(k.Fields, g)
		}
		l.Kinds = append(l.Kinds, k)
	}
	return l, nil
}
