package schema

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// validClient returns one valid encoding of every ClientMessage kind.
func validClient() map[string][]byte {
	e := NewEncoder(0)
	return map[string][]byte{
		"hello":       clone(e.Hello(&Hello{Token: "tok", MatchID: "m1", ResumeToken: "rt", LastTick: 42, Name: "Zoë", Game: "cards"})),
		"hello-empty": clone(e.Hello(&Hello{})),
		"hello-max": clone(e.Hello(&Hello{
			Token: strings.Repeat("t", MaxTokenLen), MatchID: strings.Repeat("m", MaxMatchIDLen),
			ResumeToken: strings.Repeat("r", MaxResumeTokenLen), Name: strings.Repeat("n", MaxNameLen),
			Game: strings.Repeat("g", MaxGameLen), Join: make([]byte, MaxJoinLen), SchemaHash: strings.Repeat("f", MaxSchemaHashLen),
		})),
		"hello-game": clone(e.Hello(&Hello{Name: "ann", Game: "cards", Join: []byte{12, 0, 0, 0, 8, 0, 8, 0, 4, 0, 0, 0, 1, 0, 0, 0}, SchemaHash: testHash})),
		"input":      clone(e.Input(&Input{Seq: 8, TargetTick: 100, AckTick: 99, Data: []byte{8, 0, 0, 0, 4, 0, 4, 0, 4, 0, 0, 0}, EventAck: 3})),
		"input-zero": clone(e.Input(&Input{})),
		"event":      clone(e.Event(&Event{Seq: 1, Data: []byte{1, 2, 3, 4, 5}})),
		"leave":      clone(e.Leave()),
		"ping":       clone(e.Ping(1 << 60)),
	}
}

// validServer returns one valid encoding of every ServerMessage kind.
func validServer() map[string][]byte {
	e := NewEncoder(0)
	snap := func(s Snapshot) []byte {
		b, _ := e.Snapshot(&s)
		return clone(b)
	}
	return map[string][]byte{
		"welcome":        clone(e.Welcome(&Welcome{SessionID: "s", ResumeToken: "r", PlayerID: 1, EntityID: 2, TickRate: 30, ServerTick: 5, NodeID: "n1", MatchID: "m"})),
		"welcome-empty":  clone(e.Welcome(&Welcome{})),
		"snapshot-full":  snap(Snapshot{Tick: 10, LastInputSeq: 3, State: []byte{0x11, 0x22, 0x33, 0x44, 0x55}, ServerTimeMS: 1}),
		"snapshot-delta": snap(testSnapshot(64, 3)),
		"snapshot-empty": snap(Snapshot{Tick: 13, BaselineTick: 12}),
		"snapshot-events": snap(Snapshot{Tick: 14, BaselineTick: 13, LastInputSeq: 9, ServerTimeMS: 3, EventSeq: 2,
			Events: []Event{{Seq: 1, Tick: 14, Data: []byte{1}}}}),
		"welcome-game": clone(e.Welcome(&Welcome{SessionID: "s", ResumeToken: "r", PlayerID: 1, TickRate: 20, ServerTick: 5,
			NodeID: "n1", MatchID: "m", Game: "cards", SchemaHash: testHash, EventSeq: 17})),
		"redirect": clone(e.Redirect("ws://n2/ws", "m")),
		"error":    clone(e.Error(ErrCodeMatchFull, "match full")),
		"pong":     clone(e.Pong(1, 2)),
	}
}

func TestVerifyAcceptsValid(t *testing.T) {
	for name, b := range validClient() {
		if err := VerifyClientMessage(b); err != nil {
			t.Errorf("client %s: %v", name, err)
		}
	}
	for name, b := range validServer() {
		if err := VerifyServerMessage(b); err != nil {
			t.Errorf("server %s: %v", name, err)
		}
	}
}

