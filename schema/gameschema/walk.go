package gameschema

import (
	"math"
	"unicode/utf8"
)

// The game-buffer verifier. One walk over a table's flattened fields both
// verifies and (when given Values) decodes, so what is checked and what is
// read cannot drift apart. For each leaf it checks the table field's
// position (reader.field: in the table, aligned), then the value: bools 0 or
// 1, enum members (or, for bit_flags, known bits), the declared range,
// floats finite, strings valid UTF-8 within MaxLen, byte vectors within
// MaxLen, required fields present. Game tables nest at most two deep (an
// event wrapper and its member) because Load admits no nested tables, so the
// walk needs no depth counter. Fields a newer schema appends are ignored, as
// FlatBuffers' versioning rules require.

// Verify checks that buf is a well-formed buffer whose root is t, with every
// value within the schema's rules. It allocates nothing when buf is valid.
// An error wraps ErrMalformed or ErrOutOfRange.
func (t *Table) Verify(buf []byte) error {
	r := reader{buf: buf}
	root, err := r.root(t.Name)
	if err != nil {
		return err
	}
	return r.walk(t, root, nil)
}

// Decode verifies buf as Verify does and reads its fields into v, which is
// reset to t. Bytes and string values alias buf. It allocates nothing once
// v has held a table of as many fields. On error v is left reset to t with
// unspecified values.
func (t *Table) Decode(buf []byte, v *Values) error {
	v.Reset(t)
	r := reader{buf: buf}
	root, err := r.root(t.Name)
	if err != nil {
		return err
	}
	return r.walk(t, root, v)
}

// Verify checks that buf is a well-formed event buffer (root: the wrapper
// table, holding one member of the union) and returns the member's table.
func (e *Events) Verify(buf []byte) (*Table, error) { return e.decode(buf, nil) }

// Decode verifies buf as Verify does and reads the event's fields into v,
// which is reset to the member table that is returned.
func (e *Events) Decode(buf []byte, v *Values) (*Table, error) { return e.decode(buf, v) }

func (e *Events) decode(buf []byte, v *Values) (*Table, error) {
	r := reader{buf: buf}
	root, err := r.root(e.Wrapper)
	if err != nil {
		return nil, err
	}
	w, err := r.table(root, e.Wrapper)
	if err != nil {
		return nil, err
	}
	tp, err := r.field(&w, e.typeSlot, 1, 1, e.Wrapper)
	if err != nil {
		return nil, err
	}
	vp, err := r.field(&w, e.valueSlot, 4, 4, e.Wrapper)
	if err != nil {
		return nil, err
	}
	var typ int
	if tp != 0 {
		typ = int(buf[tp])
	}
	switch {
	case typ == 0 && vp != 0:
		return nil, malformed("%s: event present with type NONE", e.Wrapper)
	case typ == 0:
		return nil, malformed("%s: no event", e.Wrapper)
	case typ > len(e.Tables):
		return nil, malformed("%s: unknown event type %d (known 1..%d)", e.Wrapper, typ, len(e.Tables))
	case vp == 0:
		return nil, malformed("%s: event type %d without a value", e.Wrapper, typ)
	}
	pos, err := r.ref(vp, e.Wrapper)
	if err != nil {
		return nil, err
	}
	t := e.Tables[typ-1]
	if v != nil {
		v.Reset(t)
	}
	return t, r.walk(t, pos, v)
}

// VerifyInput verifies buf as the game's input table (see Table.Verify).
func (s *Schema) VerifyInput(buf []byte) error { return s.Input.Verify(buf) }

// DecodeInput verifies buf as the game's input table and reads it into v.
func (s *Schema) DecodeInput(buf []byte, v *Values) error { return s.Input.Decode(buf, v) }

// VerifyEvent verifies buf as a client→server event and returns its table.
func (s *Schema) VerifyEvent(buf []byte) (*Table, error) {
	if s.ClientEvents == nil {
		return nil, malformed("%s: the game takes no events from clients", s.Name)
	}
	return s.ClientEvents.Verify(buf)
}

// DecodeEvent verifies buf as a client→server event and reads it into v.
func (s *Schema) DecodeEvent(buf []byte, v *Values) (*Table, error) {
	if s.ClientEvents == nil {
		return nil, malformed("%s: the game takes no events from clients", s.Name)
	}
	return s.ClientEvents.Decode(buf, v)
}

// VerifyServerEvent verifies buf as a server→client event (clients run it on
// what a server sends) and returns its table.
func (s *Schema) VerifyServerEvent(buf []byte) (*Table, error) {
	if s.ServerEvents == nil {
		return nil, malformed("%s: the game sends no events", s.Name)
	}
	return s.ServerEvents.Verify(buf)
}

// DecodeServerEvent verifies buf as a server→client event and reads it into v.
func (s *Schema) DecodeServerEvent(buf []byte, v *Values) (*Table, error) {
	if s.ServerEvents == nil {
		return nil, malformed("%s: the game sends no events", s.Name)
	}
	return s.ServerEvents.Decode(buf, v)
}

