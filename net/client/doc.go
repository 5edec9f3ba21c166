// Package client is the Go client of the ticksync protocol for any game
// registered with a compiled schema, used by tests and by the bot swarm
// (thousands of clients in one process), so it is lean: one goroutine per
// client and no allocation per received message beyond gws's. It knows no
// game: the game's schema (Config.Schema, or fetched from the node) says
// how to read the state, the inputs and the events.
//
// Data flow:
//
//   - Dial connects to the first URL of Config.URLs that works (ws or wss,
//     through gws), sends a Hello, follows Redirects (bounded hops) and waits
//     for the Welcome. A refusal comes back as a *ServerError.
//   - The client's goroutine then runs gws's read loop: each binary frame is
//     decoded by schema.DecodeServerMessage into one reused
//     schema.ServerMessage; a Snapshot's state is applied by the client's
//     gamedelta.Receiver (full snapshots replace the world, deltas apply
//     against the baseline it holds) and the Handler sees the decoded
//     message and the world. The newest applied tick becomes the ack of
//     the next Input.
//   - SendInput (any goroutine, one at a time) fills Seq and AckTick, encodes
//     with the client's own schema.Encoder and writes one binary frame.
//   - When the connection drops without Close or Leave and not because the
//     server refused the client, the same goroutine reconnects with jittered
//     exponential backoff (same URL first, then the others) and resumes with
//     the resume token of the Welcome and the newest tick it holds; the
//     server gives back the same seat and entity, and the input seq counts on.
//   - A seated connection on which no snapshot arrives for
//     Config.StallTimeout (a frozen node keeps its sockets open and sends
//     nothing) is dropped and resumed the same way, the node that stalled
//     tried last; Stats.Stalls counts these apart from Stats.Drops.
//   - Close (or the Dial context's cancellation) closes with 1000 and waits
//     for the goroutine to exit.
//
// The game:
//
//   - Config.Schema is the game's compiled schema (FetchSchema gets it
//     from a node: GET /games/{name}/schema) and Config.Codec its
//     gamedelta codec (GameCodec). Without a schema the client fetches the
//     one the first Welcome names (game, schema hash) from the node that
//     sent it, before it decodes anything of the game. Every Hello carries
//     Config.Game, the join payload (Config.JoinPayload, a buffer of the
//     schema's join table) and the schema's hash once known; a Welcome
//     that names another schema ends the client (ErrSchemaMismatch).
//   - Each Snapshot's state (gamedelta bytes) is applied by a
//     gamedelta.Receiver built for the Welcome's player id; World returns
//     the newest world, and its tick is the ack of the next Input.
//   - Server events (Snapshot.events: every event not yet acknowledged)
//     are verified against the schema and delivered to the Handler's
//     OnEvent (EventHandler) once per seq, in seq order, across resumes;
//     each Input acknowledges the newest one (event_ack), and so does the
//     Hello of a resume (the match numbers the seat's next events after
//     it, even on a node that adopted the match after a failover).
//   - SendInput carries the game's input in Input.Data. SendEvent numbers
//     a client event and keeps it until a Snapshot's event_seq says the
//     match applied it; after a reconnect the Welcome's event_seq says
//     which ones to write again, in order.
//
// DESIGN.md in this directory describes the goroutine and the reconnect
// state machine.
package client
