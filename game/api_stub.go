package game

// Contract stubs: replaced by the real implementation (manager.go, seat.go).

import (
	"context"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// Conn is a client connection as the match manager sees it. net/ws sessions
// implement it.
type Conn interface {
	sim.Conn
	// Kick sends an Error with code and reason, then closes the connection
	// (close code 4000+code). Safe from any goroutine; must not block.
	Kick(code schema.ErrorCode, reason string)
}

// JoinRequest is what a connection asks of the manager after its Hello.
type JoinRequest struct {
	Hello    schema.Hello
	PlayerID uint32 // from the auth token; 0 for a guest (the manager assigns one)
	Conn     Conn
}

// Seat is a player's place in a running match, held by one connection.
type Seat interface {
	Welcome() schema.Welcome
	// Input queues one input; called on the connection's read goroutine.
	// It never blocks; false means the room's inbox was full and the input
	// was dropped (counted).
	Input(in *schema.Input) bool
	// Disconnect: the connection is gone; the seat waits ResumeGrace for a
	// resume before it is freed.
	Disconnect()
	// Leave frees the seat at once.
	Leave()
}

// Joiner seats players; *Manager implements it.
type Joiner interface {
	Join(ctx context.Context, req JoinRequest) (Seat, error)
}

// JoinError is a refusal to seat a player, with the code sent to the client.
type JoinError struct {
	Code    schema.ErrorCode
	Message string
}

func (e *JoinError) Error() string { return e.Message }

// RedirectError says another node runs the match.
type RedirectError struct {
	URL     string
	MatchID string
}

func (e *RedirectError) Error() string { return "match runs on " + e.URL }
