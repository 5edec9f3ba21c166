package schema

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// The verifier checks an untrusted buffer against our schema before any
// generated accessor reads it. It follows the checks of the C++ FlatBuffers
// Verifier, made stricter where our schema allows it:
//
//   - the buffer is at least 8 bytes and at most 2 GiB, with the file
//     identifier "TSY1" at bytes 4..8;
//   - the root uoffset is 4-aligned and points inside the buffer, past the
//     header;
//   - every table is 4-aligned and in bounds; its soffset leads to a 2-aligned
//     vtable inside the buffer whose length is even, at least 4 and within the
//     buffer; the table's inline size (from the vtable) is at least 4 and
//     within the buffer;
//   - every field we read has an offset of at least 4 (past the soffset), lies
//     with its whole size inside the table's inline size, and is aligned to
//     its size (relative to the buffer start, as flatbuffers builders lay
//     them out);
//   - every uoffset (string, vector, table, union) is non-zero, at most
//     MaxInt32 and points inside the buffer; vectors and strings are 4-aligned
//     and length*elemsize fits in the rest of the buffer without overflow;
//     strings are NUL-terminated;
//   - a union's type byte names a member we know; a member type without a
//     value, or a value with type NONE, is refused, and so is a message with
//     no body at all;
//   - nesting depth is bounded (our schema nests three tables deep:
//     message → snapshot → event);
//   - values are in range: Hello strings valid UTF-8 within their Max*Len,
//     schema hashes (Hello, Welcome) at most MaxSchemaHashLen lowercase hex
//     digits, a Snapshot's baseline_tick before its tick;
//   - the game's bytes are within their caps (Hello.join MaxJoinLen,
//     Input.data MaxInputDataLen, each Event.data MaxEventDataLen,
//     Snapshot.state MaxSnapshotState, Snapshot.events MaxSnapshotEvents);
//     every Event has data (a missing or empty one is malformed: an event is
//     one game event) and a seq of at least 1, and a Snapshot's events have
//     strictly ascending seqs. What the game's bytes contain is not checked
//     here: package gameschema verifies them against the game's schema.
//
// Fields a newer schema adds (vtable entries past the ones we know) are
// ignored, as FlatBuffers' versioning rules require.

// maxVerifyDepth bounds table nesting. Our schema nests three deep
// (message → snapshot → event); the bound keeps the walk finite whatever a
// later schema adds.
const maxVerifyDepth = 8

// verifier walks one buffer. It is a value on the caller's stack: verifying
// allocates nothing unless it fails.
type verifier struct {
	buf   []byte
	depth int
}

// vtable describes one table that passed the structural checks.
type vtable struct {
	pos   uint32 // absolute position of the table (its soffset)
	vt    uint32 // absolute position of its vtable
	vsize uint32 // vtable length in bytes
	tsize uint32 // inline size of the table in bytes, soffset included
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

func outOfRange(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrOutOfRange}, args...)...)
}

func (v *verifier) u16(p uint32) uint32 { return uint32(binary.LittleEndian.Uint16(v.buf[p:])) }
func (v *verifier) u32(p uint32) uint32 { return binary.LittleEndian.Uint32(v.buf[p:]) }

// root checks the header and returns the position of the root table.
func (v *verifier) root() (uint32, error) {
	n := len(v.buf)
	if n < 8 {
		return 0, malformed("buffer of %d bytes: shorter than 8", n)
	}
	if n > math.MaxInt32 {
		return 0, malformed("buffer of %d bytes: longer than 2 GiB", n)
	}
	if string(v.buf[4:8]) != FileIdentifier {
		return 0, malformed("file identifier %q: want %q", v.buf[4:8], FileIdentifier)
	}
	off := v.u32(0)
	if off%4 != 0 || off < 8 || uint64(off)+4 > uint64(n) {
		return 0, malformed("root offset %d: must be 4-aligned within 8..%d", off, n-4)
	}
	return off, nil
}

