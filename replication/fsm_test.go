package replication

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/command"
)

// fsmRunner applies commands to an FSM with consecutive indexes.
type fsmRunner struct {
	t   testing.TB
	f   *fsm
	idx uint64
}

func newRunner(t testing.TB) *fsmRunner { return &fsmRunner{t: t, f: newFSM()} }

func (r *fsmRunner) apply(cmd command.Command) (*Result, error) {
	r.t.Helper()
	r.idx++
	// Through the encoding, as Raft would deliver it.
	out := r.f.Apply(&raft.Log{Index: r.idx, Type: raft.LogCommand, Data: command.Encode(cmd)})
	switch v := out.(type) {
	case *Result:
		return v, nil
	case error:
		return nil, v
	}
	r.t.Fatalf("apply returned %T", out)
	return nil, nil
}

func (r *fsmRunner) must(cmd command.Command) *Result {
	r.t.Helper()
	res, err := r.apply(cmd)
	if err != nil {
		r.t.Fatalf("apply %T: %v", cmd, err)
	}
	return res
}

func (r *fsmRunner) match(id string) MatchInfo {
	r.t.Helper()
	m, ok := r.f.Lookup(id)
	if !ok {
		r.t.Fatalf("match %s missing", id)
	}
	return m
}

func reg(id string) *command.RegisterNode {
	return &command.RegisterNode{ID: id, Advertise: "ws://" + id + "/ws", API: "http://" + id, RaftAddr: id + ":7351"}
}

