// Package arena is ticksync's demo game and the arena-8x64 benchmark
// scenario: a 1000×1000 arena with 56 wandering NPCs and one avatar per
// player. It is an ordinary game on ticksync's public API: its own
// FlatBuffers schema, state written into a gamedelta.World, inputs read
// from their FlatBuffers bytes.
//
// Data flows:
//
//   - arena.fbs is the schema the server and every client share. Its
//     compiled form, arena.bfbs (embedded: BFBS), is what the node
//     registers (Spec, Register); ticksync verifies every input against it
//     and delta-encodes the entities by it (Codec). arenafb holds flatc's
//     Go accessors and builders for the same file. The arena has no events
//     and no join payload.
//   - A client writes its per-tick Input with AppendInput into
//     schema.Input.Data; the node verifies it against the schema's Input
//     table; the match's room goroutine calls Step with one input per
//     seated player, and Step reads each with ReadInput (no allocation).
//   - Join and Leave add and remove avatars; WriteState writes the NPCs,
//     then the avatars (owned by their player), ids ascending, into the
//     room's gamedelta.World, which the room encodes into Snapshot.State.
//   - A client applies Snapshot.State with a gamedelta.Receiver of Codec()
//     and reads the entities back with AppendEntities.
//   - MarshalState and UnmarshalState checkpoint the whole match, random
//     source included.
//
// Nothing else touches an Arena; it is not safe for concurrent use.
//
// The simulation runs in the quantized integer domain the wire uses:
// positions in 1/16 units, velocities in 1/16 units per tick, angles in
// 1/65536 turns, hp as uint8. Velocities are whole quanta per tick and an
// entity's velocity is the displacement of its next step (an avatar held
// by a wall reports 0), so an entity moving in a straight line is predicted
// exactly by a client (position = baseline position + velocity × ticks;
// the schema's predict attributes): only turns and bounces cost bytes in
// the delta.
//
// Scenario (keep exactly this; other servers are measured on it): NPCs move
// every tick at 60 units/s, each picks a new random heading every 2 s on its
// own staggered timer and bounces off the walls; each loses 1 hp with
// probability 0.002 per tick (back to 100 at 0). Avatars move at 90 units/s
// in the direction of the input axes (normalised; zero axes: stand still),
// and face the input's aim. Everything random comes from one PCG seeded by
// the match, so a match replays exactly from its seed, joins and inputs.
// TestScenarioGolden pins the states the scenario reaches.
//
// Choices the wire leaves open:
//
//   - KindAvatar and KindNPC are gamedelta kind indexes (0 and 1: the
//     schema's entity tables in ticksync_entity order), not the
//     ticksync_entity ids 1 and 2 themselves.
//   - AppendInput writes every field, defaults included, in one fixed
//     28-byte layout, and does not clamp: axes outside ±AxisMax are
//     refused by the node's verifier. ReadInput reads any layout of the
//     table (flatc's builders leave default fields out).
//   - A player whose input is missing at a tick keeps its avatar's last
//     command (the room repeats the last input anyway).
//   - MarshalState keeps the checkpoint format of the arena's first
//     version ("ARN1"): a checkpoint written before the move restores.
//   - Spec leaves Seats to the node's default (Config.Seats).
package arena

//go:generate flatc --binary --schema arena.fbs
//go:generate sh -c "flatc --go --go-namespace arenafb arena.fbs && gofmt -w arenafb"
