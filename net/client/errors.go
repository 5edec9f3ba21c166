package client

import (
	"errors"
	"fmt"

	"github.com/ticksync/ticksync/schema"
)

// Sentinel errors.
var (
	// ErrClosed: the client was closed (Close, Stop, Leave or the Dial
	// context) and does nothing more.
	ErrClosed = errors.New("client closed")
	// ErrNotConnected: no session right now (connecting or reconnecting);
	// the input was not sent and took no seq.
	ErrNotConnected = errors.New("not connected")
	// ErrTooManyRedirects: more Redirect hops than Config.MaxRedirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrReconnectTimeout: no session could be resumed within
	// Config.ReconnectTimeout of the drop.
	ErrReconnectTimeout = errors.New("reconnect timed out")
	// ErrStalled: no snapshot arrived on a seated connection for
	// Config.StallTimeout; the client dropped the connection and resumes as
	// after a loss. OnDisconnect sees an error wrapping it.
	ErrStalled = errors.New("no snapshot within the stall timeout")
	// ErrProtocol: the server sent something the protocol does not allow
	// here (e.g. a Snapshot before the Welcome, or a text frame).
	ErrProtocol = errors.New("protocol violation by the server")
	// ErrHandlerPanic: a Handler method (or decoding) panicked; the client
	// closed the connection and stopped.
	ErrHandlerPanic = errors.New("panic while handling a server message")

	// The game's schema and events.

	// ErrNoSchema: SendEvent before the game's schema is known (a client
	// that fetches it knows it once Dial has returned).
	ErrNoSchema = errors.New("no game schema configured")
	// ErrEventQueueFull: Config.MaxPendingEvents client events wait for
	// their acknowledgement; the event was not taken.
	ErrEventQueueFull = errors.New("too many unacknowledged client events")
	// ErrBadEvent: a server event that is not one of the schema's; the
	// client acknowledged and skipped it (Handler.OnError saw it).
	ErrBadEvent = errors.New("server event does not verify")
	// ErrSchemaMismatch: the Welcome names another schema than the
	// client's (Config.Schema). The client stops: the error also wraps
	// ErrProtocol. A node that checks the Hello's hash refuses the join
	// with a *ServerError (schema.ErrCodeSchemaMismatch) instead.
	ErrSchemaMismatch = errors.New("the match speaks another game schema")
	// ErrSchemaNotServed: the node serves no compiled schema for the game
	// (FetchSchema): an unknown game, or a node without the schema
	// endpoint. A client that fetches its schema stops with it.
	ErrSchemaNotServed = errors.New("no compiled schema served for the game")
)

// ServerError is an Error message from the server, usually followed by the
// close code 4000+Code.
type ServerError struct {
	Code      schema.ErrorCode
	Message   string
	CloseCode uint16 // 0 until the close frame arrived (or if none did)
	URL       string // the node that sent it
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("server error %d (%s): %s", e.Code, e.Code.String(), e.Message)
}

// Retryable reports whether the refusal is temporary (the node is
// unavailable, stopping, full, or limiting this client's rate), so that
// another attempt, later or on another node, may succeed.
func (e *ServerError) Retryable() bool {
	switch e.Code {
	case schema.ErrCodeUnavailable, schema.ErrCodeShuttingDown, schema.ErrCodeNodeFull, schema.ErrCodeRateLimited:
		return true
	}
	return false
}

// CloseError is a close frame from the server that no Error message
// explained (e.g. 1001 server shutting down, 1008 policy, 4010 slow consumer).
type CloseError struct {
	Code   uint16
	Reason string
	URL    string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("closed by server: %d %s", e.Code, e.Reason)
}

// Retryable reports whether reconnecting may help: the server going away,
// an internal error, a slow-consumer close, or a close without a status. A
// close for a protocol or policy violation is not retried: the client would
// do the same again.
func (e *CloseError) Retryable() bool {
	switch e.Code {
	case 1002, 1003, 1007, 1008, 1009, 1010:
		return false
	}
	return true
}

// HTTPError is an upgrade refused with an HTTP status (e.g. 403 for an
// Origin that is not allowed).
type HTTPError struct {
	StatusCode int
	URL        string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("upgrade %s: http status %d", e.URL, e.StatusCode)
}

// Retryable: 5xx and 429 may pass later; other statuses will not.
func (e *HTTPError) Retryable() bool {
	return e.StatusCode >= 500 || e.StatusCode == 429
}

// retryable reports whether err (the end of a connection or of an attempt)
// allows another attempt. Network errors (refused, reset, timeouts, EOF) do.
func retryable(err error) bool {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Retryable()
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Retryable()
	}
	// ErrTooManyRedirects is retried: nodes disagree on the owner while a
	// match moves, and the next attempt may find it settled.
	return !errors.Is(err, ErrClosed) && !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrHandlerPanic) &&
		!errors.Is(err, ErrSchemaNotServed)
}
