package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/schema"
)

// serve runs one connection attempt on the client's goroutine: dial, Hello,
// then gws's read loop until the connection ends. It reports whether the
// server seated the player on this connection, and why the connection
// ended. What arrived (Redirect, Error) is left in c.sess.
func (c *Client) serve(rawURL string) (joined bool, err error) {
	s := &c.sess
	*s = session{url: rawURL}
	c.stats.dials.Add(1)

	// A node that stalled gets the stall window, not the dial timeout, to
	// seat the player again: a stopped process accepts connections into its
	// listen backlog and never answers.
	timeout := c.cfg.DialTimeout
	if rawURL == c.stalledURL && c.stallWin > 0 {
		timeout = min(timeout, c.stallWin)
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	deadline, _ := ctx.Deadline()
	s.deadline = deadline
	ws, err := c.dial(ctx, rawURL)
	cancel()
	if err != nil {
		if c.ctx.Err() != nil {
			return false, ErrClosed
		}
		return false, err
	}
	s.ws = ws

	// Publish the connection so that Stop can close it. From here on
	// c.stopping is checked under wmu before every write.
	c.wmu.Lock()
	if c.stopping {
		c.wmu.Unlock()
		_ = ws.NetConn().Close()
		return false, ErrClosed
	}
	c.ws, c.joined, c.writeDL = ws, false, time.Time{}
	c.wmu.Unlock()

	// The Welcome (or Redirect, or Error) is due within what is left of
	// the dial timeout.
	c.readDL = time.Time{}
	_ = ws.SetReadDeadline(deadline)
	if c.hello.ResumeToken != "" {
		// A resume says what the client holds: the newest snapshot (the
		// delta baseline) and the newest server event (the match numbers
		// the seat's next events after it, even on a node that adopted
		// the match without it).
		s.resumeSent = true
		c.hello.LastTick = c.newestTick()
		c.hello.EventAck = c.evAck.Load()
	} else {
		c.hello.LastTick, c.hello.EventAck = 0, 0
	}
	c.wmu.Lock()
	err = c.writeLocked(c.helloEnc.Hello(&c.hello))
	c.wmu.Unlock()
	if err == nil {
		ws.ReadLoop() // returns after OnClose
	} else {
		_ = ws.NetConn().Close()
		s.closeErr = err
	}

	c.wmu.Lock()
	c.ws, c.joined = nil, false
	c.wmu.Unlock()
	return s.joined, c.sessionErr()
}

// sessionErr says why the current connection ended, the most telling
// reason first: a reason of ours, the server's Error, its close code, then
// what gws saw.
func (c *Client) sessionErr() error {
	s := &c.sess
	var ce *gws.CloseError
	closeCode := uint16(0)
	reason := ""
	if errors.As(s.closeErr, &ce) {
		closeCode, reason = ce.Code, string(ce.Reason)
	}
	switch {
	case c.ctx.Err() != nil:
		return ErrClosed
	case s.localErr != nil:
		return s.localErr
	case s.serverErr != nil:
		s.serverErr.CloseCode = closeCode
		return s.serverErr
	case s.redirect != "":
		return fmt.Errorf("redirected to %s", s.redirect)
	case closeCode != 0:
		return &CloseError{Code: closeCode, Reason: reason, URL: s.url}
	case s.joined && c.stallWin > 0 && errors.Is(s.closeErr, os.ErrDeadlineExceeded):
		// While seated with the watch on, the read deadline is the stall
		// deadline: only snapshots move it.
		return fmt.Errorf("%w: none from %s for %v", ErrStalled, s.url, c.stallWin)
	case s.closeErr != nil:
		return fmt.Errorf("connection to %s lost: %w", s.url, s.closeErr)
	}
	return fmt.Errorf("connection to %s lost", s.url)
}

// dial opens the TCP (and TLS) connection and upgrades it, all bounded by
// ctx. It dials and shakes hands itself rather than through gws.NewClient:
// that way ctx (Stop, the dial timeout) interrupts every step, and gws never
// writes ServerName into a TLS config shared by many clients.
func (c *Client) dial(ctx context.Context, rawURL string) (*gws.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", rawURL, err)
	}
	secure := u.Scheme == "wss"
	port := u.Port()
	if port == "" {
		port = "80"
		if secure {
			port = "443"
		}
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return nil, err
	}
	if secure {
		var tc *tls.Config
		if c.cfg.TLSConfig != nil {
			tc = c.cfg.TLSConfig.Clone()
		} else {
			tc = &tls.Config{}
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		if tc.MinVersion == 0 {
			tc.MinVersion = tls.VersionTLS12
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", u.Host, err)
		}
		nc = tlsConn
	}

	origin := c.cfg.Origin
	if origin == "" {
		origin = "http://" + u.Host
		if secure {
			origin = "https://" + u.Host
		}
	}
	handshakeTimeout := c.cfg.DialTimeout
	if dl, ok := ctx.Deadline(); ok {
		handshakeTimeout = time.Until(dl)
	}
	opt := &gws.ClientOption{
		Addr:               rawURL,
		RequestHeader:      http.Header{"Origin": []string{origin}},
		ReadMaxPayloadSize: c.cfg.MaxMessageSize,
		ReadBufferSize:     c.cfg.ReadBufferSize,
		HandshakeTimeout:   handshakeTimeout,
		Recovery:           c.recovery,
		NewSession:         newNoSession,
	}
	// gws's upgrade does not take a context: closing the connection is
	// how ctx interrupts it.
	unwatch := context.AfterFunc(ctx, func() { _ = nc.Close() })
	ws, resp, err := gws.NewClientFromConn((*events)(c), opt, nc)
	if !unwatch() && err == nil {
		err = ctx.Err()
		_ = nc.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HTTPError{StatusCode: resp.StatusCode, URL: rawURL}
		}
		return nil, fmt.Errorf("upgrade %s: %w", rawURL, err)
	}
	return ws, nil
}

