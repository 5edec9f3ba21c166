package replication

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ticksync/ticksync/replication/command"
)

// seg is a tick log item of match "a" at epoch for ticks from..to, whose
// data names them (so that a read shows which segments it joined).
func seg(epoch uint64, from, to uint32) command.TickLogItem {
	return command.TickLogItem{Match: "a", Epoch: epoch, From: from, To: to, Data: []byte(fmt.Sprintf("[%d-%d@%d]", from, to, epoch))}
}

func logBatch(items ...command.TickLogItem) *command.TickLogBatch {
	return &command.TickLogBatch{Node: "n1", Items: items}
}

// tickLogRunner is an FSM with nodes n1 and n2 and match "a" on n1.
func tickLogRunner(t *testing.T) (*fsmRunner, uint64) {
	r := newRunner(t)
	r.must(reg("n1"))
	r.must(reg("n2"))
	r.must(&command.CreateMatch{ID: "a", Game: "arena", Owner: "n1"})
	return r, r.match("a").Epoch
}

// wantLog checks what TickLog hands out after tick after.
func wantLog(t *testing.T, r *fsmRunner, after uint32, want string) {
	t.Helper()
	got, ok := r.f.TickLog("a", after)
	if want == "" {
		if ok {
			t.Fatalf("tick log after %d: %q (%d..%d), want none", after, got.Data, got.From, got.To)
		}
		return
	}
	if !ok || string(got.Data) != want {
		t.Fatalf("tick log after %d: %q (%v), want %q", after, got.Data, ok, want)
	}
}

func wantVerdict(t *testing.T, res *Result, accepted int, codes ...string) {
	t.Helper()
	var got []string
	for _, rj := range res.Rejected {
		got = append(got, rj.Code)
	}
	if res.Accepted != accepted || strings.Join(got, ",") != strings.Join(codes, ",") {
		t.Fatalf("accepted %d, rejected %v; want %d, %v", res.Accepted, got, accepted, codes)
	}
}

// TestTickLogAppend: runs continue one another; a retry changes nothing; an
// overlap is refused; a gap is kept but ends what TickLog hands out; a run
// of an unknown match or a stale epoch is refused.
func TestTickLogAppend(t *testing.T) {
	r, e := tickLogRunner(t)
	wantVerdict(t, r.must(logBatch(seg(e, 1, 3), seg(e, 4, 5))), 2)
	wantLog(t, r, 0, "[1-3@"+fmt.Sprint(e)+"][4-5@"+fmt.Sprint(e)+"]")
	wantVerdict(t, r.must(logBatch(seg(e, 4, 5))), 1) // a retry after a lost leadership
	wantVerdict(t, r.must(logBatch(seg(e, 5, 7))), 0, "overlap")
	wantVerdict(t, r.must(logBatch(seg(e, 9, 9))), 1) // ticks 6..8 never arrived
	wantLog(t, r, 0, fmt.Sprintf("[1-3@%d][4-5@%d]", e, e))
	wantLog(t, r, 3, fmt.Sprintf("[4-5@%d]", e))
	wantLog(t, r, 5, "")                         // the gap right after tick 5
	wantLog(t, r, 8, fmt.Sprintf("[9-9@%d]", e)) // a checkpoint at 8 would make it useful
	wantVerdict(t, r.must(logBatch(seg(e+1, 10, 11), command.TickLogItem{Match: "zz", Epoch: 1, From: 1, To: 1, Data: []byte{1}},
		command.TickLogItem{Match: "a", Epoch: e, From: 12, To: 11, Data: []byte{1}})),
		0, "stale_epoch", "match_not_found", "bad_range")
}

