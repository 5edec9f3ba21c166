package ws

import (
	"context"
	"errors"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/ratelimit"
	"github.com/ticksync/ticksync/schema"
)

// Session states, owned by the read goroutine.
const (
	stateHello  = iota // waiting for the Hello
	stateJoined        // seated: inputs flow
	stateDone          // left, refused or closing
)

// session is one WebSocket connection. It implements game.Conn.
//
// Goroutines: the read goroutine runs gws's ReadLoop and calls the event
// methods (onMessage, onPing, onPong), Join, Seat.Input, Seat.Event and
// Seat.Leave; it owns the fields marked "read goroutine". The writer
// goroutine (writeLoop) writes what the outbound queues. SendSnapshot,
// Overflow, Kick and Redirect run on any goroutine (a room's); they only
// hand their message to the outbound (out), whose one mutex guards
// everything the session writes, and never block.
type session struct {
	srv    *Server
	id     uint64
	conn   *gws.Conn
	sock   *sockConn
	out    outbound // the write side: queues, the pending snapshot, who writes
	remote string
	addr   netip.Addr // the peer's IP: the per-address limits count it

	// read goroutine
	log       zerolog.Logger
	state     int
	msg       schema.ClientMessage
	seat      game.Seat
	lastTouch time.Time
	closeErr  error            // what gws's OnClose reported
	rate      ratelimit.Bucket // Config.MaxMessageRate (admit.go)
	minRate   int              // the least budget the match's tick rate needs (admit.go)
	game      *game.GameSchema // the seat's game schema; nil: a game without one (gamebytes.go)
	events    ratelimit.Bucket // Config.MaxEventRate (gamebytes.go)

	closing   atomic.Bool   // a close was decided: ignore what arrives, drop snapshots
	closeCode atomic.Uint32 // the close code decided by this package (0: none)

	done       chan struct{} // closed when the read loop has ended
	writerDone chan struct{} // closed when the writer has exited
}

var _ game.Conn = (*session)(nil)

// decide makes code the session's close code unless one was decided
// already; it reports whether this call decided.
func (s *session) decide(code CloseCode) bool {
	if !s.closeCode.CompareAndSwap(0, uint32(code)) {
		return false
	}
	s.closing.Store(true)
	return true
}

// closeNow closes with code, for closes that no message precedes (the Hello
// or heartbeat timeout, a panic in the read loop): the close frame is
// queued ahead of the control messages not yet written, which are dropped.
// Read goroutine; never blocks.
func (s *session) closeNow(code CloseCode, reason string) {
	s.state = stateDone
	if s.decide(code) {
		s.out.closeNow(code, reason)
	}
}

// closeAsync asks the writer to write the queued control messages, then the
// close frame, and reports whether this call decided the close. Safe from
// any goroutine; never blocks.
func (s *session) closeAsync(code CloseCode, reason string) bool {
	return s.closeCounted(code, reason, nil)
}

