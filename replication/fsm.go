package replication

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/command"
)

// NodeInfo is a node as the FSM knows it (a copy; safe to keep).
type NodeInfo struct {
	ID        string    `json:"id"`
	Advertise string    `json:"advertise"`
	API       string    `json:"api"`
	RaftAddr  string    `json:"raft_addr"`
	State     NodeState `json:"state"`
	Since     uint64    `json:"since"`   // index of the entry that set State
	Revived   uint64    `json:"revived"` // index of the entry that last made it alive after dead/unknown
	Load      int       `json:"load"`    // matches owned
}

// MatchInfo is a match as the FSM knows it (a copy; safe to keep).
type MatchInfo struct {
	ID        string      `json:"id"`
	Game      string      `json:"game"`
	Key       string      `json:"key,omitempty"` // matchmaking key (CreateMatch.Key); "": none, or created by an earlier version
	Owner     string      `json:"owner"`         // "" while orphaned
	Epoch     uint64      `json:"epoch"`         // index of the entry that gave Owner the match
	PrevEpoch uint64      `json:"prev_epoch,omitempty"`
	Players   int         `json:"players"`
	Status    MatchStatus `json:"status"`
	Seed      uint64      `json:"seed"`
	Created   uint64      `json:"created"` // index of the CreateMatch entry

	CheckpointEpoch uint64 `json:"checkpoint_epoch,omitempty"`
	CheckpointTick  uint32 `json:"checkpoint_tick"`
	CheckpointBytes int    `json:"checkpoint_bytes,omitempty"` // compressed
}

// Checkpoint is a match's latest checkpoint. Data is compressed and shared
// with the FSM: read it, never modify it.
type Checkpoint struct {
	Match string
	Epoch uint64 // the epoch of the owner that wrote it
	Tick  uint32
	Index uint64 // log index that stored it
	Data  []byte
}

// State decompresses the checkpoint.
func (c Checkpoint) State() ([]byte, error) { return decompress(c.Data) }

// Result is what a successful command returns (ApplyFuture.Response() is a
// *Result, or an error for a refused command).
type Result struct {
	Index    uint64      `json:"index"`
	Match    *MatchInfo  `json:"match,omitempty"`
	Node     *NodeInfo   `json:"node,omitempty"`
	Existing bool        `json:"existing,omitempty"` // the command found its work already done
	Accepted int         `json:"accepted,omitempty"` // checkpoint items stored
	Rejected []Rejection `json:"rejected,omitempty"` // checkpoint items refused
	Moved    []Move      `json:"moved,omitempty"`    // matches that changed owner
}

// Rejection is one refused checkpoint item.
type Rejection struct {
	Match string `json:"match"`
	Epoch uint64 `json:"epoch"` // the epoch the item carried
	Code  string `json:"code"`  // stale_epoch, match_not_found, old_tick
}

// Move is one ownership change.
type Move struct {
	Match string `json:"match"`
	From  string `json:"from"`
	To    string `json:"to"` // "" when orphaned
	Epoch uint64 `json:"epoch"`
}

type matchRec struct {
	MatchInfo
	ckpt      []byte // compressed, immutable once stored
	ckptIndex uint64
	tlog      []logSeg // tick log since the checkpoint (ticklog_fsm.go)
	tlogBytes int
}

// fsm is the replicated state machine: nodes, matches, checkpoints and
// tick logs (ticklog_fsm.go).
// Raft calls Apply, Snapshot and Restore from its FSM goroutine; any other
// goroutine may call the read methods (Lookup, Matches, Nodes, …), which take
// a read lock and return copies. Apply is deterministic: it uses the entry's
// index, never the clock, and iterates maps in sorted order.
type fsm struct {
	mu      sync.RWMutex
	index   uint64 // index of the last command applied
	nodes   map[string]*NodeInfo
	matches map[string]*matchRec
	load    map[string]int

	changed chan struct{} // cap 1: signalled after ownership or node changes
	// advanced is closed (under mu) when index moves, then cleared; a waiter
	// makes it (waitIndex). nil while nobody waits: Apply pays nothing.
	advanced chan struct{}

	beforeApply func() // tests: runs before each command is applied
}

var _ raft.FSM = (*fsm)(nil)

// newFSM returns an empty FSM.
func newFSM() *fsm {
	return &fsm{
		nodes:   make(map[string]*NodeInfo),
		matches: make(map[string]*matchRec),
		load:    make(map[string]int),
		changed: make(chan struct{}, 1),
	}
}

