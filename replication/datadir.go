package replication

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"
	"go.etcd.io/bbolt"

	"github.com/ticksync/ticksync/replication/internal/boltcheck"
)

// The data dir (Config.DataDir):
//
//	node.json              this node's id, the format, and whether the node has been part of a cluster
//	raft/raft.db           Raft's log and stable store (term, vote): raft-boltdb/v2 on bbolt
//	raft/snapshots/T-I-MS/ Raft's file snapshots: meta.json (with a CRC of state.bin) and state.bin
//
// Start checks it before Raft sees it (openDataDir, then
// dataDir.openLogStore) and refuses, with a *DataDirError, a data dir that
// belongs to another node, that cannot be trusted, or whose Raft state is
// gone although the node has been part of a cluster: Raft's safety rests on
// a node never forgetting its term, its vote and the entries it stored.
// See DESIGN.md, "Data dir".

const (
	dataDirFormat = 1
	nodeFileName  = "node.json"
	raftDirName   = "raft"
	raftDBName    = "raft.db"
	snapDirName   = "snapshots"

	keyFile = "file" // log key: a file of the data dir
)

// Sentinels of a refused data dir; a *DataDirError unwraps to one of them.
var (
	// ErrDataDirDamaged: a file of the data dir is damaged, or Raft state the
	// node must have is missing (an emptied or deleted raft.db, a gap between
	// the snapshots and the log).
	ErrDataDirDamaged = errors.New("data dir damaged")
	// ErrDataDirForeign: the data dir belongs to another node id.
	ErrDataDirForeign = errors.New("data dir belongs to another node")
	// ErrDataDirInUse: another process has the Raft log open.
	ErrDataDirInUse = errors.New("data dir in use")

	errInUse = errors.New("locked by another process")
)

// DataDirError is why Start refused the data dir: the file at fault, what is
// wrong with it and what the operator can do. Its message is Problem: Fix.
type DataDirError struct {
	Kind    error  // ErrDataDirDamaged, ErrDataDirForeign or ErrDataDirInUse
	File    string // the file or directory at fault
	Problem string // names File
	Fix     string
	Err     error // the underlying error, if any
}

func (e *DataDirError) Error() string { return e.Problem + ": " + e.Fix }

