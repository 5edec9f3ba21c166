package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// World is a game's world as the client rebuilds it from the snapshots'
// state: the entities in id order, their kinds indexing the schema's
// Entities and their fields the kind's Fields (gameschema field Index ==
// gamedelta field index). It is the gamedelta.World of the game's codec;
// the client's gamedelta.Receiver owns it: read it, do not modify it.
type World = gamedelta.World

// ErrNoBaseline: a delta snapshot names a baseline tick the client does
// not hold (never applied, or fallen out of its ring of Config.WorldRing
// worlds). The client acknowledges its newest world, so the next snapshots
// apply again.
var ErrNoBaseline = errors.New("snapshot baseline not held")

// DefaultWorldRing is the number of worlds a client keeps as delta
// baselines unless Config.WorldRing says otherwise. It matches the
// server's history (sim.Config.History, 64 by default): a server that
// deltas only against acks within its own ring of at most DefaultWorldRing
// ticks always finds its baseline here.
const DefaultWorldRing = 64

// MaxWorldRing bounds Config.WorldRing (the gamedelta.Receiver's history).
const MaxWorldRing = 1024

// EventHandler is implemented by a Handler that wants the game's server
// events. The client calls OnEvent on its goroutine, once per
// event seq, in ascending seq order, across reconnects and resumes: the
// node repeats an event in every snapshot until an input acknowledges it,
// and the client drops the copies. The events a snapshot brings are
// delivered after its state is applied and before Handler.OnSnapshot.
//
// ev.Data is a buffer of the schema's server events wrapper, already
// verified against the schema (Schema.DecodeServerEvent reads it). ev and
// its Data are valid during the call only.
type EventHandler interface {
	OnEvent(c *Client, ev *schema.Event)
}

// gameState is the client's side of the game: its schema, worlds and
// event streams.
type gameState struct {
	// Set once: from Config (newClient), or by the client goroutine on the
	// first Welcome (fetchSchema), before Dial returns.
	schema *gameschema.Schema
	codec  *gamedelta.Codec

	// Client goroutine only.
	rcv       *gamedelta.Receiver // nil with Config.SkipWorld, or before the first Welcome
	rcvPlayer uint32              // the player rcv decodes for (owner-only fields)
	world     *gamedelta.World    // the newest applied world; nil: none
	newest    uint32              // newest snapshot tick taken (applied, or recorded with SkipWorld)
	evRecv    uint32              // newest server event seq delivered

	// Guarded by Client.wmu: the client events not yet acknowledged.
	evSeq   uint32         // seq of the newest client event accepted by SendEvent
	pending []schema.Event // ascending seq; Data owned by the client
}

// receiverHistory is the Receiver history for a world ring of ring.
func receiverHistory(ring int) int {
	if ring <= 0 {
		ring = DefaultWorldRing
	}
	return min(max(ring, 2), 1024)
}

// gameWelcome prepares the state for the session a Welcome opened; client
// goroutine. keep says whether the worlds held remain valid baselines.
func (c *Client) gameWelcome(w *schema.Welcome, newSeat, keep bool) error {
	g := c.game
	if !keep {
		c.resetGameWorlds()
	}
	if newSeat {
		g.evRecv = 0
		c.evAck.Store(0)
	}
	if c.cfg.SkipWorld || (g.rcv != nil && g.rcvPlayer == w.PlayerID) {
		return nil
	}
	r, err := gamedelta.NewReceiver(g.codec, gamedelta.ReceiverConfig{
		Player:      w.PlayerID,
		History:     receiverHistory(c.cfg.WorldRing),
		MaxEntities: gamedelta.DefaultMaxEntities,
	})
	if err != nil {
		return fmt.Errorf("game state: %w", err)
	}
	g.rcv, g.rcvPlayer = r, w.PlayerID
	g.world, g.newest = nil, 0
	return nil
}

