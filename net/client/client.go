package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/schema"
)

// Log keys.
const (
	logKeyURL       = "url"
	logKeyPlayer    = "player"
	logKeyMatch     = "match"
	logKeyAttempt   = "attempt"
	logKeyDowntime  = "downtime"
	logKeyErr       = "error"
	logKeyRedirect  = "redirect"
	logKeyResumed   = "resumed"
	logKeyReconnect = "reconnect"
	logKeyComponent = "component"
)

// Client is one player's connection to a ticksync cluster. Create it with
// Dial; it owns one goroutine (gws's read loop, which also dials and
// reconnects) until Close, Stop, Leave, the Dial context's cancellation or
// a terminal error ends it.
//
// SendInput, SendEvent, Ping, Leave, Stop, Close, Stats, Welcome, AckTick,
// EventAck, PendingEvents, Schema and Err are safe to call from any
// goroutine. World is owned by the client's goroutine: read it only inside
// Handler methods.
type Client struct {
	cfg   Config
	log   zerolog.Logger
	h     Handler
	eh    EventHandler // h, when it implements EventHandler; else nil
	epoch time.Time    // base of Ping's client_time
	// game is the game's side: schema, worlds, events. Its fields say
	// which goroutine or lock owns them.
	game       *gameState
	maxPending int // Config.MaxPendingEvents, defaulted

	ctx    context.Context // cancelled by Stop (and by the Dial context)
	cancel context.CancelFunc
	// stopCtxWatch unregisters the AfterFunc that stops the client when the
	// Dial context ends.
	stopCtxWatch func() bool
	done         chan struct{} // closed when the goroutine has exited
	err          error         // why it ended; written before done closes

	// Owned by the client's goroutine.
	msg           schema.ServerMessage // reused for every received message
	sess          session              // the current connection attempt
	hello         schema.Hello         // sent on every connection
	helloEnc      *schema.Encoder
	gapBase       uint32    // tick of the previous snapshot (gap counting); 0: none
	dropAt        time.Time // when the last session dropped
	resumePending bool      // a resume Welcome came; the next snapshot ends the downtime
	readDL        time.Time // when the read deadline was last pushed
	ready         chan error
	playerID      uint32
	// stallWin is the stall window of the newest Welcome (0: no watch;
	// ReadTimeout applies); stalledURL the URL of a connection that
	// stalled, until the next Welcome: attempts on it are bounded by
	// stallWin.
	stallWin   time.Duration
	stalledURL string

	// The write side, guarded by wmu.
	wmu      sync.Mutex
	ws       *gws.Conn // current connection; nil between connections
	joined   bool      // ws got its Welcome: inputs may go
	stopping bool
	enc      *schema.Encoder
	seq      uint32    // seq of the last input written
	writeDL  time.Time // when the write deadline was last pushed

	// Readable from any goroutine.
	ack       atomic.Uint32 // the newest snapshot tick taken (the ack of the next input)
	lastSeq   atomic.Uint32 // Snapshot.LastInputSeq of the newest snapshot
	evAck     atomic.Uint32 // newest server event seq received (Input.event_ack)
	evPending atomic.Int32  // len(game.pending)
	stats     counters

	welcomeMu sync.Mutex
	welcome   schema.Welcome // strings cloned
}

// session is the state of one connection attempt, owned by the client's
// goroutine and reset before each attempt.
type session struct {
	url        string
	ws         *gws.Conn
	joined     bool      // a Welcome arrived
	resumeSent bool      // the Hello carried a resume token
	deadline   time.Time // the attempt's dial deadline: the Welcome is due by then
	redirect   string    // a Redirect arrived: its url
	serverErr  *ServerError
	localErr   error // a reason of ours to close (protocol violation, panic)
	closeErr   error // what gws reported in OnClose
}

// Dial connects to the cluster, sends the Hello and returns once the server
// has seated the player (Welcome). It tries cfg.URLs in order, moving on when
// one fails with a network error or a temporary refusal, and follows
// Redirects. A refusal (bad token, match full, ...) is returned as a
// *ServerError; an HTTP refusal of the upgrade as an *HTTPError.
//
// ctx bounds the whole life of the client, not only the dial: cancelling it
// closes the client as Stop does. Each connection attempt is bounded by
// cfg.DialTimeout.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Schema != nil && cfg.Codec == nil {
		codec, err := GameCodec(cfg.Schema)
		if err != nil {
			return nil, err
		}
		cfg.Codec = codec
	}
	c := newClient(cfg)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.stopCtxWatch = context.AfterFunc(ctx, c.Stop)
	ready := c.ready // the goroutine clears c.ready after its report
	go c.run()
	select {
	case err := <-ready:
		if err != nil {
			<-c.done
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		return c, nil
	case <-c.done:
		// Stopped (the context) before the first report.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, c.err
	}
}