// Unwrap returns the Kind and the underlying error.
func (e *DataDirError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// nodeMeta is node.json.
type nodeMeta struct {
	Format int    `json:"format"`
	NodeID string `json:"node_id"`
	// Created is when this data dir was first used (or adopted).
	Created time.Time `json:"created"`
	// Initialized is set once the node has Raft state: it bootstrapped a
	// cluster or was added to one. From then on an empty Raft log is an
	// error, not a fresh start.
	Initialized bool `json:"initialized"`
}

// snapInfo is one snapshot on disk, checked.
type snapInfo struct {
	dir  string
	meta raft.SnapshotMeta
}

// dataDir is the data dir of one Start: what the checks found.
type dataDir struct {
	id       string
	log      zerolog.Logger
	dir      string // as configured
	raftDir  string
	dbPath   string
	metaPath string

	meta     *nodeMeta  // nil: no node.json yet
	snaps    []snapInfo // newest first
	evidence string     // why the node has been part of a cluster; "" if nothing says so
	db       raftDBInfo
	conf     raft.Configuration // the latest configuration in the snapshots and log (openLogStore)
}

// raftDBInfo is what the check of raft.db found.
type raftDBInfo struct {
	exists      bool // a non-empty file
	term        uint64
	first, last uint64 // log indexes, 0 when the log is empty
	entries     uint64
}

// fixRejoin is what an operator can do about a node whose Raft state is lost.
func fixRejoin(id string) string {
	return fmt.Sprintf("restore the data dir from a backup, or remove node %s from the cluster (remove-node %s) and start it again with an empty data dir and -join", id, id)
}

func (d *dataDir) damaged(file string, err error, format string, a ...any) *DataDirError {
	return &DataDirError{Kind: ErrDataDirDamaged, File: file, Problem: fmt.Sprintf(format, a...), Fix: fixRejoin(d.id), Err: err}
}

// openDataDir creates the data dir if needed and checks it before any store
// is opened: node.json names this node, every snapshot reads back with its
// CRC, raft.db (if present) is a sound bbolt file whose Raft records have the
// right shape, and a node that has been part of a cluster still has its Raft
// state. It reads the files only; nothing is written.
func openDataDir(cfg *Config, log zerolog.Logger) (*dataDir, error) {
	d := &dataDir{
		id:       cfg.NodeID,
		log:      log,
		dir:      cfg.DataDir,
		raftDir:  filepath.Join(cfg.DataDir, raftDirName),
		metaPath: filepath.Join(cfg.DataDir, nodeFileName),
	}
	d.dbPath = filepath.Join(d.raftDir, raftDBName)
	if err := os.MkdirAll(d.raftDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := d.readMeta(); err != nil {
		return nil, err
	}
	if err := d.checkSnapshots(); err != nil {
		return nil, err
	}
	switch {
	case d.meta != nil && d.meta.Initialized:
		d.evidence = nodeFileName + " records it"
	case len(d.snaps) > 0:
		d.evidence = "the data dir has snapshots"
	}
	if err := d.checkRaftDB(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *dataDir) readMeta() error {
	b, err := os.ReadFile(d.metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", d.metaPath, err)
	}
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil || m.NodeID == "" || m.Format == 0 {
		if err == nil {
			err = errors.New("no node_id or format")
		}
		return &DataDirError{Kind: ErrDataDirDamaged, File: d.metaPath, Err: err,
			Problem: fmt.Sprintf("%s is damaged (%v)", d.metaPath, err),
			Fix:     fmt.Sprintf("restore it from a backup, or, if this data dir is node %s's, delete the file and start again: the node then adopts the data dir as it does one written before %s existed", d.id, nodeFileName)}
	}
	if m.Format != dataDirFormat {
		return &DataDirError{Kind: ErrDataDirDamaged, File: d.metaPath,
			Problem: fmt.Sprintf("%s has format %d, and this version of ticksync reads format %d", d.metaPath, m.Format, dataDirFormat),
			Fix:     "run the version of ticksync that wrote it"}
	}
	if m.NodeID != d.id {
		return &DataDirError{Kind: ErrDataDirForeign, File: d.dir,
			Problem: fmt.Sprintf("data dir %s belongs to node %s, not %s", d.dir, m.NodeID, d.id),
			Fix:     fmt.Sprintf("use -node-id %s or another -data-dir", m.NodeID)}
	}
	d.meta = &m
	return nil
}

// checkSnapshots reads every finished snapshot as hashicorp/raft's
// FileSnapshotStore would, and checks its state against the CRC in its meta.
// The store itself skips a snapshot whose meta it cannot read and falls back
// to an older one (or none) when a restore fails: with a compacted log, that
// start would lose the entries the snapshot held, or panic on the gap.
func (d *dataDir) checkSnapshots() error {
	root := filepath.Join(d.raftDir, snapDirName)
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", root, err)
	}
	type bad struct {
		dir string
		err error
	}
	var broken []bad
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") { // raft ignores both
			continue
		}
		dir := filepath.Join(root, e.Name())
		meta, err := checkSnapshot(dir, e.Name())
		if err != nil {
			broken = append(broken, bad{dir, err})
			continue
		}
		d.snaps = append(d.snaps, snapInfo{dir: dir, meta: meta})
	}
	sort.Slice(d.snaps, func(i, j int) bool { // raft's order: term, index, id; newest first
		a, b := d.snaps[i].meta, d.snaps[j].meta
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	if len(broken) == 0 {
		return nil
	}
	b := broken[0]
	// A damaged snapshot older than an intact one is never restored: it can go.
	if idx, ok := snapIndexFromName(filepath.Base(b.dir)); ok && len(d.snaps) > 0 && d.snaps[0].meta.Index > idx {
		return &DataDirError{Kind: ErrDataDirDamaged, File: b.dir, Err: b.err,
			Problem: fmt.Sprintf("snapshot %s is damaged (%v)", b.dir, b.err),
			Fix:     fmt.Sprintf("move it out of the data dir: Raft restores the newer snapshot %s, which is intact", d.snaps[0].dir)}
	}
	return d.damaged(b.dir, b.err, "snapshot %s is damaged (%v)", b.dir, b.err)
}

// snapIndexFromName parses the index out of a snapshot's directory name
// (term-index-milliseconds).
func snapIndexFromName(name string) (uint64, bool) {
	var term, index, ms uint64
	if n, err := fmt.Sscanf(name, "%d-%d-%d", &term, &index, &ms); err != nil || n != 3 {
		return 0, false
	}
	return index, true
}

// checkSnapshot reads snapshot dir (named name): meta.json, then state.bin
// against its size and CRC-64 (ECMA, as the store writes it).
func checkSnapshot(dir, name string) (raft.SnapshotMeta, error) {
	var meta struct {
		raft.SnapshotMeta
		CRC []byte
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return raft.SnapshotMeta{}, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return raft.SnapshotMeta{}, fmt.Errorf("meta.json: %w", err)
	}
	switch {
	case meta.ID != name:
		return raft.SnapshotMeta{}, fmt.Errorf("meta.json names snapshot %q", meta.ID)
	case meta.Version < raft.SnapshotVersionMin || meta.Version > raft.SnapshotVersionMax:
		return raft.SnapshotMeta{}, fmt.Errorf("meta.json: snapshot version %d", meta.Version)
	case len(meta.CRC) != 8:
		return raft.SnapshotMeta{}, errors.New("meta.json: no CRC")
	}
	f, err := os.Open(filepath.Join(dir, "state.bin"))
	if err != nil {
		return raft.SnapshotMeta{}, err
	}
	defer func() { _ = f.Close() }()
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	n, err := io.Copy(h, f)
	switch {
	case err != nil:
		return raft.SnapshotMeta{}, fmt.Errorf("state.bin: %w", err)
	case n != meta.Size:
		return raft.SnapshotMeta{}, fmt.Errorf("state.bin is %d bytes, meta.json says %d", n, meta.Size)
	case !bytes.Equal(h.Sum(nil), meta.CRC):
		return raft.SnapshotMeta{}, errors.New("state.bin does not match the CRC in meta.json")
	}
	return meta.SnapshotMeta, nil
}

// checkRaftDB checks raft.db with boltcheck (plain reads, no mmap: bbolt
// itself would panic on a damaged page), and the records raft-boltdb keeps in
// it: log keys of 8 bytes without gaps, a term of 8 bytes.
func (d *dataDir) checkRaftDB() error {
	f, err := os.Open(d.dbPath)
	if errors.Is(err, fs.ErrNotExist) {
		if d.evidence != "" {
			return d.damaged(d.dbPath, nil, "raft log %s is missing, but node %s has been part of a cluster (%s): its term, its vote and its log are lost, and starting afresh could vote twice in one term",
				d.dbPath, d.id, d.evidence)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", d.dbPath, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", d.dbPath, err)
	}
	if st.Size() == 0 {
		if d.evidence != "" {
			return d.damaged(d.dbPath, nil, "raft log %s is empty, but node %s has been part of a cluster (%s): its term, its vote and its log are lost, and starting afresh could vote twice in one term",
				d.dbPath, d.id, d.evidence)
		}
		return nil // bbolt initialises an empty file
	}
	if err := sharedLock(f); err != nil {
		if errors.Is(err, errInUse) {
			return &DataDirError{Kind: ErrDataDirInUse, File: d.dbPath, Err: err,
				Problem: fmt.Sprintf("raft log %s is in use by another process", d.dbPath),
				Fix:     "stop the other ticksync on this data dir, or use another -data-dir"}
		}
		return fmt.Errorf("lock %s: %w", d.dbPath, err)
	}
	info := &d.db
	info.exists = true
	var recErr error
	visit := func(buckets [][]byte, k, v []byte) error {
		if len(buckets) != 1 {
			return nil
		}
		switch string(buckets[0]) {
		case "logs":
			if len(k) != 8 {
				recErr = fmt.Errorf("log key of %d bytes", len(k))
				return recErr
			}
			i := binary.BigEndian.Uint64(k)
			if info.entries > 0 && i != info.last+1 {
				recErr = fmt.Errorf("log entries %d..%d are missing", info.last+1, i-1)
				return recErr
			}
			if info.entries == 0 {
				info.first = i
			}
			info.last = i
			info.entries++
		case "conf":
			switch string(k) {
			case "CurrentTerm", "LastVoteTerm":
				if len(v) != 8 {
					recErr = fmt.Errorf("%s is %d bytes, not 8", k, len(v))
					return recErr
				}
				if string(k) == "CurrentTerm" {
					info.term = binary.BigEndian.Uint64(v)
				}
			}
		}
		return nil
	}
	if _, err := boltcheck.CheckReader(f, st.Size(), visit); err != nil {
		var ce *boltcheck.CorruptError
		switch {
		case errors.As(err, &ce), errors.Is(err, boltcheck.ErrNotBolt), recErr != nil && errors.Is(err, recErr):
			return d.damaged(d.dbPath, err, "raft log %s is damaged (%v)", d.dbPath, err)
		default:
			return fmt.Errorf("check %s: %w", d.dbPath, err)
		}
	}
	if d.evidence != "" && info.term == 0 && info.entries == 0 {
		return d.damaged(d.dbPath, nil, "raft log %s holds no Raft state (no term, no log), but node %s has been part of a cluster (%s): its term, its vote and its log are lost, and starting afresh could vote twice in one term",
			d.dbPath, d.id, d.evidence)
	}
	var snapIndex uint64
	if len(d.snaps) > 0 {
		snapIndex = d.snaps[0].meta.Index
	}
	if info.entries > 0 && info.first > snapIndex+1 {
		return d.damaged(d.dbPath, nil, "raft log %s starts at index %d, but the newest snapshot ends at index %d: entries %d..%d are missing",
			d.dbPath, info.first, snapIndex, snapIndex+1, info.first-1)
	}
	return nil
}

// openLogStore opens raft.db with raft-boltdb for Raft. It runs after the
// structural check; first it opens the file read-only and reads every log
// entry back with raft-boltdb's decoder (so that a refused data dir is left
// untouched), noting the latest configuration. Should bbolt or a decoder
// still panic (or fault on the mapping), the panic is recovered here, on the
// goroutine that caused it, and the file is closed again (its lock with it).
func (d *dataDir) openLogStore() (*raftboltdb.BoltStore, error) {
	if len(d.snaps) > 0 {
		d.conf = d.snaps[0].meta.Configuration
	}
	if d.db.exists {
		ro, err := d.openBolt(true)
		if err != nil {
			return nil, err
		}
		err = d.readLog(ro)
		_ = ro.Close()
		if err != nil {
			return nil, err
		}
	}
	if d.meta == nil {
		if err := d.checkAdoptable(); err != nil {
			return nil, err
		}
	}
	return d.openBolt(false)
}

// checkAdoptable: a data dir without node.json is adopted as this node's
// unless the Raft configuration it holds lists other nodes only.
func (d *dataDir) checkAdoptable() error {
	if len(d.conf.Servers) == 0 || slices.ContainsFunc(d.conf.Servers, func(s raft.Server) bool { return string(s.ID) == d.id }) {
		return nil
	}
	ids := make([]string, len(d.conf.Servers))
	for i, s := range d.conf.Servers {
		ids[i] = string(s.ID)
	}
	return &DataDirError{Kind: ErrDataDirForeign, File: d.dir,
		Problem: fmt.Sprintf("data dir %s holds the Raft state of a cluster of %s, which does not include node %s", d.dir, strings.Join(ids, ", "), d.id),
		Fix:     "use the -node-id this data dir was written with, or another -data-dir (a node removed from its cluster rejoins with an empty data dir)"}
}

// openBolt opens raft.db, read-only or for Raft, recovering a panic.
func (d *dataDir) openBolt(readOnly bool) (store *raftboltdb.BoltStore, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if store != nil {
				_ = store.Close()
			} else if file != nil {
				_ = file.Close() // bbolt panicked inside Open: its mapping stays until exit
			}
			store, err = nil, d.damaged(d.dbPath, nil, "raft log %s is damaged (opening it failed: %v)", d.dbPath, p)
		}
	}()
	store, err = raftboltdb.New(raftboltdb.Options{
		Path: d.dbPath,
		BoltOptions: &bbolt.Options{
			ReadOnly: readOnly,
			Timeout:  time.Second, // a second process on the same dir fails fast
			OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, mode)
				file = f
				return f, err
			},
		},
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, &DataDirError{Kind: ErrDataDirInUse, File: d.dbPath, Err: err,
			Problem: fmt.Sprintf("raft log %s is in use by another process", d.dbPath),
			Fix:     "stop the other ticksync on this data dir, or use another -data-dir"}
	}
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", d.dbPath, err)
	}
	return store, nil
}

