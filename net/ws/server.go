package ws

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"
)

// Server lifecycle states.
const (
	stateNew = iota
	stateRunning
	stateStopping
)

// Server is the /ws endpoint: it upgrades requests and runs one session per
// connection. Create it with New, mount Handler, call Start to accept
// upgrades and Shutdown to close every session.
type Server struct {
	cfg        Config
	log        zerolog.Logger
	m          metrics
	origins    *originPolicy
	admit      *admission // per-address limits (admit.go)
	upgrader   *gws.Upgrader
	touchEvery time.Duration
	labels     context.Context // pprof labels of session goroutines

	ctx    context.Context // canceled by Shutdown: aborts Joins in flight
	cancel context.CancelFunc

	nextID atomic.Uint64
	wg     sync.WaitGroup // session goroutines (reader and writer)

	mu       sync.Mutex
	state    int
	sessions map[*session]struct{}
	stopOnce sync.Once
	stopped  chan struct{} // closed when Shutdown has finished waiting
}

// New validates cfg and allocates a Server (it starts no goroutine). Metrics
// are registered with cfg.Registerer.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ws config: %w", err)
	}
	origins, _ := newOriginPolicy(cfg.AllowedOrigins)
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger.With().Str(keyComponent, "ws").Logger(),
		origins:  origins,
		admit:    newAdmission(cfg),
		sessions: map[*session]struct{}{},
		stopped:  make(chan struct{}),
	}
	s.touchEvery = min(cfg.PeerTimeout/10, time.Second)
	s.labels = pprof.WithLabels(context.Background(), pprof.Labels("component", "ws-session"))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.upgrader = gws.NewUpgrader(events{}, &gws.ServerOption{
		ReadMaxPayloadSize:  cfg.MaxMessageSize,
		WriteMaxPayloadSize: cfg.MaxSnapshotSize,
		ParallelEnabled:     false, // inputs must arrive in order
		CheckUtf8Enabled:    false, // text frames are refused anyway
		HandshakeTimeout:    5 * time.Second,
		Logger:              gwsLogger{s.log},
		// Backstop only: onMessage recovers itself so that it can close the
		// session with 1011; this keeps a panic elsewhere in dispatch from
		// killing the process.
		Recovery: func(l gws.Logger) {
			if r := recover(); r != nil {
				s.m.panics.Add(1)
				l.Error(fmt.Sprintf("panic in gws dispatch: %v", r))
			}
		},
	})
	if err := s.m.register(cfg.Registerer, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("ws metrics: %w", err)
	}
	return s, nil
}

// Handler returns the http.Handler to mount at /ws.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveWS) }

// Start makes Handler accept upgrades (before Start it answers 503).
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return nil
	case stateStopping:
		return errors.New("ws server: start after shutdown")
	}
	s.state = stateRunning
	s.log.Info().Msg("accepting websocket sessions")
	return nil
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats { return s.m.stats() }

// Shutdown stops accepting upgrades, closes every session with 1001 and
// waits for their goroutines. When ctx ends first, the remaining sockets are
// closed without a close frame and Shutdown returns ctx's error once their
// goroutines are gone. It is idempotent; concurrent calls all wait.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		// Stop accepting: Handler answers 503 from now on, and no session
		// can register after this snapshot of the set.
		s.mu.Lock()
		s.state = stateStopping
		open := make([]*session, 0, len(s.sessions))
		for ss := range s.sessions {
			open = append(open, ss)
		}
		s.mu.Unlock()
		// Abort Joins in flight; their sessions close below.
		s.cancel()
		// Close every session with 1001 through its writer, which first
		// writes what is queued.
		for _, ss := range open {
			ss.closeAsync(CloseGoingAway, reasonShutdown)
		}
		s.log.Info().Int("sessions", len(open)).Msg("closing websocket sessions")
		go func() {
			s.wg.Wait()
			close(s.stopped)
		}()
	})
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
	}
	// Out of time: cut the sockets that are still open, then wait for their
	// goroutines, which now return at once.
	s.mu.Lock()
	for ss := range s.sessions {
		ss.sock.abort()
	}
	s.mu.Unlock()
	<-s.stopped
	return ctx.Err()
}

// serveWS checks and upgrades one request, then starts its session.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != stateRunning {
		s.m.refusedStopping.Add(1)
		httpRefuse(w, http.StatusServiceUnavailable, "server not accepting connections")
		return
	}
	if status, msg := checkUpgrade(r); status != 0 {
		s.m.refusedBad.Add(1)
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		if status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodGet)
		}
		httpRefuse(w, status, msg)
		return
	}
	if origin := r.Header.Get("Origin"); !s.origins.allowed(origin, r.Host) {
		s.m.refusedOrigin.Add(1)
		s.log.Debug().Str(keyOrigin, origin).Str(keyRemote, r.RemoteAddr).Msg("origin refused")
		httpRefuse(w, http.StatusForbidden, "origin not allowed")
		return
	}
	// The per-address limits: refused before any upgrade work. Admitted,
	// the connection counts against its address until the session ends.
	addr := remoteAddr(r)
	if ref := s.admit.admit(addr, time.Now()); ref != nil {
		if ref.rate {
			s.m.refusedIPRate.Add(1)
		} else {
			s.m.refusedIPConns.Add(1)
		}
		w.Header().Set("Retry-After", ref.retryAfter)
		httpRefuse(w, ref.status, ref.body)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.admit.release(addr)
		httpRefuse(w, http.StatusInternalServerError, "connection cannot be upgraded")
		return
	}
	raw, brw, err := hj.Hijack()
	if err != nil {
		s.admit.release(addr)
		s.log.Debug().Err(err).Msg("hijack failed")
		return
	}
	if brw.Reader.Buffered() > 0 {
		// RFC 6455 4.1: the client must wait for the handshake response
		// before it sends frames.
		s.admit.release(addr)
		s.m.refusedBad.Add(1)
		_, _ = raw.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		_ = raw.Close()
		return
	}
	s.upgrade(raw, r, addr)
}