// table checks the table at pos and its vtable. The caller must call leave
// when done with the table's children.
func (v *verifier) table(pos uint32, name string) (vtable, error) {
	v.depth++
	if v.depth > maxVerifyDepth {
		return vtable{}, malformed("%s: tables nested deeper than %d", name, maxVerifyDepth)
	}
	n := uint64(len(v.buf))
	if pos%4 != 0 || uint64(pos)+4 > n {
		return vtable{}, malformed("%s: table at %d misaligned or out of bounds (buffer %d)", name, pos, n)
	}
	vt := int64(pos) - int64(int32(v.u32(pos)))
	if vt < 0 || uint64(vt)+4 > n || vt%2 != 0 {
		return vtable{}, malformed("%s: vtable at %d misaligned or out of bounds (buffer %d)", name, vt, n)
	}
	t := vtable{pos: pos, vt: uint32(vt)}
	t.vsize = v.u16(t.vt)
	t.tsize = v.u16(t.vt + 2)
	if t.vsize < 4 || t.vsize%2 != 0 || uint64(t.vt)+uint64(t.vsize) > n {
		return vtable{}, malformed("%s: vtable length %d at %d: must be even, >= 4 and within %d bytes", name, t.vsize, t.vt, n)
	}
	if t.tsize < 4 || uint64(pos)+uint64(t.tsize) > n {
		return vtable{}, malformed("%s: table size %d at %d: must be >= 4 and within %d bytes", name, t.tsize, pos, n)
	}
	return t, nil
}

func (v *verifier) leave() { v.depth-- }

// field returns the absolute position of field slot (0-based) of t, or 0 when
// the field is absent. size is the field's inline size (scalar size, or 4 for
// an offset); the field must be aligned to it.
func (v *verifier) field(t *vtable, slot, size uint32, name string) (uint32, error) {
	vo := 4 + 2*slot
	if vo+2 > t.vsize {
		return 0, nil
	}
	off := v.u16(t.vt + vo)
	if off == 0 {
		return 0, nil
	}
	if off < 4 || off+size > t.tsize {
		return 0, malformed("%s: field at table offset %d (size %d) outside table of %d bytes", name, off, size, t.tsize)
	}
	p := t.pos + off
	if p%size != 0 {
		return 0, malformed("%s: field at %d not aligned to %d", name, p, size)
	}
	return p, nil
}

// ref follows the uoffset stored at p (already checked to be in bounds) and
// returns its target.
func (v *verifier) ref(p uint32, name string) (uint32, error) {
	o := v.u32(p)
	if o == 0 || o > math.MaxInt32 {
		return 0, malformed("%s: offset %d at %d: must be 1..%d", name, o, p, math.MaxInt32)
	}
	target := uint64(p) + uint64(o)
	if target >= uint64(len(v.buf)) {
		return 0, malformed("%s: offset %d at %d points past the buffer (%d bytes)", name, o, p, len(v.buf))
	}
	return uint32(target), nil
}

// vector checks the vector referenced by the uoffset at p, with elements of
// elemSize bytes, and returns the position of its first element and its
// length.
func (v *verifier) vector(p, elemSize uint32, name string) (data, length uint32, err error) {
	t, err := v.ref(p, name)
	if err != nil {
		return 0, 0, err
	}
	n := uint64(len(v.buf))
	if t%4 != 0 || uint64(t)+4 > n {
		return 0, 0, malformed("%s: vector at %d misaligned or out of bounds (buffer %d)", name, t, n)
	}
	length = v.u32(t)
	avail := n - uint64(t) - 4
	if uint64(length) > avail/uint64(elemSize) {
		return 0, 0, malformed("%s: vector of %d elements of %d bytes overflows the %d bytes left", name, length, elemSize, avail)
	}
	return t + 4, length, nil
}

// str checks the string referenced by the uoffset at p and returns its bytes
// (aliasing the buffer, NUL excluded).
func (v *verifier) str(p uint32, name string) ([]byte, error) {
	data, n, err := v.vector(p, 1, name)
	if err != nil {
		return nil, err
	}
	end := uint64(data) + uint64(n)
	if end >= uint64(len(v.buf)) || v.buf[end] != 0 {
		return nil, malformed("%s: string of %d bytes at %d not NUL-terminated", name, n, data)
	}
	return v.buf[data:end], nil
}

