// Package ws is ticksync's WebSocket transport: the /ws endpoint, built on
// github.com/lxzan/gws's Upgrader behind net/http.
//
// Data flow:
//
//   - Upgrade: Handler checks the request (GET, WebSocket headers, Origin
//     allow-list, and the per-address limits: connections open and
//     upgrades a second) and answers a refusal with a plain HTTP status
//     before any upgrade. An accepted request is hijacked, its net.Conn wrapped in a
//     sockConn (per-write deadlines, lingering close) and handed to gws.
//   - Read path, one goroutine per session (gws's ReadLoop): each binary
//     frame goes through schema.DecodeClientMessage, the only gate for
//     untrusted bytes. The first message must be a Hello; it is
//     authenticated (Config.Auth) and passed to Config.Joiner with the
//     client's address, which seats the player in a room. Inputs then go to
//     game.Seat.Input, which never blocks. A session over
//     Config.MaxMessageRate is closed with Error rate limited (4012).
//   - Write path: the room calls SendSnapshot (game.Conn). On plain TCP,
//     when nothing is queued and the socket has no backlog, it writes the
//     frame itself with a non-blocking write; what the socket does not take
//     is held back for the writer (nbwrite.go). Otherwise (TLS, a backlog,
//     Config.QueuedWrites) it copies the bytes into the session's single
//     pending slot (latest wins, a replaced snapshot is counted as dropped)
//     and wakes the session's writer goroutine. The writer drains the
//     backlog, writes control messages (Welcome, Error, Redirect, Pong) from
//     a small bounded queue, then the pending snapshot, each with a write
//     deadline. A peer that has not taken a write for
//     Config.SlowConsumerAfter is closed with 4010.
//
// Every close has a code from one table (see CloseCode and the README): the
// package guarantees that a client sees the code the table promises, also
// when it is closed while still sending (the socket is half-closed and
// drained instead of being reset), and only the table's fixed texts: no Go
// error string or address reaches a client.
//
// DESIGN.md has the goroutines, the flows and why gws's Broadcaster and
// WriteAsync are not used.
package ws