// TestVerifyAcceptsLimits: messages with every game-bytes field at its
// limit are accepted (one more is refused: TestVerify*Refuses).
func TestVerifyAcceptsLimits(t *testing.T) {
	e := NewEncoder(0)
	client := map[string][]byte{
		"hello": clone(e.Hello(&Hello{Join: make([]byte, MaxJoinLen), SchemaHash: strings.Repeat("0", MaxSchemaHashLen)})),
		"input": clone(e.Input(&Input{Seq: 9, Data: make([]byte, MaxInputDataLen), EventAck: 1 << 31})),
		"event": clone(e.Event(&Event{Seq: 1 << 31, Tick: 3, Data: make([]byte, MaxEventDataLen)})),
	}
	for name, b := range client {
		if err := VerifyClientMessage(b); err != nil {
			t.Errorf("client %s: %v", name, err)
		}
	}
	s := Snapshot{Tick: 2, State: make([]byte, MaxSnapshotState), Events: make([]Event, MaxSnapshotEvents)}
	for i := range s.Events {
		s.Events[i] = Event{Seq: uint32(2 * (i + 1)), Tick: 2, Data: []byte{byte(i)}}
	}
	s.Events[0].Data = make([]byte, MaxEventDataLen)
	msg, _ := e.Snapshot(&s)
	var m ServerMessage
	if err := DecodeServerMessage(msg, &m); err != nil {
		t.Fatalf("snapshot at its limits: %v", err)
	}
	if !snapshotEqual(&m.Snapshot, &s) {
		t.Fatalf("snapshot at its limits decoded differently")
	}
	if err := VerifyServerMessage(clone(e.Welcome(&Welcome{SchemaHash: strings.Repeat("f", MaxSchemaHashLen)}))); err != nil {
		t.Errorf("welcome: %v", err)
	}
}

// corruption is one hand-made defect: edit receives a copy of a valid
// message and returns the bad bytes.
type corruption struct {
	name string
	msg  string // key in validClient/validServer
	edit func(t *testing.T, b []byte) []byte
	want error  // sentinel
	text string // substring of the error
}

