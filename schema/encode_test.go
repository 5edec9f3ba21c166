package schema

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTripClient(t *testing.T) {
	e := NewEncoder(16) // small: the builder must grow
	cases := []struct {
		name string
		enc  func() []byte
		want ClientMessage
	}{
		{"hello", func() []byte {
			return e.Hello(&Hello{Token: "a.b.c", MatchID: "m-1", ResumeToken: "r", LastTick: 9, Name: "Zoë", Game: "arena"})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{Token: "a.b.c", MatchID: "m-1", ResumeToken: "r", LastTick: 9, Name: "Zoë", Game: "arena"}}},
		{"hello empty", func() []byte { return e.Hello(&Hello{}) }, ClientMessage{Kind: ClientHello}},
		{"hello max", func() []byte {
			return e.Hello(&Hello{Token: strings.Repeat("t", MaxTokenLen), Name: strings.Repeat("é", MaxNameLen/2), LastTick: math.MaxUint32})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{Token: strings.Repeat("t", MaxTokenLen), Name: strings.Repeat("é", MaxNameLen/2), LastTick: math.MaxUint32}}},
		{"input", func() []byte {
			return e.Input(&Input{Seq: 1, TargetTick: 2, AckTick: 3})
		}, ClientMessage{Kind: ClientInput, Input: Input{Seq: 1, TargetTick: 2, AckTick: 3}}},
		{"input max", func() []byte {
			return e.Input(&Input{Seq: math.MaxUint32, TargetTick: math.MaxUint32, AckTick: math.MaxUint32})
		}, ClientMessage{Kind: ClientInput, Input: Input{Seq: math.MaxUint32, TargetTick: math.MaxUint32, AckTick: math.MaxUint32}}},
		{"input zero", func() []byte { return e.Input(&Input{}) }, ClientMessage{Kind: ClientInput}},
		{"hello game", func() []byte {
			return e.Hello(&Hello{Name: "ann", Game: "cards", Join: []byte{1, 2, 3}, SchemaHash: testHash})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{Name: "ann", Game: "cards", Join: []byte{1, 2, 3}, SchemaHash: testHash}}},
		{"hello resume", func() []byte {
			return e.Hello(&Hello{ResumeToken: "r", LastTick: 40, EventAck: math.MaxUint32})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{ResumeToken: "r", LastTick: 40, EventAck: math.MaxUint32}}},
		{"hello game max", func() []byte {
			return e.Hello(&Hello{Join: bytes.Repeat([]byte{0xff}, MaxJoinLen), SchemaHash: strings.Repeat("f", MaxSchemaHashLen)})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{Join: bytes.Repeat([]byte{0xff}, MaxJoinLen), SchemaHash: strings.Repeat("f", MaxSchemaHashLen)}}},
		{"input data", func() []byte {
			return e.Input(&Input{Seq: 3, AckTick: 2, Data: []byte{9, 8, 7, 6, 5}, EventAck: 41})
		}, ClientMessage{Kind: ClientInput, Input: Input{Seq: 3, AckTick: 2, Data: []byte{9, 8, 7, 6, 5}, EventAck: 41}}},
		{"input data max", func() []byte {
			return e.Input(&Input{Data: bytes.Repeat([]byte{1}, MaxInputDataLen), EventAck: math.MaxUint32})
		}, ClientMessage{Kind: ClientInput, Input: Input{Data: bytes.Repeat([]byte{1}, MaxInputDataLen), EventAck: math.MaxUint32}}},
		{"event", func() []byte { return e.Event(&Event{Seq: 1, Data: []byte{4, 0, 0, 0}}) },
			ClientMessage{Kind: ClientEvent, Event: Event{Seq: 1, Data: []byte{4, 0, 0, 0}}}},
		{"event max", func() []byte {
			return e.Event(&Event{Seq: math.MaxUint32, Tick: math.MaxUint32, Data: bytes.Repeat([]byte{7}, MaxEventDataLen)})
		}, ClientMessage{Kind: ClientEvent, Event: Event{Seq: math.MaxUint32, Tick: math.MaxUint32, Data: bytes.Repeat([]byte{7}, MaxEventDataLen)}}},
		{"leave", e.Leave, ClientMessage{Kind: ClientLeave}},
		{"ping", func() []byte { return e.Ping(math.MaxUint64) }, ClientMessage{Kind: ClientPing, ClientTime: math.MaxUint64}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Decode into a message holding leftovers of other kinds.
			m := ClientMessage{Kind: ClientHello, Hello: Hello{Name: "old", Join: []byte{1}}, Input: Input{Seq: 99, Data: []byte{2}},
				Event: Event{Seq: 5, Data: []byte{3}}, ClientTime: 5}
			if err := DecodeClientMessage(c.enc(), &m); err != nil {
				t.Fatal(err)
			}
			if !clientEqual(&m, &c.want) {
				t.Fatalf("got %+v\nwant %+v", m, c.want)
			}
		})
	}
}

