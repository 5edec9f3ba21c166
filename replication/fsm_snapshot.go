package replication

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/codec"
)

// Snapshot format: "TSF1", then in package codec's encoding: index, nodes (count,
// then id, advertise, api, raft addr, state, since, revived), matches (count, then
// id, game, owner, epoch, prev epoch, players, status, seed, created,
// checkpoint epoch, tick, index, bytes). Sorted by id, so equal states give
// equal bytes. "TSF2" is the same with each match's tick log after its
// checkpoint bytes: segment count, then epoch, from, to, bytes per segment.
// "TSF3" is TSF2 with each match's matchmaking key after its tick log. A
// state is written in the oldest format that holds it: TSF1 without tick
// logs and keys (the bytes earlier versions wrote and read), TSF2 with tick
// logs and no keys, TSF3 once a match has a key.
const (
	snapshotMagic   = "TSF1"
	snapshotMagicV2 = "TSF2"
	snapshotMagicV3 = "TSF3"
)

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
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
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
	v2, v3 := false, false
	for i := range s.matches {
		m := &s.matches[i]
		size += 64 + len(m.ID) + len(m.Key) + len(m.ckpt) + m.tlogBytes + 32*len(m.tlog)
		v2 = v2 || len(m.tlog) > 0
		v3 = v3 || m.Key != ""
	}
	v2 = v2 || v3 // TSF3 has TSF2's tick logs
	e := codec.Encoder{B: make([]byte, 0, size)}
	switch {
	case v3:
		e.B = append(e.B, snapshotMagicV3...)
	case v2:
		e.B = append(e.B, snapshotMagicV2...)
	default:
		e.B = append(e.B, snapshotMagic...)
	}
	e.Uvarint(s.index)
	e.Uvarint(uint64(len(s.nodes)))
	for _, n := range s.nodes {
		e.Str(n.ID)
		e.Str(n.Advertise)
		e.Str(n.API)
		e.Str(n.RaftAddr)
		e.U8(byte(n.State))
		e.Uvarint(n.Since)
		e.Uvarint(n.Revived)
	}
	e.Uvarint(uint64(len(s.matches)))
	for i := range s.matches {
		m := &s.matches[i]
		e.Str(m.ID)
		e.Str(m.Game)
		e.Str(m.Owner)
		e.Uvarint(m.Epoch)
		e.Uvarint(m.PrevEpoch)
		e.Varint(int64(m.Players))
		e.U8(byte(m.Status))
		e.Uvarint(m.Seed)
		e.Uvarint(m.Created)
		e.Uvarint(m.CheckpointEpoch)
		e.Uvarint(uint64(m.CheckpointTick))
		e.Uvarint(m.ckptIndex)
		e.Bytes(m.ckpt)
		if v2 {
			e.Uvarint(uint64(len(m.tlog)))
			for _, sg := range m.tlog {
				e.Uvarint(sg.epoch)
				e.Uvarint(uint64(sg.from))
				e.Uvarint(uint64(sg.to))
				e.Bytes(sg.data)
			}
		}
		if v3 {
			e.Str(m.Key)
		}
	}
	return e.B
}

// Restore replaces the state with a snapshot (Raft's FSM goroutine; nothing
// else applies concurrently).
func (f *fsm) Restore(rc io.ReadCloser) error {
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
	f.wakeLocked()
	f.mu.Unlock()
	f.signal()
	return nil
}

func decodeSnapshot(b []byte) (uint64, map[string]*NodeInfo, map[string]*matchRec, error) {
	v3 := bytes.HasPrefix(b, []byte(snapshotMagicV3))
	v2 := v3 || bytes.HasPrefix(b, []byte(snapshotMagicV2))
	if !v2 && !bytes.HasPrefix(b, []byte(snapshotMagic)) {
		return 0, nil, nil, fmt.Errorf("%w: bad snapshot magic", ErrBadCommand)
	}
	d := codec.NewDecoder(b[len(snapshotMagic):])
	index := d.Uvarint("index")
	nn := d.Count("node count", 7)
	nodes := make(map[string]*NodeInfo, nn)
	for range nn {
		n := &NodeInfo{}
		n.ID = d.Str("node id")
		n.Advertise = d.Str("advertise")
		n.API = d.Str("api")
		n.RaftAddr = d.Str("raft addr")
		n.State = NodeState(d.U8("state"))
		n.Since = d.Uvarint("since")
		n.Revived = d.Uvarint("revived")
		nodes[n.ID] = n
	}
	mn := d.Count("match count", 13)
	matches := make(map[string]*matchRec, mn)
	for range mn {
		m := &matchRec{}
		m.ID = d.Str("match id")
		m.Game = d.Str("game")
		m.Owner = d.Str("owner")
		m.Epoch = d.Uvarint("epoch")
		m.PrevEpoch = d.Uvarint("prev epoch")
		m.Players = int(d.Varint("players"))
		m.Status = MatchStatus(d.U8("status"))
		m.Seed = d.Uvarint("seed")
		m.Created = d.Uvarint("created")
		m.CheckpointEpoch = d.Uvarint("checkpoint epoch")
		m.CheckpointTick = d.U32("checkpoint tick")
		m.ckptIndex = d.Uvarint("checkpoint index")
		if c := d.Bytes("checkpoint"); len(c) > 0 {
			m.ckpt = c
			m.CheckpointBytes = len(c)
		}
		if v2 {
			ns := d.Count("tick log segments", 4)
			for range ns {
				sg := logSeg{epoch: d.Uvarint("segment epoch"), from: d.U32("segment from"), to: d.U32("segment to")}
				sg.data = d.Bytes("segment")
				m.tlog = append(m.tlog, sg)
				m.tlogBytes += len(sg.data)
			}
		}
		if v3 {
			if m.Key = d.Str("match key"); len(m.Key) > command.MaxMatchKeyLen {
				d.Fail("match key")
			}
		}
		matches[m.ID] = m
	}
	if err := d.Finish("snapshot"); err != nil {
		return 0, nil, nil, err
	}
	return index, nodes, matches, nil
}
