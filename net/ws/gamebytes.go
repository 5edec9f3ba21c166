package ws

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// This file holds what a session does with a game's own bytes: the data of
// an Input, client events (ClientEvent messages) and the game's public
// refusal texts. (A room closes a client that leaves its server events
// unacknowledged with Overflow, session.go: a slow-consumer close, 4010.)
//
// A match's game has a schema (game.Seat.Schema(): every game a node runs
// has one). Every Input's data is verified with gameschema before
// Seat.Input, and every event before Seat.Event: a buffer that is not well
// formed, or a value the schema does not allow, closes the session with
// 1007, like an envelope the verifier refuses, so that no unverified game
// byte reaches a room. An Input without data is an acknowledgement only
// (the game sees empty data). A seat without a schema (a Joiner of its own
// that hands none) takes no game bytes: an Input with data closes with
// 1007, an Event with 1008 (the protocol offers nothing to send it to).
//
// The join payload (Hello.join) and the schema hash (Hello.schema_hash)
// are the Joiner's to check: which match, and so which schema, a Hello
// reaches is decided inside Join. A Join that fails with an error wrapping
// gameschema.ErrMalformed or ErrOutOfRange (the verifier's own errors)
// closes with 1007 like the other game bytes; a schema mismatch is a
// public *game.JoinError (Error 16, 4016).

// maxPublicText is the most bytes of a game-authored Error message
// (game.JoinError with Public set) a client receives: longer ones are cut
// at a character boundary.
const maxPublicText = 256

// publicText makes msg fit for Error.message: valid UTF-8 of at most
// maxPublicText bytes.
func publicText(msg string) string { return schema.PublicText(msg, maxPublicText) }

// invalidPayload closes the session with 1007 for bytes a verifier refused
// (read goroutine): the envelope's (schema) or the game's (gameschema).
// err goes to the log only.
func (s *session) invalidPayload(what string, err error) {
	reason := reasonMalformed
	if errors.Is(err, schema.ErrOutOfRange) || errors.Is(err, gameschema.ErrOutOfRange) {
		reason = reasonOutOfRange
	}
	s.log.Debug().Err(err).Str(keyWhat, what).Msg("invalid message")
	s.closeAsync(CloseInvalidPayload, reason)
}

// isGameBytesError reports whether err is gameschema's verdict on a
// buffer (not on a schema).
func isGameBytesError(err error) bool {
	return errors.Is(err, gameschema.ErrMalformed) || errors.Is(err, gameschema.ErrOutOfRange)
}

// inputDataOK checks an Input's data against the seat's schema (read
// goroutine). It closes the session with 1007 and returns false when the
// data is not acceptable. It allocates nothing for a valid input.
func (s *session) inputDataOK(in *schema.Input) bool {
	if len(in.Data) == 0 {
		return true
	}
	if s.game == nil {
		s.invalidPayload("input data", errNoGameSchema)
		return false
	}
	if err := s.game.Schema.VerifyInput(in.Data); err != nil {
		s.invalidPayload("input data", err)
		return false
	}
	return true
}

// errNoGameSchema: game bytes for a match whose game has no schema.
var errNoGameSchema = errors.New("game bytes for a game without a schema")

// event handles one ClientEvent of a seated session (read goroutine):
// verify, rate-limit, queue. It allocates nothing for a valid event.
func (s *session) event(ev *schema.Event) {
	if s.game == nil {
		s.log.Debug().Msg("event for a game that takes none")
		s.closeAsync(ClosePolicy, reasonNoEvents)
		return
	}
	if _, err := s.game.Schema.VerifyEvent(ev.Data); err != nil {
		s.invalidPayload("event", err)
		return
	}
	if !s.allowEvent() {
		s.eventFlood(&s.srv.m.eventFloodRate, "event rate exceeded")
		return
	}
	if !s.seat.Event(ev) {
		s.eventFlood(&s.srv.m.eventFloodQueue, "event queue full")
		return
	}
	s.srv.m.eventsIn.Add(1)
}

// allowEvent takes one event from the session's event budget
// (Config.MaxEventRate, MaxEventBurst).
func (s *session) allowEvent() bool {
	rate := s.srv.cfg.MaxEventRate
	if rate <= 0 {
		return true
	}
	return s.events.Allow(time.Now(), float64(rate), float64(s.srv.cfg.MaxEventBurst))
}

// eventFlood closes the session with Error too many events (17) and 4017,
// counted in counted if this call decided the close.
func (s *session) eventFlood(counted *atomic.Uint64, why string) {
	if s.refuseCounted(schema.ErrCodeEventFlood, counted) {
		s.log.Info().Str(keyReason, why).Int(keyLimit, s.srv.cfg.MaxEventRate).Msg("too many events: closing")
	}
}
