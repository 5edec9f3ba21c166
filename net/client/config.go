package client

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// Config configures a Client. Start from DefaultConfig and change what you
// need; Dial validates it.
type Config struct {
	// URLs are the game endpoints of the cluster's nodes, e.g.
	// ws://127.0.0.1:7350/ws or wss://n1.example.com/ws, or the one address
	// of a proxy in front of them. Dial tries them in order and moves on to
	// the next when one fails; reconnects try the URL of the lost connection
	// first, then the others. A lost URL that is not among these (a Redirect
	// led there) is tried once only, then these.
	URLs []string

	// Origin is sent in the upgrade request. Empty: http://host (https://host
	// for wss) of the URL being dialled, which the server's default
	// allow-list accepts.
	Origin string

	// Hello fields. Token is the auth token (empty: guest); MatchID empty
	// asks matchmaking for a seat; Game empty means the node's default.
	Token   string
	MatchID string
	Name    string
	Game    string

	// Schema is the game's compiled schema (FetchSchema gets it from a
	// node: GET /games/{name}/schema), Codec its delta codec
	// (GameCodec; nil: Dial compiles it from Schema). With a Schema every
	// Hello names its hash, and a node whose match speaks another schema
	// refuses the join (schema mismatch). Without one the client fetches
	// the schema of the game the first Welcome names from the node that
	// sent it (one HTTP request, within DialTimeout) and keeps it; a
	// process running many clients of one game fetches it once and sets it
	// here instead.
	Schema *gameschema.Schema
	Codec  *gamedelta.Codec
	// JoinPayload is the game's join payload sent in every Hello: a
	// finished buffer of the schema's (ticksync_join) table (nil: none).
	// Validate checks it against Schema. The client keeps the slice: do
	// not modify it after Dial.
	JoinPayload []byte
	// MaxPendingEvents bounds the client events sent with SendEvent and not
	// yet acknowledged by the match (they are kept to be re-sent after a
	// resume). SendEvent refuses more with ErrEventQueueFull. 0 means
	// DefaultMaxPendingEvents.
	MaxPendingEvents int

	// TLSConfig is used for wss URLs; nil means the system roots. The client
	// clones it per connection (gws writes ServerName into the config it is
	// given), so one config may be shared by thousands of clients. Set
	// InsecureSkipVerify for self-signed test certificates.
	TLSConfig *tls.Config

	// DialTimeout bounds one connection attempt: TCP, TLS, the upgrade and
	// the wait for the Welcome (or Redirect, or Error).
	DialTimeout time.Duration
	// ReadTimeout: a server silent for this long (no snapshot, no ping) is
	// taken as lost. The server pings every 5 s.
	ReadTimeout time.Duration
	// StallTimeout: a seated connection on which no Snapshot arrives for
	// this long is dropped and resumed exactly as after a connection loss
	// (OnDisconnect with an error wrapping ErrStalled, then the resume),
	// and counted in Stats.Stalls instead of Stats.Drops. A node that froze
	// (SIGSTOP, a hung VM, a wedged process) keeps its TCP connections
	// open, and without this the client would wait ReadTimeout for it. The
	// server sends every seated player a snapshot each tick, changed or
	// not, so silence means that the node or the room stopped.
	//
	// The client watches the time between snapshots, not between any
	// messages: pings keep coming from a live node whose room is stuck. The
	// drop comes between StallTimeout and 9/8 of it after the last snapshot
	// (the read deadline is moved at most eight times per timeout), and
	// never before 8 tick periods of the Welcome's tick rate (at 1 Hz: 8 s).
	// A timeout at or above ReadTimeout leaves ReadTimeout alone in charge.
	//
	// After a stall the node that stalled is tried last (the other URLs
	// first), and every attempt on it, directly or through a Redirect, is
	// bounded by the stall timeout instead of DialTimeout: a stopped
	// process still accepts TCP connections into its listen backlog, but
	// never answers the upgrade.
	//
	// A room is held without ticking, legitimately, while its node is out
	// of touch with the cluster for longer than the owner lease (1 s by
	// default), and while a planned move hands it over (one Raft commit of
	// the final checkpoint: milliseconds). A stall reconnect there costs
	// the player nothing the pause did not: the node refuses the resume
	// while its lease is lost (the client tries the others, which redirect
	// it once the match runs again) or seats the player again in the
	// frozen room, whose Redirect the client then follows. The resume token
	// the frozen room issues is accepted by the new owner because it was
	// issued at least a second after the one in the hand-over's checkpoint:
	// hence the floor of MinStallTimeout.
	//
	// 0 turns the watch off. Default DefaultStallTimeout, 2 s: 60 missed
	// ticks at 30 Hz, longer than a lease pause that heals by itself, and
	// about when the cluster has moved a stopped node's matches
	// (-failover-after, 1.5 s), so the first attempts find the new owner.
	StallTimeout time.Duration
	// WriteTimeout bounds each write; a write that cannot finish in time
	// drops the connection.
	WriteTimeout time.Duration
	// MaxMessageSize is the largest server message accepted.
	MaxMessageSize int
	// MaxRedirects bounds the Redirect hops of one connection attempt.
	MaxRedirects int

	// WorldRing is how many rebuilt worlds the client keeps as delta
	// baselines (the gamedelta.Receiver's history; 1 is taken as 2). 0
	// means DefaultWorldRing (64), which matches the server's history:
	// every delta finds its baseline. Each world costs memory in
	// proportion to its entities, so a process running thousands of
	// clients may keep fewer: the client always acks its newest world, so
	// a ring of R is enough while the input→snapshot round trip stays under
	// R ticks. A delta against a world
	// already dropped is refused (an error wrapping ErrNoBaseline, counted
	// in Stats.ApplyErrors and passed to Handler.OnError) and the following
	// snapshots, encoded against newer acks, apply again.
	WorldRing int
	// SkipWorld: do not rebuild the world. Every message is still verified
	// and decoded, and the client still acks the newest snapshot tick it
	// received (so the server keeps sending deltas), but deltas are not
	// applied and World stays nil. For load generators whose players
	// ignore the world: applying a delta of 64 entities is a noticeable part
	// of such a client's CPU. Delta errors cannot be detected then.
	SkipWorld bool
	// ReadBufferSize is the size of the connection's read buffer (gws's
	// bufio.Reader); 0 means gws's default (4 KiB). Messages larger than
	// the buffer are still read whole; a smaller buffer saves memory per
	// client at the cost of more read calls for large messages.
	ReadBufferSize int

	// Reconnect: after a drop (not Close, not Leave, not a refusal), connect
	// again and resume the seat.
	Reconnect bool
	// BackoffMin and BackoffMax bound the wait before each reconnect
	// attempt while resuming: attempt n waits a uniformly random duration in
	// [d/2, d] with d = min(BackoffMax, BackoffMin·2ⁿ). BackoffMax is the cap
	// that keeps a failover fast: a node's death makes the client cycle
	// through the other URLs (some of which may redirect it to the dead
	// node until the cluster has moved the match), and with the defaults no
	// wait exceeds 500 ms, so the client is back within about half a second
	// of the match running again (the cluster's target is p99 under 2 s).
	BackoffMin time.Duration
	BackoffMax time.Duration
	// ReconnectTimeout: give up reconnecting this long after the drop. The
	// server holds a seat for its resume grace (15 s by default).
	ReconnectTimeout time.Duration
	// RejoinOnRefused: when the server refuses a resume
	// (schema.ErrCodeResumeRefused), join again through matchmaking (or
	// MatchID) as a new player instead of stopping. The worlds are cleared
	// and the input seq starts again at 1.
	RejoinOnRefused bool

	// Handler receives what the client decodes, on the client's goroutine.
	// nil: nothing is delivered (the worlds and Stats are still kept).
	Handler Handler

	// Logger receives connection events (never one line per message).
	Logger zerolog.Logger
}

