package ws

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
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
// methods (onMessage, onPing, onPong), Join, Seat.Input and Seat.Leave; it
// owns the fields marked "read goroutine". The writer goroutine (writeLoop)
// does the writes. SendSnapshot and Kick run on any goroutine (a room's);
// they only touch the fields under mu and never block.
type session struct {
	srv    *Server
	id     uint64
	conn   *gws.Conn
	sock   *sockConn
	remote string

	// read goroutine
	log       zerolog.Logger
	state     int
	msg       schema.ClientMessage
	seat      game.Seat
	lastTouch time.Time
	closeErr  error // what gws's OnClose reported

	live      atomic.Bool   // the Welcome is written: snapshots may be written directly
	closing   atomic.Bool   // a close was decided: ignore what arrives
	closeCode atomic.Uint32 // the close code decided by this package (0: none)

	wake       chan struct{} // capacity 1: the writer has work
	done       chan struct{} // closed when the read loop has ended
	writerDone chan struct{} // closed when the writer has exited

	mu          sync.Mutex // guards the fields below; no I/O under it
	pending     []byte     // the latest unwritten snapshot (valid if hasPending)
	hasPending  bool
	inFlight    bool // the writer took a snapshot and has not written it yet
	welcomed    bool // the Welcome is queued: snapshots may follow it
	ctrl        [ctrlCap]ctrlMsg
	nctrl       int
	closeReq    bool // the writer must close after the queued control messages
	closeReason string

	spare []byte // writer goroutine: the buffer being written (double buffering)
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

// closeNow writes the close frame from the calling goroutine (the read
// goroutine), for closes that no message precedes.
func (s *session) closeNow(code CloseCode, reason string) {
	s.state = stateDone
	if s.decide(code) {
		_ = s.conn.WriteClose(uint16(code), []byte(reason))
	}
}

// closeAsync asks the writer to write the queued control messages, then the
// close frame, and reports whether this call decided the close. Safe from
// any goroutine; never blocks.
func (s *session) closeAsync(code CloseCode, reason string) bool {
	if !s.decide(code) {
		return false
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	s.mu.Lock()
	s.closeReq = true
	s.closeReason = reason
	s.mu.Unlock()
	s.signal()
	return true
}

// refuse queues Error{code, message} and closes with 4000+code, and
// reports whether this call decided the close. Safe from any goroutine;
// never blocks.
func (s *session) refuse(code schema.ErrorCode, message string) bool {
	if code > 999 {
		code = schema.ErrCodeUnknown
	}
	s.enqueue(ctrlMsg{kind: ctrlError, code: code, text: message})
	return s.closeAsync(CloseCodeFor(code), message)
}

// Kick implements game.Conn: it queues an Error and closes with 4000+code.
// A kick of a session already closing is not counted.
func (s *session) Kick(code schema.ErrorCode, reason string) {
	if s.refuse(code, reason) {
		s.srv.m.kicks[kickSlot(code)].Add(1)
	}
}

// Redirect implements game.Conn: the match moved to another node. It queues
// a Redirect{url, matchID} and closes with 4011, as a Hello for a match
// elsewhere does. Safe from any goroutine; never blocks.
func (s *session) Redirect(url, matchID string) {
	s.enqueue(ctrlMsg{kind: ctrlRedirect, url: url, text: matchID})
	if s.closeAsync(CloseRedirect, reasonRedirect) {
		s.srv.m.redirectsMoved.Add(1)
	}
}

// slowConsumer is called by sockConn when a write hit its deadline.
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
	if s.closing.Load() {
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
		reason := reasonMalformed
		if errors.Is(err, schema.ErrOutOfRange) {
			reason = reasonOutOfRange
		}
		s.log.Debug().Err(err).Msg("invalid message")
		s.closeAsync(CloseInvalidPayload, reason)
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
		if !s.seat.Input(&s.msg.Input) {
			s.srv.m.inputsDropped.Add(1)
		}
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

// hello authenticates and seats the player (read goroutine).
func (s *session) hello(h *schema.Hello) {
	s.state = stateDone // until seated
	var player uint32
	if auth := s.srv.cfg.Auth; auth != nil {
		id, err := auth.Authenticate(h.Token)
		if err != nil {
			s.log.Debug().Err(err).Msg("hello refused: unauthorized")
			s.refuse(schema.ErrCodeUnauthorized, reasonUnauthorized)
			return
		}
		player = id
	}
	ctx, cancel := context.WithTimeout(s.srv.ctx, s.srv.cfg.JoinTimeout)
	seat, err := s.srv.cfg.Joiner.Join(ctx, game.JoinRequest{Hello: *h, PlayerID: player, Conn: s})
	cancel()
	if err != nil {
		s.joinFailed(err)
		return
	}
	if seat == nil {
		s.log.Error().Msg("joiner returned no seat and no error")
		s.refuse(schema.ErrCodeUnavailable, reasonUnavailable)
		return
	}
	if h.ResumeToken != "" {
		s.srv.m.resumes.Add(1)
	}
	s.seat, s.state = seat, stateJoined
	w := seat.Welcome()
	if w.NodeID == "" {
		w.NodeID = s.srv.cfg.NodeID
	}
	s.log = s.log.With().Str(keyMatch, w.MatchID).Uint32(keyPlayer, w.PlayerID).Logger()
	s.log.Debug().Msg("joined")
	s.lastTouch = time.Now()
	if !s.closing.Load() {
		_ = s.sock.SetReadDeadline(s.lastTouch.Add(s.srv.cfg.PeerTimeout))
	}
	s.enqueue(ctrlMsg{kind: ctrlWelcome, welcome: &w})
}

// joinFailed answers a refused Join with the table's message and close code.
func (s *session) joinFailed(err error) {
	var re *game.RedirectError
	var je *game.JoinError
	switch {
	case errors.As(err, &re):
		s.log.Debug().Str(keyURL, re.URL).Msg("redirected")
		s.enqueue(ctrlMsg{kind: ctrlRedirect, url: re.URL, text: re.MatchID})
		if s.closeAsync(CloseRedirect, reasonRedirect) {
			s.srv.m.redirectsJoin.Add(1)
		}
	case errors.As(err, &je):
		s.log.Debug().Err(err).Uint16(keyErrCode, uint16(je.Code)).Msg("join refused")
		if je.Code == schema.ErrCodeResumeRefused {
			s.srv.m.resumesRefused.Add(1)
		}
		s.refuse(je.Code, je.Message)
	case s.srv.ctx.Err() != nil:
		s.refuse(schema.ErrCodeShuttingDown, reasonShutdown)
	default:
		s.log.Warn().Err(err).Msg("join failed")
		s.refuse(schema.ErrCodeUnavailable, reasonUnavailable)
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
	s.touch()
	s.enqueue(ctrlMsg{kind: ctrlWSPong, payload: payload})
}

func (events) OnPong(c *gws.Conn, _ []byte) { sessionOf(c).touch() }