// Apply applies one committed entry (Raft's FSM goroutine).
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if f.beforeApply != nil {
		f.beforeApply()
	}
	cmd, err := command.Decode(l.Data)
	f.mu.Lock()
	if l.Index > f.index {
		f.index = l.Index
		f.wakeLocked()
	}
	var res *Result
	var notify bool
	if err == nil {
		res, notify, err = f.apply(l.Index, cmd)
	}
	f.mu.Unlock()
	if notify {
		f.signal()
	}
	if err != nil {
		return err
	}
	res.Index = l.Index
	return res
}

// wakeLocked wakes the waiters of waitIndex (mu held for writing).
func (f *fsm) wakeLocked() {
	if f.advanced != nil {
		close(f.advanced)
		f.advanced = nil
	}
}

// waitIndex returns nil once the FSM has applied index, or done's or ctx's
// error. The FSM goroutine wakes it (Apply, Restore): no polling.
func (f *fsm) waitIndex(ctx context.Context, index uint64, done <-chan struct{}) error {
	for {
		f.mu.Lock()
		if f.index >= index {
			f.mu.Unlock()
			return nil
		}
		if f.advanced == nil {
			f.advanced = make(chan struct{})
		}
		ch := f.advanced
		f.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return ErrShutdown
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fsm) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fsm) apply(idx uint64, cmd command.Command) (*Result, bool, error) {
	switch c := cmd.(type) {
	case *command.RegisterNode:
		return f.registerNode(idx, c)
	case *command.SetNodeState:
		return f.setNodeState(idx, c)
	case *command.RemoveNode:
		return f.removeNode(idx, c)
	case *command.CreateMatch:
		return f.createMatch(idx, c)
	case *command.AssignMatch:
		return f.assignMatch(idx, c)
	case *command.CheckpointBatch:
		return f.checkpointBatch(idx, c), false, nil
	case *command.EndMatch:
		return f.endMatch(c)
	case *command.UpdatePlayers:
		return f.updatePlayers(c)
	case *command.TickLogBatch:
		return f.tickLogBatch(c), false, nil
	}
	return nil, false, fmt.Errorf("%w: unhandled %T", ErrBadCommand, cmd)
}

func (f *fsm) registerNode(idx uint64, c *command.RegisterNode) (*Result, bool, error) {
	if c.ID == "" {
		return nil, false, fmt.Errorf("%w: register node without id", ErrBadCommand)
	}
	n, ok := f.nodes[c.ID]
	res := &Result{Existing: ok}
	revived := false
	if !ok {
		n = &NodeInfo{ID: c.ID, State: NodeAlive, Since: idx, Revived: idx}
		f.nodes[c.ID] = n
		revived = true
	} else if n.State == NodeDead {
		n.State, n.Since, n.Revived = NodeAlive, idx, idx
		revived = true
	}
	n.Advertise, n.API, n.RaftAddr = c.Advertise, c.API, c.RaftAddr
	if revived {
		res.Moved = f.placeOrphans(idx)
	}
	res.Node = f.nodeCopy(n)
	return res, true, nil
}

func (f *fsm) setNodeState(idx uint64, c *command.SetNodeState) (*Result, bool, error) {
	if !c.State.Valid() {
		return nil, false, fmt.Errorf("%w: node state %d", ErrBadCommand, c.State)
	}
	n, ok := f.nodes[c.ID]
	if !ok {
		return nil, false, fmt.Errorf("%w: %s", ErrNodeNotFound, c.ID)
	}
	res := &Result{}
	if n.State == c.State {
		res.Existing = true
		res.Node = f.nodeCopy(n)
		return res, false, nil
	}
	if n.State == NodeDead {
		n.Revived = idx
	}
	n.State, n.Since = c.State, idx
	switch c.State {
	case NodeDead:
		res.Moved = f.reassignFrom(idx, c.ID)
	case NodeAlive:
		res.Moved = f.placeOrphans(idx)
	}
	res.Node = f.nodeCopy(n)
	return res, true, nil
}

func (f *fsm) removeNode(idx uint64, c *command.RemoveNode) (*Result, bool, error) {
	if _, ok := f.nodes[c.ID]; !ok {
		return &Result{}, false, nil
	}
	delete(f.nodes, c.ID)
	res := &Result{Existing: true, Moved: f.reassignFrom(idx, c.ID)}
	delete(f.load, c.ID)
	return res, true, nil
}