// upgrade wraps the hijacked connection, completes the handshake and starts
// the session's two goroutines. addr was admitted: it is released here on
// failure, else when the session ends.
func (s *Server) upgrade(raw net.Conn, r *http.Request, addr netip.Addr) {
	tcp := raw
	if tc, ok := raw.(*tls.Conn); ok {
		tcp = tc.NetConn()
	}
	if tc, ok := tcp.(*net.TCPConn); ok && s.cfg.SendBufferBytes > 0 {
		_ = tc.SetWriteBuffer(s.cfg.SendBufferBytes)
	}
	id := s.nextID.Add(1)
	sess := &session{
		srv:        s,
		id:         id,
		remote:     r.RemoteAddr,
		addr:       addr,
		done:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	sess.log = s.log.With().Uint64(keySession, id).Str(keyRemote, r.RemoteAddr).Logger()
	sess.out.init(raw, !s.cfg.QueuedWrites, s.cfg.SlowConsumerAfter, s.cfg.CloseLinger, &s.m, sess.slowConsumer)
	sock := &sockConn{Conn: raw, sess: sess, out: &sess.out, linger: s.cfg.CloseLinger}
	sess.sock = sock
	// gws reads frames through readGuard, which keeps Go error texts out of
	// the close frames gws writes on a read error (admit.go).
	conn, err := s.upgrader.UpgradeFromConn(sock, bufio.NewReaderSize(readGuard{sess}, 4096), r)
	if err != nil {
		// gws wrote a 400 and "closed" the socket (a half-close): end it.
		s.admit.release(addr)
		s.m.refusedBad.Add(1)
		sess.log.Debug().Err(err).Msg("upgrade failed")
		sock.finish()
		return
	}
	sess.conn = conn
	sock.upgraded.Store(true)
	_ = sock.SetReadDeadline(time.Now().Add(s.cfg.HelloTimeout))

	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		s.m.refusedStopping.Add(1)
		sess.closeNow(CloseGoingAway, reasonShutdown)
		sock.finish()
		s.admit.release(addr)
		return
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.m.upgrades.Add(1)
	s.m.sessions.Add(1)
	sess.log.Debug().Msg("session open")

	go func() {
		pprof.SetGoroutineLabels(s.labels)
		sess.writeLoop()
	}()
	go func() {
		pprof.SetGoroutineLabels(s.labels)
		sess.run()
	}()
}

// run is the session's read goroutine: gws's ReadLoop, then the teardown.
func (sess *session) run() {
	s := sess.srv
	defer s.wg.Done()
	func() {
		// A panic outside onMessage (gws, OnPing): the read loop is gone,
		// so the close frame is written here.
		defer func() {
			if r := recover(); r != nil {
				sess.panicked(r)
				sess.closeNow(CloseInternal, reasonInternal)
			}
		}()
		sess.conn.ReadLoop()
	}()
	close(sess.done)
	sess.out.signal() // the writer blocks on wake alone (writeLoop)
	<-sess.writerDone
	// The seat waits for a resume from now on.
	if sess.seat != nil {
		sess.seat.Disconnect()
		sess.seat = nil
	}
	sess.logClose()
	sess.sock.finish()
	s.admit.release(sess.addr)
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.m.sessions.Add(-1)
}

// logClose counts and logs how the session ended.
func (sess *session) logClose() {
	m := &sess.srv.m
	by, code := "server", CloseCode(sess.closeCode.Load())
	var ce *gws.CloseError
	var sc interface{ Uint16() uint16 }
	switch err := sess.closeErr; {
	case code != 0:
		m.serverClosed(code)
	case errors.As(err, &ce):
		by, code = "peer", CloseCode(ce.Code)
		if code == CloseNormal || code == CloseGoingAway {
			m.peerNormal.Add(1)
		} else {
			m.peerOther.Add(1)
		}
	case errors.As(err, &sc):
		// gws closed it while reading (1002 protocol error, 1009 too big).
		code = CloseCode(sc.Uint16())
		m.serverClosed(code)
	default:
		by, code = "transport", 1006
		m.transport.Add(1)
	}
	ev := sess.log.Debug()
	if by == "server" && (code == CloseSlowConsumer || code == CloseInternal) {
		ev = sess.log.Info()
	}
	ev.Uint16(keyCode, uint16(code)).Str(keyBy, by).AnErr(keyReason, cause(sess.closeErr)).Msg("session closed")
}

// checkUpgrade returns an HTTP status and message for a request that is not
// a valid WebSocket upgrade, or 0.
func checkUpgrade(r *http.Request) (int, string) {
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, "websocket upgrade needs GET"
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		return http.StatusBadRequest, "this endpoint speaks websocket only"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return http.StatusUpgradeRequired, "websocket version 13 required"
	}
	if k := r.Header.Get("Sec-WebSocket-Key"); len(k) != 24 {
		return http.StatusBadRequest, "bad Sec-WebSocket-Key"
	}
	return 0, ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func httpRefuse(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Connection", "close")
	http.Error(w, msg, status)
}

// gwsLogger sends gws's own log lines to zerolog.
type gwsLogger struct{ l zerolog.Logger }

func (g gwsLogger) Error(v ...any) { g.l.Error().Msg(fmt.Sprint(v...)) }
