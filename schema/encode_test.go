package schema

import (
	"bytes"
	"crypto/sha256"
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
			return e.Input(&Input{Seq: 1, TargetTick: 2, AckTick: 3, MoveX: -100, MoveY: 100, Aim: 65535, Buttons: 0x81})
		}, ClientMessage{Kind: ClientInput, Input: Input{Seq: 1, TargetTick: 2, AckTick: 3, MoveX: -100, MoveY: 100, Aim: 65535, Buttons: 0x81}}},
		{"input max", func() []byte {
			return e.Input(&Input{Seq: math.MaxUint32, TargetTick: math.MaxUint32, AckTick: math.MaxUint32, MoveX: 100, MoveY: -100})
		}, ClientMessage{Kind: ClientInput, Input: Input{Seq: math.MaxUint32, TargetTick: math.MaxUint32, AckTick: math.MaxUint32, MoveX: 100, MoveY: -100}}},
		{"input zero", func() []byte { return e.Input(&Input{}) }, ClientMessage{Kind: ClientInput}},
		{"hello game", func() []byte {
			return e.Hello(&Hello{Name: "ann", Game: "cards", Join: []byte{1, 2, 3}, SchemaHash: testHash})
		}, ClientMessage{Kind: ClientHello, Hello: Hello{Name: "ann", Game: "cards", Join: []byte{1, 2, 3}, SchemaHash: testHash}}},
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
	ents := []Entity{
		{ID: 1, Owner: 7, X: math.MinInt32, Y: math.MaxInt32, VX: math.MinInt16, VY: math.MaxInt16, Angle: 65535, Kind: 255, HP: 1},
		{ID: math.MaxUint32, X: -1, Y: 1},
	}
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
		{"snapshot full", snap(Snapshot{Tick: 10, LastInputSeq: 4, Spawned: ents, ServerTimeMS: math.MaxUint64}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 10, LastInputSeq: 4, Spawned: ents, ServerTimeMS: math.MaxUint64}}},
		{"snapshot delta", snap(Snapshot{Tick: 12, BaselineTick: 10, Spawned: ents[:1], Changes: []byte{3, 1, 2}, Removed: []uint32{5, math.MaxUint32}, ServerTimeMS: 77}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 12, BaselineTick: 10, Spawned: ents[:1], Changes: []byte{3, 1, 2}, Removed: []uint32{5, math.MaxUint32}, ServerTimeMS: 77}}},
		{"snapshot empty", snap(Snapshot{Tick: 12, BaselineTick: 11}), ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 12, BaselineTick: 11}}},
		{"snapshot game", snap(gameSnapshot(1024, 3)), ServerMessage{Kind: ServerSnapshot, Snapshot: gameSnapshot(1024, 3)}},
		{"snapshot game full", snap(Snapshot{Tick: 7, LastInputSeq: 2, State: []byte{1}, EventSeq: 9}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 7, LastInputSeq: 2, State: []byte{1}, EventSeq: 9}}},
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
				Snapshot: Snapshot{Tick: 3, Changes: []byte{9}, State: []byte{1}, Events: []Event{{Seq: 1}}, EventSeq: 4}}
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
		a.ServerTimeMS == b.ServerTimeMS && len(a.Spawned) == len(b.Spawned) && len(a.Changes) == len(b.Changes) &&
		len(a.Removed) == len(b.Removed) && (len(a.Spawned) == 0 || reflect.DeepEqual(a.Spawned, b.Spawned)) &&
		(len(a.Changes) == 0 || string(a.Changes) == string(b.Changes)) &&
		(len(a.Removed) == 0 || reflect.DeepEqual(a.Removed, b.Removed)) &&
		bytes.Equal(a.State, b.State) && a.EventSeq == b.EventSeq && eventsEqual(a.Events, b.Events)
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