// resetGameWorlds forgets every world held (no baseline left).
func (c *Client) resetGameWorlds() {
	g := c.game
	if g.rcv != nil {
		g.rcv.Reset()
	}
	g.world, g.newest = nil, 0
}

// welcomeEventsLocked settles the client events when a session is seated,
// before any other write on it: a new seat drops them (they were meant for
// the old one); a resumed seat drops those the match has applied
// (Welcome.event_seq) and writes the others again, in seq order. wmu held.
func (c *Client) welcomeEventsLocked(applied uint32, newSeat bool) {
	g := c.game
	if newSeat {
		c.stats.eventsDropped.Add(uint64(len(g.pending)))
		clear(g.pending)
		g.pending = g.pending[:0]
		g.evSeq = 0
	}
	c.trimEventsLocked(applied)
	g.evSeq = max(g.evSeq, applied)
	for i := range g.pending {
		if err := c.writeLocked(c.enc.Event(&g.pending[i])); err != nil {
			// The connection broke: the next session re-sends them.
			break
		}
		c.stats.eventsResent.Add(1)
	}
}

// trimEventsLocked drops the pending client events up to seq applied.
func (c *Client) trimEventsLocked(applied uint32) {
	g := c.game
	i := 0
	for i < len(g.pending) && g.pending[i].Seq <= applied {
		i++
	}
	if i > 0 {
		n := copy(g.pending, g.pending[i:])
		clear(g.pending[n:])
		g.pending = g.pending[:n]
	}
	c.evPending.Store(int32(len(g.pending)))
}

// applyState applies a snapshot's state; client goroutine. It returns the
// newest tick held afterwards: sn.Tick when applied, an older tick when sn
// was not newer than it (ignored).
func (c *Client) applyState(sn *schema.Snapshot) (uint32, error) {
	g := c.game
	if sn.Tick <= g.newest {
		return g.newest, nil
	}
	if g.rcv == nil { // SkipWorld: the tick is all we keep
		g.newest = sn.Tick
		return g.newest, nil
	}
	w, err := g.rcv.Apply(sn.Tick, sn.BaselineTick, sn.State)
	switch {
	case errors.Is(err, gamedelta.ErrStale):
		return g.newest, nil
	case errors.Is(err, gamedelta.ErrNoBaseline):
		return g.newest, fmt.Errorf("%w: %w", ErrNoBaseline, err)
	case err != nil:
		return g.newest, err
	}
	g.world, g.newest = w, sn.Tick
	return g.newest, nil
}

// takeEvents delivers a snapshot's server events not delivered yet, in seq
// order, and takes its acknowledgement of the client's events; client
// goroutine. It runs for every snapshot, applied or not: events do not
// depend on the state.
func (c *Client) takeEvents(sn *schema.Snapshot) {
	g := c.game
	for i := range sn.Events {
		ev := &sn.Events[i]
		if ev.Seq <= g.evRecv {
			c.stats.eventsDup.Add(1)
			continue
		}
		g.evRecv = ev.Seq
		if _, err := g.schema.VerifyServerEvent(ev.Data); err != nil {
			// Acknowledged all the same: the node would repeat it forever.
			c.stats.applyErrors.Add(1)
			c.h.OnError(c, fmt.Errorf("%w: server event %d: %w", ErrBadEvent, ev.Seq, err))
			continue
		}
		c.stats.eventsIn.Add(1)
		if c.eh != nil {
			c.eh.OnEvent(c, ev)
		}
	}
	c.evAck.Store(g.evRecv)
	if c.evPending.Load() > 0 {
		c.wmu.Lock()
		c.trimEventsLocked(sn.EventSeq)
		c.wmu.Unlock()
	}
}