func TestFSMCommands(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, r *fsmRunner)
	}{
		{"create places on least loaded, epoch is the index", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n2"))
			r.must(reg("n1"))
			a := r.must(&command.CreateMatch{ID: "a", Game: "arena"})
			if a.Match.Owner != "n1" || a.Match.Epoch != a.Index || a.Index != 3 {
				t.Fatalf("a = %+v at %d, want n1 epoch 3", a.Match, a.Index)
			}
			b := r.must(&command.CreateMatch{ID: "b", Game: "arena"})
			if b.Match.Owner != "n2" {
				t.Fatalf("b owner %s, want n2", b.Match.Owner)
			}
			if b.Match.Seed == 0 || b.Match.Seed == a.Match.Seed {
				t.Fatalf("seeds %d %d: want distinct non-zero", a.Match.Seed, b.Match.Seed)
			}
			if n, _ := r.f.Node("n1"); n.Load != 1 {
				t.Fatalf("n1 load %d", n.Load)
			}
		}},
		{"create is idempotent for the same game", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			first := r.must(&command.CreateMatch{ID: "a", Game: "arena", Seed: 7})
			again := r.must(&command.CreateMatch{ID: "a", Game: "arena", Seed: 9})
			if !again.Existing || again.Match.Epoch != first.Match.Epoch || again.Match.Seed != 7 {
				t.Fatalf("retry = %+v", again)
			}
			if _, err := r.apply(&command.CreateMatch{ID: "a", Game: "other"}); !errors.Is(err, ErrMatchExists) {
				t.Fatalf("other game: %v", err)
			}
		}},
		{"create refusals", func(t *testing.T, r *fsmRunner) {
			if _, err := r.apply(&command.CreateMatch{ID: "a", Game: "arena"}); !errors.Is(err, ErrNoLiveNode) {
				t.Fatalf("no nodes: %v", err)
			}
			r.must(reg("n1"))
			r.must(&command.SetNodeState{ID: "n1", State: NodeDraining})
			if _, err := r.apply(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"}); !errors.Is(err, ErrNodeNotAlive) {
				t.Fatalf("draining owner: %v", err)
			}
			if _, err := r.apply(&command.CreateMatch{ID: "a", Game: "arena", Owner: "nx"}); !errors.Is(err, ErrNodeNotFound) {
				t.Fatalf("unknown owner: %v", err)
			}
			if _, err := r.apply(&command.CreateMatch{ID: "", Game: "arena"}); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("no id: %v", err)
			}
		}},
		{"dead node's matches move to least loaded with new epochs", func(t *testing.T, r *fsmRunner) {
			for _, id := range []string{"n1", "n2", "n3"} {
				r.must(reg(id))
			}
			for i := range 6 {
				r.must(&command.CreateMatch{ID: fmt.Sprintf("m%d", i), Game: "arena"})
			}
			// m0,m3 → n1; m1,m4 → n2; m2,m5 → n3.
			old := r.match("m0")
			res := r.must(&command.SetNodeState{ID: "n1", State: NodeDead})
			if len(res.Moved) != 2 {
				t.Fatalf("moved %+v", res.Moved)
			}
			for _, id := range []string{"m0", "m3"} {
				m := r.match(id)
				if m.Owner == "n1" || m.Epoch != res.Index || m.Status != MatchRunning {
					t.Fatalf("%s after death: %+v", id, m)
				}
			}
			if m := r.match("m0"); m.PrevEpoch != old.Epoch {
				t.Fatalf("prev epoch %d want %d", m.PrevEpoch, old.Epoch)
			}
			n2, _ := r.f.Node("n2")
			n3, _ := r.f.Node("n3")
			if n2.Load != 3 || n3.Load != 3 {
				t.Fatalf("loads n2=%d n3=%d, want 3 and 3", n2.Load, n3.Load)
			}
			again := r.must(&command.SetNodeState{ID: "n1", State: NodeDead})
			if !again.Existing || len(again.Moved) != 0 {
				t.Fatalf("repeat death: %+v", again)
			}
		}},
		{"orphans are placed when a node comes alive", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			r.must(&command.CreateMatch{ID: "a", Game: "arena"})
			res := r.must(&command.SetNodeState{ID: "n1", State: NodeDead})
			if m := r.match("a"); m.Status != MatchOrphaned || m.Owner != "" || m.Epoch != res.Index {
				t.Fatalf("orphan: %+v", m)
			}
			back := r.must(reg("n2"))
			if m := r.match("a"); m.Owner != "n2" || m.Status != MatchRunning || m.Epoch != back.Index {
				t.Fatalf("placed: %+v", m)
			}
			revive := r.must(reg("n1"))
			if revive.Node.State != NodeAlive || !revive.Existing {
				t.Fatalf("revive: %+v", revive)
			}
		}},
		{"hand-over by the owner with a final checkpoint", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			r.must(reg("n2"))
			m := r.must(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"}).Match
			fin := &command.CheckpointItem{Match: "a", Epoch: m.Epoch, Tick: 90, Players: 3, Data: []byte("final")}
			res := r.must(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch, From: "n1", To: "n2", Final: fin})
			got := r.match("a")
			if got.Owner != "n2" || got.Epoch != res.Index || got.CheckpointTick != 90 || got.CheckpointEpoch != m.Epoch || got.Players != 3 {
				t.Fatalf("after hand-over: %+v", got)
			}
			if c, _ := r.f.Checkpoint("a"); string(c.Data) != "final" {
				t.Fatalf("checkpoint %q", c.Data)
			}
			retry := r.must(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch, From: "n1", To: "n2", Final: fin})
			if !retry.Existing || retry.Match.Epoch != got.Epoch {
				t.Fatalf("retry: %+v", retry)
			}
		}},
		{"assign refusals", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			r.must(reg("n2"))
			m := r.must(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"}).Match
			if _, err := r.apply(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch, From: "n2", To: "n2"}); !errors.Is(err, ErrOwnerAlive) {
				t.Fatalf("non-owner: %v", err)
			}
			if _, err := r.apply(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch - 1, From: "n1", To: "n2"}); !errors.Is(err, ErrStaleEpoch) {
				t.Fatalf("stale: %v", err)
			}
			r.must(&command.SetNodeState{ID: "n2", State: NodeDraining})
			if _, err := r.apply(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch, From: "n1", To: "n2"}); !errors.Is(err, ErrNodeNotAlive) {
				t.Fatalf("to draining: %v", err)
			}
			bad := &command.CheckpointItem{Match: "b", Epoch: m.Epoch, Players: -1, Data: []byte("x")}
			r.must(&command.SetNodeState{ID: "n2", State: NodeAlive})
			if _, err := r.apply(&command.AssignMatch{ID: "a", FromEpoch: m.Epoch, From: "n1", To: "n2", Final: bad}); !errors.Is(err, ErrBadCommand) {
				t.Fatalf("final of another match: %v", err)
			}
			if _, err := r.apply(&command.AssignMatch{ID: "zz", From: "n1", To: "n2"}); !errors.Is(err, ErrMatchNotFound) {
				t.Fatalf("unknown match: %v", err)
			}
		}},
		{"checkpoint batch: per-item verdicts", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			r.must(reg("n2"))
			a := r.must(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"}).Match
			b := r.must(&command.CreateMatch{ID: "b", Game: "arena", Owner: "n1"}).Match
			r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: a.Epoch, Tick: 10, Players: -1, Data: []byte("a10")}}})
			dead := r.must(&command.SetNodeState{ID: "n1", State: NodeDead}) // a and b move to n2
			res := r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{
				{Match: "a", Epoch: a.Epoch, Tick: 20, Players: -1, Data: []byte("a20")}, // stale
				{Match: "b", Epoch: dead.Index, Tick: 5, Players: 2, Data: []byte("b5")}, // current
				{Match: "c", Epoch: 1, Tick: 5, Players: -1, Data: []byte("c")},          // unknown
			}})
			want := []Rejection{{"a", a.Epoch, "stale_epoch"}, {"c", 1, "match_not_found"}}
			if res.Accepted != 1 || !reflect.DeepEqual(res.Rejected, want) {
				t.Fatalf("verdicts: accepted %d rejected %+v", res.Accepted, res.Rejected)
			}
			if c, _ := r.f.Checkpoint("a"); string(c.Data) != "a10" || c.Epoch != a.Epoch {
				t.Fatalf("stale checkpoint stored: %+v", c)
			}
			if m := r.match("b"); m.Players != 2 || m.CheckpointTick != 5 || m.Epoch == b.Epoch {
				t.Fatalf("b: %+v", m)
			}
			old := r.must(&command.CheckpointBatch{Items: []command.CheckpointItem{{Match: "b", Epoch: dead.Index, Tick: 4, Players: -1, Data: []byte("b4")}}})
			if len(old.Rejected) != 1 || old.Rejected[0].Code != "old_tick" {
				t.Fatalf("old tick: %+v", old)
			}
			same := r.must(&command.CheckpointBatch{Items: []command.CheckpointItem{{Match: "b", Epoch: dead.Index, Tick: 5, Players: -1, Data: []byte("b5")}}})
			if same.Accepted != 1 {
				t.Fatalf("retried batch: %+v", same)
			}
		}},
		{"end and players", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			m := r.must(&command.CreateMatch{ID: "a", Game: "arena"}).Match
			if _, err := r.apply(&command.UpdatePlayers{ID: "a", Epoch: m.Epoch + 1, Players: 4}); !errors.Is(err, ErrStaleEpoch) {
				t.Fatalf("stale players: %v", err)
			}
			r.must(&command.UpdatePlayers{ID: "a", Epoch: m.Epoch, Players: 4})
			if r.match("a").Players != 4 {
				t.Fatal("players not set")
			}
			if _, err := r.apply(&command.EndMatch{ID: "a", Epoch: m.Epoch + 1}); !errors.Is(err, ErrStaleEpoch) {
				t.Fatalf("stale end: %v", err)
			}
			if res := r.must(&command.EndMatch{ID: "a", Epoch: m.Epoch}); !res.Existing {
				t.Fatal("end: not existing")
			}
			if res := r.must(&command.EndMatch{ID: "a"}); res.Existing {
				t.Fatal("second end: existing")
			}
			if n, _ := r.f.Node("n1"); n.Load != 0 {
				t.Fatalf("load after end %d", n.Load)
			}
		}},
		{"remove node moves its matches", func(t *testing.T, r *fsmRunner) {
			r.must(reg("n1"))
			r.must(reg("n2"))
			r.must(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"})
			res := r.must(&command.RemoveNode{ID: "n1"})
			if m := r.match("a"); m.Owner != "n2" || m.Epoch != res.Index {
				t.Fatalf("after remove: %+v", m)
			}
			if _, ok := r.f.Node("n1"); ok {
				t.Fatal("n1 still there")
			}
			if res := r.must(&command.RemoveNode{ID: "n1"}); res.Existing {
				t.Fatal("second remove existing")
			}
		}},
		{"undecodable entry is an error, index still advances", func(t *testing.T, r *fsmRunner) {
			out := r.f.Apply(&raft.Log{Index: 5, Type: raft.LogCommand, Data: []byte{99, 1, 2}})
			if err, ok := out.(error); !ok || !errors.Is(err, ErrBadCommand) {
				t.Fatalf("got %v", out)
			}
			if r.f.Index() != 5 {
				t.Fatalf("index %d", r.f.Index())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newRunner(t)) })
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

func snapshotBytes(t testing.TB, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

// buildState drives an FSM through every command kind.
func buildState(t testing.TB) *fsmRunner {
	r := newRunner(t)
	for _, id := range []string{"n1", "n2", "n3"} {
		r.must(reg(id))
	}
	for i := range 9 {
		r.must(&command.CreateMatch{ID: fmt.Sprintf("m%d", i), Game: "arena", Players: i})
	}
	var items []command.CheckpointItem
	for _, m := range r.f.Matches() {
		items = append(items, command.CheckpointItem{Match: m.ID, Epoch: m.Epoch, Tick: uint32(100 + len(items)), Players: 2,
			Data: compress(nil, bytes.Repeat([]byte(m.ID), 100))})
	}
	r.must(&command.CheckpointBatch{Node: "n1", Items: items})
	r.must(&command.SetNodeState{ID: "n3", State: NodeDead})
	r.must(&command.SetNodeState{ID: "n2", State: NodeDraining})
	m := r.match("m0")
	r.must(&command.AssignMatch{ID: "m0", FromEpoch: m.Epoch, From: m.Owner, To: "n1"})
	r.must(&command.EndMatch{ID: "m8"})
	r.must(&command.UpdatePlayers{ID: "m1", Epoch: r.match("m1").Epoch, Players: 7})
	return r
}

func TestFSMSnapshotRestore(t *testing.T) {
	r := buildState(t)
	snap := snapshotBytes(t, r.f)

	restored := newFSM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.Matches(), r.f.Matches()) {
		t.Fatalf("matches differ:\n%+v\n%+v", restored.Matches(), r.f.Matches())
	}
	if !reflect.DeepEqual(restored.Nodes(), r.f.Nodes()) {
		t.Fatalf("nodes differ:\n%+v\n%+v", restored.Nodes(), r.f.Nodes())
	}
	if restored.Index() != r.f.Index() {
		t.Fatalf("index %d want %d", restored.Index(), r.f.Index())
	}
	for _, m := range r.f.Matches() {
		a, _ := r.f.Checkpoint(m.ID)
		b, _ := restored.Checkpoint(m.ID)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("checkpoint %s differs", m.ID)
		}
		if st, err := b.State(); err != nil || !bytes.Equal(st, bytes.Repeat([]byte(m.ID), 100)) {
			t.Fatalf("state of %s: %v", m.ID, err)
		}
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of the restored FSM differs")
	}
	// Determinism: the same commands on another FSM give the same bytes.
	if other := snapshotBytes(t, buildState(t).f); !bytes.Equal(other, snap) {
		t.Fatal("same commands, different state")
	}
	// Applying after a restore continues consistently (loads recomputed).
	rr := &fsmRunner{t: t, f: restored, idx: restored.Index()}
	rr.must(&command.SetNodeState{ID: "n1", State: NodeDead})
	if orphans := rr.f.Matches(); orphans[0].Status != MatchOrphaned {
		t.Fatalf("with n1 dead, n2 draining and n3 dead, m0 should be orphaned: %+v", orphans[0])
	}
	if err := restored.Restore(io.NopCloser(bytes.NewReader([]byte("nope")))); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
}