func (f *fsm) createMatch(idx uint64, c *command.CreateMatch) (*Result, bool, error) {
	if c.ID == "" || c.Game == "" {
		return nil, false, fmt.Errorf("%w: create match needs an id and a game", ErrBadCommand)
	}
	if m, ok := f.matches[c.ID]; ok {
		if m.Game != c.Game {
			return nil, false, fmt.Errorf("%w: %s runs %s", ErrMatchExists, c.ID, m.Game)
		}
		mi := m.MatchInfo
		return &Result{Existing: true, Match: &mi}, false, nil
	}
	owner := c.Owner
	if owner != "" {
		n, ok := f.nodes[owner]
		if !ok {
			return nil, false, fmt.Errorf("%w: %s", ErrNodeNotFound, owner)
		}
		if n.State != NodeAlive {
			return nil, false, fmt.Errorf("%w: %s is %s", ErrNodeNotAlive, owner, n.State)
		}
	} else if owner = f.leastLoaded(""); owner == "" {
		return nil, false, ErrNoLiveNode
	}
	seed := c.Seed
	if seed == 0 {
		seed = splitmix64(idx)
	}
	m := &matchRec{MatchInfo: MatchInfo{
		ID: c.ID, Game: c.Game, Key: c.Key, Owner: owner, Epoch: idx, Players: max(c.Players, 0),
		Status: MatchRunning, Seed: seed, Created: idx,
	}}
	f.matches[c.ID] = m
	f.load[owner]++
	mi := m.MatchInfo
	return &Result{Match: &mi}, true, nil
}

func (f *fsm) assignMatch(idx uint64, c *command.AssignMatch) (*Result, bool, error) {
	m, ok := f.matches[c.ID]
	if !ok {
		return nil, false, fmt.Errorf("%w: %s", ErrMatchNotFound, c.ID)
	}
	if c.FromEpoch != 0 && m.Owner == c.To && m.PrevEpoch == c.FromEpoch {
		mi := m.MatchInfo // a retry of a hand-over that happened
		return &Result{Existing: true, Match: &mi}, false, nil
	}
	if m.Epoch != c.FromEpoch {
		return nil, false, fmt.Errorf("%w: %s is at epoch %d, not %d", ErrStaleEpoch, c.ID, m.Epoch, c.FromEpoch)
	}
	to, ok := f.nodes[c.To]
	if !ok {
		return nil, false, fmt.Errorf("%w: %s", ErrNodeNotFound, c.To)
	}
	if to.State != NodeAlive {
		return nil, false, fmt.Errorf("%w: %s is %s", ErrNodeNotAlive, c.To, to.State)
	}
	if owner, ok := f.nodes[m.Owner]; ok && owner.State != NodeDead && c.From != m.Owner {
		return nil, false, fmt.Errorf("%w: %s owns %s", ErrOwnerAlive, m.Owner, c.ID)
	}
	if fin := c.Final; fin != nil {
		if fin.Match != c.ID || fin.Epoch != c.FromEpoch {
			return nil, false, fmt.Errorf("%w: final checkpoint of %s@%d in a hand-over of %s@%d",
				ErrBadCommand, fin.Match, fin.Epoch, c.ID, c.FromEpoch)
		}
		f.storeCheckpoint(idx, m, fin)
	}
	mv := f.move(idx, m, c.To)
	mi := m.MatchInfo
	return &Result{Match: &mi, Moved: []Move{mv}}, true, nil
}

func (f *fsm) checkpointBatch(idx uint64, c *command.CheckpointBatch) *Result {
	res := &Result{}
	for i := range c.Items {
		it := &c.Items[i]
		m, ok := f.matches[it.Match]
		switch {
		case !ok:
			res.Rejected = append(res.Rejected, Rejection{it.Match, it.Epoch, ErrorCode(ErrMatchNotFound)})
		case it.Epoch != m.Epoch:
			res.Rejected = append(res.Rejected, Rejection{it.Match, it.Epoch, ErrorCode(ErrStaleEpoch)})
		case it.Data != nil && m.CheckpointEpoch == it.Epoch && it.Tick < m.CheckpointTick:
			res.Rejected = append(res.Rejected, Rejection{it.Match, it.Epoch, "old_tick"})
		default:
			f.storeCheckpoint(idx, m, it)
			res.Accepted++
		}
	}
	return res
}

// storeCheckpoint stores it (whose epoch the caller checked) in m.
func (f *fsm) storeCheckpoint(idx uint64, m *matchRec, it *command.CheckpointItem) {
	if it.Players >= 0 {
		m.Players = int(it.Players)
	}
	if it.Data == nil {
		return
	}
	m.ckpt, m.ckptIndex = it.Data, idx
	m.CheckpointEpoch, m.CheckpointTick, m.CheckpointBytes = it.Epoch, it.Tick, len(it.Data)
	m.trimLog(it.Epoch, it.Tick)
}

func (f *fsm) endMatch(c *command.EndMatch) (*Result, bool, error) {
	m, ok := f.matches[c.ID]
	if !ok {
		return &Result{}, false, nil
	}
	if c.Epoch != 0 && c.Epoch != m.Epoch {
		return nil, false, fmt.Errorf("%w: %s is at epoch %d, not %d", ErrStaleEpoch, c.ID, m.Epoch, c.Epoch)
	}
	if m.Owner != "" {
		f.load[m.Owner]--
	}
	delete(f.matches, c.ID)
	mi := m.MatchInfo
	return &Result{Existing: true, Match: &mi}, true, nil
}