// recovery is gws's Recovery for OnMessage: a panic there (a Handler
// method, or a decoder bug) ends the client instead of the process.
func (c *Client) recovery(gws.Logger) {
	e := recover()
	if e == nil {
		return
	}
	c.log.Error().Str(logKeyErr, fmt.Sprint(e)).Msg("panic while handling a server message")
	c.sess.localErr = fmt.Errorf("%w: %v", ErrHandlerPanic, e)
	if ws := c.sess.ws; ws != nil {
		_ = ws.NetConn().Close()
	}
}

// events adapts Client to gws.Event without adding exported methods to
// Client. gws calls every method on the client's goroutine.
type events Client

func (e *events) OnOpen(*gws.Conn) {}

func (e *events) OnClose(_ *gws.Conn, err error) { e.sess.closeErr = err }

func (e *events) OnPing(ws *gws.Conn, payload []byte) {
	c := (*Client)(e)
	// Before the Welcome the dial deadline stands; with the stall watch on,
	// only snapshots move the deadline.
	if c.sess.joined && c.stallWin == 0 {
		c.pushReadDeadline(ws)
	}
	c.wmu.Lock()
	if c.ws == ws && !c.stopping {
		c.pushWriteDeadlineLocked()
		_ = ws.WritePong(payload)
	}
	c.wmu.Unlock()
}

func (e *events) OnPong(*gws.Conn, []byte) {}

func (e *events) OnMessage(ws *gws.Conn, m *gws.Message) {
	c := (*Client)(e)
	if m.Opcode != gws.OpcodeBinary {
		_ = m.Close()
		c.closeLocal(ws, 1003, fmt.Errorf("%w: a text frame", ErrProtocol))
		return
	}
	if c.sess.joined && c.stallWin == 0 { // see OnPing
		c.pushReadDeadline(ws)
	}
	b := m.Bytes()
	c.stats.msgsIn.Add(1)
	c.stats.bytesIn.Add(uint64(len(b)))
	err := schema.DecodeServerMessage(b, &c.msg)
	if err != nil {
		_ = m.Close()
		c.closeLocal(ws, 1007, fmt.Errorf("%w: %w", ErrProtocol, err))
		return
	}
	c.handle(ws, &c.msg)
	// The generic fields (Snapshot.state, the events' data) alias b: gws's
	// pooled buffer goes back only once the message has been handled.
	_ = m.Close()
}

// closeLocal closes the connection for a reason of ours.
func (c *Client) closeLocal(ws *gws.Conn, code uint16, err error) {
	if c.sess.localErr == nil {
		c.sess.localErr = err
	}
	c.wmu.Lock()
	c.pushWriteDeadlineLocked()
	_ = ws.WriteClose(code, nil)
	c.wmu.Unlock()
}

// handle dispatches one decoded message; client goroutine.
func (c *Client) handle(ws *gws.Conn, m *schema.ServerMessage) {
	s := &c.sess
	switch m.Kind {
	case schema.ServerSnapshot:
		if !s.joined {
			c.closeLocal(ws, 1008, fmt.Errorf("%w: a snapshot before the welcome", ErrProtocol))
			return
		}
		if c.stallWin > 0 {
			// Any snapshot, applied or not: the room is ticking.
			c.pushStallDeadline(ws)
		}
		c.onSnapshot(&m.Snapshot)
	case schema.ServerWelcome:
		if s.joined {
			c.closeLocal(ws, 1008, fmt.Errorf("%w: a second welcome", ErrProtocol))
			return
		}
		c.onWelcome(ws, &m.Welcome)
	case schema.ServerRedirect:
		// Before the Welcome: the match runs elsewhere. After it: the match
		// moved. Either way, close now and follow (the server closes with
		// 4011 too; no need to wait for it).
		s.redirect = strings.Clone(m.Redirect.URL)
		if err := checkURL(s.redirect); err != nil {
			s.redirect = ""
			c.closeLocal(ws, 1000, fmt.Errorf("%w: redirect: %w", ErrProtocol, err))
			return
		}
		c.log.Debug().Str(logKeyURL, s.url).Str(logKeyRedirect, s.redirect).Msg("redirected")
		c.wmu.Lock()
		c.joined = false
		c.pushWriteDeadlineLocked()
		_ = ws.WriteClose(1000, nil)
		c.wmu.Unlock()
	case schema.ServerError:
		s.serverErr = &ServerError{
			Code:    m.Error.Code,
			Message: strings.Clone(m.Error.Message),
			URL:     s.url,
		}
		c.h.OnError(c, s.serverErr)
	case schema.ServerPong:
		rtt := time.Since(c.epoch) - time.Duration(m.ClientTime)
		c.h.OnPong(c, rtt, m.ServerTime)
	}
}

