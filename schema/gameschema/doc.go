// Package gameschema loads a game's own FlatBuffers schema and verifies and
// reads that game's buffers with it, whatever the game.
//
// A game author writes a .fbs with their entity kinds, input, events and
// join payload, marks each table's role and each field's needs with custom
// attributes ((ticksync_entity: "1"), (range: "-100..100"), (quantum:
// "0.01"), (predict: "vx"), (owner_only), (max_len: "32"): see
// schema/DESIGN.md), and compiles it with `flatc --binary --schema` into a
// .bfbs. Data flows:
//
//   - Load(bfbs) verifies the .bfbs bytes themselves against the reflection
//     schema (bfbs.go) before any generated accessor reads them, then builds
//     an immutable Schema: the marked tables with their fields flattened to
//     leaves (struct fields become "pos.x", "pos.y", ...), each with its
//     wire position, range, quantum, prediction and ownership. Schemas ticksync
//     cannot serve are refused with a *SchemaError naming the table and field.
//     Schema.Hash is the sha256 of a canonical text of that model.
//   - Untrusted game bytes (an input, an event, a join payload) go through
//     Table.Verify / Events.Verify (or the Schema.Verify* shorthands) before
//     anything reads them: one walk checks offsets, vtables, alignment,
//     vector and string lengths, union types, enums and declared ranges and
//     returns an error wrapping ErrMalformed or ErrOutOfRange, never a panic.
//     Decode runs the same walk and reads the values into a reusable Values
//     by field index without allocating.
//   - Build writes Values as a table of the schema, for clients, bots and
//     tests.
//
// A Schema is safe for concurrent use; a Values is owned by one goroutine.
// DeltaLayout maps the entity kinds onto the delta codec's layout
// (schema/gamedelta), the one mapping the node and every client share.
//
// The package imports nothing of ticksync's own but the generated
// reflection code (schema/internal/reflection) and schema/gamedelta.
package gameschema

//go:generate sh -c "flatc --go -o ../internal $DOLLAR(go list -m -f '{{.Dir}}' github.com/google/flatbuffers)/reflection/reflection.fbs && gofmt -w ../internal/reflection"
//go:generate sh -c "cd testdata && flatc --binary --schema arena.fbs cards.fbs && flatc --go -o ../internal/testgame arena.fbs cards.fbs && gofmt -w ../internal/testgame"
//go:generate sh -c "flatc --binary --schema -o testdata $DOLLAR(go list -m -f '{{.Dir}}' github.com/google/flatbuffers)/reflection/reflection.fbs"