// Defaults used by DefaultConfig.
const (
	DefaultDialTimeout      = 5 * time.Second
	DefaultReadTimeout      = 15 * time.Second
	DefaultStallTimeout     = 2 * time.Second
	DefaultWriteTimeout     = 5 * time.Second
	DefaultMaxMessageSize   = 1 << 20
	DefaultMaxRedirects     = 3
	DefaultBackoffMin       = 100 * time.Millisecond
	DefaultBackoffMax       = 500 * time.Millisecond
	DefaultReconnectTimeout = 30 * time.Second
	// DefaultMaxPendingEvents is below a node's default event burst (120),
	// so that re-sending a full queue after a resume is never a flood.
	DefaultMaxPendingEvents = 64
)

// MaxMaxPendingEvents bounds Config.MaxPendingEvents.
const MaxMaxPendingEvents = 4096

// MinStallTimeout is the smallest StallTimeout other than 0 (off): see
// StallTimeout on the resume tokens of a room frozen for a hand-over.
const MinStallTimeout = time.Second

// stallTickPeriods is the floor of the stall window in tick periods of the
// Welcome's tick rate: a slow game must miss this many snapshots in a row.
const stallTickPeriods = 8

// DefaultConfig returns a Config with the defaults above, reconnect on, no
// URLs and a no-op logger.
func DefaultConfig() Config {
	return Config{
		DialTimeout:      DefaultDialTimeout,
		ReadTimeout:      DefaultReadTimeout,
		StallTimeout:     DefaultStallTimeout,
		WriteTimeout:     DefaultWriteTimeout,
		MaxMessageSize:   DefaultMaxMessageSize,
		MaxRedirects:     DefaultMaxRedirects,
		WorldRing:        DefaultWorldRing,
		MaxPendingEvents: DefaultMaxPendingEvents,
		Reconnect:        true,
		BackoffMin:       DefaultBackoffMin,
		BackoffMax:       DefaultBackoffMax,
		ReconnectTimeout: DefaultReconnectTimeout,
		Logger:           zerolog.Nop(),
	}
}

