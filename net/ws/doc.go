// Package ws is ticksync's WebSocket transport: the /ws endpoint, built on
// github.com/lxzan/gws's Upgrader behind net/http.
//
// Data flow:
//
//   - Upgrade: Handler checks the request (GET, WebSocket headers, Origin
//     allow-list, and the per-address limits: connections open and
//     upgrades a second) and answers a refusal with a plain HTTP status
//     before any upgrade. An accepted request is hijacked, its net.Conn
//     wrapped in a sockConn (read timeouts, lingering close) and handed to
//     gws, which from then on only reads.
//   - Read path, one goroutine per session (gws's ReadLoop): each binary
//     frame goes through schema.DecodeClientMessage, the only gate for
//     untrusted bytes. The first message must be a Hello; it is
//     authenticated (Config.Auth) and passed to Config.Joiner with the
//     client's address (and the token's claims when Config.Auth is a
//     ClaimsAuthenticator), which seats the player in a room. Inputs then
//     go to game.Seat.Input and game events to game.Seat.Event, neither of
//     which blocks; when the match's game has a schema (Seat.Schema), the
//     game's bytes in them are verified with it first (gamebytes.go). A
//     session over Config.MaxMessageRate is closed with Error rate limited
//     (4012), one over Config.MaxEventRate with Error too many events
//     (4017).
//   - Write path: everything a session sends goes through its outbound
//     (outbound.go), one type under one mutex that holds the pending
//     snapshot slot (latest wins; a replaced snapshot is counted as
//     dropped), a small bounded queue of control messages (Welcome, Error,
//     Redirect, Pong), the requested close frame, and the framed bytes the
//     socket has not taken yet; and that decides who writes. The room calls
//     SendSnapshot (game.Conn): on plain TCP, when nothing is queued and
//     nobody is writing, it writes the frame itself with one non-blocking
//     write; otherwise the snapshot waits in the pending slot and the
//     session's writer goroutine is woken. The writer writes in order
//     (queued bytes, control messages, the snapshot, the close frame) with
//     blocking writes under a deadline; no goroutine holds the mutex while
//     it writes. A peer that has not taken a write for
//     Config.SlowConsumerAfter is closed with 4010. TLS sessions, and all of
//     them with Config.QueuedWrites, leave every write to the writer.
//
// Every close has a code from one table (see CloseCode and the README): the
// package guarantees that a client sees the code the table promises, also
// when it is closed while still sending (the socket is half-closed and
// drained instead of being reset), and only the table's fixed texts: no Go
// error string or address reaches a client. The one text of another author
// is a game's own refusal (a game.JoinError marked Public), sent as the
// Error's message, valid UTF-8 of at most 256 bytes.
//
// DESIGN.md has the goroutines, who owns what, the one lock and what it
// guards, the flows, and why gws's Broadcaster and WriteAsync are not used.
package ws
