// Package bots drives thousands of headless ticksync players from one
// process, for load tests and for the capacity benchmark (tools/capacity).
// Like any other client it uses only net/client and schema (player tokens
// are minted with schema/token, the format the node verifies; a game's
// schema is fetched from the nodes). The bots know no game: they play it
// by its schema's field names. An input with integer move_x and move_y
// (the arena's) is steered (wander, chase by the entities' integer x and
// y); any other input gets random values within the schema's ranges.
//
// Data flow:
//
//   - New allocates every bot (counters, an RTT ring, its behaviour) and the
//     statistics shards. Run starts the ramp, the input schedulers and the
//     progress reporter, waits for the ramp and the warm-up, measures the
//     window (Duration), closes the bots and returns a Report.
//   - The ramp hands bot i to a pool of dialers no earlier than i·Ramp/Bots.
//     Every bot joins through matchmaking (an empty match id). The node
//     seats a player in its oldest room with a free seat and creates a room
//     only when none has one, so rooms fill to the game's seat count one
//     after another, however many joins are in flight: rooms of exactly
//     PerRoom bots when PerRoom is the seat count (arena: 8, the default).
//     Matchmaking cannot make smaller rooms; a PerRoom below the seat count
//     is reported (Report.Rooms, and a warning) rather than faked. (Seating
//     a first bot per group by matchmaking and the rest by its match id does
//     not help: the next group's first bot is seated in the previous room's
//     free seats; and serialising the groups made a 1,000-bot ramp as slow as
//     1,000 join round trips.)
//   - Each bot is a client.Client whose Handler is the bot: on the client's
//     goroutine, OnSnapshot turns the acknowledged inputs into RTT samples
//     (time from sending input seq N to the first snapshot with
//     last_input_seq ≥ N), records the inter-arrival gap, and for Chase
//     computes the direction to the nearest entity from the x and y
//     fields of the client's world. It reads the client's reused structs
//     and allocates nothing.
//   - One input scheduler goroutine per statistics shard sends the inputs of
//     its bots once per tick (SendInput may run while the client's goroutine
//     reads; each bot has exactly one sender), with the ack of the newest
//     applied snapshot filled in by the client. A bot costs one goroutine,
//     its client's.
//   - The game (Config.Game, default the arena) is settled before the
//     ramp: its compiled schema is fetched from the nodes (or taken from
//     Config.Schema) and its codec compiled; the schema's field names
//     choose the inputs (behavior.go, DESIGN.md). With movement axes each
//     bot's scheduler builds its input from a direction (wander: a new
//     one every second; chase: the client goroutine's decision, through
//     an atomic) into a reused builder, only when the direction changes;
//     idle sends no data. Without them it sends a random input of the
//     schema's input table (drawn again every second; idle: the
//     defaults). A game with client events also gets random events at
//     Config.EventRate (client.SendEvent, reliable), a game with a join
//     table a random join payload per bot. The client applies the state
//     and counts the events; the report adds them (Report.Game) for a
//     game whose schema declares events.
//   - Counters are per bot (atomics with a single writer) or per client
//     (client.Stats), summed by the reporter; latencies go to HDR histograms
//     per shard under a short mutex, drained by the reporter every second.
//     Latencies, bytes and snapshot counts cover the window; bots, errors,
//     reconnects (stall reconnects among them: no snapshot for
//     Config.StallTimeout, a frozen node) and resume times cover the whole
//     run.
//
// DESIGN.md in this directory draws the goroutines.
package bots
