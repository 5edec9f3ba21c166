package replication

import (
	"bytes"
	"io"
	"testing"

	"github.com/ticksync/ticksync/replication/command"
)

// TestMatchKeyRecord: a match created with a matchmaking key keeps it in
// its record, through a failover and through a snapshot (TSF3, which keeps
// the tick logs); the matches created without one (and so every match of
// an earlier version) read as the empty key, and a state without keys is
// still written in the older formats.
func TestMatchKeyRecord(t *testing.T) {
	r := buildState(t)
	if snap := snapshotBytes(t, r.f); !bytes.HasPrefix(snap, []byte(snapshotMagic)) {
		t.Fatalf("a state without keys snapshots as %q", snap[:4])
	}
	res := r.must(&command.CreateMatch{ID: "k1", Game: "tag", Key: "mode=1"})
	if res.Match.Key != "mode=1" {
		t.Fatalf("CreateMatch answered key %q", res.Match.Key)
	}
	r.must(&command.CreateMatch{ID: "k2", Game: "tag", Key: `mode=2 map="dust"`})
	owner := r.match("k1").Owner
	r.must(&command.SetNodeState{ID: owner, State: NodeDead})
	if m := r.match("k1"); m.Key != "mode=1" || m.Owner == owner {
		t.Fatalf("after its owner died: %+v", m)
	}
	m := r.match("k2")
	r.must(&command.TickLogBatch{Node: m.Owner, Items: []command.TickLogItem{{Match: "k2", Epoch: m.Epoch, From: 1, To: 3, Data: []byte("log")}}})

	snap := snapshotBytes(t, r.f)
	if !bytes.HasPrefix(snap, []byte(snapshotMagicV3)) {
		t.Fatalf("a state with keys snapshots as %q", snap[:4])
	}
	restored := newFSM()
	if err := restored.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, m := range restored.Matches() {
		keys[m.ID] = m.Key
	}
	if keys["k1"] != "mode=1" || keys["k2"] != `mode=2 map="dust"` || keys["m1"] != "" || len(keys) != len(r.f.Matches()) {
		t.Fatalf("restored keys %q", keys)
	}
	if lg, ok := restored.TickLog("k2", 0); !ok || string(lg.Data) != "log" {
		t.Fatalf("restored tick log of k2: %q %v", lg.Data, ok)
	}
	if again := snapshotBytes(t, restored); !bytes.Equal(again, snap) {
		t.Fatal("snapshot of the restored FSM differs")
	}
	for i := 4; i < len(snap); i += 5 {
		if err := newFSM().Restore(io.NopCloser(bytes.NewReader(snap[:i]))); err == nil {
			t.Fatalf("TSF3 snapshot cut at %d restored", i)
		}
	}

	// Once the keyed matches end, the state is written as before.
	r.must(&command.EndMatch{ID: "k1"})
	r.must(&command.EndMatch{ID: "k2"})
	if snap := snapshotBytes(t, r.f); !bytes.HasPrefix(snap, []byte(snapshotMagic)) {
		t.Fatalf("a state whose keyed matches ended snapshots as %q", snap[:4])
	}
}