func TestVerifyClientRefuses(t *testing.T) {
	cases := []corruption{
		{"empty", "input", func(_ *testing.T, b []byte) []byte { return nil }, ErrMalformed, "shorter than 8"},
		{"truncated to 7", "input", func(_ *testing.T, b []byte) []byte { return b[:7] }, ErrMalformed, "shorter than 8"},
		{"truncated by 1", "input", func(_ *testing.T, b []byte) []byte { return b[:len(b)-1] }, ErrMalformed, ""},
		{"truncated to half", "hello", func(_ *testing.T, b []byte) []byte { return b[:len(b)/2] }, ErrMalformed, ""},
		{"bad identifier", "input", func(_ *testing.T, b []byte) []byte { b[4] = 'X'; return b }, ErrMalformed, "file identifier"},
		{"root out of bounds", "input", func(_ *testing.T, b []byte) []byte { wr32(b, 0, int64(len(b))); return b }, ErrMalformed, "root offset"},
		{"root huge", "input", func(_ *testing.T, b []byte) []byte { wr32(b, 0, 0xfffffff0); return b }, ErrMalformed, "root offset"},
		{"root misaligned", "input", func(_ *testing.T, b []byte) []byte { wr32(b, 0, int64(rootPos(b)+1)); return b }, ErrMalformed, "root offset"},
		{"root into header", "input", func(_ *testing.T, b []byte) []byte { wr32(b, 0, 4); return b }, ErrMalformed, "root offset"},
		{"vtable past the end", "input", func(_ *testing.T, b []byte) []byte {
			r := rootPos(b)
			wr32(b, r, int64(r-len(b))) // vtable = r - soffset = len(b)
			return b
		}, ErrMalformed, "vtable at"},
		{"vtable before the start", "input", func(_ *testing.T, b []byte) []byte {
			r := rootPos(b)
			wr32(b, r, int64(r+8))
			return b
		}, ErrMalformed, "vtable at"},
		{"vtable misaligned", "input", func(_ *testing.T, b []byte) []byte {
			r := rootPos(b)
			wr32(b, r, int64(int32(rd32(b, r))+1))
			return b
		}, ErrMalformed, "vtable at"},
		{"vtable length odd", "input", func(_ *testing.T, b []byte) []byte { wr16(b, vtPos(b, rootPos(b)), 7); return b }, ErrMalformed, "vtable length"},
		{"vtable length 2", "input", func(_ *testing.T, b []byte) []byte { wr16(b, vtPos(b, rootPos(b)), 2); return b }, ErrMalformed, "vtable length"},
		{"vtable length past the end", "input", func(_ *testing.T, b []byte) []byte { wr16(b, vtPos(b, rootPos(b)), 0xfffe); return b }, ErrMalformed, "vtable length"},
		{"table size past the end", "input", func(_ *testing.T, b []byte) []byte { wr16(b, vtPos(b, rootPos(b))+2, 0xfffc); return b }, ErrMalformed, "table size"},
		{"field outside its table", "input", func(t *testing.T, b []byte) []byte {
			in := bodyPos(t, b)
			wr16(b, slotEntry(b, in, 0), rd16(b, vtPos(b, in)+2)) // seq at the table's end
			return b
		}, ErrMalformed, "input.seq: field at table offset"},
		{"field over the soffset", "input", func(t *testing.T, b []byte) []byte {
			in := bodyPos(t, b)
			wr16(b, slotEntry(b, in, 8), 2)
			return b
		}, ErrMalformed, "input.event_ack: field at table offset 2"},
		{"scalar misaligned", "input", func(t *testing.T, b []byte) []byte {
			in := bodyPos(t, b)
			wr16(b, slotEntry(b, in, 0), rd16(b, slotEntry(b, in, 0))+1)
			return b
		}, ErrMalformed, "input.seq: field at"},
		{"unknown union type", "input", func(t *testing.T, b []byte) []byte { b[fieldPos(t, b, rootPos(b), 0)] = 9; return b }, ErrMalformed, "unknown union type 9"},
		{"union NONE with a value", "input", func(t *testing.T, b []byte) []byte { b[fieldPos(t, b, rootPos(b), 0)] = 0; return b }, ErrMalformed, "value present with type NONE"},
		{"union type without a value", "input", func(t *testing.T, b []byte) []byte { wr16(b, slotEntry(b, rootPos(b), 1), 0); return b }, ErrMalformed, "without a value"},
		{"no body", "input", func(t *testing.T, b []byte) []byte {
			wr16(b, slotEntry(b, rootPos(b), 0), 0)
			wr16(b, slotEntry(b, rootPos(b), 1), 0)
			return b
		}, ErrMalformed, "no body"},
		{"body offset out of bounds", "input", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, rootPos(b), 1), int64(len(b)))
			return b
		}, ErrMalformed, "points past the buffer"},
		{"body offset zero", "input", func(t *testing.T, b []byte) []byte { wr32(b, fieldPos(t, b, rootPos(b), 1), 0); return b }, ErrMalformed, "offset 0"},
		{"body offset negative", "input", func(t *testing.T, b []byte) []byte { wr32(b, fieldPos(t, b, rootPos(b), 1), -4); return b }, ErrMalformed, "must be 1.."},
		{"string without NUL", "hello", func(t *testing.T, b []byte) []byte {
			s := deref(b, fieldPos(t, b, bodyPos(t, b), 0))
			b[s+4+rd32(b, s)] = 'x'
			return b
		}, ErrMalformed, "hello.token: string of 3 bytes at"},
		{"string running to the end", "hello", func(t *testing.T, b []byte) []byte {
			s := deref(b, fieldPos(t, b, bodyPos(t, b), 0))
			wr32(b, s, int64(len(b)-s-4)) // no room left for the NUL
			return b
		}, ErrMalformed, "not NUL-terminated"},
		{"string length overflow", "hello", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 4)), 0xfffffff0)
			return b
		}, ErrMalformed, "hello.name: vector of 4294967280 elements"},
		{"string misaligned", "hello", func(t *testing.T, b []byte) []byte {
			p := fieldPos(t, b, bodyPos(t, b), 0)
			wr32(b, p, int64(rd32(b, p)+1))
			return b
		}, ErrMalformed, "hello.token: vector at"},
		{"name not UTF-8", "hello", func(t *testing.T, b []byte) []byte {
			b[deref(b, fieldPos(t, b, bodyPos(t, b), 4))+4] = 0xff
			return b
		}, ErrOutOfRange, "hello.name: not valid UTF-8"},
		{"name too long", "hello-max", func(t *testing.T, b []byte) []byte {
			// Grow the name by one byte into its NUL and padding... by
			// re-encoding instead: simpler and exact.
			return clone(NewEncoder(0).Hello(&Hello{Name: strings.Repeat("n", MaxNameLen+1)}))
		}, ErrOutOfRange, "hello.name of 33 bytes: must be at most 32"},
		{"token too long", "hello", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Hello(&Hello{Token: strings.Repeat("t", MaxTokenLen+1)}))
		}, ErrOutOfRange, "hello.token of 1025 bytes"},
		{"join too long", "hello-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Hello(&Hello{Join: make([]byte, MaxJoinLen+1)}))
		}, ErrOutOfRange, "hello.join of 1025 bytes: must be at most 1024"},
		{"join length overflow", "hello-game", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 6)), 0xfffffff0)
			return b
		}, ErrMalformed, "hello.join: vector of 4294967280 elements"},
		{"join offset out of bounds", "hello-game", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, bodyPos(t, b), 6), 1<<20)
			return b
		}, ErrMalformed, "hello.join: offset"},
		{"schema hash too long", "hello-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Hello(&Hello{SchemaHash: strings.Repeat("a", MaxSchemaHashLen+1)}))
		}, ErrOutOfRange, "hello.schema_hash of 65 bytes: must be at most 64"},
		{"schema hash upper case", "hello-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Hello(&Hello{SchemaHash: strings.ToUpper(testHash)}))
		}, ErrOutOfRange, "hello.schema_hash: byte 1 is 'F': must be lowercase hex"},
		{"schema hash not hex", "hello-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Hello(&Hello{SchemaHash: "abc-"}))
		}, ErrOutOfRange, "hello.schema_hash: byte 3 is '-': must be lowercase hex"},
		{"schema hash without NUL", "hello-game", func(t *testing.T, b []byte) []byte {
			s := deref(b, fieldPos(t, b, bodyPos(t, b), 7))
			b[s+4+rd32(b, s)] = 'a'
			return b
		}, ErrMalformed, "hello.schema_hash: string of 64 bytes"},
		{"input data too long", "input", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Input(&Input{Data: make([]byte, MaxInputDataLen+1)}))
		}, ErrOutOfRange, "input.data of 1025 bytes: must be at most 1024"},
		{"input data past the end", "input", func(t *testing.T, b []byte) []byte {
			v := deref(b, fieldPos(t, b, bodyPos(t, b), 7))
			wr32(b, v, int64(len(b)-v-3))
			return b
		}, ErrMalformed, "input.data: vector of"},
		{"input data misaligned", "input", func(t *testing.T, b []byte) []byte {
			p := fieldPos(t, b, bodyPos(t, b), 7)
			wr32(b, p, int64(rd32(b, p)+2))
			return b
		}, ErrMalformed, "input.data: vector at"},
		{"input event_ack misaligned", "input", func(t *testing.T, b []byte) []byte {
			in := bodyPos(t, b)
			wr16(b, slotEntry(b, in, 8), rd16(b, slotEntry(b, in, 8))+2)
			return b
		}, ErrMalformed, "input.event_ack: field at"},
		{"event union type unknown", "event", func(t *testing.T, b []byte) []byte { b[fieldPos(t, b, rootPos(b), 0)] = 6; return b }, ErrMalformed, "unknown union type 6 (known 1..5)"},
		{"event without data", "event", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Event(&Event{Seq: 1}))
		}, ErrMalformed, "event: no data"},
		{"event with empty data", "event", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 2)), 0) // present, 0 bytes
			return b
		}, ErrMalformed, "event: no data"},
		{"event data too long", "event", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Event(&Event{Seq: 1, Data: make([]byte, MaxEventDataLen+1)}))
		}, ErrOutOfRange, "event.data of 4097 bytes: must be at most 4096"},
		{"event data length overflow", "event", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 2)), 0xffffffff)
			return b
		}, ErrMalformed, "event.data: vector of 4294967295 elements"},
		{"event seq 0", "event", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Event(&Event{Data: []byte{1}}))
		}, ErrOutOfRange, "event.seq 0: must be at least 1"},
		{"event seq misaligned", "event", func(t *testing.T, b []byte) []byte {
			ev := bodyPos(t, b)
			wr16(b, slotEntry(b, ev, 0), rd16(b, slotEntry(b, ev, 0))+1)
			return b
		}, ErrMalformed, "event.seq: field at"},
		{"event table out of bounds", "event", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, rootPos(b), 1), int64(len(b)-fieldPos(t, b, rootPos(b), 1)-2))
			return b
		}, ErrMalformed, "event: table at"},
		{"event vtable out of bounds", "event", func(t *testing.T, b []byte) []byte {
			p := bodyPos(t, b)
			wr32(b, p, int64(p-len(b)))
			return b
		}, ErrMalformed, "event: vtable at"},
		{"leave table out of bounds", "leave", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, rootPos(b), 1), int64(len(b)-fieldPos(t, b, rootPos(b), 1)-2))
			return b
		}, ErrMalformed, "leave: table at"},
	}
	valid := validClient()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(t, clone(valid[c.msg]))
			err := VerifyClientMessage(b)
			checkErr(t, err, c.want, c.text)
			var m ClientMessage
			checkErr(t, DecodeClientMessage(b, &m), c.want, c.text)
			if m.Kind != ClientNone {
				t.Errorf("kind %d after a failed decode", m.Kind)
			}
		})
	}
}

