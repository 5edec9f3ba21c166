package bots

import (
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/net/client"
)

// worldEntities appends the arena entities of the client's world (id
// order) to dst; nil world: none. Only valid inside a Handler call.
func worldEntities(dst []arena.Entity, w *client.World) []arena.Entity {
	if w == nil {
		return dst
	}
	return arena.AppendEntities(dst, w)
}
