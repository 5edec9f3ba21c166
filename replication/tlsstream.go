package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// The TLS application protocols (ALPN) of the cluster port: a connection
// negotiates one, and the port routes it by that. RaftALPN goes to Raft's
// transport, PeerALPN to the node-to-node HTTP server (HTTP/1.1 inside).
// Nothing else is served.
const (
	RaftALPN = "ticksync-raft/1"
	PeerALPN = "ticksync-peer/1"
)

// Defaults of ClusterTLS's zero fields.
const (
	defaultHandshakeTimeout = 5 * time.Second
	defaultMaxHandshakes    = 64
	handshakeLogEvery       = 10 * time.Second
)

// ClusterTLS runs the Raft transport and the node-to-node API over mutual
// TLS on one port. Build the configs with tools/certs
// (NodeTLS.ServerConfig, NodeTLS.ClientConfig("") and NodeTLS.ClientConfig
// as ClientFor, certs.PeerNodeID as PeerID); the stream layer adds the ALPN
// protocols and, for a client config that checks host names, the server
// name of each dial.
type ClusterTLS struct {
	// Server is the config of the Raft listener. It must require and verify
	// client certificates (tls.RequireAndVerifyClientCert) and have a
	// certificate. (A config returned by its GetConfigForClient must set
	// NextProtos to RaftALPN itself.)
	Server *tls.Config
	// Client is the config of Raft's dials (any node of the cluster may
	// answer). It must have a certificate to present.
	Client *tls.Config
	// ClientFor returns the config of a dial that must reach node id: the
	// handshake fails unless the server's certificate names id. Every
	// node-to-node HTTP call uses one (a client per peer id), so that
	// nothing is sent to an address taken from Raft state before the peer
	// proved who it is. Required.
	ClientFor func(id string) *tls.Config
	// PeerID returns the node id in the certificate of a connection's peer,
	// which the handshake verified (certs.PeerNodeID). The node-to-node
	// handlers check every claim of a request against it. Required.
	PeerID func(tls.ConnectionState) (string, error)
	// HandshakeTimeout bounds the handshake of an accepted connection
	// (0: 5 s). A dial's handshake is bounded by Raft's dial timeout (the
	// transport timeout).
	HandshakeTimeout time.Duration
	// MaxHandshakes bounds the handshakes of accepted connections in
	// progress at once (0: 64); a connection beyond it is closed at once
	// and counted as a failed handshake.
	MaxHandshakes int
	// HandshakeFailed, if set, is called after every failed handshake,
	// inbound (accepted) or outbound (dialled), on the goroutine that ran
	// it; it must be quick and safe for concurrent use (count with it).
	// Handshakes cut short by the stream's Close are not reported.
	HandshakeFailed func(inbound bool, err error)
}

func (c *ClusterTLS) validate() error {
	var errs []error
	if c.Server == nil {
		errs = append(errs, errors.New("cluster tls: server config missing"))
	} else {
		if c.Server.ClientAuth != tls.RequireAndVerifyClientCert {
			errs = append(errs, fmt.Errorf("cluster tls: server config client auth %s: must be RequireAndVerifyClientCert", c.Server.ClientAuth))
		}
		if len(c.Server.Certificates) == 0 && c.Server.GetCertificate == nil && c.Server.GetConfigForClient == nil {
			errs = append(errs, errors.New("cluster tls: server config has no certificate"))
		}
	}
	if c.Client == nil {
		errs = append(errs, errors.New("cluster tls: client config missing"))
	} else if len(c.Client.Certificates) == 0 && c.Client.GetClientCertificate == nil {
		errs = append(errs, errors.New("cluster tls: client config has no certificate (the other nodes require one)"))
	}
	if c.ClientFor == nil {
		errs = append(errs, errors.New("cluster tls: client-for (the config of a dial to a given node) missing"))
	}
	if c.PeerID == nil {
		errs = append(errs, errors.New("cluster tls: peer id (the node id of a verified peer) missing"))
	}
	if c.HandshakeTimeout < 0 || c.HandshakeTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("cluster tls: handshake timeout %s: must be 0 (5s) or up to 1m", c.HandshakeTimeout))
	}
	if c.MaxHandshakes < 0 || c.MaxHandshakes > 1<<16 {
		errs = append(errs, fmt.Errorf("cluster tls: max handshakes %d: must be 0 (64) up to 65536", c.MaxHandshakes))
	}
	return errors.Join(errs...)
}

