// Package gamedelta is the generic snapshot delta codec: it encodes the
// entities of any game whose layout (entity kinds, and per kind a list of
// integer and byte-string fields with their attributes) is known, against
// the state each client acknowledged, and applies such snapshots on the
// client. The byte format is specified in DELTA.md, from which a client in
// another language can be written.
//
// Data flow on the server (the room's loop goroutine, nothing else):
//
//   - Compile turns a Layout (what a game's compiled schema says about its
//     entity kinds: integer widths, wrapping, velocity fields for
//     prediction, owner-only fields, byte-string lengths) into a Codec.
//   - The game fills a World (flat arrays: entity headers, one int64 per
//     field, a byte arena) each tick; Encoder.Record checks it and keeps
//     it in a ring of the last EncoderConfig.History ticks: a copy, or,
//     for the world Encoder.NextWorld handed out, the world itself (a room
//     has its game write there, and records without a copy).
//   - For each client, Encoder.Encode writes the snapshot of that tick seen
//     through the client's View (which entities it sees; the owner-only
//     fields of the entities its player owns) as a delta against the tick
//     the client acknowledged (Client.Ack), or in full when that tick has
//     left the ring. Encodings are shared: one per distinct (baseline tick,
//     baseline view, current view, and player when owner-only fields
//     exist) per tick. Fields that move as their velocity predicts cost
//     nothing. Once buffers have grown, nothing allocates per client.
//   - The bytes go into the envelope's Snapshot (tick, baseline tick, last
//     input seq travel there) as one byte vector.
//
// On the client, a Receiver keeps the recently applied worlds by tick,
// applies each snapshot to the world of its baseline tick (Decoder), ignores
// snapshots older than the newest applied (ErrStale), and reports the tick to
// acknowledge. Every byte is checked against the layout and the baseline:
// a malformed snapshot is refused with ErrBadDelta and never panics.
//
// The package imports nothing of ticksync's own; it does not read
// FlatBuffers schemas itself (a schema loader maps a game's schema onto a
// Layout).
package gamedelta
