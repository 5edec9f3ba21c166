package schema

import (
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
		{"leave", e.Leave, ClientMessage{Kind: ClientLeave}},
		{"ping", func() []byte { return e.Ping(math.MaxUint64) }, ClientMessage{Kind: ClientPing, ClientTime: math.MaxUint64}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Decode into a message holding leftovers of another kind.
			m := ClientMessage{Kind: ClientHello, Hello: Hello{Name: "old"}, Input: Input{Seq: 99}, ClientTime: 5}
			if err := DecodeClientMessage(c.enc(), &m); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, c.want) {
				t.Fatalf("got %+v\nwant %+v", m, c.want)
			}
		})
	}
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
		{"snapshot full", snap(Snapshot{Tick: 10, LastInputSeq: 4, Spawned: ents, ServerTimeMS: math.MaxUint64}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 10, LastInputSeq: 4, Spawned: ents, ServerTimeMS: math.MaxUint64}}},
		{"snapshot delta", snap(Snapshot{Tick: 12, BaselineTick: 10, Spawned: ents[:1], Changes: []byte{3, 1, 2}, Removed: []uint32{5, math.MaxUint32}, ServerTimeMS: 77}),
			ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 12, BaselineTick: 10, Spawned: ents[:1], Changes: []byte{3, 1, 2}, Removed: []uint32{5, math.MaxUint32}, ServerTimeMS: 77}}},
		{"snapshot empty", snap(Snapshot{Tick: 12, BaselineTick: 11}), ServerMessage{Kind: ServerSnapshot, Snapshot: Snapshot{Tick: 12, BaselineTick: 11}}},
		{"redirect", func() []byte { return e.Redirect("wss://n2.example.com/ws", "m-7") }, ServerMessage{Kind: ServerRedirect, Redirect: Redirect{URL: "wss://n2.example.com/ws", MatchID: "m-7"}}},
		{"error", func() []byte { return e.Error(ErrCodeResumeRefused, "seat gone") }, ServerMessage{Kind: ServerError, Error: ErrorMsg{Code: ErrCodeResumeRefused, Message: "seat gone"}}},
		{"error empty", func() []byte { return e.Error(ErrCodeUnknown, "") }, ServerMessage{Kind: ServerError}},
		{"pong", func() []byte { return e.Pong(math.MaxUint64, 1) }, ServerMessage{Kind: ServerPong, ClientTime: math.MaxUint64, ServerTime: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := ServerMessage{Kind: ServerWelcome, Welcome: Welcome{NodeID: "old"}, Snapshot: Snapshot{Tick: 3, Changes: []byte{9}}}
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
		(len(a.Removed) == 0 || reflect.DeepEqual(a.Removed, b.Removed))
}

// TestPatchLastInputSeq: one encoding, patched per client, decodes with each
// client's seq and nothing else changed, including a seq of 0 encoded.
func TestPatchLastInputSeq(t *testing.T) {
	e := NewEncoder(0)
	for _, encoded := range []uint32{0, 1, math.MaxUint32} {
		s := Snapshot{Tick: 50, BaselineTick: 48, LastInputSeq: encoded, Spawned: []Entity{{ID: 4, X: 9}},
			Changes: []byte{1, 1, 2}, Removed: []uint32{3}, ServerTimeMS: 123}
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
	msg := clone(NewEncoder(0).Input(&Input{Seq: 5, AckTick: 4, MoveX: 3}))
	var m ClientMessage
	if n := testing.AllocsPerRun(100, func() {
		if err := DecodeClientMessage(msg, &m); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per input decode; want 0", n)
	}
}