// readLog decodes every entry of the log, recovering a decoder's panic.
func (d *dataDir) readLog(store *raftboltdb.BoltStore) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = d.damaged(d.dbPath, nil, "raft log %s is damaged (reading it failed: %v)", d.dbPath, p)
		}
	}()
	var e raft.Log
	for i := d.db.first; d.db.entries > 0 && i <= d.db.last; i++ {
		if err := store.GetLog(i, &e); err != nil {
			return d.damaged(d.dbPath, err, "raft log %s is damaged (entry %d: %v)", d.dbPath, i, err)
		}
		if e.Index != i {
			return d.damaged(d.dbPath, nil, "raft log %s is damaged (entry %d says it is entry %d)", d.dbPath, i, e.Index)
		}
		if e.Type == raft.LogConfiguration {
			d.conf = raft.DecodeConfiguration(e.Data) // panics on bad bytes: recovered above
		}
	}
	return nil
}

// settle runs once the stores are open: node.json is written for a data
// dir without one (adopted: openLogStore checked its configuration), and
// marked initialized when the node has Raft state.
func (d *dataDir) settle(hasState bool) error {
	switch {
	case d.meta == nil && hasState:
		if err := d.writeMeta(true); err != nil {
			return err
		}
		d.log.Info().Str(keyFile, d.metaPath).Msg("data dir of an earlier version adopted")
	case d.meta == nil:
		if err := d.writeMeta(false); err != nil {
			return err
		}
	case hasState && !d.meta.Initialized:
		return d.markInitialized()
	}
	return nil
}

