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
//     (structure: close 1007) or ErrOutOfRange (a value such as a name of
//     40 bytes: also 1007); nothing panics, whatever the bytes (fuzzed:
//     fuzz_test.go). Decoding copies strings out of the buffer; the game's
//     bytes (Hello.Join, Input.Data, Event.Data, Snapshot.State,
//     Snapshot.Events[i].Data) alias it, so the caller copies or consumes
//     them before a pooled read buffer is reused. An Input or an Event
//     decodes without allocating, and so does a Snapshot into a reused
//     ServerMessage.
//   - Outgoing messages are built by an Encoder, which reuses one
//     flatbuffers.Builder. The bytes it returns alias the builder and stay valid
//     until the next call on the same Encoder: copy them before queueing.
//   - The envelope knows no game. A game, described by its own FlatBuffers
//     schema, puts its bytes in the envelope's byte vectors: the join
//     payload in Hello.join, each input in Input.data, each event in an
//     Event (client → server: a ClientMessage of its own; server → client:
//     Snapshot.events, until the client acknowledges them with
//     Input.event_ack), and its world in Snapshot.state, encoded by package
//     schema/gamedelta against the client's acknowledged baseline (format:
//     schema/gamedelta/DELTA.md). This package checks only their framing
//     and caps (MaxJoinLen, MaxInputDataLen, MaxEventDataLen,
//     MaxSnapshotEvents, MaxSnapshotState); package schema/gameschema
//     verifies their content against the game's schema, and
//     gamedelta.Receiver applies the state. Hello.schema_hash and
//     Welcome.schema_hash name that schema (lowercase hex sha256).
//   - One Snapshot encoding is shared by every client with the same
//     baseline and events; PatchLastInputSeq writes each client's
//     last_input_seq into its copy.
//   - The strings Hello.token and Welcome.resume_token carry are minted and
//     verified by package schema/token, shared by the node and its clients.
//
// The package imports nothing of ticksync's own.
package schema

//go:generate flatc --go -o . ticksync.fbs