// TestSnapshotGoldenBytes pins the snapshot format to the bytes earlier
// versions wrote (existing data directories hold such snapshots): the same
// state encodes to them, and they restore to the same state.
func TestSnapshotGoldenBytes(t *testing.T) {
	r := newRunner(t)
	for _, c := range []command.Command{
		&command.RegisterNode{ID: "n1", Advertise: "ws://n1/ws", API: "http://n1", RaftAddr: "n1:7351"},
		&command.RegisterNode{ID: "n2", Advertise: "ws://n2/ws", API: "http://n2", RaftAddr: "n2:7351"},
		&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1", Seed: 7, Players: 2},
		&command.CreateMatch{ID: "b", Game: "arena"},
		&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: 3, Tick: 40, Players: 5, Data: []byte("state-a")}}},
		&command.SetNodeState{ID: "n2", State: NodeDraining},
	} {
		r.must(c)
	}
	want, err := hex.DecodeString("545346310602026e310a77733a2f2f6e312f777309687474703a2f2f6e31076e313a37333531010101026e320a77733a" +
		"2f2f6e322f777309687474703a2f2f6e32076e323a37333531020602020161056172656e61026e3103000a0107030328" +
		"050773746174652d610162056172656e61026e3204000001ca95ce91aeeef8b96e0400000000")
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotBytes(t, r.f); !bytes.Equal(got, want) {
		t.Fatalf("snapshot:\n got %x\nwant %x", got, want)
	}
	restored := newFSM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(want))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored.Matches(), r.f.Matches()) || !reflect.DeepEqual(restored.Nodes(), r.f.Nodes()) || restored.Index() != r.f.Index() {
		t.Fatalf("restored %+v %+v at %d; want %+v %+v at %d",
			restored.Matches(), restored.Nodes(), restored.Index(), r.f.Matches(), r.f.Nodes(), r.f.Index())
	}
}

