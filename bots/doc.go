// Package bots drives thousands of headless ticksync players from one
// process, for load tests and for the capacity benchmark (tools/capacity).
// Like any other client it uses only net/client and schema.
//
// Data flow:
//
//   - New allocates every bot (counters, an RTT ring, its behaviour) and the
//     statistics shards. Run starts the ramp, the input schedulers and the
//     progress reporter, waits for the ramp and the warm-up, measures the
//     window (Duration), closes the bots and returns a Report.
//   - The ramp hands bot i to a pool of dialers no earlier than i·Ramp/Bots.
//     Rooms of exactly PerRoom bots come from the order of the joins: the
//     first bot of each group of PerRoom joins through matchmaking (empty
//     match id), and only once the previous group has settled, so that no
//     earlier room is still filling; the rest of the group then joins the
//     leader's match by id (and so follows the Redirects of a cluster to its
//     owner). Matchmaking seats a player in any room with a free seat, so a
//     room holds exactly PerRoom bots when PerRoom equals the game's seat
//     count (arena: 8, the default); with fewer, the next group's leader
//     fills the free seats of the previous room, and with more, the extra
//     bots are refused as "match full" and retry through matchmaking. The
//     report's "rooms" section shows the spread.
//   - Each bot is a client.Client whose Handler is the bot: on the client's
//     goroutine, OnSnapshot turns the acknowledged inputs into RTT samples
//     (time from sending input seq N to the first snapshot with
//     last_input_seq ≥ N), records the inter-arrival gap, and for Chase
//     computes the steering from the client's World. It reads the client's
//     reused structs and allocates nothing.
//   - One input scheduler goroutine per statistics shard sends the inputs of
//     its bots once per tick (SendInput may run while the client's goroutine
//     reads; each bot has exactly one sender), with the ack of the newest
//     applied snapshot filled in by the client. A bot costs one goroutine,
//     its client's.
//   - Counters are per bot (atomics with a single writer) or per client
//     (client.Stats), summed by the reporter; latencies go to HDR histograms
//     per shard under a short mutex, drained by the reporter every second.
//     Latencies, bytes and snapshot counts cover the window; bots, errors,
//     reconnects and resume times cover the whole run.
//
// DESIGN.md in this directory draws the goroutines.
package bots