func newClient(cfg Config) *Client {
	h := cfg.Handler
	if h == nil {
		h = NopHandler{}
	}
	c := &Client{
		cfg:      cfg,
		log:      cfg.Logger.With().Str(logKeyComponent, "client").Logger(),
		h:        h,
		epoch:    time.Now(),
		done:     make(chan struct{}),
		ready:    make(chan error, 1),
		helloEnc: schema.NewEncoder(256),
		enc:      schema.NewEncoder(128),
		hello: schema.Hello{
			Token:   cfg.Token,
			MatchID: cfg.MatchID,
			Name:    cfg.Name,
			Game:    cfg.Game,
		},
	}
	c.eh, _ = h.(EventHandler)
	c.maxPending = cfg.MaxPendingEvents
	if c.maxPending == 0 {
		c.maxPending = DefaultMaxPendingEvents
	}
	c.game = &gameState{schema: cfg.Schema, codec: cfg.Codec}
	c.hello.Join = cfg.JoinPayload
	if cfg.Schema != nil {
		c.hello.SchemaHash = cfg.Schema.HashString()
	}
	return c
}

// SendInput sends one input. It sets in.Seq (one more than the last input
// sent; it keeps counting across reconnects), in.AckTick (the newest
// snapshot tick applied, the server's delta baseline) and in.EventAck (the
// newest server event seq received); the other fields are the caller's,
// TargetTick included. The game's input goes in in.Data: a finished buffer
// of the schema's input table (the node refuses one that does not verify;
// empty: the game's zero input). It writes one binary frame and returns when the frame is written
// (bounded by WriteTimeout).
//
// It is safe to call from any goroutine, but inputs are meant to come from
// one goroutine at a time (their seq order is the order of the calls);
// it may run while the client's goroutine reads. While the client is
// between connections it returns ErrNotConnected and the input takes no
// seq; after the client ended, ErrClosed. A write that fails (the
// connection just broke) returns an error wrapping ErrNotConnected and takes
// no seq either.
func (c *Client) SendInput(in schema.Input) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	in.Seq = c.seq + 1
	in.AckTick = c.ack.Load()
	in.EventAck = c.evAck.Load()
	if err := c.writeLocked(c.enc.Input(&in)); err != nil {
		return err
	}
	c.seq = in.Seq
	c.stats.inputs.Add(1)
	return nil
}

// Ping sends a Ping; the Pong goes to Handler.OnPong with the round trip.
// Safe from any goroutine.
func (c *Client) Ping() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	return c.writeLocked(c.enc.Ping(uint64(time.Since(c.epoch))))
}

// Leave gives the seat up (the server frees it at once, no resume), then
// closes like Close. Safe from any goroutine except the client's own
// (Handler methods): it waits for that goroutine to end.
func (c *Client) Leave() error {
	c.wmu.Lock()
	var err error
	if c.ws != nil && c.joined && !c.stopping {
		err = c.writeLocked(c.enc.Leave())
	}
	c.wmu.Unlock()
	c.Close()
	return err
}

// Close closes the connection with 1000, stops reconnecting and waits for
// the client's goroutine to end. The seat stays held on the server for its
// resume grace; use Leave to give it up. Idempotent; it must not be called
// from Handler methods (use Stop there).
func (c *Client) Close() error {
	c.Stop()
	<-c.done
	return nil
}

// Stop is Close without the wait: it writes the close frame (1000) and
// returns; Done is closed when the client's goroutine has ended. Safe from
// any goroutine, Handler methods included.
func (c *Client) Stop() {
	c.cancel()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stopping {
		return
	}
	c.stopping = true
	if c.ws != nil {
		// A short deadline: a server that stopped reading must not hold
		// Close for a whole WriteTimeout.
		_ = c.ws.SetWriteDeadline(time.Now().Add(min(c.cfg.WriteTimeout, time.Second)))
		c.writeDL = time.Time{}
		_ = c.ws.WriteClose(1000, nil)
	}
}

