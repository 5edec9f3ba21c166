package gameschema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// canonical writes the canonical text of s, the input of Schema.Hash. It
// holds everything that decides the bytes on the wire and their meaning, and
// nothing else: no comments, file names, unmarked tables or attributes
// ticksync does not read. Its format is described in schema/DESIGN.md; keep
// the two in step, and bump the version line when it changes.
func canonical(s *Schema) string {
	var b strings.Builder
	b.WriteString("ticksync-schema 1\n")
	fmt.Fprintf(&b, "name %s\n", s.Name)
	enums := map[string]*Enum{}
	table := func(t *Table) {
		fmt.Fprintf(&b, "table %s %s %d slots=%d\n", t.Name, t.Role, t.Kind, t.NumSlots)
		for i := range t.Fields {
			f := &t.Fields[i]
			fmt.Fprintf(&b, "  %d %s %s id=%d", f.Index, f.Name, f.Type, f.ID)
			if f.Struct != 0 {
				fmt.Fprintf(&b, " struct=%d align=%d off=%d", f.Struct, f.Align, f.Offset)
			}
			if f.Enum != nil {
				fmt.Fprintf(&b, " enum=%s", f.Enum.Name)
				enums[f.Enum.Name] = f.Enum
			}
			switch {
			case f.Type == String || f.Type == Bytes:
				fmt.Fprintf(&b, " max_len=%d", f.MaxLen)
				if f.Required {
					b.WriteString(" required")
				}
			case f.Type.IsFloat():
				fmt.Fprintf(&b, " default=%s", fmtFloat(f.DefaultFloat))
				if f.HasRange {
					fmt.Fprintf(&b, " range=%s..%s", fmtFloat(f.FMin), fmtFloat(f.FMax))
				}
			case f.Type == Uint64:
				fmt.Fprintf(&b, " default=%d", uint64(f.DefaultInt))
				if f.HasRange {
					fmt.Fprintf(&b, " range=%d..%d", f.UMin, f.UMax)
				}
			default:
				fmt.Fprintf(&b, " default=%d", f.DefaultInt)
				if f.HasRange {
					fmt.Fprintf(&b, " range=%d..%d", f.Min, f.Max)
				}
			}
			if f.Quantum != 0 {
				fmt.Fprintf(&b, " quantum=%s", fmtFloat(f.Quantum))
			}
			if f.Predict >= 0 {
				fmt.Fprintf(&b, " predict=%d", f.Predict)
			}
			if f.OwnerOnly {
				b.WriteString(" owner_only")
			}
			if f.MatchKey {
				b.WriteString(" match_key")
			}
			b.WriteByte('\n')
		}
	}
	for _, t := range s.Entities {
		table(t)
	}
	table(s.Input)
	if s.Join != nil {
		table(s.Join)
	}
	for _, ev := range []struct {
		dir string
		e   *Events
	}{{"client", s.ClientEvents}, {"server", s.ServerEvents}} {
		if ev.e == nil {
			continue
		}
		fmt.Fprintf(&b, "events %s %s %s type=%d value=%d\n", ev.dir, ev.e.Wrapper, ev.e.Union, ev.e.typeSlot, ev.e.valueSlot)
		for _, t := range ev.e.Tables {
			table(t)
		}
	}
	names := make([]string, 0, len(enums))
	for n := range enums {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		e := enums[n]
		fmt.Fprintf(&b, "enum %s %s", e.Name, e.Type)
		if e.BitFlags {
			b.WriteString(" bit_flags")
		}
		for _, v := range e.Values {
			fmt.Fprintf(&b, " %s=%d", v.Name, v.Value)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// fmtFloat formats a float as the shortest decimal that reads back exactly.
func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
