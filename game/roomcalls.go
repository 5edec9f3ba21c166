package game

import (
	"context"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// The calls a match makes into its room for games with a schema: the join
// with what the player brings (sim.JoinInfo), client events, and the event
// seq a Welcome carries.

// roomJoin seats player in the room with conn, handing the game the
// Hello's name and join payload and the auth token's claims (the room
// copies what it keeps).
func (m *Match) roomJoin(ctx context.Context, player uint32, req *JoinRequest) (uint32, error) {
	info := sim.JoinInfo{Player: player, Name: req.Hello.Name, Claims: req.Claims}
	if len(req.Hello.Join) > 0 {
		info.Payload = req.Hello.Join
	}
	return m.room.JoinWith(ctx, info, req.Conn)
}

// pushEvent queues one client event of player (Seat.Event).
func (m *Match) pushEvent(player uint32, ev *schema.Event) bool {
	return m.room.PushEvent(player, *ev)
}

// eventSeq is the newest client event seq the room applied for player
// (after its Join or Attach).
func (m *Match) eventSeq(player uint32) uint32 {
	return m.room.EventSeq(player)
}
