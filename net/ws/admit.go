package ws

import (
	"errors"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ticksync/ticksync/internal/ratelimit"
	"github.com/ticksync/ticksync/schema"
)

// This file holds the admission limits of the endpoint: connections and
// upgrades per source address, refused before the upgrade with a plain HTTP
// status (Config.MaxConnsPerIP, MaxUpgradesPerIP), and the message rate of a
// session, over which it is closed (Config.MaxMessageRate). The source
// address is the TCP peer of the request (RemoteAddr): behind a reverse
// proxy every client has the proxy's address, so there the per-address
// limits belong to the proxy and these are set to 0.

// Refusals before the upgrade: status, Retry-After seconds and body.
const (
	bodyTooManyConns    = "too many connections from this address"
	bodyTooManyUpgrades = "too many connection attempts from this address"
	retryConns          = "5"
	retryUpgrades       = "1"
)

// admission counts the open connections of each source address and the
// upgrade rate of each. Safe for concurrent use.
type admission struct {
	maxConns int32
	rate     *ratelimit.Keyed // nil: no rate limit

	mu    sync.Mutex
	conns map[netip.Addr]int32 // open connections by ratelimit.Source; no zero entries
}

func newAdmission(cfg Config) *admission {
	a := &admission{maxConns: int32(cfg.MaxConnsPerIP), conns: map[netip.Addr]int32{}}
	if n := cfg.MaxUpgradesPerIP; n > 0 {
		a.rate = ratelimit.NewKeyed(float64(n), float64(2*n))
	}
	return a
}

// admit decides about one upgrade request from addr at now. Admitted, the
// connection is counted until release(addr); refused, it returns the
// metric to count and the HTTP answer. The zero addr is not limited.
func (a *admission) admit(addr netip.Addr, now time.Time) (refused *refusal) {
	if !addr.IsValid() {
		return nil
	}
	key := ratelimit.Source(addr)
	if a.rate != nil && !a.rate.Allow(key, now) {
		return &refusalRate
	}
	if a.maxConns <= 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns[key] >= a.maxConns {
		return &refusalConns
	}
	a.conns[key]++
	return nil
}

// release uncounts a connection admit counted.
func (a *admission) release(addr netip.Addr) {
	if !addr.IsValid() || a.maxConns <= 0 {
		return
	}
	key := ratelimit.Source(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.conns[key] - 1; n > 0 {
		a.conns[key] = n
	} else {
		delete(a.conns, key)
	}
}

// refusal is an upgrade refused by a per-address limit.
type refusal struct {
	status     int
	retryAfter string
	body       string
	rate       bool // counted as upgrades_per_ip (else conns_per_ip)
}

var (
	refusalRate  = refusal{status: http.StatusTooManyRequests, retryAfter: retryUpgrades, body: bodyTooManyUpgrades, rate: true}
	refusalConns = refusal{status: http.StatusServiceUnavailable, retryAfter: retryConns, body: bodyTooManyConns}
)

// remoteAddr is the IP of a request's peer, or the zero Addr.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// MessageRateFor returns the MaxMessageRate that suits a tick rate: four
// times the rate plus ten (a client sends one Input per tick and a Ping a
// second; bursts after a stall fit in the bucket, which holds one second).
func MessageRateFor(tickRate int) int { return 4*tickRate + 10 }

// allowMessage takes one message from the session's budget (read
// goroutine: onMessage and OnPing). Over it, the session is closed with
// Error rate limited (close 4012) and false is returned.
func (s *session) allowMessage() bool {
	rate := s.srv.cfg.MaxMessageRate
	if rate <= 0 {
		return true
	}
	rate = max(rate, s.minRate)
	if s.rate.Allow(time.Now(), float64(rate), float64(rate)) {
		return true
	}
	if !s.closing.Load() {
		s.srv.m.rateLimited.Add(1)
		s.log.Info().Int(keyLimit, rate).Msg("message rate exceeded: closing")
		s.refuse(schema.ErrCodeRateLimited)
	}
	return false
}

// seated raises the session's message budget to what its match's tick
// rate needs (read goroutine, once the Welcome is known): a client that
// sends one Input per tick is never cut, whatever MaxMessageRate says.
func (s *session) seated(tickRate uint16) {
	s.minRate = MessageRateFor(int(tickRate))
	s.rate = ratelimit.Bucket{} // a full budget at the new rate
}

// readGuard is the reader gws reads a session's frames from (through a
// bufio.Reader). It keeps two things gws would do on a read error from
// reaching the client: gws answers any read error with a close frame 1000
// whose reason is the error's text (an address, a Go error string), unless
// a close frame was written already.
//
//   - When the read deadline fires while this package has decided a close
//     that the writer has not written yet (an Error and its 4000+N close
//     are queued: a Join that outlived the Hello deadline), it keeps
//     reading, in short steps and for at most the writer's own write
//     deadline, until the writer has written it. The client then gets the
//     Error and its close code, not gws's 1000.
//   - Any read error that still reaches gws carries a fixed text.
type readGuard struct{ sess *session }

// pendingCloseStep is how long readGuard reads again while a decided close
// is on its way.
const pendingCloseStep = 50 * time.Millisecond

func (g readGuard) Read(p []byte) (int, error) {
	sock := g.sess.sock
	n, err := sock.Read(p)
	if err == nil {
		return n, nil
	}
	if n == 0 && isTimeout(err) {
		limit := time.Now().Add(sock.out.timeout + sock.out.timeout/4 + pendingCloseStep)
		for n == 0 && err != nil && isTimeout(err) && g.closePending() && time.Now().Before(limit) {
			_ = sock.SetReadDeadline(time.Now().Add(pendingCloseStep))
			n, err = sock.Read(p)
		}
		if err == nil {
			return n, nil
		}
	}
	return n, &readError{err: err}
}

// closePending reports whether this package decided a close the writer has
// not written yet.
func (g readGuard) closePending() bool {
	return g.sess.closeCode.Load() != 0 && g.sess.out.closeUnwritten()
}

// readError is a read error as gws sees it: its text is fixed (gws sends
// it as a close reason), the cause stays reachable for our own logs.
type readError struct{ err error }

func (e *readError) Error() string { return reasonConnLost }
func (e *readError) Unwrap() error { return e.err }

// cause returns the error under a readError, for logs.
func cause(err error) error {
	var re *readError
	if errors.As(err, &re) {
		return re.err
	}
	return err
}
