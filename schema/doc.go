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
//     Decoding copies everything out of the buffer, so pooled read buffers
//     may be reused at once; an Input decodes without allocating.
//   - Outgoing messages are built by an Encoder, which reuses one
//     flatbuffers.Builder. The bytes it returns alias the builder and stay valid
//     until the next call on the same Encoder: copy them before queueing.
//   - Snapshots carry entities in full (spawned) and a compact delta of
//     changed entities (changes) built by Diff and applied by Apply; the
//     byte format of the delta is specified in DELTA.md. Positions are
//     predicted from the baseline's velocity, so an entity moving steadily
//     costs nothing; Apply checks every byte against the baseline and
//     refuses an inconsistent delta with ErrBadDelta.
//   - The strings Hello.token and Welcome.resume_token carry are minted and
//     verified by package schema/token, shared by the node and its clients.
//
// The package imports nothing of ticksync's own.
package schema

//go:generate flatc --go -o . ticksync.fbs
//go:generate flatc --ts -o ts ticksync.fbs
