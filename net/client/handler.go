package client

import (
	"time"

	"github.com/ticksync/ticksync/schema"
)

// Handler receives what a Client decodes. Every method is called on the
// client's goroutine (gws's read loop), one call at a time, in the order the
// messages arrived. The pointers passed in point to structs the client
// reuses for the next message: read them during the call, copy what must be
// kept, and keep neither the pointers nor slices of them.
//
// A method must return quickly: while it runs, no message is read. It may
// call SendInput, Ping and Stop, but not Close or Leave (they wait for this
// goroutine to end).
type Handler interface {
	// OnWelcome: the server seated the player (a first join, a resume after
	// a reconnect, or a rejoin after a refused resume).
	OnWelcome(c *Client, w *schema.Welcome, resumed bool)
	// OnSnapshot: s was applied; w is the world at s.Tick (nil with
	// Config.SkipWorld), the same as c.World(). Its server events (if the
	// Handler is an EventHandler) were delivered just before. A snapshot
	// that failed to apply goes to OnError instead.
	OnSnapshot(c *Client, s *schema.Snapshot, w *World)
	// OnResumed: the first snapshot after a reconnect (a resume, or a
	// rejoin after a refused resume) arrived, downtime after the
	// connection dropped.
	OnResumed(c *Client, downtime time.Duration)
	// OnPong answers Ping: rtt is the round trip, serverTimeMS the server's
	// wall clock (ms since the Unix epoch).
	OnPong(c *Client, rtt time.Duration, serverTimeMS uint64)
	// OnError reports a problem that does not end the connection by itself
	// (a snapshot that does not apply) or explains the end that follows (a
	// *ServerError).
	OnError(c *Client, err error)
	// OnDisconnect: the connection of a seated client ended; err says why.
	// reconnecting tells whether the client will try to resume.
	OnDisconnect(c *Client, err error, reconnecting bool)
}

// NopHandler implements Handler with methods that do nothing; embed it to
// implement only some methods.
type NopHandler struct{}

func (NopHandler) OnWelcome(*Client, *schema.Welcome, bool)     {}
func (NopHandler) OnSnapshot(*Client, *schema.Snapshot, *World) {}
func (NopHandler) OnResumed(*Client, time.Duration)             {}
func (NopHandler) OnPong(*Client, time.Duration, uint64)        {}
func (NopHandler) OnError(*Client, error)                       {}
func (NopHandler) OnDisconnect(*Client, error, bool)            {}

var _ Handler = NopHandler{}
