package bots

import (
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// worldEntities returns the reconstructed world's entities, sorted by ID.
// Only valid inside a Handler call.
func worldEntities(w *client.World) []schema.Entity {
	if w == nil {
		return nil
	}
	return w.Entities()
}