// TestTickLogTrimmedByCheckpoint: a checkpoint drops what it covers; a run
// it covers is accepted and dropped; the log that continues it is handed
// out from the first segment reaching past it.
func TestTickLogTrimmedByCheckpoint(t *testing.T) {
	r, e := tickLogRunner(t)
	r.must(logBatch(seg(e, 1, 10), seg(e, 11, 20)))
	r.must(logBatch(seg(e, 21, 30)))
	r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: e, Tick: 15, Players: -1, Data: []byte("ck")}}})
	if n, _ := r.f.tickLogSize("a"); n != 2 {
		t.Fatalf("%d segments after a checkpoint at 15, want 2 (11-20, 21-30)", n)
	}
	wantLog(t, r, 15, fmt.Sprintf("[11-20@%d][21-30@%d]", e, e))
	r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: e, Tick: 30, Players: -1, Data: []byte("ck")}}})
	if n, b := r.f.tickLogSize("a"); n != 0 || b != 0 {
		t.Fatalf("%d segments, %d bytes after a checkpoint covering all", n, b)
	}
	wantVerdict(t, r.must(logBatch(seg(e, 25, 30))), 1) // late: covered
	wantLog(t, r, 30, "")
	wantVerdict(t, r.must(logBatch(seg(e, 31, 32))), 1)
	wantLog(t, r, 30, fmt.Sprintf("[31-32@%d]", e))
}

// TestTickLogEpochs: once the match moved, the old owner's runs are
// refused; the new owner's runs continue the log when it replayed it, and
// replace the older epoch's when it restarted from the checkpoint; its
// first checkpoint drops whatever the old owner left.
func TestTickLogEpochs(t *testing.T) {
	r, e1 := tickLogRunner(t)
	r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: e1, Tick: 10, Players: -1, Data: []byte("ck")}}})
	r.must(logBatch(seg(e1, 11, 15), seg(e1, 16, 20)))
	r.must(&command.SetNodeState{ID: "n1", State: NodeDead}) // a moves to n2
	e2 := r.match("a").Epoch
	if e2 <= e1 || r.match("a").Owner != "n2" {
		t.Fatalf("match after n1's death: %+v", r.match("a"))
	}
	wantVerdict(t, r.must(logBatch(seg(e1, 21, 22))), 0, "stale_epoch") // fenced
	wantLog(t, r, 10, fmt.Sprintf("[11-15@%d][16-20@%d]", e1, e1))

	// The new owner replayed to 20 and goes on.
	cont := r
	wantVerdict(t, cont.must(logBatch(seg(e2, 21, 23))), 1)
	wantLog(t, cont, 10, fmt.Sprintf("[11-15@%d][16-20@%d][21-23@%d]", e1, e1, e2))
	cont.must(&command.CheckpointBatch{Node: "n2", Items: []command.CheckpointItem{{Match: "a", Epoch: e2, Tick: 22, Players: -1, Data: []byte("ck2")}}})
	wantLog(t, cont, 22, fmt.Sprintf("[21-23@%d]", e2))

	// Another run: the new owner restarted from the checkpoint (its replay
	// diverged): its ticks 11.. replace the old owner's.
	r2, f1 := tickLogRunner(t)
	r2.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: f1, Tick: 10, Players: -1, Data: []byte("ck")}}})
	r2.must(logBatch(seg(f1, 11, 15), seg(f1, 16, 20)))
	r2.must(&command.SetNodeState{ID: "n1", State: NodeDead})
	f2 := r2.match("a").Epoch
	wantVerdict(t, r2.must(logBatch(seg(f2, 11, 12))), 1)
	wantLog(t, r2, 10, fmt.Sprintf("[11-12@%d]", f2))

	// And one where the new owner checkpoints before its first run: the
	// old owner's segments past that checkpoint are another history.
	r3, g1 := tickLogRunner(t)
	r3.must(logBatch(seg(g1, 1, 15), seg(g1, 16, 20)))
	r3.must(&command.SetNodeState{ID: "n1", State: NodeDead})
	g2 := r3.match("a").Epoch
	r3.must(&command.CheckpointBatch{Node: "n2", Items: []command.CheckpointItem{{Match: "a", Epoch: g2, Tick: 12, Players: -1, Data: []byte("ck")}}})
	if n, _ := r3.f.tickLogSize("a"); n != 0 {
		t.Fatalf("%d segments of the old epoch left after the new owner's checkpoint", n)
	}
}