func TestVerifyServerRefuses(t *testing.T) {
	cases := []corruption{
		{"truncated", "snapshot-delta", func(_ *testing.T, b []byte) []byte { return b[:len(b)-3] }, ErrMalformed, ""},
		{"bad identifier", "pong", func(_ *testing.T, b []byte) []byte { b[7] = '9'; return b }, ErrMalformed, "file identifier"},
		{"unknown union type", "pong", func(t *testing.T, b []byte) []byte { b[fieldPos(t, b, rootPos(b), 0)] = 6; return b }, ErrMalformed, "unknown union type 6"},
		{"state length overflow", "snapshot-full", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 7)), 0xfffffff0)
			return b
		}, ErrMalformed, "snapshot.state: vector of 4294967280 elements of 1 bytes overflows"},
		{"state offset out of bounds", "snapshot-full", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, bodyPos(t, b), 7), 1<<30)
			return b
		}, ErrMalformed, "snapshot.state: offset"},
		{"state misaligned", "snapshot-full", func(t *testing.T, b []byte) []byte {
			p := fieldPos(t, b, bodyPos(t, b), 7)
			wr32(b, p, int64(rd32(b, p)+2))
			return b
		}, ErrMalformed, "snapshot.state: vector at"},
		{"baseline at tick", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			wr32(b, fieldPos(t, b, bodyPos(t, b), 1), 5000)
			return b
		}, ErrOutOfRange, "snapshot.baseline_tick 5000: must be before tick 5000"},
		{"server_time_ms misaligned", "snapshot-full", func(t *testing.T, b []byte) []byte {
			p := bodyPos(t, b)
			wr16(b, slotEntry(b, p, 6), rd16(b, slotEntry(b, p, 6))+4)
			return b
		}, ErrMalformed, "snapshot.server_time_ms: field at"},
		{"error message without NUL", "error", func(t *testing.T, b []byte) []byte {
			s := deref(b, fieldPos(t, b, bodyPos(t, b), 1))
			b[s+4+rd32(b, s)] = '!'
			return b
		}, ErrMalformed, "error.message: string of 10 bytes"},
		{"8-byte field misaligned", "pong", func(t *testing.T, b []byte) []byte {
			p := bodyPos(t, b)
			for slot := range 2 {
				off := rd16(b, slotEntry(b, p, slot))
				if off >= 8 && (p+off-4)%8 != 0 {
					wr16(b, slotEntry(b, p, slot), off-4)
					return b
				}
			}
			t.Fatalf("unexpected pong layout")
			return nil
		}, ErrMalformed, "not aligned to 8"},
		{"welcome schema hash not hex", "welcome-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Welcome(&Welcome{SchemaHash: "0123456789abcdefg"}))
		}, ErrOutOfRange, "welcome.schema_hash: byte 16 is 'g': must be lowercase hex"},
		{"welcome schema hash too long", "welcome-game", func(t *testing.T, b []byte) []byte {
			return clone(NewEncoder(0).Welcome(&Welcome{SchemaHash: testHash + "0"}))
		}, ErrOutOfRange, "welcome.schema_hash of 65 bytes"},
		{"welcome game without NUL", "welcome-game", func(t *testing.T, b []byte) []byte {
			s := deref(b, fieldPos(t, b, bodyPos(t, b), 8))
			b[s+4+rd32(b, s)] = 'x'
			return b
		}, ErrMalformed, "welcome.game: string of 5 bytes"},
		{"welcome event_seq outside its table", "welcome-game", func(t *testing.T, b []byte) []byte {
			w := bodyPos(t, b)
			wr16(b, slotEntry(b, w, 10), rd16(b, vtPos(b, w)+2))
			return b
		}, ErrMalformed, "welcome.event_seq: field at table offset"},
		{"state over the cap", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			out, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 2, State: make([]byte, MaxSnapshotState+1)})
			return clone(out)
		}, ErrOutOfRange, "snapshot.state of 1048577 bytes: must be at most 1048576"},
		{"state past the end", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			v := deref(b, fieldPos(t, b, bodyPos(t, b), 7))
			wr32(b, v, int64(len(b)-v-3))
			return b
		}, ErrMalformed, "snapshot.state: vector of"},
		{"events over the cap", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			s := Snapshot{Tick: 2, Events: make([]Event, MaxSnapshotEvents+1)}
			for i := range s.Events {
				s.Events[i] = Event{Seq: uint32(i + 1), Data: []byte{1}}
			}
			out, _ := NewEncoder(0).Snapshot(&s)
			return clone(out)
		}, ErrOutOfRange, "snapshot.events of 1025 elements: must be at most 1024"},
		{"events length overflow", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			wr32(b, deref(b, fieldPos(t, b, bodyPos(t, b), 8)), 0x40000000) // ·4 wraps 32 bits
			return b
		}, ErrMalformed, "snapshot.events: vector of 1073741824 elements of 4 bytes overflows"},
		{"event offset zero", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			v := deref(b, fieldPos(t, b, bodyPos(t, b), 8))
			wr32(b, v+4+4, 0) // the second event
			return b
		}, ErrMalformed, "snapshot.events: offset 0"},
		{"event offset past the end", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			v := deref(b, fieldPos(t, b, bodyPos(t, b), 8))
			wr32(b, v+4, int64(len(b)))
			return b
		}, ErrMalformed, "snapshot.events: offset"},
		{"event table misaligned", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			v := deref(b, fieldPos(t, b, bodyPos(t, b), 8))
			wr32(b, v+4, int64(rd32(b, v+4)+2))
			return b
		}, ErrMalformed, "snapshot.events: table at"},
		{"event data too long", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			out, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 2, Events: []Event{{Seq: 1, Data: make([]byte, MaxEventDataLen+1)}}})
			return clone(out)
		}, ErrOutOfRange, "event.data of 4097 bytes: must be at most 4096"},
		{"event without data", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			out, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 2, Events: []Event{{Seq: 1, Data: []byte{1}}, {Seq: 2}}})
			return clone(out)
		}, ErrMalformed, "snapshot.events: no data"},
		{"event with empty data", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			ev := deref(b, deref(b, fieldPos(t, b, bodyPos(t, b), 8))+4)
			wr32(b, deref(b, fieldPos(t, b, ev, 2)), 0)
			return b
		}, ErrMalformed, "snapshot.events: no data"},
		{"event seqs not ascending", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			out, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 2, Events: []Event{{Seq: 4, Data: []byte{1}}, {Seq: 4, Data: []byte{2}}}})
			return clone(out)
		}, ErrOutOfRange, "snapshot.events[1].seq 4: must be above 4"},
		{"event seq 0", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			out, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 2, Events: []Event{{Data: []byte{1}}}})
			return clone(out)
		}, ErrOutOfRange, "snapshot.events[0].seq 0: must be above 0"},
		{"event_seq misaligned", "snapshot-delta", func(t *testing.T, b []byte) []byte {
			p := bodyPos(t, b)
			wr16(b, slotEntry(b, p, 9), rd16(b, slotEntry(b, p, 9))+1)
			return b
		}, ErrMalformed, "snapshot.event_seq: field at"},
		{"welcome vtable out of bounds", "welcome", func(t *testing.T, b []byte) []byte {
			p := bodyPos(t, b)
			wr32(b, p, int64(p-len(b)-2))
			return b
		}, ErrMalformed, "welcome: vtable at"},
	}
	valid := validServer()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.edit(t, clone(valid[c.msg]))
			checkErr(t, VerifyServerMessage(b), c.want, c.text)
			m := ServerMessage{Snapshot: Snapshot{Events: make([]Event, 3, 8)}}
			checkErr(t, DecodeServerMessage(b, &m), c.want, c.text)
			if m.Kind != ServerNone || len(m.Snapshot.Events) != 0 || cap(m.Snapshot.Events) != 8 {
				t.Errorf("after a failed decode: kind %d, events len %d cap %d; want 0, 0, 8",
					m.Kind, len(m.Snapshot.Events), cap(m.Snapshot.Events))
			}
		})
	}
}