func (c *Client) onWelcome(ws *gws.Conn, w *schema.Welcome) {
	s := &c.sess
	s.joined = true
	resumed := s.resumeSent && w.PlayerID == c.playerID
	// The match must speak the client's schema; a client without one
	// fetches the one the Welcome names from the node.
	if c.game.schema == nil {
		if err := c.fetchSchema(w, s.deadline); err != nil {
			s.joined = false
			c.closeLocal(ws, 1000, fmt.Errorf("game schema: %w", err))
			return
		}
	}
	if w.SchemaHash != c.hello.SchemaHash {
		s.joined = false
		c.closeLocal(ws, 1008, fmt.Errorf("%w: %w: %s %s, not %s", ErrProtocol, ErrSchemaMismatch, w.Game, w.SchemaHash, c.hello.SchemaHash))
		return
	}
	// Keep the worlds (and so the delta baseline named in the Hello) only
	// when the same node resumes the same player with no rollback of
	// ticks. After a takeover the new owner restored a checkpoint and its
	// tick N is not the old owner's tick N: a delta against it would build
	// a wrong world, and its repeated tick numbers would be ignored as
	// old. A client holding no world acks 0, which asks for a full
	// snapshot.
	keep := resumed && w.NodeID == c.welcome.NodeID && w.ServerTick >= c.newestTick()
	if !keep {
		c.ack.Store(0)
	}
	if err := c.gameWelcome(w, !resumed, keep); err != nil {
		s.joined = false
		c.closeLocal(ws, 1011, err)
		return
	}
	c.playerID = w.PlayerID
	c.setWelcome(w)
	if w.MatchID != "" {
		c.hello.MatchID = c.welcome.MatchID
	}
	// The first snapshot is due within the stall window of the Welcome.
	c.stallWin, c.stalledURL = c.stallWindow(w.TickRate), ""
	c.readDL = time.Time{}
	if c.stallWin > 0 {
		c.pushStallDeadline(ws)
	} else {
		c.pushReadDeadline(ws)
	}
	c.gapBase = 0
	c.wmu.Lock()
	c.joined = true
	// Before any other write on this session: the events the match has
	// not applied go again, in order.
	c.welcomeEventsLocked(w.EventSeq, !resumed)
	c.wmu.Unlock()
	if c.ready != nil {
		c.ready <- nil
		c.ready = nil
	} else {
		c.stats.reconnects.Add(1)
		c.resumePending = true
	}
	c.log.Debug().Str(logKeyURL, s.url).Uint32(logKeyPlayer, w.PlayerID).
		Str(logKeyMatch, w.MatchID).Bool(logKeyResumed, resumed).Msg("welcome")
	c.h.OnWelcome(c, w, resumed)
}

func (c *Client) onSnapshot(sn *schema.Snapshot) {
	tick, err := c.applyState(sn)
	c.takeEvents(sn)
	if err != nil {
		c.stats.applyErrors.Add(1)
		c.h.OnError(c, err)
		return
	}
	if tick != sn.Tick {
		// Not newer than the newest world: ignored.
		c.stats.stale.Add(1)
		return
	}
	if sn.BaselineTick == 0 {
		c.stats.full.Add(1)
	} else {
		c.stats.delta.Add(1)
	}
	if c.gapBase != 0 && sn.Tick > c.gapBase+1 {
		c.stats.gaps.Add(uint64(sn.Tick - c.gapBase - 1))
	}
	c.gapBase = sn.Tick
	c.ack.Store(tick)
	c.lastSeq.Store(sn.LastInputSeq)
	if c.resumePending {
		c.resumePending = false
		d := time.Since(c.dropAt)
		c.stats.resumes.Add(1)
		c.stats.lastResume.Store(int64(d))
		c.stats.resumeTotal.Add(int64(d))
		c.log.Debug().Dur(logKeyDowntime, d).Msg("resumed")
		c.h.OnResumed(c, d)
	}
	c.h.OnSnapshot(c, sn, c.game.world)
}

// noSession is a gws.SessionStorage that stores nothing: the client keeps
// its state in Client, and thousands of clients need not carry a map each.
type noSession struct{}

func newNoSession() gws.SessionStorage               { return noSession{} }
func (noSession) Len() int                           { return 0 }
func (noSession) Load(string) (any, bool)            { return nil, false }
func (noSession) Delete(string)                      {}
func (noSession) Store(string, any)                  {}
func (noSession) Range(func(key string, v any) bool) {}