// testHash is a schema hash as the node writes it: hex sha256.
const testHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// clientEqual compares decoded client messages, a nil slice equal to an
// empty one.
func clientEqual(a, b *ClientMessage) bool {
	if !bytes.Equal(a.Hello.Join, b.Hello.Join) || !bytes.Equal(a.Input.Data, b.Input.Data) ||
		!bytes.Equal(a.Event.Data, b.Event.Data) {
		return false
	}
	a2, b2 := *a, *b
	a2.Hello.Join, a2.Input.Data, a2.Event.Data = nil, nil, nil
	b2.Hello.Join, b2.Input.Data, b2.Event.Data = nil, nil, nil
	return reflect.DeepEqual(a2, b2)
}

func TestRoundTripServer(t *testing.T) {
	e := NewEncoder(16)
	snap := func(s Snapshot) func() []byte {
		return func() []byte { b, _ := e.Snapshot(&s); return b }
	}
	cases := []struct {
		name string
		enc  func() []byte
		want ServerMessage
	}{
		{"welcome", func() []byte {
			return e.Welcome(&Welcome{SessionID: "s", ResumeToken: "r", PlayerID: 1, EntityID: 2, TickRate: 30, ServerTick: 4, NodeID: "n", MatchID: "m"})
		}, ServerMessage{Kind: ServerWelcome, Welcome: Welcome{SessionID: "s", ResumeToken: "r", PlayerID: 1, EntityID: 2, TickRate: 30, ServerTick: 4, NodeID: "n", MatchID: "m"}}},
		{"welcome empty", func() []byte { return e.Welcome(&Welcome{}) }, ServerMessage{Kind: ServerWelcome}},
		{"welcome game", func() []byte {
			return e.Welcome(&Welcome{SessionID: "s", PlayerID: 3, TickRate: 20, Game: "cards", SchemaHash: testHash, EventSeq: math.MaxUint32})
		}, ServerMessage{Kind: ServerWelcome, Welcome: Welcome{SessionID: "s", PlayerID: 3, TickRate: 20, Game: "cards", SchemaHash: testHash, EventSeq: math.MaxUint32}}},
		{"snapshot full", snap(Snapshot{Tick: 10, LastInputSeq: 4, State: []byte{1, 2, 3}, ServerTimeMS: math.MaxUint64}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 10, LastInputSeq: 4, State: []byte{1, 2, 3}, ServerTimeMS: math.MaxUint64}}},
		{"snapshot max", snap(Snapshot{Tick: math.MaxUint32, BaselineTick: math.MaxUint32 - 1, LastInputSeq: math.MaxUint32,
			State: []byte{0xff}, EventSeq: math.MaxUint32}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: math.MaxUint32, BaselineTick: math.MaxUint32 - 1, LastInputSeq: math.MaxUint32,
				State: []byte{0xff}, EventSeq: math.MaxUint32}}},
		{"snapshot empty", snap(Snapshot{Tick: 12, BaselineTick: 11}), ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 12, BaselineTick: 11}}},
		{"snapshot delta", snap(testSnapshot(1024, 3)), ServerMessage{Kind: ServerSnapshot, Snapshot: testSnapshot(1024, 3)}},
		{"snapshot full with events", snap(Snapshot{Tick: 7, LastInputSeq: 2, State: []byte{1}, EventSeq: 9, Events: []Event{{Seq: 1, Tick: 7, Data: []byte{5}}}}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 7, LastInputSeq: 2, State: []byte{1}, EventSeq: 9, Events: []Event{{Seq: 1, Tick: 7, Data: []byte{5}}}}}},
		{"snapshot events only", snap(Snapshot{Tick: 8, BaselineTick: 7, Events: []Event{{Seq: math.MaxUint32, Tick: 8, Data: []byte{0}}}}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 8, BaselineTick: 7, Events: []Event{{Seq: math.MaxUint32, Tick: 8, Data: []byte{0}}}}}},
		{"redirect", func() []byte { return e.Redirect("wss://n2.example.com/ws", "m-7") }, ServerMessage{Kind: ServerRedirect, Redirect: Redirect{URL: "wss://n2.example.com/ws", MatchID: "m-7"}}},
		{"error", func() []byte { return e.Error(ErrCodeResumeRefused, "seat gone") }, ServerMessage{Kind: ServerError, Error: ErrorMsg{Code: ErrCodeResumeRefused, Message: "seat gone"}}},
		{"error empty", func() []byte { return e.Error(ErrCodeUnknown, "") }, ServerMessage{Kind: ServerError}},
		{"pong", func() []byte { return e.Pong(math.MaxUint64, 1) }, ServerMessage{Kind: ServerPong, ClientTime: math.MaxUint64, ServerTime: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ServerMessage{Kind: ServerWelcome, Welcome: Welcome{NodeID: "old", Game: "old"},
				Snapshot: Snapshot{Tick: 3, State: []byte{1}, Events: []Event{{Seq: 1}}, EventSeq: 4}}
			if err := DecodeServerMessage(c.enc(), &m); err != nil {
				t.Fatal(err)
			}
			if !serverEqual(&m, &c.want) {
				t.Fatalf("got %+v\nwant %+v", m, c.want)
			}
		})
	}
}

