package sim

import (
	"fmt"
	"time"

	"github.com/ticksync/ticksync/schema/gamedelta"
)

// Config is the configuration of one room loop. Start from DefaultConfig and
// check the result with Validate; NewRoom refuses an invalid Config.
type Config struct {
	// TickRate is the number of ticks per second, 1..128. Default 30.
	TickRate int
	// InputQueue is the capacity of each player's input queue: the inputs
	// received for that player since the last tick. When it is full the
	// oldest is dropped (and counted), so a client that floods loses only
	// its own inputs. A client sends one
	// input per tick; 16 absorbs a burst after a half-second stall at 30 Hz.
	// 1..1024, default 16. Not a node flag: the default serves every tick
	// rate, and net/ws closes a client over its message rate long before
	// (ws.Config.MaxMessageRate).
	InputQueue int
	// History is the number of recent ticks of world state kept as delta
	// baselines. A client whose acknowledged tick is older gets a full
	// snapshot. 2..1024, default 64.
	History int
	// InputBuffer is the per-player jitter buffer: inputs waiting beyond
	// this many make the room skip to the player's newest input (a game
	// whose every press must count sends it as an event, never skipped).
	// 1..64, default 1: each tick applies the newest input, so an input
	// never waits behind another and input→ack latency stays at one tick
	// (what Colyseus and Nakama users get: inputs take effect on the next
	// tick). Larger values apply every input, one per tick, at the cost of
	// a tick of latency per input queued (pinned at 1,375 players, p99 RTT
	// 92–97 ms at 4, 53–68 ms at 1; sim/DESIGN.md).
	InputBuffer int
	// MaxCatchUp is how many ticks the loop may fall behind its schedule
	// before it skips ahead instead of running the late ticks back to back.
	// 1..1000, default 5.
	MaxCatchUp int
	// EntityHint is the expected number of entities, used to size the
	// snapshot envelope buffer. 0..65536, default 64.
	EntityHint int
	// Codec is the compiled layout of the game's entities (its schema
	// mapped by gameschema): required.
	Codec *gamedelta.Codec
	// MaxInputBytes bounds Input.Data, the game's input buffer: an
	// input whose data is longer is dropped (counted as discarded). The
	// room copies each input's data into storage of its own, grown once to
	// this size per slot. 1..4096, default 256.
	MaxInputBytes int
	// ClientEventQueue is the capacity of each player's queue of client
	// events waiting for the next tick (PushEvent). A full queue refuses
	// the event and the connection closes its client
	// (schema.ErrCodeEventFlood). 1..1024, default 64.
	ClientEventQueue int
	// EventQueue bounds the server events queued for one player and not
	// yet acknowledged (Outbox.Send, Broadcast). Every snapshot to that
	// player carries all of them; on overflow the oldest is dropped and the
	// player's connection is closed as a slow consumer (Conn.Overflow).
	// 1..1024, default 256.
	EventQueue int
}

// DefaultConfig returns the default room configuration: 30 Hz, 64 ticks of
// history.
func DefaultConfig() Config {
	return Config{
		TickRate:    30,
		InputQueue:  16,
		History:     64,
		InputBuffer: 1,
		MaxCatchUp:  5,
		EntityHint:  64,

		MaxInputBytes:    256,
		ClientEventQueue: 64,
		EventQueue:       256,
	}
}

// Validate reports the first field out of its range, saying what is allowed.
func (c Config) Validate() error {
	checks := []struct {
		name     string
		v        int
		min, max int
	}{
		{"tick rate", c.TickRate, 1, 128},
		{"input queue", c.InputQueue, 1, 1024},
		{"history", c.History, 2, 1024},
		{"input buffer", c.InputBuffer, 1, 64},
		{"max catch-up", c.MaxCatchUp, 1, 1000},
		{"entity hint", c.EntityHint, 0, 65536},
		{"max input bytes", c.MaxInputBytes, 1, 4096},
		{"client event queue", c.ClientEventQueue, 1, 1024},
		{"event queue", c.EventQueue, 1, 1024},
	}
	for _, ch := range checks {
		if ch.v < ch.min || ch.v > ch.max {
			return fmt.Errorf("%s %d: must be %d..%d", ch.name, ch.v, ch.min, ch.max)
		}
	}
	return nil
}

// Period is the duration of one tick.
func (c Config) Period() time.Duration {
	return time.Second / time.Duration(c.TickRate)
}