// TestVerifyDepth: our schema cannot nest deeper than 2, so the bound is
// exercised directly.
func TestVerifyDepth(t *testing.T) {
	b := validClient()["leave"]
	v := verifier{buf: b, depth: maxVerifyDepth}
	_, err := v.table(uint32(rootPos(b)), "deep")
	checkErr(t, err, ErrMalformed, "deep: tables nested deeper than 8")
}

func checkErr(t *testing.T, err, want error, text string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v: want %v", err, want)
	}
	if !strings.Contains(err.Error(), text) {
		t.Fatalf("error %q: want it to contain %q", err, text)
	}
}

// TestDecodeRandomCorruption flips, truncates and overwrites bytes of valid
// messages: decoding never panics, whatever it returns. (The fuzz targets
// go further; this runs on every go test.)
func TestDecodeRandomCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cm ClientMessage
	var sm ServerMessage
	for _, set := range []map[string][]byte{validClient(), validServer()} {
		for name, valid := range set {
			for range 3000 {
				b := clone(valid)
				for range 1 + rng.IntN(4) {
					switch rng.IntN(3) {
					case 0:
						b[rng.IntN(len(b))] ^= byte(1 << rng.IntN(8))
					case 1:
						b[rng.IntN(len(b))] = byte(rng.Uint32())
					case 2:
						b = b[:rng.IntN(len(b)+1)]
					}
					if len(b) == 0 {
						break
					}
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s: panic on %x: %v", name, b, r)
						}
					}()
					_ = DecodeClientMessage(b, &cm)
					_ = DecodeServerMessage(b, &sm)
				}()
			}
		}
	}
}
