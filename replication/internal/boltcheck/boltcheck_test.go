package boltcheck

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

// build makes a bbolt file in a temp dir with fill and returns its path.
func build(t testing.TB, fill func(tx *bbolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fill != nil {
		if err := db.Update(fill); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func key(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

// raftLike writes what raft-boltdb keeps: a "logs" bucket of n entries of
// mixed sizes (some over a page, so they overflow), the first cut of them
// deleted (log compaction), and a "conf" bucket with a term and a vote.
func raftLike(n, cut int) func(tx *bbolt.Tx) error {
	return func(tx *bbolt.Tx) error {
		rng := rand.New(rand.NewPCG(1, 2))
		logs, err := tx.CreateBucket([]byte("logs"))
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			v := make([]byte, 50+rng.IntN(200))
			if i%10 == 0 {
				v = make([]byte, 5000+rng.IntN(20000))
			}
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			if err := logs.Put(key(uint64(i)), v); err != nil {
				return err
			}
		}
		for i := 1; i <= cut; i++ {
			if err := logs.Delete(key(uint64(i))); err != nil {
				return err
			}
		}
		conf, err := tx.CreateBucket([]byte("conf"))
		if err != nil {
			return err
		}
		if err := conf.Put([]byte("CurrentTerm"), key(7)); err != nil {
			return err
		}
		return conf.Put([]byte("LastVoteCand"), []byte("n1"))
	}
}

// contents lists every key/value as bbolt reads it, in Visit's form.
func contents(t *testing.T, path string) []string {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	var walk func(b *bbolt.Bucket, names []string)
	walk = func(b *bbolt.Bucket, names []string) {
		_ = b.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(b.Bucket(k), append(names, string(k)))
				return nil
			}
			out = append(out, fmt.Sprintf("%s/%x=%x", strings.Join(names, "/"), k, v))
			return nil
		})
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			walk(b, []string{string(name)})
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckAcceptsSoundFiles: files bbolt wrote pass, and Visit sees
// exactly what bbolt's own iteration sees, in the same order.
func TestCheckAcceptsSoundFiles(t *testing.T) {
	tests := []struct {
		name string
		fill func(tx *bbolt.Tx) error
	}{
		{"new file", nil},
		{"empty buckets", func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("logs"))
			return err
		}},
		{"raft-like, compacted", raftLike(3000, 2500)},
		{"raft-like, all deleted", raftLike(500, 500)},
		{"nested and inline buckets", func(tx *bbolt.Tx) error {
			top, err := tx.CreateBucket([]byte("top"))
			if err != nil {
				return err
			}
			for i := range 50 {
				sub, err := top.CreateBucket(fmt.Appendf(nil, "sub%03d", i))
				if err != nil {
					return err
				}
				for j := range i * 20 { // small ones stay inline, big ones get pages
					if err := sub.Put(fmt.Appendf(nil, "k%05d", j), bytes.Repeat([]byte{byte(j)}, 40)); err != nil {
						return err
					}
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := build(t, tt.fill)
			// A second transaction frees pages and rewrites the freelist.
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bbolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("conf"))
				if err != nil {
					return err
				}
				return b.Put([]byte("LastVoteTerm"), key(7))
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()

			var got []string
			info, err := Check(path, func(buckets [][]byte, k, v []byte) error {
				names := make([]string, len(buckets))
				for i, b := range buckets {
					names[i] = string(b)
				}
				got = append(got, fmt.Sprintf("%s/%x=%x", strings.Join(names, "/"), k, v))
				return nil
			})
			if err != nil {
				t.Fatalf("sound file refused: %v", err)
			}
			want := contents(t, path)
			if len(got) != len(want) {
				t.Fatalf("visited %d pairs, bbolt has %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("pair %d: visited %.80s, bbolt has %.80s", i, got[i], want[i])
				}
			}
			if info.PageSize != os.Getpagesize() || info.HighWater < 4 {
				t.Fatalf("info %+v", info)
			}
		})
	}
}

// page returns page id of the file at path (page size ps) for editing, and
// a function that writes it back.
func editPage(t *testing.T, path string, id, ps int, edit func(p []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(b[id*ps : (id+1)*ps])
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// live finds pages in use in the file at path: the freelist, the "logs"
// bucket's root (a branch page in raftLike files) and its first leaf.
func live(t *testing.T, path string) (freelist, branch, leaf int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &checker{r: f}
	m0, err := c.readMeta(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := c.readMeta(1, int64(m0.pageSize))
	if err != nil {
		t.Fatal(err)
	}
	freelist = int(newer(m0, m1, func(a, b meta) bool { return a.txid < b.txid }).freelist)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bbolt.Tx) error {
		branch = int(tx.Bucket([]byte("logs")).Root())
		return nil
	})
	b := make([]byte, pageHeaderSize+elementSize)
	if _, err := f.ReadAt(b, int64(branch)*int64(m0.pageSize)); err != nil {
		t.Fatal(err)
	}
	if order.Uint16(b[8:]) != flagBranch {
		t.Fatalf("logs root %d is not a branch page", branch)
	}
	return freelist, branch, int(order.Uint64(b[pageHeaderSize+8:]))
}

func freelistOf(t *testing.T, path string) int { f, _, _ := live(t, path); return f }
func branchOf(t *testing.T, path string) int   { _, b, _ := live(t, path); return b }
func leafOf(t *testing.T, path string) int     { _, _, l := live(t, path); return l }

func newer(a, b meta, less func(a, b meta) bool) meta {
	if less(a, b) {
		return b
	}
	return a
}

// TestCheckFindsDamage: each kind of damage is reported as a CorruptError
// (or ErrNotBolt) naming the problem, never a panic.
func TestCheckFindsDamage(t *testing.T) {
	ps := os.Getpagesize()
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"meta 0 checksum", func(t *testing.T, path string) {
			editPage(t, path, 0, ps, func(p []byte) { p[pageHeaderSize+40] ^= 1 }) // pgid
		}, "page 0: meta: checksum"},
		{"meta 1 zeroed", func(t *testing.T, path string) {
			editPage(t, path, 1, ps, func(p []byte) { clear(p) })
		}, "page 1: meta: no magic number"},
		{"both metas gone", func(t *testing.T, path string) {
			editPage(t, path, 0, ps, func(p []byte) { clear(p) })
			editPage(t, path, 1, ps, func(p []byte) { clear(p) })
		}, "not a bbolt database"},
		{"truncated", func(t *testing.T, path string) {
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, "does not fit the file"},
		{"too short", func(t *testing.T, path string) {
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}, "not a bbolt database"},
		{"leaf header overwritten", func(t *testing.T, path string) {
			editPage(t, path, leafOf(t, path), ps, func(p []byte) { copy(p, "garbage garbage garbage") })
		}, "header says page"},
		{"leaf type changed", func(t *testing.T, path string) {
			editPage(t, path, leafOf(t, path), ps, func(p []byte) { order.PutUint16(p[8:], 0x40) })
		}, "page type 0x40"},
		{"leaf count too big", func(t *testing.T, path string) {
			editPage(t, path, leafOf(t, path), ps, func(p []byte) { order.PutUint16(p[10:], 0xFFFE) })
		}, "elements do not fit"},
		{"leaf element points outside", func(t *testing.T, path string) {
			editPage(t, path, leafOf(t, path), ps, func(p []byte) { order.PutUint32(p[pageHeaderSize+4:], 1<<30) })
		}, "points at bytes"},
		{"leaf overflow past the end", func(t *testing.T, path string) {
			editPage(t, path, leafOf(t, path), ps, func(p []byte) { order.PutUint32(p[12:], 1<<30) })
		}, "past the high-water mark"},
		{"branch points at itself", func(t *testing.T, path string) {
			id := branchOf(t, path)
			editPage(t, path, id, ps, func(p []byte) { order.PutUint64(p[pageHeaderSize+8:], uint64(id)) })
		}, "referenced twice"},
		{"branch points past the end", func(t *testing.T, path string) {
			editPage(t, path, branchOf(t, path), ps, func(p []byte) { order.PutUint64(p[pageHeaderSize+8:], 1<<40) })
		}, "outside 2.."},
		{"keys out of order", func(t *testing.T, path string) {
			editPage(t, path, branchOf(t, path), ps, func(p []byte) {
				e0, e1 := p[pageHeaderSize+8:pageHeaderSize+16], p[pageHeaderSize+elementSize+8:pageHeaderSize+elementSize+16]
				a, b := order.Uint64(e0), order.Uint64(e1)
				order.PutUint64(e0, b)
				order.PutUint64(e1, a)
			})
		}, "out of order"},
		{"freelist garbage", func(t *testing.T, path string) {
			editPage(t, path, freelistOf(t, path), ps, func(p []byte) {
				for i := pageHeaderSize; i < len(p); i++ {
					p[i] = 0xAB
				}
				order.PutUint16(p[10:], 0xFFFF)
			})
		}, "freelist of"},
		{"freelist names a page in use", func(t *testing.T, path string) {
			leaf := leafOf(t, path)
			editPage(t, path, freelistOf(t, path), ps, func(p []byte) {
				order.PutUint16(p[10:], 1)
				order.PutUint64(p[pageHeaderSize:], uint64(leaf))
			})
		}, "in use and on the freelist"},
		{"page lost from the freelist", func(t *testing.T, path string) {
			editPage(t, path, freelistOf(t, path), ps, func(p []byte) { order.PutUint16(p[10:], 0) })
		}, "neither in use nor free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := build(t, raftLike(3000, 2500))
			tt.damage(t, path)
			_, err := Check(path, nil)
			var ce *CorruptError
			if err == nil || !(errors.As(err, &ce) || errors.Is(err, ErrNotBolt)) {
				t.Fatalf("got %v, want a CorruptError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestRandomPageDamage overwrites random pages of a file and checks that
// Check either refuses it or, when it accepts it, bbolt reads all of it and
// writes to it without a panic (damage to free pages, or to the tail past the
// high-water mark, is harmless). Each seed replays exactly.
func TestRandomPageDamage(t *testing.T) {
	clean := build(t, raftLike(3000, 2500))
	orig, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 8 << 10
	refused, accepted := 0, 0
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 0))
		b := bytes.Clone(orig)
		for range 4 {
			off := rng.IntN(len(b)/chunk) * chunk
			for i := off; i < off+chunk && i < len(b); i++ {
				b[i] = byte(rng.Uint32())
			}
		}
		path := filepath.Join(t.TempDir(), "damaged.db")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Check(path, nil); err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("seed %d: %v", seed, err)
			}
			refused++
			continue
		}
		accepted++
		// Accepted: bbolt must read and write it like a sound file.
		func() {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("seed %d: accepted, then bbolt panicked: %v", seed, p)
				}
			}()
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatalf("seed %d: accepted, then bbolt.Open: %v", seed, err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bbolt.Tx) error {
				for err := range tx.Check() {
					return err
				}
				n := 0
				_ = tx.Bucket([]byte("logs")).ForEach(func(k, v []byte) error { n++; return nil })
				if n != 500 {
					return fmt.Errorf("%d log entries, want 500", n)
				}
				return tx.Bucket([]byte("logs")).Put(key(3001), make([]byte, 9000))
			}); err != nil {
				t.Fatalf("seed %d: accepted, then: %v", seed, err)
			}
		}()
	}
	t.Logf("200 seeds: %d refused, %d accepted (damage outside the live pages)", refused, accepted)
	if refused == 0 {
		t.Fatal("no seed was refused: the damage did not reach the file")
	}
}