// SendEvent sends one client event of the game: data is a finished buffer
// of the schema's client events wrapper (verified here, and copied). It
// numbers the event (1, 2, 3, ... for the seat, across reconnects) and
// returns its seq.
//
// Events are reliable: the client keeps each one until the match
// acknowledges it (Snapshot.event_seq), and after a reconnect it writes
// again, in order, those the match has not applied (Welcome.event_seq).
// While the client is between connections the event is only queued. A
// new seat (a rejoin after a refused resume) drops the unacknowledged
// ones (Stats.EventsDropped).
//
// Errors: ErrNoSchema before the game's schema is known (a client that
// fetches it knows it once Dial returns); an error wrapping the
// schema's verdict for data that is not a client event of the game;
// ErrEventQueueFull when Config.MaxPendingEvents events wait for their
// acknowledgement; ErrClosed after the client ended. A write that fails
// is not an error: the event is re-sent after the resume.
//
// Safe from any goroutine, Handler methods included; events sent from
// several goroutines are numbered in the order the calls take the write
// lock.
func (c *Client) SendEvent(data []byte) (seq uint32, err error) {
	s := c.game.schema
	if s == nil {
		return 0, ErrNoSchema
	}
	if len(data) > schema.MaxEventDataLen {
		return 0, fmt.Errorf("client event of %d bytes: must be at most %d", len(data), schema.MaxEventDataLen)
	}
	if _, err := s.VerifyEvent(data); err != nil {
		return 0, fmt.Errorf("client event: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.stopping {
		return 0, ErrClosed
	}
	g := c.game
	if len(g.pending) >= c.maxPending {
		return 0, ErrEventQueueFull
	}
	g.evSeq++
	g.pending = append(g.pending, schema.Event{Seq: g.evSeq, Data: append([]byte(nil), data...)})
	c.evPending.Store(int32(len(g.pending)))
	c.stats.eventsOut.Add(1)
	if c.ws != nil && c.joined {
		_ = c.writeLocked(c.enc.Event(&g.pending[len(g.pending)-1]))
	}
	return g.evSeq, nil
}

// PendingEvents is the number of client events sent and not yet
// acknowledged by the match. Safe from any goroutine.
func (c *Client) PendingEvents() int { return int(c.evPending.Load()) }

// EventAck is the newest server event seq received, as the next input
// acknowledges it. Safe from any goroutine.
func (c *Client) EventAck() uint32 { return c.evAck.Load() }

// World is the newest world applied (nil before the first snapshot, and
// always with Config.SkipWorld). It belongs to the client's goroutine and
// to its gamedelta.Receiver: read it inside Handler methods only, do not
// modify it.
func (c *Client) World() *World { return c.game.world }

// Schema is the game's schema: Config.Schema, or the one fetched on the
// first Welcome (nil before it). Safe from any goroutine once Dial has
// returned.
func (c *Client) Schema() *gameschema.Schema { return c.game.schema }

// newestTick is the newest snapshot tick held (the resume baseline and
// the ack); client goroutine.
func (c *Client) newestTick() uint32 { return c.game.newest }

// fetchSchema gets the schema of the game a Welcome names from the node
// that sent it, before anything of the game is decoded; client goroutine,
// bounded by deadline (what is left of the dial timeout). The schema
// must be the one the Welcome names.
func (c *Client) fetchSchema(w *schema.Welcome, deadline time.Time) error {
	if w.Game == "" || w.SchemaHash == "" {
		return fmt.Errorf("%w: the welcome names no game schema (game %q, schema %q): set Config.Schema", ErrProtocol, w.Game, w.SchemaHash)
	}
	ctx, cancel := context.WithDeadline(c.ctx, deadline)
	defer cancel()
	s, err := FetchSchema(ctx, c.sess.url, w.Game, c.cfg.TLSConfig)
	if err != nil {
		return err
	}
	if s.HashString() != w.SchemaHash {
		return fmt.Errorf("%w: %w: the node serves %s %s, the match speaks %s", ErrProtocol, ErrSchemaMismatch, w.Game, s.HashString(), w.SchemaHash)
	}
	codec, err := GameCodec(s)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	c.game.schema, c.game.codec = s, codec
	c.hello.SchemaHash = s.HashString()
	return nil
}
