// Package schema is the wire format of ticksync: the FlatBuffers schema
// (ticksync.fbs), the flatc-generated code (package fb, and TypeScript under
// ts/), and the hand-written code around them that the rest of ticksync uses
// instead of touching generated accessors directly.
//
// Data flow:
//
//   - Untrusted bytes from a socket go through DecodeClientMessage (server) or
//     DecodeServerMessage (client). Both run the verifier first (verify.go,
//     also exported as VerifyClientMessage and VerifyServerMessage): every
//     offset, vtable, vector length, string, union type and value range is
//     checked against the buffer before any generated accessor reads it. A
//     buffer that fails is reported as an error wrapping ErrMalformed
//     (structure: close 1007) or ErrOutOfRange (a value such as move_x 120:
//     also 1007); nothing panics, whatever the bytes (fuzzed: fuzz_test.go).
//     Decoding copies strings and the arena's entities out of the buffer;
//     the game's bytes (Hello.Join, Input.Data, Event.Data, Snapshot.State,
//     Snapshot.Events[i].Data) alias it, so the caller copies or consumes
//     them before a pooled read buffer is reused. An Input or an Event
//     decodes without allocating, and so does a Snapshot into a reused
//     ServerMessage.
//   - Outgoing messages are built by an Encoder, which reuses one
//     flatbuffers.Builder. The bytes it returns alias the builder and stay valid
//     until the next call on the same Encoder: copy them before queueing.
//   - Snapshots carry entities in full (spawned) and a compact delta of
//     changed entities (changes) built by Diff and applied by Apply; the
//     byte format of the delta is specified in DELTA.md. Positions are
//     predicted from the baseline's velocity, so an entity moving steadily
//     costs nothing; Apply checks every byte against the baseline and
//     refuses an inconsistent delta with ErrBadDelta.
//   - A game with its own schema (the generic path, beside the arena's) puts
//     its bytes in the envelope's byte vectors: the join payload in
//     Hello.join, each input in Input.data, each event in an Event (client →
//     server: a ClientMessage of its own; server → client: Snapshot.events,
//     until the client acknowledges them with Input.event_ack), and its world
//     as gamedelta bytes in Snapshot.state. This package checks only their
//     framing and caps (MaxJoinLen, MaxInputDataLen, MaxEventDataLen,
//     MaxSnapshotEvents, MaxSnapshotState); package schema/gameschema
//     verifies their content against the game's schema. Hello.schema_hash
//     and Welcome.schema_hash name that schema (lowercase hex sha256).
//     Absent fields cost nothing, so the arena's messages are byte for byte
//     what they were before these fields existed.
//   - The strings Hello.token and Welcome.resume_token carry are minted and
//     verified by package schema/token, shared by the node and its clients.
//
// The package imports nothing of ticksync's own.
package schema

//go:generate flatc --go -o . ticksync.fbs
//go:generate flatc --ts -o ts ticksync.fbs
