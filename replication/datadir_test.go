package replication

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// stableState is what Raft must never forget across a restart.
type stableState struct {
	Term, VoteTerm uint64
	Vote           string
	First, Last    uint64
}

// readStable reads raft.db under dir (read-only).
func readStable(t testing.TB, dir string) stableState {
	t.Helper()
	s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft", "raft.db"),
		BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var st stableState
	st.Term, _ = s.GetUint64([]byte("CurrentTerm"))
	st.VoteTerm, _ = s.GetUint64([]byte("LastVoteTerm"))
	v, _ := s.Get([]byte("LastVoteCand"))
	st.Vote = string(v)
	st.First, _ = s.FirstIndex()
	st.Last, _ = s.LastIndex()
	return st
}

// seededDataDir runs a one-node cluster "n1" in a fresh data dir and leaves
// behind what a real node does after a while: matches, checkpoints of 12 KiB
// (entries that overflow bbolt's pages), two snapshots with entries after
// each, a compacted log (8 trailing entries) and the free pages compaction
// leaves. It returns the dir and the Raft state stored in it.
func seededDataDir(t testing.TB) (string, stableState) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "n1")
	tn := startNode(t, "n1", dir, "", "", func(c *Config) {
		c.Raft.TrailingLogs = 8
		c.Raft.SnapshotInterval = time.Hour // only the snapshots taken below
	})
	cluster{tn}.waitLeader(t, 10*time.Second)
	rng := rand.New(rand.NewPCG(7, 7))
	state := make([]byte, 12<<10)
	work := func(round int) {
		for i := range 10 {
			m, err := tn.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: fmt.Sprintf("m%d-%d", round, i), Game: "arena"})
			if err != nil {
				t.Fatal(err)
			}
			for tick := range 3 {
				for j := range state {
					state[j] = byte(rng.Uint32())
				}
				if _, err := tn.Apply(ctxT(t, 5*time.Second), &command.CheckpointBatch{Node: "n1", Items: []command.CheckpointItem{
					{Match: m.ID, Epoch: m.Epoch, Tick: uint32(tick + 1), Players: 1, Data: compress(nil, state)},
				}}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for round := range 3 {
		work(round)
		if round < 2 {
			if err := tn.r().Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	tn.stop()
	st := readStable(t, dir)
	if st.Term == 0 || st.First <= 1 || st.Last < st.First+30 {
		t.Fatalf("seeded raft state %+v: want a term and a compacted log", st)
	}
	return dir, st
}

// copyDir copies src to a new temp dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// dirSum hashes every file under dir (names, sizes, bytes).
func dirSum(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", strings.TrimPrefix(path, dir), len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// tryStart starts a node id on dir the way the root package does (no
// harness around it) and returns Start's error; a node that starts is shut
// down when t ends. A panic out of Start fails the test (one on Raft's
// goroutines would end the test binary, which fails it too). The Raft
// timeouts are long, so that a started node does not elect itself before
// the test has looked at its term.
func tryStart(t *testing.T, id, dir string) (*Node, error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = id
	cfg.DataDir = dir
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.Logger = testLogger(t)
	cfg.Raft.HeartbeatTimeout = 5 * time.Second
	cfg.Raft.ElectionTimeout = 5 * time.Second
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("Start panicked: %v", p)
		}
	}()
	if err := n.Start(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	return n, nil
}

// damagePages overwrites pages random 8 KiB-aligned chunks of file with
// random bytes, from a seeded RNG; chunk 0 (the two meta pages) is spared
// when spareMeta is set.
func damagePages(t testing.TB, file string, seed uint64, pages int, spareMeta bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 8 << 10
	rng := rand.New(rand.NewPCG(seed, 0))
	lo := 0
	if spareMeta {
		lo = 1
	}
	for range pages {
		off := (lo + rng.IntN(len(b)/chunk-lo)) * chunk
		for i := off; i < off+chunk && i < len(b); i++ {
			b[i] = byte(rng.Uint32())
		}
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func raftDB(dir string) string { return filepath.Join(dir, "raft", "raft.db") }

// snapshotDirs lists dir's snapshot directories, newest first.
func snapshotDirs(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "raft", "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join(dir, "raft", "snapshots", e.Name()))
		}
	}
	slices.SortFunc(out, func(a, b string) int { // term-index-ms: compare index
		ia, _ := snapIndexFromName(filepath.Base(a))
		ib, _ := snapIndexFromName(filepath.Base(b))
		return int(ib) - int(ia)
	})
	return out
}

// boltUpdate edits raft.db under dir with bbolt directly.
func boltUpdate(t testing.TB, dir string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(raftDB(dir), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func readNodeMeta(t testing.TB, dir string) nodeMeta {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDataDirRefused: every kind of damaged, emptied or foreign data dir is
// refused by Start with a DataDirError of the right kind whose message
// names the file, the problem and what to do; Start does not panic, binds
// no port, and leaves the data dir as it was.
func TestDataDirRefused(t *testing.T) {
	seed, st := seededDataDir(t)
	fix := "restore the data dir from a backup, or remove node n1 from the cluster (remove-node n1) and start it again with an empty data dir and -join"
	tests := []struct {
		name   string
		id     string // "" means n1
		damage func(t *testing.T, dir string)
		kind   error
		want   []string // in the message; "$DIR" is the data dir
	}{
		{"raft.db: random pages", "", func(t *testing.T, dir string) {
			damagePages(t, raftDB(dir), 3, 4, true)
		}, ErrDataDirDamaged, []string{"raft log $DIR/raft/raft.db is damaged (", fix}}, // a page, or an entry in an overflow page
		{"raft.db: meta pages", "", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(raftDB(dir), os.O_WRONLY, 0)
			_, _ = f.WriteAt(make([]byte, 100), 4096+16) // meta page 1's fields
			f.Close()
		}, ErrDataDirDamaged, []string{"raft log $DIR/raft/raft.db is damaged (page 1: meta: no magic number)", fix}},
		{"raft.db: truncated", "", func(t *testing.T, dir string) {
			fi, _ := os.Stat(raftDB(dir))
			_ = os.Truncate(raftDB(dir), fi.Size()/3)
		}, ErrDataDirDamaged, []string{"raft.db is damaged (page", "truncated?"}},
		{"raft.db: emptied", "", func(t *testing.T, dir string) {
			_ = os.Truncate(raftDB(dir), 0)
		}, ErrDataDirDamaged, []string{"raft log $DIR/raft/raft.db is empty, but node n1 has been part of a cluster (node.json records it): its term, its vote and its log are lost, and starting afresh could vote twice in one term: " + fix}},
		{"raft.db: deleted", "", func(t *testing.T, dir string) {
			_ = os.Remove(raftDB(dir))
		}, ErrDataDirDamaged, []string{"raft log $DIR/raft/raft.db is missing, but node n1 has been part of a cluster (node.json records it)"}},
		{"raft.db: emptied, data dir of an earlier version", "", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "node.json"))
			_ = os.Truncate(raftDB(dir), 0)
		}, ErrDataDirDamaged, []string{"is empty, but node n1 has been part of a cluster (the data dir has snapshots)"}},
		{"raft.db: a new bolt file without raft state", "", func(t *testing.T, dir string) {
			_ = os.Remove(raftDB(dir))
			s, err := raftboltdb.NewBoltStore(raftDB(dir))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		}, ErrDataDirDamaged, []string{"raft.db holds no Raft state (no term, no log), but node n1 has been part of a cluster"}},
		{"raft.db: not a bolt file", "", func(t *testing.T, dir string) {
			_ = os.WriteFile(raftDB(dir), []byte(strings.Repeat("not a database\n", 1000)), 0o600)
		}, ErrDataDirDamaged, []string{"raft.db is damaged (not a bbolt database"}},
		{"raft.db: a term of 3 bytes", "", func(t *testing.T, dir string) {
			boltUpdate(t, dir, func(tx *bbolt.Tx) error { return tx.Bucket([]byte("conf")).Put([]byte("CurrentTerm"), []byte{0, 0, 1}) })
		}, ErrDataDirDamaged, []string{"raft.db is damaged (CurrentTerm is 3 bytes, not 8)"}},
		{"raft.db: an entry that does not decode", "", func(t *testing.T, dir string) {
			boltUpdate(t, dir, func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte("logs")).Put(binary.BigEndian.AppendUint64(nil, st.Last+1), []byte("garbage"))
			})
		}, ErrDataDirDamaged, []string{fmt.Sprintf("raft.db is damaged (entry %d: ", st.Last+1)}},
		{"raft.db: a configuration entry that does not decode", "", func(t *testing.T, dir string) {
			s, err := raftboltdb.NewBoltStore(raftDB(dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.StoreLog(&raft.Log{Index: st.Last + 1, Term: st.Term, Type: raft.LogConfiguration, Data: []byte("garbage")}); err != nil {
				t.Fatal(err)
			}
		}, ErrDataDirDamaged, []string{"raft.db is damaged (reading it failed: failed to decode configuration"}},
		{"raft.db: a gap between the snapshots and the log", "", func(t *testing.T, dir string) {
			_ = os.RemoveAll(filepath.Join(dir, "raft", "snapshots"))
		}, ErrDataDirDamaged, []string{fmt.Sprintf("raft.db starts at index %d, but the newest snapshot ends at index 0: entries 1..%d are missing", st.First, st.First-1)}},
		{"raft.db: in use", "", func(t *testing.T, dir string) {
			db, err := bbolt.Open(raftDB(dir), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
		}, ErrDataDirInUse, []string{"raft log $DIR/raft/raft.db is in use by another process: stop the other ticksync on this data dir, or use another -data-dir"}},
		{"newest snapshot: state.bin damaged", "", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(snapshotDirs(t, dir)[0], "state.bin"), os.O_WRONLY, 0)
			_, _ = f.WriteAt([]byte("xx"), 10)
			f.Close()
		}, ErrDataDirDamaged, []string{"is damaged (state.bin does not match the CRC in meta.json)", fix}},
		{"newest snapshot: meta.json damaged", "", func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(snapshotDirs(t, dir)[0], "meta.json"), []byte(`{"ID":`), 0o600)
		}, ErrDataDirDamaged, []string{"is damaged (meta.json: unexpected end of JSON input)", fix}},
		{"newest snapshot: state.bin missing", "", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(snapshotDirs(t, dir)[0], "state.bin"))
		}, ErrDataDirDamaged, []string{"state.bin: no such file or directory"}},
		{"older snapshot damaged", "", func(t *testing.T, dir string) {
			_ = os.Truncate(filepath.Join(snapshotDirs(t, dir)[1], "state.bin"), 5)
		}, ErrDataDirDamaged, []string{"is damaged (state.bin is 5 bytes, meta.json says", "move it out of the data dir: Raft restores the newer snapshot"}},
		{"node.json: another node", "n2", nil,
			ErrDataDirForeign, []string{"data dir $DIR belongs to node n1, not n2: use -node-id n1 or another -data-dir"}},
		{"node.json: damaged", "", func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(dir, "node.json"), []byte("{\"node_id\": \"n1\", \"form"), 0o644)
		}, ErrDataDirDamaged, []string{"$DIR/node.json is damaged (unexpected end of JSON input): restore it from a backup, or, if this data dir is node n1's, delete the file"}},
		{"node.json: a newer format", "", func(t *testing.T, dir string) {
			_ = os.WriteFile(filepath.Join(dir, "node.json"), []byte(`{"format":2,"node_id":"n1"}`), 0o644)
		}, ErrDataDirDamaged, []string{"$DIR/node.json has format 2, and this version of ticksync reads format 1: run the version of ticksync that wrote it"}},
		{"data dir of an earlier version, another node", "n2", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "node.json"))
		}, ErrDataDirForeign, []string{"data dir $DIR holds the Raft state of a cluster of n1, which does not include node n2: use the -node-id this data dir was written with, or another -data-dir"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, seed)
			if tt.damage != nil {
				tt.damage(t, dir)
			}
			before := dirSum(t, dir)
			id := tt.id
			if id == "" {
				id = "n1"
			}
			_, err := tryStart(t, id, dir)
			if err == nil {
				t.Fatal("started")
			}
			var de *DataDirError
			if !errors.As(err, &de) || !errors.Is(err, tt.kind) {
				t.Fatalf("error %v (%T), want a DataDirError of kind %v", err, err, tt.kind)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "$DIR", dir); !strings.Contains(err.Error(), w) {
					t.Fatalf("message:\n%s\nwant it to contain:\n%s", err, w)
				}
			}
			if !strings.HasPrefix(de.File, dir) || !strings.Contains(err.Error(), de.File) {
				t.Fatalf("file %q: not in the data dir, or not named by %q", de.File, err)
			}
			if after := dirSum(t, dir); after != before {
				t.Fatal("the refused data dir was modified")
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestDataDirRestartKeepsState: a data dir restarts with its term, vote and
// log (node.json already there), and one written before node.json existed
// is adopted: node.json is written with this node's id and "initialized".
func TestDataDirRestartKeepsState(t *testing.T) {
	seed, st := seededDataDir(t)
	if m := readNodeMeta(t, seed); m.NodeID != "n1" || m.Format != 1 || !m.Initialized || m.Created.IsZero() {
		t.Fatalf("node.json %+v", m)
	}
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("without node.json=%v", legacy), func(t *testing.T) {
			dir := copyDir(t, seed)
			if legacy {
				_ = os.Remove(filepath.Join(dir, "node.json"))
			}
			n, err := tryStart(t, "n1", dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := n.r().CurrentTerm(); got != st.Term {
				t.Fatalf("term %d after restart, want %d", got, st.Term)
			}
			if got := n.r().LastIndex(); got != st.Last {
				t.Fatalf("last index %d after restart, want %d", got, st.Last)
			}
			if m := readNodeMeta(t, dir); m.NodeID != "n1" || !m.Initialized {
				t.Fatalf("node.json %+v", m)
			}
			fi, err := os.Stat(filepath.Join(dir, "node.json"))
			if err != nil || fi.Mode().Perm() != 0o644 {
				t.Fatalf("node.json: %v %v", fi.Mode(), err)
			}
		})
	}
}