var (
	errTooManyHandshakes = errors.New("too many handshakes in progress")
	errWrongALPN         = errors.New("peer did not negotiate " + RaftALPN + " or " + PeerALPN)
)

// tlsStream is Raft's stream layer over mutual TLS, on top of tcpStream
// (whose source-address rules its dials keep).
//
// Accept returns only connections whose handshake succeeded: an accept
// goroutine takes raw connections off the listener and runs each handshake
// on a goroutine of its own, bounded by HandshakeTimeout and MaxHandshakes,
// so a peer that connects and never speaks holds one goroutine for at most
// HandshakeTimeout and never Raft's accept loop. A handshake that
// negotiated RaftALPN goes to Accept, one that negotiated PeerALPN to the
// peer listener (Peers), whose Accept the node-to-node HTTP server calls.
// Dial handshakes before it returns. Close stops the accept goroutine and
// the handshakes in progress and waits for them.
type tlsStream struct {
	tcp     *tcpStream
	server  *tls.Config
	client  *tls.Config
	timeout time.Duration
	failed  func(bool, error)
	log     zerolog.Logger
	logs    rateLimit

	ready     chan *tls.Conn // handshaken Raft connections for Accept
	peerReady chan *tls.Conn // handshaken node-to-node HTTP connections for peers.Accept
	acceptErr chan error     // listener errors for Accept
	sem       chan struct{}  // handshakes in progress
	peers     peerListener

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the accept goroutine and the handshakes
}

var _ raft.StreamLayer = (*tlsStream)(nil)

// newTLSStream wraps tcp in mutual TLS and starts the accept goroutine.
// It owns tcp from now on (Close closes it).
func newTLSStream(tcp *tcpStream, c *ClusterTLS, log zerolog.Logger) *tlsStream {
	server := c.Server.Clone()
	server.NextProtos = []string{RaftALPN, PeerALPN}
	client := c.Client.Clone()
	client.NextProtos = []string{RaftALPN}
	s := &tlsStream{
		tcp:       tcp,
		server:    server,
		client:    client,
		timeout:   c.HandshakeTimeout,
		failed:    c.HandshakeFailed,
		log:       log,
		logs:      rateLimit{every: handshakeLogEvery},
		ready:     make(chan *tls.Conn),
		peerReady: make(chan *tls.Conn),
		acceptErr: make(chan error),
	}
	s.peers = peerListener{s: s, closed: make(chan struct{})}
	if s.timeout == 0 {
		s.timeout = defaultHandshakeTimeout
	}
	limit := c.MaxHandshakes
	if limit == 0 {
		limit = defaultMaxHandshakes
	}
	s.sem = make(chan struct{}, limit)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		pprof.Do(s.ctx, pprof.Labels("replication", "raft-tls-accept"), func(context.Context) { s.acceptLoop() })
	}()
	return s
}

// acceptLoop hands every raw connection to a handshake goroutine. A
// listener error goes to Accept (Raft logs it and backs off before it calls
// Accept again, which paces this loop too); a closed listener ends it.
func (s *tlsStream) acceptLoop() {
	for {
		raw, err := s.tcp.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				s.cancel() // closed under us: Accept reports the stream closed
				return
			}
			select {
			case s.acceptErr <- err:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		select {
		case s.sem <- struct{}{}:
		default:
			s.fail(true, raw.RemoteAddr(), errTooManyHandshakes)
			_ = raw.Close()
			continue
		}
		s.wg.Add(1)
		go s.handshake(raw)
	}
}

