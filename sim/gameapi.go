package sim

import (
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// This file is the contract between a room and a game: a game whose
// entities, input and events are described by its own FlatBuffers schema
// (schema/gameschema) and whose snapshots the room encodes with
// schema/gamedelta. A World is a StateWriter, and any of the optional
// interfaces below. Every method is called on the room goroutine only.

// StateWriter is what makes a World's state a room's snapshots: the room
// encodes it with gamedelta (Config.Codec, the game schema's layout) into
// Snapshot.State. Every World is one.
type StateWriter interface {
	// WriteState adds every entity to w, which the room has reset, with
	// ids ascending.
	WriteState(w *gamedelta.World)
}

// JoinInfo is what a joining player brings. Payload is the game's join
// buffer (its (ticksync_join) table, verified; nil when none) and Claims
// the auth token's JSON payload (nil for a guest). Both are valid during
// the call only.
type JoinInfo struct {
	Player  uint32
	Name    string
	Payload []byte
	Claims  []byte
}

// InfoJoiner is a World that wants the whole JoinInfo: the room calls
// JoinWith instead of World.Join.
type InfoJoiner interface {
	JoinWith(j JoinInfo) (entity uint32, err error)
}

// RefuseError is a game's refusal of a join, with a reason the client sees
// (schema.ErrCodeJoinRefused). Return it from Join or JoinWith (Refuse).
type RefuseError struct {
	Reason string
}

func (e *RefuseError) Error() string { return "join refused: " + e.Reason }

// Refuse returns a *RefuseError with reason, the text the client is shown
// (at most 128 bytes of UTF-8 reach it).
func Refuse(reason string) error { return &RefuseError{Reason: reason} }

// EventHandler is a World that receives client events: each verified
// event buffer (the game's client events wrapper), in seq order per
// player, before the Step of the tick it arrived for. data is valid during
// the call only.
type EventHandler interface {
	Event(player uint32, data []byte)
}

// OutboxUser is a World that sends events or ends its match: NewRoom
// hands it the room's Outbox before any other call of the room, and
// Replay hands it a replay's Outbox before it replays. A World keeps the
// last one it was given. (A World restored from a checkpoint is
// unmarshalled by its caller before either: UnmarshalState must not send.)
type OutboxUser interface {
	SetOutbox(o Outbox)
}

// Outbox is a room's way out for a game's events. Its methods are for the
// room goroutine (the World's own methods) only.
type Outbox interface {
	// Send queues event (a buffer of the game's server events wrapper)
	// for one player; it is sent with the snapshot of this tick and
	// repeated until acknowledged. It copies event.
	Send(player uint32, event []byte)
	// Broadcast queues event for every seated player; it copies event.
	Broadcast(event []byte)
	// End ends the match after this tick (called between ticks: after
	// the next one): that tick's snapshots go out, then the room stops
	// and Room.Err returns an *EndedError with reason. The match kicks
	// every client with ErrCodeMatchEnded; reason is logged.
	End(reason string)
}

// Viewer is a World whose players see different parts of it (hidden
// hands, fog of war): after each Step the room asks it for every attached
// player's view. v is reused from tick to tick: append to v.IDs[:0].
// Owner-only fields go to the entity's owner whatever the view.
type Viewer interface {
	View(player uint32, v *gamedelta.View)
}
