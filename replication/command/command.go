package replication

import (
	"encoding/binary"
	"fmt"
)

// NodeState is a node's state in the FSM.
type NodeState uint8

const (
	// NodeAlive: takes new matches.
	NodeAlive NodeState = 1
	// NodeDraining: keeps running its matches while it hands them over; takes no new ones.
	NodeDraining NodeState = 2
	// NodeDead: declared dead by the leader's supervisor; owns no matches.
	NodeDead NodeState = 3
)

var nodeStateNames = map[NodeState]string{NodeAlive: "alive", NodeDraining: "draining", NodeDead: "dead"}

func (s NodeState) String() string {
	if n, ok := nodeStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText makes NodeState a JSON string.
func (s NodeState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "alive", "draining" or "dead".
func (s *NodeState) UnmarshalText(b []byte) error {
	for k, v := range nodeStateNames {
		if v == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("node state %q: must be alive, draining or dead", b)
}

func (s NodeState) valid() bool { return s >= NodeAlive && s <= NodeDead }

// MatchStatus is a match's status in the FSM.
type MatchStatus uint8

const (
	// MatchRunning: the match has an owner.
	MatchRunning MatchStatus = 1
	// MatchOrphaned: its owner died and no live node could take it; the FSM
	// places it as soon as a node comes alive.
	MatchOrphaned MatchStatus = 2
)

func (s MatchStatus) String() string {
	switch s {
	case MatchRunning:
		return "running"
	case MatchOrphaned:
		return "orphaned"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText makes MatchStatus a JSON string.
func (s MatchStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "running" or "orphaned".
func (s *MatchStatus) UnmarshalText(b []byte) error {
	switch string(b) {
	case "running":
		*s = MatchRunning
	case "orphaned":
		*s = MatchOrphaned
	default:
		return fmt.Errorf("match status %q: must be running or orphaned", b)
	}
	return nil
}

// Command is one FSM command. Encoded form: one type byte, then the fields
// in the codec of codec.go. Commands are idempotent, or guarded by an epoch,
// so that Node.Apply may retry after ErrLeadershipLost.
type Command interface {
	cmdType() byte
	encode(e *encoder)
	decode(d *decoder)
}

const (
	typeRegisterNode    byte = 1
	typeSetNodeState    byte = 2
	typeRemoveNode      byte = 3
	typeCreateMatch     byte = 4
	typeAssignMatch     byte = 5
	typeCheckpointBatch byte = 6
	typeEndMatch        byte = 7
	typeUpdatePlayers   byte = 8
)

// RegisterNode adds a node or updates its addresses. A new or dead node
// becomes alive (only the leader issues it, after hearing from the node);
// orphaned matches are then placed.
type RegisterNode struct {
	ID, Advertise, API, RaftAddr string
}

// SetNodeState changes a node's state. Dead reassigns all its matches to the
// least-loaded live nodes, each with epoch = this entry's index. Alive places
// orphaned matches.
type SetNodeState struct {
	ID    string
	State NodeState
}

// RemoveNode deletes a node from the FSM, reassigning its matches like Dead.
type RemoveNode struct{ ID string }

// CreateMatch creates a match owned by Owner, or by the least-loaded live
// node when Owner is empty. Its epoch is this entry's index. Creating an
// existing match of the same game returns it (Result.Existing).
type CreateMatch struct {
	ID, Game string
	Owner    string
	Seed     uint64 // 0: derived from the entry's index
	Players  int
}

// AssignMatch moves a match to node To with epoch = this entry's index.
// Allowed when From is the current owner at FromEpoch (a planned hand-over:
// the owner froze the room first and passes its final checkpoint), or when
// the owner is dead, removed or absent. Retrying a hand-over that already
// happened returns the match unchanged.
type AssignMatch struct {
	ID        string
	FromEpoch uint64
	From      string
	To        string
	Final     *CheckpointItem // the frozen room's state, epoch FromEpoch; may be nil
}

// CheckpointItem is one match's checkpoint in a batch.
type CheckpointItem struct {
	Match   string
	Epoch   uint64 // the sender's epoch; must be the match's current one
	Tick    uint32
	Players int32  // -1: unchanged
	Data    []byte // compressed state (zstd); nil: players update only
}

// CheckpointBatch carries many matches' checkpoints in one entry. Each item is
// checked on its own: a stale epoch (or an older tick) rejects that item only.
type CheckpointBatch struct {
	Node  string
	Items []CheckpointItem
}

// EndMatch deletes a match and its checkpoint. Epoch 0 ends it whatever its
// epoch (operators); otherwise it must be the current epoch. Ending a match
// that does not exist succeeds (Result.Existing false).
type EndMatch struct {
	ID    string
	Epoch uint64
}

// UpdatePlayers sets a match's player count; Epoch must be current.
type UpdatePlayers struct {
	ID      string
	Epoch   uint64
	Players int
}

func (*RegisterNode) cmdType() byte    { return typeRegisterNode }
func (*SetNodeState) cmdType() byte    { return typeSetNodeState }
func (*RemoveNode) cmdType() byte      { return typeRemoveNode }
func (*CreateMatch) cmdType() byte     { return typeCreateMatch }
func (*AssignMatch) cmdType() byte     { return typeAssignMatch }
func (*CheckpointBatch) cmdType() byte { return typeCheckpointBatch }
func (*EndMatch) cmdType() byte        { return typeEndMatch }
func (*UpdatePlayers) cmdType() byte   { return typeUpdatePlayers }

func (c *RegisterNode) encode(e *encoder) {
	e.str(c.ID)
	e.str(c.Advertise)
	e.str(c.API)
	e.str(c.RaftAddr)
}

func (c *RegisterNode) decode(d *decoder) {
	c.ID = d.str("node id")
	c.Advertise = d.str("advertise")
	c.API = d.str("api")
	c.RaftAddr = d.str("raft addr")
}

func (c *SetNodeState) encode(e *encoder) { e.str(c.ID); e.u8(byte(c.State)) }
func (c *SetNodeState) decode(d *decoder) {
	c.ID = d.str("node id")
	c.State = NodeState(d.u8("state"))
}

func (c *RemoveNode) encode(e *encoder) { e.str(c.ID) }
func (c *RemoveNode) decode(d *decoder) { c.ID = d.str("node id") }

func (c *CreateMatch) encode(e *encoder) {
	e.str(c.ID)
	e.str(c.Game)
	e.str(c.Owner)
	e.uvarint(c.Seed)
	e.varint(int64(c.Players))
}

func (c *CreateMatch) decode(d *decoder) {
	c.ID = d.str("match id")
	c.Game = d.str("game")
	c.Owner = d.str("owner")
	c.Seed = d.uvarint("seed")
	c.Players = int(d.varint("players"))
}

func (c *AssignMatch) encode(e *encoder) {
	e.str(c.ID)
	e.uvarint(c.FromEpoch)
	e.str(c.From)
	e.str(c.To)
	if c.Final == nil {
		e.u8(0)
		return
	}
	e.u8(1)
	c.Final.encode(e)
}

func (c *AssignMatch) decode(d *decoder) {
	c.ID = d.str("match id")
	c.FromEpoch = d.uvarint("from epoch")
	c.From = d.str("from")
	c.To = d.str("to")
	switch d.u8("final flag") {
	case 0:
	case 1:
		c.Final = new(CheckpointItem)
		c.Final.decode(d)
	default:
		d.fail("final flag")
	}
}

func (it *CheckpointItem) encode(e *encoder) {
	e.str(it.Match)
	e.uvarint(it.Epoch)
	e.uvarint(uint64(it.Tick))
	e.varint(int64(it.Players))
	e.bytes(it.Data)
}

func (it *CheckpointItem) decode(d *decoder) {
	it.Match = d.str("match id")
	it.Epoch = d.uvarint("epoch")
	it.Tick = d.u32("tick")
	p := d.varint("players")
	if p < -1 || p > 1<<31-1 {
		d.fail("players")
	}
	it.Players = int32(p)
	if data := d.bytes("checkpoint"); len(data) > 0 {
		it.Data = data
	}
}

func (c *CheckpointBatch) encode(e *encoder) {
	e.str(c.Node)
	e.uvarint(uint64(len(c.Items)))
	for i := range c.Items {
		c.Items[i].encode(e)
	}
}

// sizeHint is an upper bound of the encoded size (type byte included), so
// that a batch of checkpoints (tens of KB at 10 flushes a second) is
// encoded into one allocation instead of a doubling series.
func (c *CheckpointBatch) sizeHint() int {
	n := 1 + binary.MaxVarintLen64 + len(c.Node) + binary.MaxVarintLen64
	for i := range c.Items {
		it := &c.Items[i]
		n += 5*binary.MaxVarintLen64 + len(it.Match) + len(it.Data)
	}
	return n
}

func (c *CheckpointBatch) decode(d *decoder) {
	c.Node = d.str("node id")
	n := d.count("item count", 5)
	c.Items = make([]CheckpointItem, n)
	for i := range c.Items {
		c.Items[i].decode(d)
	}
}

func (c *EndMatch) encode(e *encoder) { e.str(c.ID); e.uvarint(c.Epoch) }
func (c *EndMatch) decode(d *decoder) {
	c.ID = d.str("match id")
	c.Epoch = d.uvarint("epoch")
}

func (c *UpdatePlayers) encode(e *encoder) {
	e.str(c.ID)
	e.uvarint(c.Epoch)
	e.varint(int64(c.Players))
}

func (c *UpdatePlayers) decode(d *decoder) {
	c.ID = d.str("match id")
	c.Epoch = d.uvarint("epoch")
	c.Players = int(d.varint("players"))
}

// EncodeCommand returns the log entry bytes of cmd.
func EncodeCommand(cmd Command) []byte {
	size := 64
	if h, ok := cmd.(interface{ sizeHint() int }); ok {
		size = h.sizeHint()
	}
	e := encoder{b: make([]byte, 0, size)}
	e.u8(cmd.cmdType())
	cmd.encode(&e)
	return e.b
}

// DecodeCommand parses log entry bytes. It never panics; malformed input
// returns an error wrapping ErrBadCommand.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCommand)
	}
	var cmd Command
	switch b[0] {
	case typeRegisterNode:
		cmd = new(RegisterNode)
	case typeSetNodeState:
		cmd = new(SetNodeState)
	case typeRemoveNode:
		cmd = new(RemoveNode)
	case typeCreateMatch:
		cmd = new(CreateMatch)
	case typeAssignMatch:
		cmd = new(AssignMatch)
	case typeCheckpointBatch:
		cmd = new(CheckpointBatch)
	case typeEndMatch:
		cmd = new(EndMatch)
	case typeUpdatePlayers:
		cmd = new(UpdatePlayers)
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrBadCommand, b[0])
	}
	d := decoder{b: b[1:]}
	cmd.decode(&d)
	if err := d.finish("command"); err != nil {
		return nil, err
	}
	return cmd, nil
}