// TestTickLogBounds: past MaxTickLogBytes or MaxTickLogSegments a match's
// runs are refused, keeping the segments that continue the checkpoint; a
// checkpoint makes room again.
func TestTickLogBounds(t *testing.T) {
	r, e := tickLogRunner(t)
	big := make([]byte, MaxTickLogBytes/4)
	tick := uint32(0)
	next := func(data []byte) command.TickLogItem {
		tick++
		return command.TickLogItem{Match: "a", Epoch: e, From: tick, To: tick, Data: data}
	}
	for range 4 {
		wantVerdict(t, r.must(logBatch(next(big))), 1)
	}
	wantVerdict(t, r.must(logBatch(next([]byte{1}))), 0, "log_full")
	if got, ok := r.f.TickLog("a", 0); !ok || got.From != 1 || got.To != 4 || len(got.Data) != MaxTickLogBytes {
		t.Fatalf("full log: %d..%d, %d bytes", got.From, got.To, len(got.Data))
	}
	r.must(&command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{{Match: "a", Epoch: e, Tick: tick, Players: -1, Data: []byte("ck")}}})
	for range MaxTickLogSegments {
		wantVerdict(t, r.must(logBatch(next([]byte{1}))), 1)
	}
	wantVerdict(t, r.must(logBatch(next([]byte{1}))), 0, "log_full")
	if n, b := r.f.tickLogSize("a"); n != MaxTickLogSegments || b != MaxTickLogSegments {
		t.Fatalf("%d segments, %d bytes; want %d of one byte", n, b, MaxTickLogSegments)
	}
}

// TestTickLogSnapshotRestore: the tick logs travel in snapshots (TSF2) and
// come back exactly, the restored FSM snapshots to the same bytes and goes
// on from there; a state without tick logs is still written as TSF1.
func TestTickLogSnapshotRestore(t *testing.T) {
	r := buildState(t)
	if snap := snapshotBytes(t, r.f); !bytes.HasPrefix(snap, []byte(snapshotMagic)) {
		t.Fatalf("a state without tick logs snapshots as %q", snap[:4])
	}
	for _, m := range r.f.Matches() {
		items := []command.TickLogItem{
			{Match: m.ID, Epoch: m.Epoch, From: m.CheckpointTick - 2, To: m.CheckpointTick + 3, Data: []byte(m.ID + "-a")},
			{Match: m.ID, Epoch: m.Epoch, From: m.CheckpointTick + 4, To: m.CheckpointTick + 9, Data: []byte(m.ID + "-b")},
		}
		r.must(&command.TickLogBatch{Node: m.Owner, Items: items})
	}
	snap := snapshotBytes(t, r.f)
	if !bytes.HasPrefix(snap, []byte(snapshotMagicV2)) {
		t.Fatalf("a state with tick logs snapshots as %q", snap[:4])
	}
	restored := newFSM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.f.Matches() {
		a, aok := r.f.TickLog(m.ID, m.CheckpointTick)
		b, bok := restored.TickLog(m.ID, m.CheckpointTick)
		if !aok || !reflect.DeepEqual(a, b) || string(b.Data) != m.ID+"-a"+m.ID+"-b" {
			t.Fatalf("tick log of %s: %q %v, restored %q %v", m.ID, a.Data, aok, b.Data, bok)
		}
		sa, ba := r.f.tickLogSize(m.ID)
		if sb, bb := restored.tickLogSize(m.ID); sa != sb || ba != bb {
			t.Fatalf("size of %s: %d/%d, restored %d/%d", m.ID, sa, ba, sb, bb)
		}
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of the restored FSM differs")
	}
	// It goes on: the next run continues, a checkpoint trims.
	rr := &fsmRunner{t: t, f: restored, idx: restored.Index()}
	m := rr.match("m1")
	wantVerdict(t, rr.must(&command.TickLogBatch{Node: m.Owner, Items: []command.TickLogItem{
		{Match: "m1", Epoch: m.Epoch, From: m.CheckpointTick + 10, To: m.CheckpointTick + 10, Data: []byte("c")}}}), 1)
	rr.must(&command.CheckpointBatch{Node: m.Owner, Items: []command.CheckpointItem{{Match: "m1", Epoch: m.Epoch, Tick: m.CheckpointTick + 9, Players: -1, Data: []byte("ck")}}})
	if got, ok := restored.TickLog("m1", m.CheckpointTick+9); !ok || string(got.Data) != "c" {
		t.Fatalf("after a restore: %q %v", got.Data, ok)
	}
	// Cut anywhere, the snapshot is refused, never half restored.
	for i := 4; i < len(snap); i += 7 {
		if err := newFSM().Restore(io.NopCloser(bytes.NewReader(snap[:i]))); err == nil {
			t.Fatalf("snapshot cut at %d restored", i)
		}
	}
}
