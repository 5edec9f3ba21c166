package command

import (
	"encoding/binary"
	"fmt"

	"github.com/ticksync/ticksync/replication/internal/codec"
)

// ErrBadCommand wraps every error of Decode (and of decoding snapshots):
// the bytes are not a command of this version.
var ErrBadCommand = codec.ErrBadCommand

// Command is one FSM command: one of the pointer types below. Encoded
// form: one type byte, then the fields in package codec's encoding, in the
// order of the struct. Commands are idempotent, or guarded by an epoch, so
// that replication's Node.Apply may retry them after ErrLeadershipLost. The
// interface is sealed: only this package's types implement it.
type Command interface {
	cmdType() byte
	encode(e *codec.Encoder)
	decode(d *codec.Decoder)
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
	typeTickLogBatch    byte = 9
	// typeCreateKeyedMatch is a CreateMatch with a matchmaking key: the
	// fields of typeCreateMatch, then the key. A CreateMatch without a key
	// is written as typeCreateMatch, the bytes earlier versions wrote.
	typeCreateKeyedMatch byte = 10
)

// MaxMatchKeyLen bounds a match's matchmaking key (CreateMatch.Key), in
// bytes.
const MaxMatchKeyLen = 8192

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
	// Key is the match's matchmaking key (opaque here; the game layer's
	// text of the join payload's match_key fields), at most MaxMatchKeyLen
	// bytes; "" for none. A keyed CreateMatch has a type byte of its own
	// (10), so that one without a key keeps the bytes of type 4.
	Key string
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

// TickLogItem is one match's tick log for the ticks From..To (inclusive):
// the records its room wrote (package sim's format; opaque here), which
// continue the log the FSM holds for that match.
type TickLogItem struct {
	Match    string
	Epoch    uint64 // the sender's epoch; must be the match's current one
	From, To uint32
	Data     []byte
}

// TickLogBatch carries many matches' tick logs in one entry, one item per
// match. Each item is checked on its own like a CheckpointItem: a stale
// epoch rejects that item only.
type TickLogBatch struct {
	Node  string
	Items []TickLogItem
}

func (*RegisterNode) cmdType() byte { return typeRegisterNode }
func (*SetNodeState) cmdType() byte { return typeSetNodeState }
func (*RemoveNode) cmdType() byte   { return typeRemoveNode }
func (c *CreateMatch) cmdType() byte {
	if c.Key != "" {
		return typeCreateKeyedMatch
	}
	return typeCreateMatch
}
func (*AssignMatch) cmdType() byte     { return typeAssignMatch }
func (*CheckpointBatch) cmdType() byte { return typeCheckpointBatch }
func (*EndMatch) cmdType() byte        { return typeEndMatch }
func (*UpdatePlayers) cmdType() byte   { return typeUpdatePlayers }
func (*TickLogBatch) cmdType() byte    { return typeTickLogBatch }

func (c *RegisterNode) encode(e *codec.Encoder) {
	e.Str(c.ID)
	e.Str(c.Advertise)
	e.Str(c.API)
	e.Str(c.RaftAddr)
}

func (c *RegisterNode) decode(d *codec.Decoder) {
	c.ID = d.Str("node id")
	c.Advertise = d.Str("advertise")
	c.API = d.Str("api")
	c.RaftAddr = d.Str("raft addr")
}

func (c *SetNodeState) encode(e *codec.Encoder) { e.Str(c.ID); e.U8(byte(c.State)) }
func (c *SetNodeState) decode(d *codec.Decoder) {
	c.ID = d.Str("node id")
	c.State = NodeState(d.U8("state"))
}

func (c *RemoveNode) encode(e *codec.Encoder) { e.Str(c.ID) }
func (c *RemoveNode) decode(d *codec.Decoder) { c.ID = d.Str("node id") }

func (c *CreateMatch) encode(e *codec.Encoder) {
	e.Str(c.ID)
	e.Str(c.Game)
	e.Str(c.Owner)
	e.Uvarint(c.Seed)
	e.Varint(int64(c.Players))
	if c.Key != "" { // typeCreateKeyedMatch
		e.Str(c.Key)
	}
}

func (c *CreateMatch) decode(d *codec.Decoder) {
	c.ID = d.Str("match id")
	c.Game = d.Str("game")
	c.Owner = d.Str("owner")
	c.Seed = d.Uvarint("seed")
	c.Players = int(d.Varint("players"))
}

func (c *AssignMatch) encode(e *codec.Encoder) {
	e.Str(c.ID)
	e.Uvarint(c.FromEpoch)
	e.Str(c.From)
	e.Str(c.To)
	if c.Final == nil {
		e.U8(0)
		return
	}
	e.U8(1)
	c.Final.encode(e)
}

