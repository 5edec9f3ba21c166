package replication

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// Snapshot format: "TSF1", then in codec.go's encoding: index, nodes (count,
// then id, advertise, api, raft addr, state, since, revived), matches (count, then
// id, game, owner, epoch, prev epoch, players, status, seed, created,
// checkpoint epoch, tick, index, bytes). Sorted by id, so equal states give
// equal bytes.
const snapshotMagic = "TSF1"

// maxSnapshotBytes bounds Restore's read.
const maxSnapshotBytes = 1 << 30

type fsmSnapshot struct {
	index   uint64
	nodes   []NodeInfo
	matches []matchRec
}

// Snapshot copies the state under the read lock (record structs by value; the
// checkpoint bytes are immutable and shared) and returns; Persist encodes and
// writes it outside the lock, concurrently with Apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	s := &fsmSnapshot{
		index:   f.index,
		nodes:   make([]NodeInfo, 0, len(f.nodes)),
		matches: make([]matchRec, 0, len(f.matches)),
	}
	for _, n := range f.nodes {
		s.nodes = append(s.nodes, *n)
	}
	for _, m := range f.matches {
		s.matches = append(s.matches, *m)
	}
	f.mu.RUnlock()
	return s, nil
}

// Persist writes the snapshot to sink (Raft's snapshot goroutine).
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.encode()); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("write fsm snapshot: %w", err)
	}
	return sink.Close()
}

// Release is a no-op: the snapshot holds only copies.
func (s *fsmSnapshot) Release() {}

func (s *fsmSnapshot) encode() []byte {
	slices.SortFunc(s.nodes, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.matches, func(a, b matchRec) int { return strings.Compare(a.ID, b.ID) })
	size := 64
	for i := range s.matches {
		size += 64 + len(s.matches[i].ID) + len(s.matches[i].ckpt)
	}
	e := encoder{b: make([]byte, 0, size)}
	e.b = append(e.b, snapshotMagic...)
	e.uvarint(s.index)
	e.uvarint(uint64(len(s.nodes)))
	for _, n := range s.nodes {
		e.str(n.ID)
		e.str(n.Advertise)
		e.str(n.API)
		e.str(n.RaftAddr)
		e.u8(byte(n.State))
		e.uvarint(n.Since)
		e.uvarint(n.Revived)
	}
	e.uvarint(uint64(len(s.matches)))
	for i := range s.matches {
		m := &s.matches[i]
		e.str(m.ID)
		e.str(m.Game)
		e.str(m.Owner)
		e.uvarint(m.Epoch)
		e.uvarint(m.PrevEpoch)
		e.varint(int64(m.Players))
		e.u8(byte(m.Status))
		e.uvarint(m.Seed)
		e.uvarint(m.Created)
		e.uvarint(m.CheckpointEpoch)
		e.uvarint(uint64(m.CheckpointTick))
		e.uvarint(m.ckptIndex)
		e.bytes(m.ckpt)
	}
	return e.b
}

// Restore replaces the state with a snapshot (Raft's FSM goroutine; nothing
// else applies concurrently).
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("read fsm snapshot: %w", err)
	}
	if len(b) > maxSnapshotBytes {
		return fmt.Errorf("fsm snapshot over %d bytes", maxSnapshotBytes)
	}
	index, nodes, matches, err := decodeSnapshot(b)
	if err != nil {
		return fmt.Errorf("decode fsm snapshot: %w", err)
	}
	load := make(map[string]int)
	for _, m := range matches {
		if m.Owner != "" {
			load[m.Owner]++
		}
	}
	f.mu.Lock()
	f.index, f.nodes, f.matches, f.load = index, nodes, matches, load
	f.mu.Unlock()
	f.signal()
	return nil
}

func decodeSnapshot(b []byte) (uint64, map[string]*NodeInfo, map[string]*matchRec, error) {
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return 0, nil, nil, fmt.Errorf("%w: bad snapshot magic", ErrBadCommand)
	}
	d := decoder{b: b[len(snapshotMagic):]}
	index := d.uvarint("index")
	nn := d.count("node count", 7)
	nodes := make(map[string]*NodeInfo, nn)
	for range nn {
		n := &NodeInfo{}
		n.ID = d.str("node id")
		n.Advertise = d.str("advertise")
		n.API = d.str("api")
		n.RaftAddr = d.str("raft addr")
		n.State = NodeState(d.u8("state"))
		n.Since = d.uvarint("since")
		n.Revived = d.uvarint("revived")
		nodes[n.ID] = n
	}
	mn := d.count("match count", 13)
	matches := make(map[string]*matchRec, mn)
	for range mn {
		m := &matchRec{}
		m.ID = d.str("match id")
		m.Game = d.str("game")
		m.Owner = d.str("owner")
		m.Epoch = d.uvarint("epoch")
		m.PrevEpoch = d.uvarint("prev epoch")
		m.Players = int(d.varint("players"))
		m.Status = MatchStatus(d.u8("status"))
		m.Seed = d.uvarint("seed")
		m.Created = d.uvarint("created")
		m.CheckpointEpoch = d.uvarint("checkpoint epoch")
		m.CheckpointTick = d.u32("checkpoint tick")
		m.ckptIndex = d.uvarint("checkpoint index")
		if c := d.bytes("checkpoint"); len(c) > 0 {
			m.ckpt = c
			m.CheckpointBytes = len(c)
		}
		matches[m.ID] = m
	}
	if err := d.finish("snapshot"); err != nil {
		return 0, nil, nil, err
	}
	return index, nodes, matches, nil
}
