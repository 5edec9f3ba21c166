package sim

import "github.com/ticksync/ticksync/schema"

// Conn is the outbound end of one client, implemented by net/ws sessions
// (and by test doubles in _test files).
type Conn interface {
	// SendSnapshot hands one encoded snapshot to the connection. The room
	// goroutine calls it at most once per client per tick. It must not block
	// and must copy msg, which the room reuses after the call returns. A newer
	// snapshot replaces one not yet written (latest wins).
	SendSnapshot(msg []byte)
	// Overflow tells the connection that its client fell too far behind to
	// be served: the server events queued for it and not acknowledged
	// overflowed Config.EventQueue (the oldest were dropped). The
	// connection closes as a slow consumer (close code 4010), as for a
	// snapshot backlog. Called on the room goroutine, at most once per
	// attached connection; it must not block.
	Overflow()
}

// PlayerInput is one input of one player, as the room hands it to the game.
// Input.Data (the game's input buffer) belongs to the room: it is
// valid during the World.Step call only.
type PlayerInput struct {
	Player uint32
	Input  schema.Input
}

// World is what a room loop needs from a game. game.Game satisfies it. All
// methods are called on the room goroutine only. A World is also a
// StateWriter, and any of the optional interfaces of gameapi.go.
type World interface {
	// Join adds a player and returns the id of its entity (0: none). A
	// World that is an InfoJoiner is joined with JoinWith instead.
	Join(player uint32) (entity uint32, err error)
	// Leave removes a player and its entity.
	Leave(player uint32)
	// Step advances the world by one tick. inputs holds at most one input per
	// seated player, in player order; a player with no new input this tick
	// gets its last input repeated.
	Step(tick uint32, inputs []PlayerInput)
}