// Done is closed when the client's goroutine has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client ended (ErrClosed after Close), or nil while it runs.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Welcome returns the newest Welcome (player id, entity id, match, node, ...).
func (c *Client) Welcome() schema.Welcome {
	c.welcomeMu.Lock()
	defer c.welcomeMu.Unlock()
	return c.welcome
}

// AckTick is the newest snapshot tick applied, as the next input will carry
// it. Safe from any goroutine.
func (c *Client) AckTick() uint32 { return c.ack.Load() }

// LastInputSeq is the last input seq the server reported as processed (from
// the newest snapshot). Safe from any goroutine.
func (c *Client) LastInputSeq() uint32 { return c.lastSeq.Load() }

// InputSeq is the seq of the last input sent. Safe from any goroutine.
func (c *Client) InputSeq() uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.seq
}

func (c *Client) writableLocked() error {
	switch {
	case c.stopping:
		return ErrClosed
	case c.ws == nil || !c.joined:
		return ErrNotConnected
	}
	return nil
}

// writeLocked writes one binary frame on the current connection; wmu held.
func (c *Client) writeLocked(b []byte) error {
	c.pushWriteDeadlineLocked()
	if err := c.ws.WriteMessage(gws.OpcodeBinary, b); err != nil {
		// The connection is broken (gws closes it on a write error, and the
		// read loop then ends): to the caller this is a reconnect in
		// progress.
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	c.stats.bytesOut.Add(uint64(len(b)))
	c.stats.msgsOut.Add(1)
	return nil
}

// pushWriteDeadlineLocked keeps the write deadline at least 3/4 of
// WriteTimeout ahead while moving it at most four times per WriteTimeout
// (each move re-arms a runtime timer; once per input would be wasted work).
func (c *Client) pushWriteDeadlineLocked() {
	now := time.Now()
	if now.Sub(c.writeDL) < c.cfg.WriteTimeout/4 {
		return
	}
	c.writeDL = now
	_ = c.ws.SetWriteDeadline(now.Add(c.cfg.WriteTimeout))
}

// pushReadDeadline does the same for reads; client goroutine only. With
// the stall watch on, a seated connection's read deadline is the stall
// deadline instead (pushStallDeadline).
func (c *Client) pushReadDeadline(ws *gws.Conn) {
	now := time.Now()
	if now.Sub(c.readDL) < c.cfg.ReadTimeout/4 {
		return
	}
	c.readDL = now
	_ = ws.SetReadDeadline(now.Add(c.cfg.ReadTimeout))
}

// pushStallDeadline moves the read deadline of a seated connection to
// stallWin + stallWin/8 from now, at most eight times per stallWin, on each
// snapshot: the deadline passes between stallWin and 9/8 stallWin after
// the last snapshot. Client goroutine only.
func (c *Client) pushStallDeadline(ws *gws.Conn) {
	now := time.Now()
	if now.Sub(c.readDL) < c.stallWin/8 {
		return
	}
	c.readDL = now
	_ = ws.SetReadDeadline(now.Add(c.stallWin + c.stallWin/8))
}

// stallWindow is the stall window for a Welcome with tickRate: at least
// StallTimeout and stallTickPeriods ticks; 0 (off) when the watch is off or
// the window reaches ReadTimeout.
func (c *Client) stallWindow(tickRate uint16) time.Duration {
	w := c.cfg.StallTimeout
	if w <= 0 {
		return 0
	}
	if tickRate > 0 {
		w = max(w, stallTickPeriods*time.Second/time.Duration(tickRate))
	}
	if w >= c.cfg.ReadTimeout {
		return 0
	}
	return w
}

func (c *Client) setWelcome(w *schema.Welcome) {
	c.welcomeMu.Lock()
	c.welcome = schema.Welcome{
		SessionID:   strings.Clone(w.SessionID),
		ResumeToken: strings.Clone(w.ResumeToken),
		PlayerID:    w.PlayerID,
		EntityID:    w.EntityID,
		TickRate:    w.TickRate,
		ServerTick:  w.ServerTick,
		NodeID:      strings.Clone(w.NodeID),
		MatchID:     strings.Clone(w.MatchID),
		Game:        strings.Clone(w.Game),
		SchemaHash:  strings.Clone(w.SchemaHash),
		EventSeq:    w.EventSeq,
	}
	c.hello.ResumeToken = c.welcome.ResumeToken
	c.welcomeMu.Unlock()
}