// FuzzCheck: Check never panics (its recover would report "internal
// error") whatever bytes are written over a small sound file.
func FuzzCheck(f *testing.F) {
	small := build(f, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("logs"))
		if err != nil {
			return err
		}
		for i := range 40 {
			if err := b.Put(key(uint64(i+1)), bytes.Repeat([]byte{byte(i)}, 100+i*50)); err != nil {
				return err
			}
		}
		return nil
	})
	seed, err := os.ReadFile(small)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{0})
	f.Add(uint32(4096*2+9), []byte{0x40})
	f.Add(uint32(4096*3), bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		file := bytes.Clone(seed)
		copy(file[int(at)%len(file):], patch)
		_, err := CheckReader(bytes.NewReader(file), int64(len(file)), nil)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
	})
}

// BenchmarkCheck: a raft-like file of ~36 MiB, the most a node's data dir
// held under checkpoint load (DESIGN.md, "Measured").
func BenchmarkCheck(b *testing.B) {
	path := build(b, func(tx *bbolt.Tx) error {
		logs, err := tx.CreateBucket([]byte("logs"))
		if err != nil {
			return err
		}
		v := make([]byte, 170<<10) // one checkpoint batch of 500 rooms
		for i := range 200 {
			if err := logs.Put(key(uint64(i+1)), v); err != nil {
				return err
			}
		}
		return nil
	})
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ResetTimer()
	for range b.N {
		if _, err := Check(path, nil); err != nil {
			b.Fatal(err)
		}
	}
}
