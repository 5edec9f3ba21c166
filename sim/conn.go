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
}

// PlayerInput is one input of one player, as the room hands it to the game.
type PlayerInput struct {
	Player uint32
	Input  schema.Input
}

// World is what a room loop needs from a game. game.Game satisfies it. All
// methods are called on the room goroutine only.
type World interface {
	// Join adds a player and returns the id of its entity (0: none).
	Join(player uint32) (entity uint32, err error)
	// Leave removes a player and its entity.
	Leave(player uint32)
	// Step advances the world by one tick. inputs holds at most one input per
	// seated player, in player order; a player with no new input this tick
	// gets its last input repeated.
	Step(tick uint32, inputs []PlayerInput)
	// AppendEntities appends the quantized state of every entity to dst,
	// sorted by ID ascending, and returns it.
	AppendEntities(dst []schema.Entity) []schema.Entity
}
