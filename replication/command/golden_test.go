package command

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

// TestGoldenBytes pins the encoding of every command to the bytes that
// earlier versions wrote into Raft logs (and so into existing data
// directories): a change here breaks every cluster's log.
func TestGoldenBytes(t *testing.T) {
	for _, tc := range []struct {
		cmd Command
		hex string
	}{
		{&RegisterNode{ID: "n1", Advertise: "ws://n1:7350/ws", API: "http://n1:7350", RaftAddr: "10.0.0.1:7351"},
			"01026e310f77733a2f2f6e313a373335302f77730e687474703a2f2f6e313a373335300d31302e302e302e313a37333531"},
		{&SetNodeState{ID: "n2", State: NodeDraining},
			"02026e3202"},
		{&SetNodeState{ID: "n3", State: NodeDead},
			"02026e3303"},
		{&RemoveNode{ID: "n3"},
			"03026e33"},
		{&CreateMatch{ID: "m1", Game: "arena", Owner: "n1", Seed: 12345678901, Players: 3},
			"04026d31056172656e61026e31b5b8f0fe2d06"},
		{&CreateMatch{ID: "m2", Game: "arena"},
			"04026d32056172656e61000000"},
		{&AssignMatch{ID: "m1", FromEpoch: 17, From: "n1", To: "n2"},
			"05026d3111026e31026e3200"},
		{&AssignMatch{ID: "m1", FromEpoch: 17, From: "n1", To: "n2", Final: &CheckpointItem{Match: "m1", Epoch: 17, Tick: 900, Players: -1, Data: []byte("final")}},
			"05026d3111026e31026e3201026d31118407010566696e616c"},
		{&CheckpointBatch{Node: "n1", Items: []CheckpointItem{{Match: "m1", Epoch: 5, Tick: 300, Players: 4, Data: []byte("abc")}, {Match: "m2", Epoch: 6, Tick: 1 << 31, Players: -1}}},
			"06026e3102026d3105ac020803616263026d320680808080080100"},
		{&EndMatch{ID: "m1", Epoch: 0},
			"07026d3100"},
		{&EndMatch{ID: "m2", Epoch: 99},
			"07026d3263"},
		{&UpdatePlayers{ID: "m2", Epoch: 99, Players: 8},
			"08026d326310"},
		{&TickLogBatch{Node: "n1", Items: []TickLogItem{{Match: "m1", Epoch: 5, From: 300, To: 302, Data: []byte("abc")}}},
			"09026e3101026d3105ac02ae0203616263"},
	} {
		want, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got := Encode(tc.cmd); !bytes.Equal(got, want) {
			t.Errorf("%T %+v:\n got %x\nwant %x", tc.cmd, tc.cmd, got, want)
		}
		back, err := Decode(want)
		if err != nil || !reflect.DeepEqual(back, tc.cmd) {
			t.Errorf("decode %x: %+v, %v; want %+v", want, back, err, tc.cmd)
		}
	}
}