// serverEqual compares decoded server messages, a nil slice equal to an
// empty one.
func serverEqual(a, b *ServerMessage) bool {
	sa, sb := a.Snapshot, b.Snapshot
	if !snapshotEqual(&sa, &sb) {
		return false
	}
	a2, b2 := *a, *b
	a2.Snapshot, b2.Snapshot = Snapshot{}, Snapshot{}
	return reflect.DeepEqual(a2, b2)
}

func snapshotEqual(a, b *Snapshot) bool {
	return a.Tick == b.Tick && a.BaselineTick == b.BaselineTick && a.LastInputSeq == b.LastInputSeq &&
		a.ServerTimeMS == b.ServerTimeMS && bytes.Equal(a.State, b.State) && a.EventSeq == b.EventSeq &&
		eventsEqual(a.Events, b.Events)
}

func eventsEqual(a, b []Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Tick != b[i].Tick || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

// testSnapshot is a delta snapshot: stateLen bytes of state and n events
// of a few dozen bytes each.
func testSnapshot(stateLen, n int) Snapshot {
	s := Snapshot{Tick: 5000, BaselineTick: 4998, LastInputSeq: 77, ServerTimeMS: 1_790_000_000_000, EventSeq: 12}
	s.State = make([]byte, stateLen)
	for i := range s.State {
		s.State[i] = byte(i * 7)
	}
	for i := range n {
		data := bytes.Repeat([]byte{byte(i + 1)}, 24+8*i)
		s.Events = append(s.Events, Event{Seq: uint32(100 + i), Tick: 4999 + uint32(i%2), Data: data})
	}
	return s
}

// TestPatchLastInputSeq: one encoding, patched per client, decodes with each
// client's seq and nothing else changed, including a seq of 0 encoded.
func TestPatchLastInputSeq(t *testing.T) {
	e := NewEncoder(0)
	game := testSnapshot(100, 3)
	for _, s := range []Snapshot{
		{Tick: 50, BaselineTick: 48, ServerTimeMS: 123}, // nothing else: last_input_seq 0 is still written
		{Tick: 50, BaselineTick: 48, LastInputSeq: 1, State: game.State, Events: game.Events, EventSeq: 3},
		{Tick: 50, LastInputSeq: math.MaxUint32, State: game.State},
	} {
		encoded := s.LastInputSeq
		msg, off := e.Snapshot(&s)
		for _, seq := range []uint32{0, 7, 1 << 31, math.MaxUint32} {
			cp := clone(msg)
			PatchLastInputSeq(cp, off, seq)
			var m ServerMessage
			if err := DecodeServerMessage(cp, &m); err != nil {
				t.Fatal(err)
			}
			want := s
			want.LastInputSeq = seq
			if !snapshotEqual(&m.Snapshot, &want) {
				t.Fatalf("encoded %d patched %d: got %+v want %+v", encoded, seq, m.Snapshot, want)
			}
		}
	}
}

func TestDecodeInputAllocatesNothing(t *testing.T) {
	e := NewEncoder(0)
	for name, msg := range map[string][]byte{
		"input":       clone(e.Input(&Input{Seq: 5, AckTick: 4})),
		"input data":  clone(e.Input(&Input{Seq: 5, AckTick: 4, Data: make([]byte, 40), EventAck: 3})),
		"event":       clone(e.Event(&Event{Seq: 2, Data: make([]byte, 30)})),
		"hello empty": clone(e.Hello(&Hello{Join: []byte{1, 2}})), // no strings: nothing to copy
	} {
		var m ClientMessage
		if n := testing.AllocsPerRun(100, func() {
			if err := DecodeClientMessage(msg, &m); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per decode; want 0", name, n)
		}
	}
}

// TestDecodeSnapshotReuses: a snapshot with state and events decodes
// into a reused Snapshot without allocating, Events keeping its capacity;
// State and each event's Data alias the buffer, clipped so that appending
// to them cannot write into it.
func TestDecodeSnapshotReuses(t *testing.T) {
	want := testSnapshot(1024, 3)
	msg, _ := NewEncoder(0).Snapshot(&want)
	msg = clone(msg)
	var m ServerMessage
	if err := DecodeServerMessage(msg, &m); err != nil {
		t.Fatal(err)
	}
	events := &m.Snapshot.Events[0]
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeServerMessage(msg, &m); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per decode; want 0", n)
	}
	if &m.Snapshot.Events[0] != events {
		t.Errorf("Events reallocated")
	}
	if !snapshotEqual(&m.Snapshot, &want) {
		t.Fatalf("got %+v\nwant %+v", m.Snapshot, want)
	}
	s := &m.Snapshot
	if !aliases(msg, s.State) || !aliases(msg, s.Events[2].Data) {
		t.Fatalf("State or Events[2].Data does not alias the buffer")
	}
	if cap(s.State) != len(s.State) || cap(s.Events[0].Data) != len(s.Events[0].Data) {
		t.Fatalf("capacity not clipped: state %d/%d, event %d/%d", len(s.State), cap(s.State), len(s.Events[0].Data), cap(s.Events[0].Data))
	}
	before := clone(msg)
	grownEvent := append(s.Events[0].Data, 0xee, 0xee)
	grownState := append(s.State, 0xee)
	if !bytes.Equal(msg, before) || aliases(msg, grownEvent) || aliases(msg, grownState) {
		t.Fatalf("appending to decoded game bytes wrote into the buffer")
	}
	// A snapshot without events keeps the capacity for the next one.
	empty, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 9})
	if err := DecodeServerMessage(clone(empty), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Snapshot.Events) != 0 || cap(m.Snapshot.Events) < 3 || m.Snapshot.State != nil || m.Snapshot.EventSeq != 0 {
		t.Fatalf("after an empty snapshot: events %d/%d, state %v, event seq %d", len(m.Snapshot.Events), cap(m.Snapshot.Events), m.Snapshot.State, m.Snapshot.EventSeq)
	}
}