func (f *fsm) updatePlayers(c *command.UpdatePlayers) (*Result, bool, error) {
	m, ok := f.matches[c.ID]
	if !ok {
		return nil, false, fmt.Errorf("%w: %s", ErrMatchNotFound, c.ID)
	}
	if c.Epoch != m.Epoch {
		return nil, false, fmt.Errorf("%w: %s is at epoch %d, not %d", ErrStaleEpoch, c.ID, m.Epoch, c.Epoch)
	}
	m.Players = max(c.Players, 0)
	mi := m.MatchInfo
	return &Result{Match: &mi}, false, nil
}

// move gives m to node to ("" orphans it) with epoch idx.
func (f *fsm) move(idx uint64, m *matchRec, to string) Move {
	mv := Move{Match: m.ID, From: m.Owner, To: to, Epoch: idx}
	if m.Owner != "" {
		f.load[m.Owner]--
	}
	m.PrevEpoch, m.Epoch, m.Owner = m.Epoch, idx, to
	if to == "" {
		m.Status = MatchOrphaned
	} else {
		m.Status = MatchRunning
		f.load[to]++
	}
	return mv
}

// reassignFrom moves every match of node (dead or removed) to the least-loaded
// live node, in match id order.
func (f *fsm) reassignFrom(idx uint64, node string) []Move {
	var ids []string
	for id, m := range f.matches {
		if m.Owner == node {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	moves := make([]Move, 0, len(ids))
	for _, id := range ids {
		moves = append(moves, f.move(idx, f.matches[id], f.leastLoaded(node)))
	}
	return moves
}

func (f *fsm) placeOrphans(idx uint64) []Move {
	var ids []string
	for id, m := range f.matches {
		if m.Status == MatchOrphaned {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var moves []Move
	for _, id := range ids {
		to := f.leastLoaded("")
		if to == "" {
			break
		}
		moves = append(moves, f.move(idx, f.matches[id], to))
	}
	return moves
}

// leastLoaded returns the alive node (not exclude) with the fewest matches,
// ties broken by id; "" if none.
func (f *fsm) leastLoaded(exclude string) string {
	best, bestLoad := "", 0
	for id, n := range f.nodes {
		if n.State != NodeAlive || id == exclude {
			continue
		}
		l := f.load[id]
		if best == "" || l < bestLoad || (l == bestLoad && id < best) {
			best, bestLoad = id, l
		}
	}
	return best
}

func (f *fsm) nodeCopy(n *NodeInfo) *NodeInfo {
	c := *n
	c.Load = f.load[n.ID]
	return &c
}

// splitmix64 derives a match seed from an index (deterministic).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// --- read side (any goroutine) ---

// Index returns the index of the last command applied.
func (f *fsm) Index() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index
}

// Lookup returns match id.
func (f *fsm) Lookup(id string) (MatchInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.matches[id]
	if !ok {
		return MatchInfo{}, false
	}
	return m.MatchInfo, true
}

// Matches returns all matches sorted by id.
func (f *fsm) Matches() []MatchInfo {
	f.mu.RLock()
	out := make([]MatchInfo, 0, len(f.matches))
	for _, m := range f.matches {
		out = append(out, m.MatchInfo)
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b MatchInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Nodes returns all nodes sorted by id.
func (f *fsm) Nodes() []NodeInfo {
	f.mu.RLock()
	out := make([]NodeInfo, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, *f.nodeCopy(n))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Node returns node id.
func (f *fsm) Node(id string) (NodeInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.nodes[id]
	if !ok {
		return NodeInfo{}, false
	}
	return *f.nodeCopy(n), true
}

// Checkpoint returns match id's latest checkpoint.
func (f *fsm) Checkpoint(id string) (Checkpoint, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.matches[id]
	if !ok || m.ckpt == nil {
		return Checkpoint{}, false
	}
	return Checkpoint{Match: id, Epoch: m.CheckpointEpoch, Tick: m.CheckpointTick, Index: m.ckptIndex, Data: m.ckpt}, true
}

// ownedBy returns the matches node owns, with their epochs, and the node's state.
func (f *fsm) ownedBy(node string) (map[string]MatchInfo, NodeState) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string]MatchInfo)
	for id, m := range f.matches {
		if m.Owner == node {
			out[id] = m.MatchInfo
		}
	}
	var st NodeState
	if n, ok := f.nodes[node]; ok {
		st = n.State
	}
	return out, st
}