// optStr checks an optional string field and returns its bytes (nil when
// absent).
func (v *verifier) optStr(t *vtable, slot uint32, name string) ([]byte, error) {
	p, err := v.field(t, slot, 4, name)
	if err != nil || p == 0 {
		return nil, err
	}
	return v.str(p, name)
}

// optBytes checks an optional [ubyte] field of at most max bytes and returns
// its bytes (nil when absent).
func (v *verifier) optBytes(t *vtable, slot, max uint32, name string) ([]byte, error) {
	p, err := v.field(t, slot, 4, name)
	if err != nil || p == 0 {
		return nil, err
	}
	data, n, err := v.vector(p, 1, name)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, outOfRange("%s of %d bytes: must be at most %d", name, n, max)
	}
	return v.buf[data : data+n], nil
}

// optHash checks an optional schema hash string: at most MaxSchemaHashLen
// lowercase hex digits.
func (v *verifier) optHash(t *vtable, slot uint32, name string) error {
	b, err := v.optStr(t, slot, name)
	if err != nil {
		return err
	}
	if len(b) > MaxSchemaHashLen {
		return outOfRange("%s of %d bytes: must be at most %d", name, len(b), MaxSchemaHashLen)
	}
	for i, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return outOfRange("%s: byte %d is %q: must be lowercase hex", name, i, c)
		}
	}
	return nil
}

// scalar names one scalar field of a table: its slot, inline size and name
// for errors.
type scalar struct {
	slot, size uint32
	name       string
}

// scalars checks that each listed scalar field is in place.
func (v *verifier) scalars(t *vtable, fields ...scalar) error {
	for _, f := range fields {
		if _, err := v.field(t, f.slot, f.size, f.name); err != nil {
			return err
		}
	}
	return nil
}

// union checks a union (type byte in slot typeSlot, value in typeSlot+1) and
// returns its type and the position of its table. members is the number of
// known members; type 0 (NONE) is refused: every message has a body.
func (v *verifier) union(t *vtable, typeSlot uint32, members uint8, name, typeName string) (uint8, uint32, error) {
	tp, err := v.field(t, typeSlot, 1, typeName)
	if err != nil {
		return 0, 0, err
	}
	vp, err := v.field(t, typeSlot+1, 4, name)
	if err != nil {
		return 0, 0, err
	}
	var typ uint8
	if tp != 0 {
		typ = v.buf[tp]
	}
	switch {
	case typ == 0 && vp != 0:
		return 0, 0, malformed("%s: value present with type NONE", name)
	case typ == 0:
		return 0, 0, malformed("%s: no body", name)
	case typ > members:
		return 0, 0, malformed("%s: unknown union type %d (known 1..%d)", name, typ, members)
	case vp == 0:
		return 0, 0, malformed("%s: type %d without a value", name, typ)
	}
	body, err := v.ref(vp, name)
	return typ, body, err
}

// utf8Within checks a Hello string: valid UTF-8, at most max bytes.
func utf8Within(s []byte, max int, name string) error {
	if len(s) > max {
		return outOfRange("%s of %d bytes: must be at most %d", name, len(s), max)
	}
	if !utf8.Valid(s) {
		return outOfRange("%s: not valid UTF-8", name)
	}
	return nil
}

// VerifyClientMessage checks that buf is a well-formed ClientMessage of our
// schema with every value in range. An error wraps ErrMalformed (structure)
// or ErrOutOfRange (values). It allocates nothing when buf is valid.
func VerifyClientMessage(buf []byte) error {
	_, _, err := verifyClient(buf)
	return err
}

// verifyClient verifies buf and returns the body's type and table position.
func verifyClient(buf []byte) (ClientKind, uint32, error) {
	v := verifier{buf: buf}
	root, err := v.root()
	if err != nil {
		return 0, 0, err
	}
	msg, err := v.table(root, "client_message")
	if err != nil {
		return 0, 0, err
	}
	typ, body, err := v.union(&msg, 0, uint8(ClientEvent), "client_message.body", "client_message.body_type")
	if err != nil {
		return 0, 0, err
	}
	kind := ClientKind(typ)
	switch kind {
	case ClientHello:
		err = v.verifyHello(body)
	case ClientInput:
		err = v.verifyInput(body)
	case ClientLeave:
		_, err = v.table(body, "leave")
	case ClientPing:
		err = v.scalarTable(body, "ping", scalar{0, 8, "ping.client_time"})
	case ClientEvent:
		var seq uint32
		seq, err = v.verifyEvent(body, "event")
		if err == nil && seq == 0 {
			err = outOfRange("event.seq 0: must be at least 1")
		}
	}
	return kind, body, err
}

