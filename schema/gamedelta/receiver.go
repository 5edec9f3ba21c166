package gamedelta

import "fmt"

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Player is the client's player id (Welcome.player_id): it sees the
	// owner-only fields of the entities it owns. 0: owns nothing.
	Player uint32
	// History is the number of recent worlds kept as baselines; keep it at
	// least the server's (EncoderConfig.History). 2..1024, default 64.
	History int
	// MaxEntities bounds the entities of a world, 1..1<<24, default
	// DefaultMaxEntities.
	MaxEntities int
}

// DefaultReceiverConfig returns the default configuration for player.
func DefaultReceiverConfig(player uint32) ReceiverConfig {
	return ReceiverConfig{Player: player, History: 64, MaxEntities: DefaultMaxEntities}
}

// Validate reports a field out of its range, saying what is allowed.
func (c ReceiverConfig) Validate() error {
	if c.History < 2 || c.History > 1024 {
		return fmt.Errorf("history %d: must be 2..1024", c.History)
	}
	if c.MaxEntities < 1 || c.MaxEntities > 1<<24 {
		return fmt.Errorf("max entities %d: must be 1..%d", c.MaxEntities, 1<<24)
	}
	return nil
}

// Receiver is the client side of the codec: the worlds of the snapshots
// it applied most recently, by tick, as baselines for the next ones. A
// client applies each Snapshot (tick, baseline tick and the game's delta
// bytes from the envelope) and acknowledges Newest in its inputs. It is
// not safe for concurrent use; once its worlds have grown, Apply allocates
// nothing.
type Receiver struct {
	d       *Decoder
	slots   []held
	newest  uint32
	scratch *World
}

type held struct {
	tick  uint32 // 0: empty
	world *World
}

// NewReceiver returns a receiver holding no world.
func NewReceiver(c *Codec, cfg ReceiverConfig) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("receiver config: %w", err)
	}
	r := &Receiver{d: NewDecoder(c, cfg.Player), slots: make([]held, cfg.History), scratch: NewWorld(c)}
	r.d.SetMaxEntities(cfg.MaxEntities)
	for i := range r.slots {
		r.slots[i].world = NewWorld(c)
	}
	return r, nil
}

// Apply applies the snapshot of tick encoded against baseline (0: full)
// and returns the world at tick. The world belongs to the receiver: read
// it, do not modify it; it stays valid for History applied ticks.
//
// Errors: ErrStale for a tick not after Newest (a reordered or duplicate
// snapshot: ignore it); ErrNoBaseline when the baseline is not held (keep
// acknowledging Newest: the server falls back to a full snapshot);
// ErrBadDelta for bytes that do not apply. On error nothing changes.
func (r *Receiver) Apply(tick, baseline uint32, data []byte) (*World, error) {
	if tick == 0 || baseline >= tick && baseline != 0 {
		return nil, fmt.Errorf("%w: tick %d against baseline %d", ErrBadDelta, tick, baseline)
	}
	if tick <= r.newest {
		return nil, fmt.Errorf("%w: tick %d, newest %d", ErrStale, tick, r.newest)
	}
	h := uint32(len(r.slots))
	var base *World
	if baseline != 0 {
		s := &r.slots[int(baseline%h)]
		if s.tick != baseline {
			return nil, fmt.Errorf("%w: tick %d", ErrNoBaseline, baseline)
		}
		base = s.world
	}
	if err := r.d.Apply(r.scratch, base, tick-baseline, data); err != nil {
		return nil, fmt.Errorf("snapshot %d against %d: %w", tick, baseline, err)
	}
	s := &r.slots[int(tick%h)]
	s.world, r.scratch = r.scratch, s.world
	s.tick = tick
	r.newest = tick
	return s.world, nil
}

// Newest returns the newest tick applied (0: none): the tick to
// acknowledge.
func (r *Receiver) Newest() uint32 { return r.newest }

// World returns the held world of tick, or nil.
func (r *Receiver) World(tick uint32) *World {
	if tick == 0 {
		return nil
	}
	s := &r.slots[int(tick%uint32(len(r.slots)))]
	if s.tick != tick {
		return nil
	}
	return s.world
}

// Reset forgets every world (a new connection to a server that has no
// record of this client).
func (r *Receiver) Reset() {
	r.newest = 0
	for i := range r.slots {
		r.slots[i].tick = 0
	}
}