// TestDataDirOfEarlierVersionAdopted: the fixture written before node.json
// existed gets one naming its node, and then refuses another id.
func TestDataDirOfEarlierVersionAdopted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "fixture")
	if err := os.CopyFS(dir, os.DirFS("testdata/datadir-v1")); err != nil {
		t.Fatal(err)
	}
	n, err := tryStart(t, "fixture", dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := readNodeMeta(t, dir); m.NodeID != "fixture" || !m.Initialized {
		t.Fatalf("node.json %+v", m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tryStart(t, "other", dir); !errors.Is(err, ErrDataDirForeign) {
		t.Fatalf("another id: %v", err)
	}
}

// TestDataDirMarkedWhenJoined: a node that joins a cluster with an empty
// data dir records "initialized" once Raft gave it a term; emptied after
// that, its raft.db is refused rather than started afresh.
func TestDataDirMarkedWhenJoined(t *testing.T) {
	n1 := startNode(t, "n1", "", "", "")
	cluster{n1}.waitLeader(t, 10*time.Second)
	dir := filepath.Join(t.TempDir(), "n2")
	n2 := startNode(t, "n2", dir, "", "", func(c *Config) { c.JoinURL = "pending" })
	if m := readNodeMeta(t, dir); m.NodeID != "n2" || m.Initialized {
		t.Fatalf("before the join, node.json %+v", m)
	}
	if err := n2.JoinCluster(ctxT(t, 20*time.Second), n1.api()); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 10*time.Second, func() error {
		if m := readNodeMeta(t, dir); !m.Initialized {
			return errors.New("node.json not marked initialized")
		}
		return nil
	})
	n2.stop()
	if err := os.Truncate(raftDB(dir), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := tryStart(t, "n2", dir); !errors.Is(err, ErrDataDirDamaged) || !strings.Contains(err.Error(), "raft.db is empty, but node n2 has been part of a cluster") {
		t.Fatalf("emptied raft.db of a joined node: %v", err)
	}
}

// TestDataDirRandomPageDamage: over many seeds, four random 8 KiB chunks of
// raft.db (the meta pages included) are overwritten. Each time Start either
// refuses with ErrDataDirDamaged, or (the damage hit free pages or the
// file's unused tail) starts with exactly the term, the last index and,
// after shutdown, the vote that were stored. It never panics and never
// starts with a reset term.
func TestDataDirRandomPageDamage(t *testing.T) {
	seed, st := seededDataDir(t)
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	refused, started := 0, 0
	for s := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			dir := copyDir(t, seed)
			damagePages(t, raftDB(dir), s, 4, false)
			n, err := tryStart(t, "n1", dir)
			if err != nil {
				if !errors.Is(err, ErrDataDirDamaged) || !strings.Contains(err.Error(), "raft.db") {
					t.Fatalf("refused with %v", err)
				}
				refused++
				return
			}
			started++
			if term, last := n.r().CurrentTerm(), n.r().LastIndex(); term != st.Term || last != st.Last {
				t.Fatalf("started with term %d, last index %d; stored were %d, %d", term, last, st.Term, st.Last)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if got := readStable(t, dir); got.Term != st.Term || got.VoteTerm != st.VoteTerm || got.Vote != st.Vote {
				t.Fatalf("after the start: %+v, stored were %+v", got, st)
			}
		})
	}
	t.Logf("%d seeds: %d refused, %d started with their term and vote", seeds, refused, started)
	if refused == 0 {
		t.Fatal("no seed was refused: the damage missed the file")
	}
}