// FuzzApply: whatever bytes a log entry holds, the FSM applies them (or
// refuses them) without panicking, after a node exists to act on. (That
// every command round-trips through its encoding is command.FuzzDecode.)
func FuzzApply(f *testing.F) {
	f.Add(command.Encode(reg("n2")))
	f.Add(command.Encode(&command.CreateMatch{ID: "a", Game: "arena", Seed: 1}))
	f.Add(command.Encode(&command.AssignMatch{ID: "a", FromEpoch: 2, To: "n1", Final: &command.CheckpointItem{Match: "a", Data: []byte{1}}}))
	f.Add(command.Encode(&command.CheckpointBatch{Node: "n", Items: []command.CheckpointItem{{Match: "a", Players: -1, Data: []byte{1}}}}))
	f.Add(command.Encode(&command.SetNodeState{ID: "n1", State: command.NodeDead}))
	f.Add([]byte{6, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(command.Encode(&command.TickLogBatch{Node: "n1", Items: []command.TickLogItem{{Match: "a", Epoch: 2, From: 1, To: 3, Data: []byte{1}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsm := newFSM()
		fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: command.Encode(reg("n1"))})
		fsm.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: command.Encode(&command.CreateMatch{ID: "a", Game: "arena"})})
		out := fsm.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: b})
		if _, err := command.Decode(b); err != nil {
			if e, ok := out.(error); !ok || !errors.Is(e, ErrBadCommand) {
				t.Fatalf("undecodable entry applied: %v", out)
			}
		}
		if fsm.Index() != 3 {
			t.Fatalf("index %d after entry 3", fsm.Index())
		}
	})
}

func FuzzRestore(f *testing.F) {
	f.Add(snapshotBytes(f, buildState(f).f))
	f.Add([]byte(snapshotMagic))
	withLog := buildState(f)
	m := withLog.match("m1")
	withLog.must(&command.TickLogBatch{Node: m.Owner, Items: []command.TickLogItem{{Match: "m1", Epoch: m.Epoch, From: 1, To: 200, Data: []byte("log")}}})
	f.Add(snapshotBytes(f, withLog.f))
	f.Fuzz(func(t *testing.T, b []byte) {
		fsm := newFSM()
		_ = fsm.Restore(io.NopCloser(bytes.NewReader(b)))
	})
}