// handshake runs the server side of one handshake and passes the
// connection to Accept.
func (s *tlsStream) handshake(raw net.Conn) {
	defer s.wg.Done()
	conn := tls.Server(raw, s.server)
	ctx, cancel := context.WithTimeout(s.ctx, s.timeout)
	err := conn.HandshakeContext(ctx)
	cancel()
	<-s.sem
	to, peerClosed := s.ready, (<-chan struct{})(nil)
	if err == nil {
		switch conn.ConnectionState().NegotiatedProtocol {
		case RaftALPN:
		case PeerALPN:
			to, peerClosed = s.peerReady, s.peers.closed
		default:
			err = errWrongALPN
		}
	}
	if err != nil {
		if s.ctx.Err() == nil {
			s.fail(true, raw.RemoteAddr(), err)
		}
		_ = raw.Close()
		return
	}
	select {
	case to <- conn:
	case <-peerClosed: // the node-to-node server stopped (shutdown)
		_ = conn.Close()
	case <-s.ctx.Done():
		_ = conn.Close()
	}
}

// Accept returns the next connection whose handshake succeeded. Called by
// Raft's accept loop.
func (s *tlsStream) Accept() (net.Conn, error) {
	if s.ctx.Err() != nil {
		return nil, net.ErrClosed
	}
	select {
	case c := <-s.ready:
		return c, nil
	case err := <-s.acceptErr:
		return nil, err
	case <-s.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Dial connects to a Raft peer and runs the client side of the handshake,
// both within timeout.
func (s *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	raw, err := s.tcp.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	cfg := s.client
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(string(addr)); err == nil {
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
	}
	conn := tls.Client(raw, cfg)
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	err = conn.HandshakeContext(ctx)
	cancel()
	if err == nil && conn.ConnectionState().NegotiatedProtocol != RaftALPN {
		err = errWrongALPN
	}
	if err != nil {
		if s.ctx.Err() == nil {
			s.fail(false, raw.RemoteAddr(), err)
		}
		_ = raw.Close()
		return nil, fmt.Errorf("raft tls handshake with %s: %w", addr, err)
	}
	return conn, nil
}

// Addr is the address peers dial (the advertised one if set).
func (s *tlsStream) Addr() net.Addr { return s.tcp.Addr() }

// Close stops accepting, interrupts the handshakes in progress, closes
// connections handshaken but not yet accepted, and waits for its
// goroutines. Connections already returned are Raft's to close. Idempotent.
func (s *tlsStream) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.closeErr = s.tcp.Close()
		s.wg.Wait()
	})
	return s.closeErr
}

// Peers is the listener of the node-to-node HTTP connections (PeerALPN).
// Its Close stops only it; the stream's Close stops it too.
func (s *tlsStream) Peers() net.Listener { return &s.peers }

// peerListener hands the handshaken PeerALPN connections of a tlsStream to
// an http.Server.
type peerListener struct {
	s         *tlsStream
	closed    chan struct{}
	closeOnce sync.Once
}

// Accept returns the next node-to-node connection: a *peerConn over a
// *tls.Conn whose handshake is done.
func (p *peerListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.s.peerReady:
		return &peerConn{Conn: c, State: c.ConnectionState()}, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-p.s.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close stops Accept; connections handshaken later are closed.
func (p *peerListener) Close() error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

func (p *peerListener) Addr() net.Addr { return p.s.Addr() }

// peerConn is a node-to-node connection of the cluster port, handshaken.
// It hides the *tls.Conn from net/http, whose server closes a TLS
// connection that negotiated an ALPN protocol it has no handler for; State
// is what the handshake established (the peer's verified certificate).
type peerConn struct {
	net.Conn
	State tls.ConnectionState
}

// fail reports a failed handshake to the hook and the log (rate-limited).
func (s *tlsStream) fail(inbound bool, remote net.Addr, err error) {
	if s.failed != nil {
		s.failed(inbound, err)
	}
	ok, dropped := s.logs.allow(time.Now())
	if !ok {
		return
	}
	dir := "outbound"
	if inbound {
		dir = "inbound"
	}
	s.log.Warn().Err(err).Str(keyKind, dir).Stringer(keyAddr, remote).Int(keyCount, dropped).
		Msg("raft tls handshake failed (count: failures not logged since the last one)")
}

// rateLimit lets one event through per interval and counts the others.
type rateLimit struct {
	every time.Duration

	mu      sync.Mutex
	next    time.Time
	dropped int
}

// allow reports whether an event at now may be logged, and how many were
// dropped since the last one that was.
func (r *rateLimit) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.next) {
		r.dropped++
		return false, 0
	}
	d := r.dropped
	r.dropped = 0
	r.next = now.Add(r.every)
	return true, d
}