// initialized says whether node.json records Raft state.
func (d *dataDir) initialized() bool { return d.meta != nil && d.meta.Initialized }

// markInitialized records in node.json that the node has Raft state.
func (d *dataDir) markInitialized() error {
	if d.initialized() {
		return nil
	}
	return d.writeMeta(true)
}

// writeMeta writes node.json atomically: a temporary file, synced, renamed
// over it, and the directory synced.
func (d *dataDir) writeMeta(initialized bool) error {
	m := nodeMeta{Format: dataDirFormat, NodeID: d.id, Created: time.Now().UTC().Truncate(time.Second), Initialized: initialized}
	if d.meta != nil {
		m.Created = d.meta.Created
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(d.metaPath, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", d.metaPath, err)
	}
	d.meta = &m
	return nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer func() { _ = dir.Close() }()
	return dir.Sync()
}

// watchInitialized marks the data dir initialized once r has a term of its
// own, i.e. once this node has been added to a cluster (Raft stores the term
// before it acts on it, so a term in memory is a term on disk). It runs on
// the "datadir" goroutine of a node that started without Raft state, woken
// by Raft's leader, state and vote observations, and returns once the mark
// is written or ctx ends.
func (d *dataDir) watchInitialized(r *raft.Raft) func(ctx context.Context) {
	obs := make(chan raft.Observation, 4)
	observer := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState, raft.RequestVoteRequest:
			return true
		}
		return false
	})
	r.RegisterObserver(observer) // now, so that nothing between Start and the goroutine is missed
	return func(ctx context.Context) {
		defer r.DeregisterObserver(observer)
		for {
			if r.CurrentTerm() > 0 {
				if err := d.markInitialized(); err != nil {
					d.log.Error().Err(err).Str(keyFile, d.metaPath).Msg("cannot record that the node joined a cluster")
				}
				return
			}
			select {
			case <-obs:
			case <-ctx.Done():
				return
			}
		}
	}
}
