package command

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func reg(id string) *RegisterNode {
	return &RegisterNode{ID: id, Advertise: "ws://" + id + "/ws", API: "http://" + id, RaftAddr: id + ":7351"}
}

func TestRoundTrip(t *testing.T) {
	cmds := []Command{
		reg("n1"),
		&SetNodeState{ID: "n1", State: NodeDraining},
		&RemoveNode{ID: "n1"},
		&CreateMatch{ID: "a", Game: "arena", Owner: "n1", Seed: 42, Players: 3},
		&AssignMatch{ID: "a", FromEpoch: 9, From: "n1", To: "n2"},
		&AssignMatch{ID: "a", FromEpoch: 9, From: "n1", To: "n2", Final: &CheckpointItem{Match: "a", Epoch: 9, Tick: 1 << 31, Players: -1, Data: []byte{1, 2}}},
		&CheckpointBatch{Node: "n1", Items: []CheckpointItem{{Match: "a", Epoch: 1, Tick: 2, Players: 3, Data: []byte("x")}, {Match: "b", Epoch: 4, Players: -1}}},
		&CheckpointBatch{Node: "node-with-a-long-name", Items: []CheckpointItem{
			{Match: "m-0123456789abcdef", Epoch: math.MaxUint64, Tick: math.MaxUint32, Players: math.MaxInt32, Data: make([]byte, 3000)},
			{Match: "m-fedcba9876543210", Epoch: 1 << 40, Tick: 1 << 31, Players: -1, Data: make([]byte, 70000)},
		}},
		&EndMatch{ID: "a", Epoch: 3},
		&UpdatePlayers{ID: "a", Epoch: 3, Players: 8},
		&TickLogBatch{Node: "n1", Items: []TickLogItem{{Match: "a", Epoch: 1, From: 2, To: 4, Data: []byte("xyz")}, {Match: "b", Epoch: math.MaxUint64, From: math.MaxUint32, To: math.MaxUint32, Data: make([]byte, 5000)}}},
	}
	for _, c := range cmds {
		b := Encode(c)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("%T: got %+v want %+v", c, got, c)
		}
		if h, ok := c.(interface{ sizeHint() int }); ok && cap(b) != h.sizeHint() {
			// The hint must bound the size: otherwise append grew the buffer.
			t.Fatalf("%T: %d bytes in a buffer of %d; size hint %d", c, len(b), cap(b), h.sizeHint())
		}
		for i := range len(b) - 1 { // every truncation fails cleanly
			if _, err := Decode(b[:i]); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("%T truncated to %d: %v", c, i, err)
			}
		}
		if _, err := Decode(append(b, 0)); !errors.Is(err, ErrBadCommand) {
			t.Fatalf("%T with a trailing byte: %v", c, err)
		}
	}
}

func TestDecodeRefusals(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":               nil,
		"unknown type":        {99, 1, 2},
		"bad final flag":      {typeAssignMatch, 1, 'a', 0, 0, 0, 2},
		"players below -1":    {typeCheckpointBatch, 0, 1, 1, 'a', 0, 0, 3, 0},
		"tick over 32 bits":   {typeCheckpointBatch, 0, 1, 1, 'a', 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0},
		"huge item count":     {typeCheckpointBatch, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"string past the end": {typeRemoveNode, 5, 'a'},
	} {
		if c, err := Decode(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
	}
}

func TestStatesAsText(t *testing.T) {
	for _, s := range []NodeState{NodeAlive, NodeDraining, NodeDead} {
		b, _ := s.MarshalText()
		var back NodeState
		if err := back.UnmarshalText(b); err != nil || back != s || !s.Valid() {
			t.Fatalf("%v: %q → %v %v", s, b, back, err)
		}
	}
	if NodeState(9).Valid() || NodeState(9).String() != "state(9)" {
		t.Fatal("state 9")
	}
	for _, s := range []MatchStatus{MatchRunning, MatchOrphaned} {
		b, _ := s.MarshalText()
		var back MatchStatus
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v: %q → %v %v", s, b, back, err)
		}
	}
	var ns NodeState
	var ms MatchStatus
	if ns.UnmarshalText([]byte("zombie")) == nil || ms.UnmarshalText([]byte("paused")) == nil {
		t.Fatal("unknown names accepted")
	}
}

// FuzzDecode: whatever decodes re-encodes to the same command. (That every
// decoded command applies to the FSM without panicking is replication's
// FuzzApply.)
func FuzzDecode(f *testing.F) {
	f.Add(Encode(reg("n1")))
	f.Add(Encode(&CreateMatch{ID: "a", Game: "arena", Seed: 1}))
	f.Add(Encode(&AssignMatch{ID: "a", FromEpoch: 2, Final: &CheckpointItem{Match: "a", Data: []byte{1}}}))
	f.Add(Encode(&CheckpointBatch{Node: "n", Items: []CheckpointItem{{Match: "a", Players: -1, Data: []byte{1}}}}))
	f.Add([]byte{typeCheckpointBatch, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(Encode(&TickLogBatch{Node: "n", Items: []TickLogItem{{Match: "a", Epoch: 1, From: 1, To: 2, Data: []byte{1, 2}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(Encode(c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-encode of %+v: %+v, %v", c, again, err)
		}
	})
}