// TestDecodeClientAliases: Hello.Join, Input.Data and Event.Data alias the
// buffer, clipped to their length.
func TestDecodeClientAliases(t *testing.T) {
	e := NewEncoder(0)
	for name, msg := range map[string][]byte{
		"hello": clone(e.Hello(&Hello{Join: []byte{1, 2, 3}})),
		"input": clone(e.Input(&Input{Data: []byte{1, 2, 3}})),
		"event": clone(e.Event(&Event{Seq: 1, Data: []byte{1, 2, 3}})),
	} {
		var m ClientMessage
		if err := DecodeClientMessage(msg, &m); err != nil {
			t.Fatal(err)
		}
		got := map[ClientKind][]byte{ClientHello: m.Hello.Join, ClientInput: m.Input.Data, ClientEvent: m.Event.Data}[m.Kind]
		if !bytes.Equal(got, []byte{1, 2, 3}) || !aliases(msg, got) || cap(got) != 3 {
			t.Errorf("%s: got %v (cap %d), aliasing the buffer: %v", name, got, cap(got), aliases(msg, got))
		}
	}
}

// aliases reports whether sub lies inside buf's memory.
func aliases(buf, sub []byte) bool {
	if len(sub) == 0 {
		return false
	}
	for i := range buf {
		if &buf[i] == &sub[0] {
			return true
		}
	}
	return false
}

// TestEncodeAllocatesNothing: once its buffers have grown, an Encoder
// encodes every message without allocating, events included.
func TestEncodeAllocatesNothing(t *testing.T) {
	e := NewEncoder(0)
	game := testSnapshot(1024, 3)
	full := Snapshot{Tick: 5000, LastInputSeq: 77, State: make([]byte, 2048), ServerTimeMS: 1}
	welcome := Welcome{SessionID: "s", Game: "cards", SchemaHash: testHash, EventSeq: 3}
	hello := Hello{Token: "t", Join: []byte{1, 2}, SchemaHash: testHash}
	input := Input{Seq: 1, Data: []byte{1, 2, 3}, EventAck: 4}
	event := Event{Seq: 1, Data: []byte{1, 2, 3}}
	encs := map[string]func(){
		"snapshot":      func() { e.Snapshot(&game) },
		"snapshot full": func() { e.Snapshot(&full) },
		"welcome":       func() { e.Welcome(&welcome) },
		"hello":         func() { e.Hello(&hello) },
		"input":         func() { e.Input(&input) },
		"event":         func() { e.Event(&event) },
	}
	for _, enc := range encs { // grow the builder to the largest message
		enc()
	}
	for name, enc := range encs {
		if n := testing.AllocsPerRun(50, enc); n != 0 {
			t.Errorf("%s: %v allocations per encode; want 0", name, n)
		}
	}
}

