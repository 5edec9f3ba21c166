package ws

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
)

// Authenticator checks the auth token of a Hello (Hello.token) and returns
// the player id it names. It is called on the session's read goroutine,
// concurrently for different sessions. An error refuses the connection with
// Error{unauthorized} and close code 4002.
type Authenticator interface {
	Authenticate(token string) (playerID uint32, err error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(token string) (uint32, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(token string) (uint32, error) { return f(token) }

// ClaimsAuthenticator is an Authenticator that also returns the token's
// verified JSON payload (its claims set). When Config.Auth implements it,
// the session calls AuthenticateClaims instead of Authenticate and hands
// the payload to the Joiner (game.JoinRequest.Claims), which passes it to
// the game with the join. schema/token's *Auth implements it. The session
// keeps no reference to claims after Join returns.
type ClaimsAuthenticator interface {
	Authenticator
	AuthenticateClaims(token string) (playerID uint32, claims []byte, err error)
}

// Config configures a Server. Start from DefaultConfig, set Joiner, and
// check the result with Validate (New does too).
type Config struct {
	// NodeID names this node in logs and fills Welcome.node_id when the
	// Joiner leaves it empty.
	NodeID string
	// Joiner seats players after their Hello. Required.
	Joiner game.Joiner
	// Auth, when set, must accept Hello.token; nil lets guests in (player
	// id 0, the Joiner assigns one).
	Auth Authenticator
	// AllowedOrigins is the Origin allow-list (see ParseOrigins for the
	// entry forms). Empty: same origin plus localhost on any port.
	AllowedOrigins []string

	// MaxMessageSize is the largest client message in bytes; a bigger one
	// closes the session with 1009. 64..1 MiB, default 4 KiB.
	MaxMessageSize int
	// MaxSnapshotSize is the largest server message; SendSnapshot drops
	// (and counts) a bigger one. 1 KiB..16 MiB, default 1 MiB.
	MaxSnapshotSize int
	// HelloTimeout is how long a new session may take to send its Hello
	// before it is closed with 1008. Default 5 s.
	HelloTimeout time.Duration
	// JoinTimeout bounds Joiner.Join. Default 5 s.
	JoinTimeout time.Duration
	// PingInterval is how often the server pings each session. Default 5 s.
	PingInterval time.Duration
	// PeerTimeout: a session from which nothing (message, ping, pong) has
	// arrived for this long is closed with 1001 "heartbeat timeout". Must be
	// longer than PingInterval. Default 15 s.
	PeerTimeout time.Duration
	// SlowConsumerAfter is the write deadline of every write: a peer that
	// has not taken a write (and so a pending snapshot) for this long is a
	// slow consumer and is closed with 4010. Default 2 s.
	SlowConsumerAfter time.Duration
	// CloseLinger is how long a closing socket keeps reading (and
	// discarding) after its close frame, so that unread client data does not
	// turn the close into a TCP reset that would hide the close code.
	// Default 1 s. 0 closes the socket as soon as the close frame is
	// written, and drops what is still queued when the session ends (the
	// close frame among it, on a slow socket).
	CloseLinger time.Duration
	// SendBufferBytes sets SO_SNDBUF on each session's socket. The kernel
	// send buffer is invisible to latest-wins: whatever sits in it is stale
	// by the time it arrives, so it is kept small. 0 leaves the OS default
	// (autotuned, up to megabytes). Default 64 KiB.
	SendBufferBytes int
	// QueuedWrites turns direct writes off: every snapshot then goes
	// through the session's writer goroutine, as on TLS. By default, on a
	// plain TCP socket with nothing queued, the room's goroutine writes the
	// snapshot itself without blocking (see DESIGN.md, "Direct writes").
	QueuedWrites bool

	// Admission limits (admit.go). The source address is the request's TCP
	// peer; IPv6 addresses count by /64. Behind a reverse proxy every
	// client has the proxy's address: set the per-address limits to 0 there
	// and let the proxy limit.

	// MaxConnsPerIP caps the open connections from one source address
	// (sessions, and upgrades under way). One more is refused before the
	// upgrade with HTTP 503, Retry-After: 5 and the body "too many
	// connections from this address", counted in
	// ticksync_ws_upgrades_total{result="conns_per_ip"}. 0: no limit.
	// Default 64: a household or an office behind one NAT fits, and one
	// address can hold at most 64 snapshot streams (at 30 Hz about 7% of a
	// core); tools/capacity and bot swarms from one machine set 0. Node
	// flag -max-conns-per-ip.
	MaxConnsPerIP int
	// MaxUpgradesPerIP caps the upgrade requests from one source address
	// per second, with bursts of twice as many (a token bucket). One more is
	// refused before the upgrade with HTTP 429, Retry-After: 1 and the body
	// "too many connection attempts from this address", counted in
	// ticksync_ws_upgrades_total{result="upgrades_per_ip"}. 0: no limit.
	// Default 100 (ticksync-bots ramps 200 bots in its default 2 s). Node
	// flag -max-upgrades-per-ip.
	MaxUpgradesPerIP int
	// MaxMessageRate caps the messages a session may send per second
	// (binary and text frames and WebSocket pings, averaged by a token
	// bucket that holds one second's worth). Over it the session is closed
	// with Error rate limited and close code 4012, counted in
	// ticksync_ws_rate_limited_total. 0: no limit. Default
	// MessageRateFor(30) = 130: four times the default tick rate plus
	// headroom (a client sends one Input per tick and a Ping a second). A
	// session's budget is never below MessageRateFor(its match's tick rate)
	// once its Welcome is sent, so a node at a higher tick rate cannot cut
	// its honest clients by leaving the default. Node flag -max-msg-rate.
	MaxMessageRate int
	// MaxEventRate caps the game events (ClientEvent messages) a seated
	// session may send per second, averaged by a token bucket that holds
	// MaxEventBurst. Over it the session is closed with Error too many
	// events (17) and close code 4017, counted in
	// ticksync_ws_event_floods_total{cause="rate"}. Events count against
	// MaxMessageRate too. 0: no limit of its own. 0..1000000, default 60.
	MaxEventRate int
	// MaxEventBurst is how many events may arrive at once within
	// MaxEventRate (the bucket's size; a new session starts with it full).
	// 1..1000000 when MaxEventRate is set, default 120.
	MaxEventBurst int

	// Logger receives the package's logs; the zero value logs nothing.
	Logger zerolog.Logger
	// Registerer, when set, gets the package's Prometheus metrics.
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults of the README's close-code table: 4 KiB
// messages, Hello within 5 s, ping every 5 s, silent peers closed after 15 s,
// slow consumers after 2 s; and of the admission limits: 64 connections and
// 100 upgrades a second per source address, 130 messages a second per
// session, of which 60 game events a second (bursts of 120).
func DefaultConfig() Config {
	return Config{
		MaxMessageSize:    4 << 10,
		MaxSnapshotSize:   1 << 20,
		HelloTimeout:      5 * time.Second,
		JoinTimeout:       5 * time.Second,
		PingInterval:      5 * time.Second,
		PeerTimeout:       15 * time.Second,
		SlowConsumerAfter: 2 * time.Second,
		CloseLinger:       time.Second,
		SendBufferBytes:   64 << 10,
		MaxConnsPerIP:     64,
		MaxUpgradesPerIP:  100,
		MaxMessageRate:    MessageRateFor(30),
		MaxEventRate:      60,
		MaxEventBurst:     120,
		Logger:            zerolog.Nop(),
	}
}

// ErrNoJoiner: Config.Joiner is nil.
var ErrNoJoiner = errors.New("joiner is required")

// Validate reports the first field out of its range, saying what is allowed.
func (c Config) Validate() error {
	if c.Joiner == nil {
		return ErrNoJoiner
	}
	if c.MaxMessageSize < 64 || c.MaxMessageSize > 1<<20 {
		return fmt.Errorf("max message size %d: must be 64..%d", c.MaxMessageSize, 1<<20)
	}
	if c.MaxSnapshotSize < 1<<10 || c.MaxSnapshotSize > 16<<20 {
		return fmt.Errorf("max snapshot size %d: must be %d..%d", c.MaxSnapshotSize, 1<<10, 16<<20)
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"hello timeout", c.HelloTimeout},
		{"join timeout", c.JoinTimeout},
		{"ping interval", c.PingInterval},
		{"peer timeout", c.PeerTimeout},
		{"slow consumer after", c.SlowConsumerAfter},
	}
	for _, d := range durations {
		if d.v <= 0 || d.v > time.Hour {
			return fmt.Errorf("%s %v: must be > 0 and <= 1h", d.name, d.v)
		}
	}
	if c.PeerTimeout <= c.PingInterval {
		return fmt.Errorf("peer timeout %v: must be longer than the ping interval %v", c.PeerTimeout, c.PingInterval)
	}
	if c.CloseLinger < 0 || c.CloseLinger > time.Minute {
		return fmt.Errorf("close linger %v: must be 0..1m", c.CloseLinger)
	}
	if c.SendBufferBytes != 0 && (c.SendBufferBytes < 4<<10 || c.SendBufferBytes > 64<<20) {
		return fmt.Errorf("send buffer %d: must be 0 (OS default) or %d..%d", c.SendBufferBytes, 4<<10, 64<<20)
	}
	limits := []struct {
		name string
		v    int
	}{
		{"max conns per ip", c.MaxConnsPerIP},
		{"max upgrades per ip", c.MaxUpgradesPerIP},
		{"max message rate", c.MaxMessageRate},
		{"max event rate", c.MaxEventRate},
	}
	for _, l := range limits {
		if l.v < 0 || l.v > 1_000_000 {
			return fmt.Errorf("%s %d: must be 0 (no limit) or 1..1000000", l.name, l.v)
		}
	}
	if c.MaxEventRate > 0 && (c.MaxEventBurst < 1 || c.MaxEventBurst > 1_000_000) {
		return fmt.Errorf("max event burst %d: must be 1..1000000", c.MaxEventBurst)
	}
	if _, err := newOriginPolicy(c.AllowedOrigins); err != nil {
		return err
	}
	return nil
}
