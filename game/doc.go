// Package game is where games meet the engine: the Game interface a game
// author implements, the Registry of games by name, matches (a sim.Room
// ticking one Game, plus its seats and lifecycle) and the Manager that
// seats players: matchmaking, explicit match ids, resume tokens, within the
// node's admission limits (players, matches, matches created per guest
// address). The built-in demo game is games/arena; resume and auth tokens
// are schema/token.
//
// Data flow:
//
//	net/ws session ──Join(JoinRequest)──▶ Manager ──▶ Match (seats) ──▶ sim.Room commands
//	net/ws session ──Seat.Input──────────────────────────────────────▶ sim.Room (the player's input queue)
//	sim.Room loop ──Conn.SendSnapshot──▶ net/ws session (latest wins)
//	Seat.Disconnect ──▶ seat kept ResumeGrace ──▶ freed (Game.Leave) ──▶ the last one: match closes at once
//	Seat.Leave ──▶ freed (Game.Leave) ──▶ the last one: match closes after EmptyTimeout unless someone joins
//
// In a cluster the matches are the directory's (replication, wired in by
// the node through internal/cluster and small interfaces declared here):
// Placement creates matches through Raft and redirects players to their
// owner, Adopt starts a match the cluster assigned here (fresh, or from a
// checkpoint with its seats, replayed through the tick log that follows
// it), Release stops one that moved and redirects its players, every room
// checkpoints to a Checkpointer, logs every tick to a TickLogger and ticks
// only while its Lease is valid, and Freeze/Thaw/Tick serve planned
// hand-overs (replication.Host).
//
//	room goroutine ──checkpoint (state + seats, reused buffer)──▶ Checkpointer (copies) ──▶ Raft
//	room goroutine ──tick record (seat changes, inputs, state hash)──▶ TickLogger (copies) ──▶ Raft
//	Acquired ──▶ Adopt(checkpoint, tick log) ──▶ replayed to the last tick logged; seats wait ResumeGrace
//	Released ──▶ Release(new owner's URL) ──▶ Conn.Redirect (close 4011)
//
// Games with a schema (RegisterSpec: a .bfbs of their entity kinds, input,
// events and join payload) take the generic path: the match's room encodes
// their state with the schema's delta codec, the game gets each player's
// name, join payload and claims (sim.JoinInfo) and may refuse the join,
// matchmaking groups players by the join payload's (match_key) fields, and
// a game may end its match (sim.Outbox.End) as an operator does.
//
// See DESIGN.md for goroutines, locks and the cluster flows.
package game

//go:generate sh -c "cd testdata && flatc --binary --schema tag.fbs noinput.fbs floatnoquantum.fbs predictnovel.fbs"