func (c *AssignMatch) decode(d *codec.Decoder) {
	c.ID = d.Str("match id")
	c.FromEpoch = d.Uvarint("from epoch")
	c.From = d.Str("from")
	c.To = d.Str("to")
	switch d.U8("final flag") {
	case 0:
	case 1:
		c.Final = new(CheckpointItem)
		c.Final.decode(d)
	default:
		d.Fail("final flag")
	}
}

func (it *CheckpointItem) encode(e *codec.Encoder) {
	e.Str(it.Match)
	e.Uvarint(it.Epoch)
	e.Uvarint(uint64(it.Tick))
	e.Varint(int64(it.Players))
	e.Bytes(it.Data)
}

func (it *CheckpointItem) decode(d *codec.Decoder) {
	it.Match = d.Str("match id")
	it.Epoch = d.Uvarint("epoch")
	it.Tick = d.U32("tick")
	p := d.Varint("players")
	if p < -1 || p > 1<<31-1 {
		d.Fail("players")
	}
	it.Players = int32(p)
	if data := d.Bytes("checkpoint"); len(data) > 0 {
		it.Data = data
	}
}

func (c *CheckpointBatch) encode(e *codec.Encoder) {
	e.Str(c.Node)
	e.Uvarint(uint64(len(c.Items)))
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

func (c *CheckpointBatch) decode(d *codec.Decoder) {
	c.Node = d.Str("node id")
	n := d.Count("item count", 5)
	c.Items = make([]CheckpointItem, n)
	for i := range c.Items {
		c.Items[i].decode(d)
	}
}

func (c *EndMatch) encode(e *codec.Encoder) { e.Str(c.ID); e.Uvarint(c.Epoch) }
func (c *EndMatch) decode(d *codec.Decoder) {
	c.ID = d.Str("match id")
	c.Epoch = d.Uvarint("epoch")
}

func (c *UpdatePlayers) encode(e *codec.Encoder) {
	e.Str(c.ID)
	e.Uvarint(c.Epoch)
	e.Varint(int64(c.Players))
}

func (c *UpdatePlayers) decode(d *codec.Decoder) {
	c.ID = d.Str("match id")
	c.Epoch = d.Uvarint("epoch")
	c.Players = int(d.Varint("players"))
}

func (c *TickLogBatch) encode(e *codec.Encoder) {
	e.Str(c.Node)
	e.Uvarint(uint64(len(c.Items)))
	for i := range c.Items {
		it := &c.Items[i]
		e.Str(it.Match)
		e.Uvarint(it.Epoch)
		e.Uvarint(uint64(it.From))
		e.Uvarint(uint64(it.To))
		e.Bytes(it.Data)
	}
}

// sizeHint bounds the encoded size, as CheckpointBatch's does.
func (c *TickLogBatch) sizeHint() int {
	n := 1 + binary.MaxVarintLen64 + len(c.Node) + binary.MaxVarintLen64
	for i := range c.Items {
		it := &c.Items[i]
		n += 5*binary.MaxVarintLen64 + len(it.Match) + len(it.Data)
	}
	return n
}

func (c *TickLogBatch) decode(d *codec.Decoder) {
	c.Node = d.Str("node id")
	n := d.Count("item count", 5)
	c.Items = make([]TickLogItem, n)
	for i := range c.Items {
		it := &c.Items[i]
		it.Match = d.Str("match id")
		it.Epoch = d.Uvarint("epoch")
		it.From = d.U32("from tick")
		it.To = d.U32("to tick")
		if data := d.Bytes("tick log"); len(data) > 0 {
			it.Data = data
		}
	}
}

// Encode returns the log entry bytes of cmd.
func Encode(cmd Command) []byte {
	size := 64
	if h, ok := cmd.(interface{ sizeHint() int }); ok {
		size = h.sizeHint()
	}
	e := codec.Encoder{B: make([]byte, 0, size)}
	e.U8(cmd.cmdType())
	cmd.encode(&e)
	return e.B
}

// Decode parses log entry bytes. It never panics; malformed input returns
// an error wrapping ErrBadCommand.
func Decode(b []byte) (Command, error) {
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
	case typeCreateMatch, typeCreateKeyedMatch:
		cmd = new(CreateMatch)
	case typeAssignMatch:
		cmd = new(AssignMatch)
	case typeCheckpointBatch:
		cmd = new(CheckpointBatch)
	case typeEndMatch:
		cmd = new(EndMatch)
	case typeUpdatePlayers:
		cmd = new(UpdatePlayers)
	case typeTickLogBatch:
		cmd = new(TickLogBatch)
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrBadCommand, b[0])
	}
	d := codec.NewDecoder(b[1:])
	cmd.decode(d)
	if b[0] == typeCreateKeyedMatch {
		c := cmd.(*CreateMatch)
		if c.Key = d.Str("match key"); c.Key == "" || len(c.Key) > MaxMatchKeyLen {
			d.Fail("match key")
		}
	}
	if err := d.Finish("command"); err != nil {
		return nil, err
	}
	return cmd, nil
}