// envelopeCases are the messages whose bytes TestEnvelopeBytes pins.
func envelopeCases() []struct {
	name string
	msg  []byte
	want string
} {
	e := NewEncoder(0)
	snap := func(s Snapshot) []byte {
		b, off := e.Snapshot(&s)
		PatchLastInputSeq(b, off, s.LastInputSeq)
		return clone(b)
	}
	return []struct {
		name string
		msg  []byte
		want string
	}{
		{"hello", clone(e.Hello(&Hello{Name: "ann", Game: "cards", Join: []byte{1, 2, 3}, SchemaHash: "00ff"})), "100000005453593108000c000b000400080000001c0000000000000114001400000000000000000010000c00080004001400000010000000180000001c00000024000000040000003030666600000000030000000102030005000000636172647300000003000000616e6e00"},
		{"hello resume", clone(e.Hello(&Hello{ResumeToken: "r", LastTick: 40, SchemaHash: "00ff", EventAck: 6})), "100000005453593108000a0009000400080000001c0000000001160014000000000010000c000000000000000800040016000000060000000c00000028000000100000000400000030306666000000000100000072000000"},
		{"input", clone(e.Input(&Input{Seq: 7, TargetTick: 101, AckTick: 100, Data: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee}, EventAck: 3})), "100000005453593108000a0009000400080000001c0000000002160018000c000800040000000000000000001400100016000000640000006500000007000000030000000400000005000000aabbccddee000000"},
		{"input empty", clone(e.Input(&Input{Seq: 8, TargetTick: 102, AckTick: 101})), "100000005453593108000a0009000400080000001000000000020a0010000c00080004000a000000650000006600000008000000"},
		{"event", clone(e.Event(&Event{Seq: 2, Data: []byte{9, 8, 7}})), "100000005453593108000a0009000400080000001000000000050a000c000800000004000a00000008000000020000000300000009080700"},
		{"welcome", clone(e.Welcome(&Welcome{SessionID: "s", ResumeToken: "r", PlayerID: 1, EntityID: 2, TickRate: 30,
			ServerTick: 5, NodeID: "n", MatchID: "m", Game: "cards", SchemaHash: "00ff", EventSeq: 4})), "100000005453593108000a0009000400080000002000000000011a0030002c002800240020001e001800140010000c00080004001a000000040000002800000030000000380000003c0000000500000000001e0002000000010000003000000034000000040000003030666600000000050000006361726473000000010000006d000000010000006e00000001000000720000000100000073000000"},
		{"snapshot", snap(Snapshot{Tick: 105, BaselineTick: 104, LastInputSeq: 44, ServerTimeMS: 1733356800123,
			State: []byte{1, 2, 3, 4, 5}, Events: []Event{{Seq: 3, Tick: 105, Data: []byte{6}}}, EventSeq: 2}), "100000005453593108000c000b000400080000002000000000000002180024001800140010000000000000001c000c000800040018000000020000001c000000440000002c00000068000000690000007bc81d9493010000010000001000000000000a0010000c00080004000a0000000c00000069000000030000000100000006000000050000000102030405000000"},
		{"snapshot unchanged", snap(Snapshot{Tick: 106, BaselineTick: 105, LastInputSeq: 45, ServerTimeMS: 1733356800156}), "14000000545359310000000008000a000900040008000000180000000002120018000c00080004000000000000001000120000002d000000690000006a0000009cc81d9493010000"},
	}
}

// TestEnvelopeBytes pins the bytes of a few messages: they are the wire
// every client speaks (the TypeScript client's own copy is checked against
// Go's in clients/ts), so a change here is a change of the protocol.
func TestEnvelopeBytes(t *testing.T) {
	for _, c := range envelopeCases() {
		if got := hex.EncodeToString(c.msg); got != c.want {
			t.Errorf("%s (%d bytes):\n got %s\nwant %s", c.name, len(c.msg), got, c.want)
		}
	}
}