// scalarTable checks a table whose fields we read are all scalars.
func (v *verifier) scalarTable(pos uint32, name string, fields ...scalar) error {
	t, err := v.table(pos, name)
	if err != nil {
		return err
	}
	defer v.leave()
	return v.scalars(&t, fields...)
}

func (v *verifier) verifyHello(pos uint32) error {
	t, err := v.table(pos, "hello")
	if err != nil {
		return err
	}
	defer v.leave()
	strs := [...]struct {
		slot uint32
		max  int
		name string
	}{
		{0, MaxTokenLen, "hello.token"},
		{1, MaxMatchIDLen, "hello.match_id"},
		{2, MaxResumeTokenLen, "hello.resume_token"},
		{4, MaxNameLen, "hello.name"},
		{5, MaxGameLen, "hello.game"},
	}
	for _, s := range strs {
		b, err := v.optStr(&t, s.slot, s.name)
		if err != nil {
			return err
		}
		if err := utf8Within(b, s.max, s.name); err != nil {
			return err
		}
	}
	if _, err := v.optBytes(&t, 6, MaxJoinLen, "hello.join"); err != nil {
		return err
	}
	if err := v.optHash(&t, 7, "hello.schema_hash"); err != nil {
		return err
	}
	return v.scalars(&t, scalar{3, 4, "hello.last_tick"}, scalar{8, 4, "hello.event_ack"})
}

func (v *verifier) verifyInput(pos uint32) error {
	t, err := v.table(pos, "input")
	if err != nil {
		return err
	}
	defer v.leave()
	if err := v.scalars(&t, scalar{0, 4, "input.seq"}, scalar{1, 4, "input.target_tick"},
		scalar{2, 4, "input.ack_tick"}, scalar{8, 4, "input.event_ack"}); err != nil {
		return err
	}
	_, err = v.optBytes(&t, 7, MaxInputDataLen, "input.data")
	return err
}

// verifyEvent checks an Event table (either direction) and returns its seq
// (0 when absent). name is "event" or "snapshot.events".
func (v *verifier) verifyEvent(pos uint32, name string) (uint32, error) {
	t, err := v.table(pos, name)
	if err != nil {
		return 0, err
	}
	defer v.leave()
	if err := v.scalars(&t, scalar{1, 4, "event.tick"}); err != nil {
		return 0, err
	}
	var seq uint32
	if p, err := v.field(&t, 0, 4, "event.seq"); err != nil {
		return 0, err
	} else if p != 0 {
		seq = v.u32(p)
	}
	data, err := v.optBytes(&t, 2, MaxEventDataLen, "event.data")
	if err != nil {
		return 0, err
	}
	if len(data) == 0 {
		return 0, malformed("%s: no data (an event carries one game event)", name)
	}
	return seq, nil
}

// VerifyServerMessage checks that buf is a well-formed ServerMessage of our
// schema with every value in range. Clients run it on every frame so that a
// bad or hostile server cannot make them panic. An error wraps ErrMalformed
// or ErrOutOfRange.
func VerifyServerMessage(buf []byte) error {
	_, _, err := verifyServer(buf)
	return err
}

// verifyServer verifies buf and returns the body's type and table position.
func verifyServer(buf []byte) (ServerKind, uint32, error) {
	v := verifier{buf: buf}
	root, err := v.root()
	if err != nil {
		return 0, 0, err
	}
	msg, err := v.table(root, "server_message")
	if err != nil {
		return 0, 0, err
	}
	typ, body, err := v.union(&msg, 0, uint8(ServerPong), "server_message.body", "server_message.body_type")
	if err != nil {
		return 0, 0, err
	}
	kind := ServerKind(typ)
	switch kind {
	case ServerWelcome:
		err = v.verifyWelcome(body)
	case ServerSnapshot:
		err = v.verifySnapshot(body)
	case ServerRedirect:
		err = v.verifyStrings(body, "redirect", []scalar{{0, 4, "redirect.url"}, {1, 4, "redirect.match_id"}})
	case ServerError:
		err = v.verifyStrings(body, "error", []scalar{{1, 4, "error.message"}}, scalar{0, 2, "error.code"})
	case ServerPong:
		err = v.scalarTable(body, "pong", scalar{0, 8, "pong.client_time"}, scalar{1, 8, "pong.server_time_ms"})
	}
	return kind, body, err
}

