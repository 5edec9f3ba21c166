// Package game is where games meet the engine: the Game interface a game
// author implements, the Registry of games by name, matches (a sim.Room
// ticking one Game, plus its seats and lifecycle) and the Manager that
// seats players: matchmaking, explicit match ids, resume tokens. The
// built-in demo game is game/arena; resume and auth tokens are game/token.
//
// Data flow:
//
//	net/ws session ──Join(JoinRequest)──▶ Manager ──▶ Match (seats) ──▶ sim.Room commands
//	net/ws session ──Seat.Input──────────────────────────────────────▶ sim.Room inbox
//	sim.Room loop ──Conn.SendSnapshot──▶ net/ws session (latest wins)
//	Seat.Disconnect ──▶ seat kept ResumeGrace ──▶ freed (Game.Leave) ──▶ empty match closes after EmptyTimeout
//
// Matches live on this node only; Placement is the hook through which the
// cluster (replication) will redirect players to the node that runs a match
// and decide where new matches go. See DESIGN.md for goroutines and locks.
package game
