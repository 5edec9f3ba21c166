// Package httpserver is the node's HTTP listener: one http.Server with sane
// limits, optional TLS, and the mux every HTTP endpoint of the node is
// mounted on (/ws, /healthz, /readyz, /metrics, /, /admin/v1/...).
//
// Data flow: the node (package ticksync) creates the Server, mounts
// handlers with Handle, calls Start (listen, then serve on one goroutine)
// and, on a signal, Shutdown. WebSocket upgrades are hijacked by net/ws and leave this
// package's bookkeeping at the upgrade: Shutdown does not wait for them
// (net/ws.Server.Shutdown does).
//
// TLS (TLS 1.2 minimum) is HTTP/1.1 only: a WebSocket upgrade needs
// HTTP/1.1 (net/ws hijacks the connection), so HTTP/2 is not offered.
package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Server. Start from DefaultConfig.
type Config struct {
	// Addr is host:port to listen on; port 0 picks a free port (see Addr).
	Addr string
	// TLSCertFile and TLSKeyFile, both set, serve https/wss.
	TLSCertFile, TLSKeyFile string
	// ReadHeaderTimeout bounds reading a request's headers, including a
	// WebSocket upgrade request, so a slow client cannot hold a goroutine.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. A WebSocket session sets
	// its own deadlines after the upgrade.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has been idle this
	// long between two requests (a socket and a goroutine each, which idle
	// clients should not hold for long). 1 ms..10 min, default 10 s.
	// Upgraded WebSocket connections are not concerned (net/ws has its own
	// heartbeats).
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request headers.
	MaxHeaderBytes int
	// Logger receives the package's logs.
	Logger zerolog.Logger
	// Name names the listener in the logs: the component field, and the
	// "<name> listening" line (default "http"; a node's separate metrics
	// listener is "metrics").
	Name string
}

// DefaultConfig returns 5 s to read headers, 30 s to read a request, 10 s
// idle, 16 KiB of headers. There is no write timeout: /debug/pprof and
// streaming admin endpoints write for longer, and WebSocket sessions set
// their own write deadlines.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:7350",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       10 * time.Second,
		MaxHeaderBytes:    16 << 10,
		Logger:            zerolog.Nop(),
		Name:              "http",
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("http addr %q: %w", c.Addr, err)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("tls: give both the certificate and the key, or neither")
	}
	if c.ReadHeaderTimeout <= 0 || c.ReadTimeout < 0 {
		return errors.New("timeouts: read header timeout must be > 0, read timeout >= 0")
	}
	// 0 would make net/http fall back to ReadTimeout for idle connections.
	if c.IdleTimeout < time.Millisecond || c.IdleTimeout > 10*time.Minute {
		return fmt.Errorf("idle timeout %v: must be 1ms..10m", c.IdleTimeout)
	}
	if c.MaxHeaderBytes < 1<<10 {
		return fmt.Errorf("max header bytes %d: must be at least 1024", c.MaxHeaderBytes)
	}
	return nil
}

// TLSConfig loads a certificate and key into the server TLS configuration
// (TLS 1.2 minimum, HTTP/1.1 only).
func TLSConfig(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// Server is the node's HTTP listener.
type Server struct {
	cfg  Config
	log  zerolog.Logger
	mux  *http.ServeMux
	srv  *http.Server
	tls  *tls.Config
	ln   net.Listener
	done chan struct{} // closed when the serve goroutine has returned

	mu       sync.Mutex
	started  bool
	stopOnce sync.Once
}

// New validates cfg, loads the TLS key pair if any, and allocates the
// Server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("http config: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = "http"
	}
	s := &Server{
		cfg:  cfg,
		log:  cfg.Logger.With().Str("component", cfg.Name).Logger(),
		mux:  http.NewServeMux(),
		done: make(chan struct{}),
	}
	if cfg.TLSCertFile != "" {
		t, err := TLSConfig(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	s.srv = &http.Server{
		Handler:           s.mux,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		// A non-nil empty map turns HTTP/2 off (see the package doc).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     log.New(debugWriter{s.log}, "", 0),
	}
	return s, nil
}

// Handle mounts h at pattern (http.ServeMux patterns). Call it before Start.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Start listens on Config.Addr and serves on a new goroutine.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("http server: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Addr, err)
	}
	s.ln, s.started = ln, true
	go func() {
		defer close(s.done)
		var err error
		if s.tls != nil {
			err = s.srv.ServeTLS(ln, "", "")
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("http server stopped")
		}
	}()
	s.log.Info().Str("addr", ln.Addr().String()).Bool("tls", s.tls != nil).Msg(s.cfg.Name + " listening")
	return nil
}

// Addr is the address the server listens on (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// TLS reports whether the server serves https/wss.
func (s *Server) TLS() bool { return s.tls != nil }

// Shutdown closes the listener, then waits until the HTTP requests in flight
// are done or ctx ends (hijacked WebSocket connections are not waited for).
// It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		err = s.srv.Shutdown(ctx)
		if started {
			select {
			case <-s.done:
			case <-ctx.Done():
				err = errors.Join(err, ctx.Err())
			}
		}
	})
	return err
}

// Healthz answers 200 "ok" while the process serves HTTP at all.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// Check is one readiness condition: nil when ready.
type Check func() error

// Readyz answers 200 "ready" when every check passes, else 503 with the
// failures, one a line.
func Readyz(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var failed []string
		for _, c := range checks {
			if err := c(); err != nil {
				failed = append(failed, err.Error())
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(strings.Join(failed, "\n") + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}

// debugWriter sends net/http's own log lines (TLS handshake errors from
// scanners and the like) to zerolog at debug level.
type debugWriter struct{ l zerolog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.l.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
