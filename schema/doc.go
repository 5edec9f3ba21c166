// Package schema is the wire format of ticksync: the FlatBuffers schema
// (ticksync.fbs), the flatc-generated code (package fb, and TypeScript under
// ts/), and the hand-written code around them that the rest of ticksync uses
// instead of touching generated accessors directly.
//
// Data flow:
//
//   - Untrusted bytes from a socket go through DecodeClientMessage (server) or
//     DecodeServerMessage (client). Both run the verifier first (verify.go):
//     every offset, vtable, vector length, string, union type and value range is
//     checked against the buffer before any generated accessor reads it. A
//     buffer that fails is reported as an error wrapping ErrMalformed; nothing
//     panics, whatever the bytes.
//   - Outgoing messages are built by an Encoder, which reuses one
//     flatbuffers.Builder. The bytes it returns alias the builder and stay valid
//     until the next call on the same Encoder: copy them before queueing.
//   - Snapshots carry entities in full (spawned) and a compact delta of
//     changed entities (changes) built by Diff and applied by Apply; the
//     byte format of the delta is specified in DELTA.md.
//
// The package imports nothing of ticksync's own.
package schema

//go:generate flatc --go -o . ticksync.fbs
//go:generate flatc --ts -o ts ticksync.fbs