// gameSnapshot is a generic game's snapshot: stateLen bytes of state and n
// events of a few dozen bytes each.
func gameSnapshot(stateLen, n int) Snapshot {
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
	game := gameSnapshot(100, 3)
	for _, encoded := range []uint32{0, 1, math.MaxUint32} {
		s := Snapshot{Tick: 50, BaselineTick: 48, LastInputSeq: encoded, Spawned: []Entity{{ID: 4, X: 9}},
			Changes: []byte{1, 1, 2}, Removed: []uint32{3}, ServerTimeMS: 123}
		if encoded == 1 { // a generic game's snapshot patches the same way
			s = Snapshot{Tick: 50, BaselineTick: 48, LastInputSeq: encoded, State: game.State, Events: game.Events, EventSeq: 3}
		}
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

// TestDecodeSnapshotReuses: decoding reuses the slices' capacity and copies
// Changes out of the buffer (gws pools read buffers).
func TestDecodeSnapshotReuses(t *testing.T) {
	ents := make([]Entity, 64)
	for i := range ents {
		ents[i] = Entity{ID: uint32(i + 1), X: int32(i)}
	}
	msg, _ := NewEncoder(0).Snapshot(&Snapshot{Tick: 9, BaselineTick: 8, Spawned: ents, Changes: []byte{1, 2, 3}, Removed: []uint32{1, 2}})
	msg = clone(msg)
	var m ServerMessage
	if err := DecodeServerMessage(msg, &m); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeServerMessage(msg, &m); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per decode; want 0", n)
	}
	for i := range msg {
		msg[i] = 0xee
	}
	if string(m.Snapshot.Changes) != "\x01\x02\x03" || m.Snapshot.Spawned[63].X != 63 || m.Snapshot.Removed[1] != 2 {
		t.Fatalf("decoded snapshot changed with its buffer: %v", m.Snapshot.Changes)
	}
}

func TestDecodeInputAllocatesNothing(t *testing.T) {
	e := NewEncoder(0)
	for name, msg := range map[string][]byte{
		"input":       clone(e.Input(&Input{Seq: 5, AckTick: 4, MoveX: 3})),
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

// TestDecodeGameSnapshotReuses: a snapshot with state and events decodes
// into a reused Snapshot without allocating, Events keeping its capacity;
// State and each event's Data alias the buffer, clipped so that appending
// to them cannot write into it.
func TestDecodeGameSnapshotReuses(t *testing.T) {
	want := gameSnapshot(1024, 3)
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
	game := gameSnapshot(1024, 3)
	_, arena := arenaWorlds(0)
	full := Snapshot{Tick: 5000, LastInputSeq: 77, Spawned: arena, ServerTimeMS: 1}
	welcome := Welcome{SessionID: "s", Game: "cards", SchemaHash: testHash, EventSeq: 3}
	hello := Hello{Token: "t", Join: []byte{1, 2}, SchemaHash: testHash}
	input := Input{Seq: 1, Data: []byte{1, 2, 3}, EventAck: 4}
	event := Event{Seq: 1, Data: []byte{1, 2, 3}}
	encs := map[string]func(){
		"snapshot game":  func() { e.Snapshot(&game) },
		"snapshot arena": func() { e.Snapshot(&full) },
		"welcome":        func() { e.Welcome(&welcome) },
		"hello":          func() { e.Hello(&hello) },
		"input":          func() { e.Input(&input) },
		"event":          func() { e.Event(&event) },
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

// TestArenaBytesUnchanged: the messages the arena sends and receives (no
// game bytes, no events) are byte for byte what they were before the
// envelope grew its generic fields. The digests are of the encodings
// committed in testdata/fuzz before that change.
func TestArenaBytesUnchanged(t *testing.T) {
	seeds := corpusSeeds()
	for _, c := range []struct{ target, seed, sum string }{
		{"FuzzDecodeClientMessage", "hello", "6cf709512d08832906bf058579cb4d359e0508df2c861a8aa2bb4a4afb97f0d1"},               // 120 bytes
		{"FuzzDecodeClientMessage", "hello-empty", "90f22bed0dfe168049264c6064f237ee178592424945514e548c5537cf62485b"},         // 36 bytes
		{"FuzzDecodeClientMessage", "hello-max", "fb20e8bb65ca0fdd0095bc3ae76dd34eb433c87349c029c26b4bb6358e7d9e3b"},           // 2284 bytes
		{"FuzzDecodeClientMessage", "input", "079cf8113f402353f4b3db85825794601eed53d76857bb62ff19f8c7768867c3"},               // 68 bytes
		{"FuzzDecodeClientMessage", "input-zero", "f25ca4b477a4041ae4e203402330b257da5ea0d04f0aea58329ce52a522445cd"},          // 36 bytes
		{"FuzzDecodeClientMessage", "leave", "6df6bcd061a1d090617c624bc14ed6ae4e75be02772aa2f92bc20f87f05508cb"},               // 36 bytes
		{"FuzzDecodeClientMessage", "ping", "e17e3e17293a5065afff227bdba0851071891a9d7bd907747043132a11f64dd9"},                // 48 bytes
		{"FuzzDecodeServerMessage", "error", "d5fdf0143a51ed3aa7b2bf0993af291a43f1a4aa99851b94b496f604babcdf2b"},               // 64 bytes
		{"FuzzDecodeServerMessage", "pong", "a0694aeab878f6d14c8b93729f7c99c285b2d4e9ef91d13edb6e3b52e1e5c719"},                // 56 bytes
		{"FuzzDecodeServerMessage", "redirect", "2d47100984d780b7077bd9f14ca7cba03f0a6583fb1863f5b2d78a1c664b47c5"},            // 72 bytes
		{"FuzzDecodeServerMessage", "snapshot-arena-dt1", "4548377206c1c1bae929a908d82eca310521519bdbf060e387e0c3c6b93e0634"},  // 88 bytes
		{"FuzzDecodeServerMessage", "snapshot-arena-dt2", "3bf20326dc10337bc60468ada2e0e2a35efee004af4c2d1b3ed1be09d67c052c"},  // 88 bytes
		{"FuzzDecodeServerMessage", "snapshot-arena-dt3", "8ba48de06e81ac25dc3ffa671c424c2f2e1988b6063dd24f8129504d137087be"},  // 128 bytes
		{"FuzzDecodeServerMessage", "snapshot-arena-full", "6808e81dd22c81fa209c13d7c8ff37342f5a282237f85784a2fed05c0f6d25ea"}, // 1596 bytes
		{"FuzzDecodeServerMessage", "snapshot-delta", "20d0837dc5db43757ea83250ca611786e70e9a0c5779a207bf74801ddeaa1fec"},      // 128 bytes
		{"FuzzDecodeServerMessage", "snapshot-empty", "d40f77c1033d3a51142cd12e6874f2e264f2c8ab154494e73fbdb9f1f404a900"},      // 52 bytes
		{"FuzzDecodeServerMessage", "snapshot-full", "9f531e6a07d4eea10f60de0bff71936b321c891a185a2e4dd5ae1a4f37f2d67f"},       // 128 bytes
		{"FuzzDecodeServerMessage", "welcome", "d19b0496e6c6fd289ff6db774d2257f50a57055e1d7b66b463c3df63c4330df7"},             // 116 bytes
		{"FuzzDecodeServerMessage", "welcome-empty", "90f22bed0dfe168049264c6064f237ee178592424945514e548c5537cf62485b"},       // 36 bytes
	} {
		b, ok := seeds[c.target][c.seed]
		if !ok {
			t.Fatalf("%s: no seed %s", c.target, c.seed)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != c.sum {
			t.Errorf("%s %s (%d bytes): sha256 %x; want %s", c.target, c.seed, len(b), got, c.sum)
		}
	}
}