// Validate reports the first invalid field, saying what is allowed.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("urls: at least one ws:// or wss:// url is required")
	}
	for _, u := range c.URLs {
		if err := checkURL(u); err != nil {
			return err
		}
	}
	switch {
	case len(c.Token) > schema.MaxTokenLen:
		return fmt.Errorf("token of %d bytes: must be at most %d", len(c.Token), schema.MaxTokenLen)
	case len(c.MatchID) > schema.MaxMatchIDLen:
		return fmt.Errorf("match id of %d bytes: must be at most %d", len(c.MatchID), schema.MaxMatchIDLen)
	case len(c.Name) > schema.MaxNameLen:
		return fmt.Errorf("name of %d bytes: must be at most %d", len(c.Name), schema.MaxNameLen)
	case len(c.Game) > schema.MaxGameLen:
		return fmt.Errorf("game of %d bytes: must be at most %d", len(c.Game), schema.MaxGameLen)
	case c.DialTimeout <= 0:
		return fmt.Errorf("dial timeout %v: must be > 0", c.DialTimeout)
	case c.ReadTimeout <= 0:
		return fmt.Errorf("read timeout %v: must be > 0", c.ReadTimeout)
	case c.StallTimeout != 0 && c.StallTimeout < MinStallTimeout:
		return fmt.Errorf("stall timeout %v: must be 0 (off) or at least %v", c.StallTimeout, MinStallTimeout)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("write timeout %v: must be > 0", c.WriteTimeout)
	case c.MaxMessageSize < 1024:
		return fmt.Errorf("max message size %d: must be at least 1024", c.MaxMessageSize)
	case c.MaxRedirects < 0 || c.MaxRedirects > 16:
		return fmt.Errorf("max redirects %d: must be 0..16", c.MaxRedirects)
	case c.WorldRing < 0 || c.WorldRing > MaxWorldRing:
		return fmt.Errorf("world ring %d: must be 1..%d (0: %d)", c.WorldRing, MaxWorldRing, DefaultWorldRing)
	case c.ReadBufferSize != 0 && (c.ReadBufferSize < 512 || c.ReadBufferSize > 1<<20):
		return fmt.Errorf("read buffer size %d: must be 512..%d (0: gws's default)", c.ReadBufferSize, 1<<20)
	}
	if err := c.validateGame(); err != nil {
		return err
	}
	if c.Reconnect {
		switch {
		case c.BackoffMin <= 0:
			return fmt.Errorf("backoff min %v: must be > 0", c.BackoffMin)
		case c.BackoffMax < c.BackoffMin:
			return fmt.Errorf("backoff max %v: must be >= backoff min %v", c.BackoffMax, c.BackoffMin)
		case c.ReconnectTimeout <= 0:
			return fmt.Errorf("reconnect timeout %v: must be > 0", c.ReconnectTimeout)
		}
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("url %q: %w", s, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return fmt.Errorf("url %q: scheme must be ws or wss", s)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: host is required", s)
	}
	return nil
}

// validateGame checks the game's fields.
func (c *Config) validateGame() error {
	switch {
	case c.Schema == nil && c.Codec != nil:
		return errors.New("codec: needs its schema (Config.Schema)")
	case c.MaxPendingEvents < 0 || c.MaxPendingEvents > MaxMaxPendingEvents:
		return fmt.Errorf("max pending events %d: must be 1..%d (0: %d)", c.MaxPendingEvents, MaxMaxPendingEvents, DefaultMaxPendingEvents)
	case len(c.JoinPayload) > schema.MaxJoinLen:
		return fmt.Errorf("join payload of %d bytes: must be at most %d", len(c.JoinPayload), schema.MaxJoinLen)
	case c.Schema == nil && len(c.JoinPayload) > 0:
		return errors.New("join payload: needs the game's schema (Config.Schema)")
	case c.Schema == nil || c.Codec == nil:
		return nil
	case c.Codec.NumKinds() != len(c.Schema.Entities):
		return fmt.Errorf("codec of %d kinds for a schema of %d entity kinds: compile the codec from the schema's layout", c.Codec.NumKinds(), len(c.Schema.Entities))
	}
	if len(c.JoinPayload) > 0 {
		if err := c.Schema.VerifyJoin(c.JoinPayload); err != nil {
			return fmt.Errorf("join payload: %w", err)
		}
	}
	return nil
}