// VerifyJoin verifies a Hello's join payload. An empty payload is valid
// when the join table has no required field (it decodes to the defaults),
// and is the only valid payload of a game without a join table.
func (s *Schema) VerifyJoin(buf []byte) error {
	return s.DecodeJoin(buf, nil)
}

// DecodeJoin verifies a join payload as VerifyJoin does and, when v is not
// nil, reads it into v.
func (s *Schema) DecodeJoin(buf []byte, v *Values) error {
	if s.Join == nil {
		if len(buf) != 0 {
			return malformed("%s: the game takes no join payload", s.Name)
		}
		return nil
	}
	if len(buf) == 0 {
		if v != nil {
			v.Reset(s.Join)
		}
		for i := range s.Join.Fields {
			f := &s.Join.Fields[i]
			if f.Required {
				return malformed("%s: required field missing", f.path)
			}
			if f.defaultBad {
				return outOfRange("%s: absent, and its default is outside its range", f.path)
			}
			if v != nil {
				v.setDefault(f)
			}
		}
		return nil
	}
	if v == nil {
		return s.Join.Verify(buf)
	}
	return s.Join.Decode(buf, v)
}

// walk verifies (and, with v, decodes) the table t at pos.
func (r *reader) walk(t *Table, pos uint32, v *Values) error {
	tb, err := r.table(pos, t.Name)
	if err != nil {
		return err
	}
	for i := range t.Fields {
		f := &t.Fields[i]
		size := uint32(f.Struct)
		if size == 0 {
			size = uint32(f.Type.Size())
		}
		p, err := r.field(&tb, uint32(f.ID), size, uint32(f.Align), f.path)
		if err != nil {
			return err
		}
		if p == 0 {
			if f.Required {
				return malformed("%s: required field missing", f.path)
			}
			if f.defaultBad {
				return outOfRange("%s: absent, and its default is outside its range", f.path)
			}
			if v != nil {
				v.setDefault(f)
			}
			continue
		}
		p += uint32(f.Offset)
		var bits uint64
		switch f.Type {
		case Bool:
			bits = uint64(r.buf[p])
			if bits > 1 {
				return outOfRange("%s: bool byte %d: must be 0 or 1", f.path, bits)
			}
		case Int8:
			bits = uint64(int64(int8(r.buf[p])))
		case Uint8:
			bits = uint64(r.buf[p])
		case Int16:
			bits = uint64(int64(int16(r.u16(p))))
		case Uint16:
			bits = uint64(r.u16(p))
		case Int32:
			bits = uint64(int64(int32(r.u32(p))))
		case Uint32:
			bits = uint64(r.u32(p))
		case Int64, Uint64:
			bits = r.u64(p)
		case Float32:
			x := float64(math.Float32frombits(r.u32(p)))
			if err := checkFloat(f, x); err != nil {
				return err
			}
			bits = math.Float64bits(x)
		case Float64:
			x := math.Float64frombits(r.u64(p))
			if err := checkFloat(f, x); err != nil {
				return err
			}
			bits = math.Float64bits(x)
		case String:
			s, err := r.str(p, f.path)
			if err != nil {
				return err
			}
			if len(s) > f.MaxLen {
				return outOfRange("%s: string of %d bytes: must be at most %d", f.path, len(s), f.MaxLen)
			}
			if !utf8.Valid(s) {
				return outOfRange("%s: string not valid UTF-8", f.path)
			}
			if v != nil {
				v.refs[i] = s
			}
			continue
		case Bytes:
			data, n, err := r.vector(p, 1, f.path)
			if err != nil {
				return err
			}
			if int(n) > f.MaxLen {
				return outOfRange("%s: %d bytes: must be at most %d", f.path, n, f.MaxLen)
			}
			if v != nil {
				v.refs[i] = r.buf[data : data+n : data+n]
			}
			continue
		}
		if f.Type == Uint64 {
			if f.HasRange && (bits < f.UMin || bits > f.UMax) {
				return outOfRange("%s: %d: must be %d..%d", f.path, bits, f.UMin, f.UMax)
			}
		} else if f.Type.IsInteger() {
			x := int64(bits)
			if f.HasRange && (x < f.Min || x > f.Max) {
				return outOfRange("%s: %d: must be %d..%d", f.path, x, f.Min, f.Max)
			}
		}
		if f.Enum != nil && !f.Enum.valid(int64(bits)) {
			return outOfRange("%s: %d is not a value of %s", f.path, int64(bits), f.Enum.Name)
		}
		if v != nil {
			v.nums[i] = bits
		}
	}
	return nil
}

func checkFloat(f *Field, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return outOfRange("%s: %v: must be finite", f.path, x)
	}
	if f.HasRange && (x < f.FMin || x > f.FMax) {
		return outOfRange("%s: %v: must be %v..%v", f.path, x, f.FMin, f.FMax)
	}
	return nil
}