// closeCounted is closeAsync that adds one to counted (when not nil) if this
// call decided the close, before the close frame can be written: whoever
// sees the close also sees the count.
func (s *session) closeCounted(code CloseCode, reason string, counted *atomic.Uint64) bool {
	if !s.decide(code) {
		return false
	}
	if counted != nil {
		counted.Add(1)
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	s.out.closeAfter(code, reason)
	return true
}

// enqueue queues a control message for the writer. It reports false when
// the session is closing or the queue is full (pongs give way first).
func (s *session) enqueue(c ctrlMsg) bool { return s.out.control(c) }

// SendSnapshot implements game.Conn. The outbound writes msg at once when it
// can (plain TCP, nothing queued: one non-blocking write) or keeps it in its
// pending slot for the writer, replacing (and counting as dropped) a
// snapshot not yet written. Called by the room goroutine; never blocks;
// allocates nothing once the buffers have grown to the snapshot size.
func (s *session) SendSnapshot(msg []byte) {
	if s.closing.Load() {
		return
	}
	if len(msg) > s.srv.cfg.MaxSnapshotSize {
		s.srv.m.snapshotsDropped.Add(1)
		return
	}
	s.out.snapshot(msg)
}

// refuse queues Error{code, text} and closes with 4000+code and the same
// text, the code's fixed one (schema.ErrorCode.String): what the caller
// knows about the cause stays in the node's log. It reports whether this
// call decided the close. Safe from any goroutine; never blocks.
func (s *session) refuse(code schema.ErrorCode) bool {
	return s.refuseCounted(code, nil)
}

// refuseCounted is refuse that counts the close in counted as closeCounted does.
func (s *session) refuseCounted(code schema.ErrorCode, counted *atomic.Uint64) bool {
	return s.refuseText(code, "", counted)
}

// refuseText is refuseCounted with text, when not empty, as the Error's
// message instead of the code's fixed text (a game's public refusal,
// already made fit by publicText); the close reason stays the fixed text.
func (s *session) refuseText(code schema.ErrorCode, text string, counted *atomic.Uint64) bool {
	if code > 999 {
		code = schema.ErrCodeUnknown
	}
	reason := code.String()
	if text == "" {
		text = reason
	}
	s.enqueue(ctrlMsg{kind: ctrlError, code: code, text: text})
	return s.closeCounted(CloseCodeFor(code), reason, counted)
}

// Kick implements game.Conn: it queues an Error and closes with 4000+code;
// reason goes to the log only. A kick of a session already closing is not
// counted.
func (s *session) Kick(code schema.ErrorCode, reason string) {
	s.srv.log.Debug().Uint64(keySession, s.id).Uint16(keyErrCode, uint16(code)).Str(keyReason, reason).Msg("kicked")
	s.refuseCounted(code, &s.srv.m.kicks[kickSlot(code)])
}

// Redirect implements game.Conn: the match moved to another node. It queues
// a Redirect{url, matchID} and closes with 4011, as a Hello for a match
// elsewhere does. Safe from any goroutine; never blocks.
func (s *session) Redirect(url, matchID string) {
	s.enqueue(ctrlMsg{kind: ctrlRedirect, url: url, text: matchID})
	s.closeCounted(CloseRedirect, reasonRedirect, &s.srv.m.redirectsMoved)
}

// Overflow implements sim.Conn: the room's queue of server events for this
// client overflowed (the client does not acknowledge them), so the session
// closes as a slow consumer (4010), as for a snapshot backlog. Called on
// the room goroutine; never blocks.
func (s *session) Overflow() {
	s.closeCounted(CloseSlowConsumer, reasonSlowConsumer, &s.srv.m.slowConsumers)
}

// slowConsumer is called by the outbound when a write hit its deadline.
func (s *session) slowConsumer() {
	if s.decide(CloseSlowConsumer) {
		s.srv.m.slowConsumers.Add(1)
	}
}

// readTimedOut is called by sockConn (read goroutine) when the read deadline
// fired: no Hello in time, or a silent peer.
func (s *session) readTimedOut() {
	if s.state == stateHello {
		s.closeNow(ClosePolicy, reasonNoHello)
		return
	}
	s.closeNow(CloseGoingAway, reasonHeartbeat)
}

// touch pushes the read deadline back: the peer is alive. Before the Hello
// the Hello deadline stands.
func (s *session) touch() {
	if s.state != stateJoined || s.closing.Load() {
		return
	}
	now := time.Now()
	if now.Sub(s.lastTouch) < s.srv.touchEvery {
		return
	}
	s.lastTouch = now
	_ = s.sock.SetReadDeadline(now.Add(s.srv.cfg.PeerTimeout))
}

// onMessage handles one client message (read goroutine).
func (s *session) onMessage(msg *gws.Message) {
	defer func() { _ = msg.Close() }()
	defer s.recoverPanic()
	if s.closing.Load() || !s.allowMessage() {
		return
	}
	b := msg.Bytes()
	s.srv.m.messagesIn.Add(1)
	s.srv.m.bytesIn.Add(uint64(len(b)))
	s.touch()
	if msg.Opcode != gws.OpcodeBinary {
		s.closeAsync(CloseUnsupportedData, reasonText)
		return
	}
	if err := schema.DecodeClientMessage(b, &s.msg); err != nil {
		s.invalidPayload("envelope", err)
		return
	}
	switch s.msg.Kind {
	case schema.ClientHello:
		if s.state != stateHello {
			s.closeAsync(ClosePolicy, reasonSecondHello)
			return
		}
		s.hello(&s.msg.Hello)
	case schema.ClientInput:
		if s.state != stateJoined {
			s.closeAsync(ClosePolicy, reasonExpectHello)
			return
		}
		if !s.inputDataOK(&s.msg.Input) {
			return
		}
		if !s.seat.Input(&s.msg.Input) {
			s.srv.m.inputsDropped.Add(1)
		}
	case schema.ClientEvent:
		if s.state != stateJoined {
			s.closeAsync(ClosePolicy, reasonExpectHello)
			return
		}
		s.event(&s.msg.Event)
	case schema.ClientPing:
		if s.state != stateJoined {
			s.closeAsync(ClosePolicy, reasonExpectHello)
			return
		}
		s.enqueue(ctrlMsg{kind: ctrlPong, clientTime: s.msg.ClientTime})
	case schema.ClientLeave:
		if s.state != stateJoined {
			s.closeAsync(ClosePolicy, reasonExpectHello)
			return
		}
		seat := s.seat
		s.seat, s.state = nil, stateDone
		seat.Leave()
		s.closeAsync(CloseNormal, reasonLeave)
	default:
		s.closeAsync(CloseInvalidPayload, reasonMalformed)
	}
}

// hello authenticates and seats the player (read goroutine). The token's
// claims (ClaimsAuthenticator) go to the Joiner with the Hello; the join
// payload and the schema hash are the Joiner's to check (gamebytes.go).
func (s *session) hello(h *schema.Hello) {
	s.state = stateDone // until seated
	var player uint32
	var claims []byte
	if auth := s.srv.cfg.Auth; auth != nil {
		var err error
		if ca, ok := auth.(ClaimsAuthenticator); ok {
			player, claims, err = ca.AuthenticateClaims(h.Token)
		} else {
			player, err = auth.Authenticate(h.Token)
		}
		if err != nil {
			s.log.Debug().Err(err).Msg("hello refused: unauthorized")
			s.refuse(schema.ErrCodeUnauthorized)
			return
		}
	}
	ctx, cancel := context.WithTimeout(s.srv.ctx, s.srv.cfg.JoinTimeout)
	seat, err := s.srv.cfg.Joiner.Join(ctx, game.JoinRequest{Hello: *h, PlayerID: player, Conn: s, Addr: s.addr, Claims: claims})
	cancel()
	if err != nil {
		s.joinFailed(err)
		return
	}
	if seat == nil {
		s.log.Error().Msg("joiner returned no seat and no error")
		s.refuse(schema.ErrCodeUnavailable)
		return
	}
	if h.ResumeToken != "" {
		s.srv.m.resumes.Add(1)
	}
	s.seat, s.state = seat, stateJoined
	if gs := seat.Schema(); gs != nil && gs.Schema != nil {
		s.game = gs
	}
	// The Welcome goes out whole: game, schema_hash and event_seq are the
	// match's (a resumed client re-sends its events after event_seq).
	w := seat.Welcome()
	if w.NodeID == "" {
		w.NodeID = s.srv.cfg.NodeID
	}
	if s.game != nil {
		hash := s.game.Schema.HashString()
		if w.SchemaHash == "" {
			w.SchemaHash = hash
		}
		// The Joiner refuses a client built for another schema before it
		// seats it (a public JoinError); this guard keeps a client from
		// ever playing a match whose bytes it reads differently.
		if h.SchemaHash != "" && h.SchemaHash != hash {
			s.log.Warn().Str(keyWhat, h.SchemaHash).Msg("joiner seated a client built for another schema: refused")
			s.seat, s.state, s.game = nil, stateDone, nil
			seat.Leave()
			s.refuseText(schema.ErrCodeSchemaMismatch, publicText("schema mismatch: the match speaks "+w.Game+" "+hash), nil)
			return
		}
	}
	s.seated(w.TickRate)
	s.log = s.log.With().Str(keyMatch, w.MatchID).Uint32(keyPlayer, w.PlayerID).Logger()
	s.log.Debug().Msg("joined")
	s.lastTouch = time.Now()
	if !s.closing.Load() {
		_ = s.sock.SetReadDeadline(s.lastTouch.Add(s.srv.cfg.PeerTimeout))
	}
	s.enqueue(ctrlMsg{kind: ctrlWelcome, welcome: &w})
}

// joinFailed answers a refused Join with the table's Error and close code:
// the JoinError's code, unavailable (4007) for any other failure, a Join
// that ran out of Config.JoinTimeout among them; a join payload the game's
// schema refused (an error wrapping gameschema.ErrMalformed or
// ErrOutOfRange) closes with 1007. The error's text is logged, never sent,
// but for a public JoinError (a game's refusal, a schema mismatch), whose
// Message is the Error's message (valid UTF-8, at most 256 bytes).
func (s *session) joinFailed(err error) {
	var re *game.RedirectError
	var je *game.JoinError
	switch {
	case isGameBytesError(err):
		s.invalidPayload("join payload", err)
	case errors.As(err, &re):
		s.log.Debug().Str(keyURL, re.URL).Msg("redirected")
		s.enqueue(ctrlMsg{kind: ctrlRedirect, url: re.URL, text: re.MatchID})
		s.closeCounted(CloseRedirect, reasonRedirect, &s.srv.m.redirectsJoin)
	case errors.As(err, &je):
		s.log.Debug().Err(err).Uint16(keyErrCode, uint16(je.Code)).Msg("join refused")
		if je.Code == schema.ErrCodeResumeRefused {
			s.srv.m.resumesRefused.Add(1)
		}
		var text string
		if je.Public {
			text = publicText(je.Message)
		}
		s.refuseText(je.Code, text, nil)
	case s.srv.ctx.Err() != nil:
		s.refuse(schema.ErrCodeShuttingDown)
	default:
		s.log.Warn().Err(err).Msg("join failed")
		s.refuse(schema.ErrCodeUnavailable)
	}
}

// recoverPanic turns a panic in a message handler (ours or the game's) into
// a 1011 close of this session; the node keeps serving. Deferred directly.
func (s *session) recoverPanic() {
	if r := recover(); r != nil {
		s.panicked(r)
		s.closeAsync(CloseInternal, reasonInternal)
	}
}

func (s *session) panicked(r any) {
	s.state = stateDone
	s.srv.m.panics.Add(1)
	s.log.Error().Interface(keyPanic, r).Bytes(keyStack, debug.Stack()).Msg("panic in session handler")
}

// events is the gws.Event of every session; it finds the session through
// the sockConn gws was given.
type events struct{}

func sessionOf(c *gws.Conn) *session { return c.NetConn().(*sockConn).sess }

func (events) OnOpen(*gws.Conn)                      {}
func (events) OnClose(c *gws.Conn, err error)        { sessionOf(c).closeErr = err }
func (events) OnMessage(c *gws.Conn, m *gws.Message) { sessionOf(c).onMessage(m) }

func (events) OnPing(c *gws.Conn, payload []byte) {
	s := sessionOf(c)
	if !s.allowMessage() {
		return
	}
	s.touch()
	s.enqueue(ctrlMsg{kind: ctrlWSPong, payload: payload})
}

func (events) OnPong(c *gws.Conn, _ []byte) { sessionOf(c).touch() }