// verifyStrings checks a table made of optional strings (strs; their size is
// the 4 of a uoffset) and scalars.
func (v *verifier) verifyStrings(pos uint32, name string, strs []scalar, scalars ...scalar) error {
	t, err := v.table(pos, name)
	if err != nil {
		return err
	}
	defer v.leave()
	for _, s := range strs {
		if _, err := v.optStr(&t, s.slot, s.name); err != nil {
			return err
		}
	}
	return v.scalars(&t, scalars...)
}

func (v *verifier) verifyWelcome(pos uint32) error {
	t, err := v.table(pos, "welcome")
	if err != nil {
		return err
	}
	defer v.leave()
	strs := [...]scalar{{0, 4, "welcome.session_id"}, {1, 4, "welcome.resume_token"},
		{6, 4, "welcome.node_id"}, {7, 4, "welcome.match_id"}, {8, 4, "welcome.game"}}
	for _, s := range strs {
		if _, err := v.optStr(&t, s.slot, s.name); err != nil {
			return err
		}
	}
	if err := v.optHash(&t, 9, "welcome.schema_hash"); err != nil {
		return err
	}
	return v.scalars(&t, scalar{2, 4, "welcome.player_id"}, scalar{3, 4, "welcome.entity_id"},
		scalar{4, 2, "welcome.tick_rate"}, scalar{5, 4, "welcome.server_tick"}, scalar{10, 4, "welcome.event_seq"})
}

func (v *verifier) verifySnapshot(pos uint32) error {
	t, err := v.table(pos, "snapshot")
	if err != nil {
		return err
	}
	defer v.leave()
	if err := v.scalars(&t, scalar{2, 4, "snapshot.last_input_seq"}, scalar{6, 8, "snapshot.server_time_ms"},
		scalar{9, 4, "snapshot.event_seq"}); err != nil {
		return err
	}
	var tick, baseline uint32
	if p, err := v.field(&t, 0, 4, "snapshot.tick"); err != nil {
		return err
	} else if p != 0 {
		tick = v.u32(p)
	}
	if p, err := v.field(&t, 1, 4, "snapshot.baseline_tick"); err != nil {
		return err
	} else if p != 0 {
		baseline = v.u32(p)
	}
	if baseline != 0 && baseline >= tick {
		return outOfRange("snapshot.baseline_tick %d: must be before tick %d", baseline, tick)
	}
	if _, err := v.optBytes(&t, 7, MaxSnapshotState, "snapshot.state"); err != nil {
		return err
	}
	return v.verifySnapshotEvents(&t)
}

// verifySnapshotEvents checks Snapshot.events: at most MaxSnapshotEvents
// Event tables, each valid, with seqs from 1 strictly ascending.
func (v *verifier) verifySnapshotEvents(t *vtable) error {
	p, err := v.field(t, 8, 4, "snapshot.events")
	if err != nil || p == 0 {
		return err
	}
	data, n, err := v.vector(p, 4, "snapshot.events")
	if err != nil {
		return err
	}
	if n > MaxSnapshotEvents {
		return outOfRange("snapshot.events of %d elements: must be at most %d", n, MaxSnapshotEvents)
	}
	var prev uint32
	for i := range n {
		pos, err := v.ref(data+4*i, "snapshot.events")
		if err != nil {
			return err
		}
		seq, err := v.verifyEvent(pos, "snapshot.events")
		if err != nil {
			return err
		}
		if seq <= prev {
			return outOfRange("snapshot.events[%d].seq %d: must be above %d (seqs ascend from 1)", i, seq, prev)
		}
		prev = seq
	}
	return nil
}
