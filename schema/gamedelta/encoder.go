package gamedelta

import (
	"cmp"
	"fmt"
	"slices"
)

// EncoderConfig configures an Encoder.
type EncoderConfig struct {
	// History is the number of recent ticks kept as baselines (worlds, and
	// the view each client was sent). A client whose acknowledged tick is
	// older gets a full snapshot. 2..1024, default 64.
	History int
}

// DefaultEncoderConfig returns the default configuration: 64 ticks of
// history.
func DefaultEncoderConfig() EncoderConfig { return EncoderConfig{History: 64} }

// Validate reports a field out of its range, saying what is allowed.
func (c EncoderConfig) Validate() error {
	if c.History < 2 || c.History > 1024 {
		return fmt.Errorf("history %d: must be 2..1024", c.History)
	}
	return nil
}

// Encoder is the server side of the codec for one room: a ring of the
// worlds of recent ticks, and per tick one encoding per distinct
// (baseline tick, baseline view, current view, player when the layout has
// owner-only fields), shared by every client that needs it.
//
// Each tick the room's loop calls Record with the new world, then Encode
// once per client; between ticks it passes each client's acknowledgements
// to Client.Ack. Everything runs on that one goroutine: an Encoder and its
// Clients are not safe for concurrent use. Once its buffers have grown,
// Record and Encode allocate nothing.
type Encoder struct {
	c     *Codec
	hist  int
	ring  []frame
	spare *World // the next world to record into
	tick  uint32 // newest recorded tick; 0: none
	delta Delta
	cache []cached // the current tick's encodings
	arena []byte   // their bytes
	stats EncoderStats
}

// frame is one slot of the ring: the world at tick and the distinct views
// clients were sent at tick.
type frame struct {
	tick  uint32 // 0: empty
	world *World
	views []View // copies, owned by the frame
}

// cached is one encoding of the current tick: arena[off:end].
type cached struct {
	base           uint32 // 0: full (baseView is then unused)
	baseView, view int    // indexes in the baseline's and the current frame's views
	player         uint32 // 0 when the layout has no owner-only field
	off, end       int
}

// EncoderStats are an Encoder's cumulative counters.
type EncoderStats struct {
	Encodes uint64 // snapshots encoded
	Full    uint64 // of which full (no baseline)
	Shared  uint64 // Encode calls answered with an encoding made for another client
	Bytes   uint64 // bytes of the snapshots encoded (shared ones once)
}

// NewEncoder returns an encoder for c's layout.
func NewEncoder(c *Codec, cfg EncoderConfig) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("encoder config: %w", err)
	}
	e := &Encoder{c: c, hist: cfg.History, ring: make([]frame, cfg.History), spare: NewWorld(c)}
	for i := range e.ring {
		e.ring[i].world = NewWorld(c)
	}
	return e, nil
}

// Stats returns the encoder's counters.
func (e *Encoder) Stats() EncoderStats { return e.stats }

// Tick returns the newest recorded tick (0: none).
func (e *Encoder) Tick() uint32 { return e.tick }

// Record stores a copy of w as the world at tick, which must be after the
// previous one (ticks may be skipped; 0 is not a tick), and starts the
// tick's encodings: the bytes Encode returned for earlier ticks are
// invalid from now on. w is sorted by id in the copy if it is not; a
// duplicate id or a value that does not fit its field is refused with an
// error wrapping ErrBadWorld, and the tick is then not recorded.
//
// When w is the world NextWorld returned, Record takes it instead of
// copying it (see NextWorld).
func (e *Encoder) Record(tick uint32, w *World) error {
	if tick == 0 || tick <= e.tick {
		return fmt.Errorf("%w: tick %d after tick %d", ErrBadWorld, tick, e.tick)
	}
	if w.c != e.c {
		return fmt.Errorf("%w: world of another codec", ErrBadWorld)
	}
	// Checked in the spare world, so that a refused world leaves the ring
	// as it was.
	s := e.spare
	if w != s {
		s.CopyFrom(w)
	}
	if err := s.Check(); err != nil {
		// Maybe only out of order: Check also tests the order.
		if slices.IsSortedFunc(s.ents, func(a, b ent) int { return cmp.Compare(a.id, b.id) }) {
			return fmt.Errorf("%w: tick %d: %w", ErrBadWorld, tick, err)
		}
		s.Sort()
		if err := s.Check(); err != nil {
			return fmt.Errorf("%w: tick %d: %w", ErrBadWorld, tick, err)
		}
	}
	f := &e.ring[int(tick%uint32(e.hist))]
	f.world, e.spare = s, f.world
	f.tick = tick
	f.views = f.views[:0]
	e.tick = tick
	e.cache = e.cache[:0]
	e.arena = e.arena[:0]
	return nil
}

// NextWorld returns an empty world for the next tick, to fill and hand to
// Record, which then records it without a copy. Until Record takes it,
// each call empties and returns the same world (a refused one too). Once
// recorded it is the encoder's: read it (as the world of that tick) until
// the next Record, but never modify it.
func (e *Encoder) NextWorld() *World {
	e.spare.Reset()
	return e.spare
}

// Client is the encoder's record of one connection: its player id, the
// newest tick it acknowledged, and the view it was sent at each recent
// tick (its baselines). Create it with Encoder.NewClient; it belongs to
// the encoder's goroutine.
type Client struct {
	player uint32
	ack    uint32
	sent   []sent // by tick % history
}

type sent struct {
	tick uint32
	view int // index in the frame's views
}

// NewClient returns the record of a new connection of player (0: owns
// nothing). Its first snapshot is full.
func (e *Encoder) NewClient(player uint32) *Client {
	return &Client{player: player, sent: make([]sent, e.hist)}
}

// Player returns the client's player id.
func (c *Client) Player() uint32 { return c.player }

// Ack records that the client applied the snapshot of tick (Input.ack_tick).
// Only a newer tick counts; one the client was never sent is harmless (the
// next snapshot is then full).
func (c *Client) Ack(tick uint32) {
	if tick > c.ack {
		c.ack = tick
	}
}

// Acked returns the newest tick the client acknowledged.
func (c *Client) Acked() uint32 { return c.ack }

// Reset forgets what the client acknowledged and was sent: its next
// snapshot is full (a reconnect without a baseline).
func (c *Client) Reset() {
	c.ack = 0
	clear(c.sent)
}

// Encoded is one client's snapshot of a tick, as Encode returns it.
type Encoded struct {
	// Data is the snapshot (DELTA.md). It aliases the encoder: shared with
	// the other clients of the same Encoding, valid until the next Record.
	// Empty is a valid snapshot (nothing changed).
	Data []byte
	// Baseline is the tick Data is encoded against; 0: full.
	Baseline uint32
	// Encoding numbers the tick's distinct encodings from 0: clients given
	// the same number got the same Data and Baseline, so one envelope
	// (patched with each client's last input seq) serves them all.
	Encoding int
}

// Encode returns the snapshot of the newest recorded tick for cl, seen
// through v (nil: everything). It is a delta against the tick cl
// acknowledged when that tick is still in the ring and cl was sent it,
// else full. The tick's view for cl is remembered as its baseline for
// later ticks, so call Encode once per client per tick. An error (no tick
// recorded, view IDs not ascending) wraps ErrBadWorld.
func (e *Encoder) Encode(cl *Client, v *View) (Encoded, error) {
	if e.tick == 0 {
		return Encoded{}, fmt.Errorf("%w: no tick recorded", ErrBadWorld)
	}
	h := uint32(e.hist)
	f := &e.ring[int(e.tick%h)]
	vi, err := intern(f, v)
	if err != nil {
		return Encoded{}, err
	}
	bt, bvi := e.baseline(cl)
	player := cl.player
	if !e.c.ownerOnly {
		player = 0 // views of different players are alike
	}
	cl.sent[int(e.tick%h)] = sent{tick: e.tick, view: vi}
	for i, c := range e.cache {
		if c.base == bt && c.view == vi && c.player == player && (bt == 0 || c.baseView == bvi) {
			e.stats.Shared++
			return Encoded{Data: e.arena[c.off:c.end:c.end], Baseline: bt, Encoding: i}, nil
		}
	}
	off := len(e.arena)
	if bt == 0 {
		e.arena = e.delta.Append(e.arena, nil, nil, f.world, &f.views[vi], player, 0)
		e.stats.Full++
	} else {
		b := &e.ring[int(bt%h)]
		e.arena = e.delta.Append(e.arena, b.world, &b.views[bvi], f.world, &f.views[vi], player, e.tick-bt)
	}
	end := len(e.arena)
	e.cache = append(e.cache, cached{base: bt, baseView: bvi, view: vi, player: player, off: off, end: end})
	e.stats.Encodes++
	e.stats.Bytes += uint64(end - off)
	return Encoded{Data: e.arena[off:end:end], Baseline: bt, Encoding: len(e.cache) - 1}, nil
}

// baseline returns the tick to encode cl against and the view cl was sent
// then, or 0 for a full snapshot.
func (e *Encoder) baseline(cl *Client) (tick uint32, view int) {
	h := uint32(e.hist)
	a := cl.ack
	if a == 0 || a >= e.tick || e.tick-a >= h {
		return 0, 0
	}
	if e.ring[int(a%h)].tick != a || cl.sent[int(a%h)].tick != a {
		return 0, 0
	}
	return a, cl.sent[int(a%h)].view
}

// intern returns the index of v among f's views, adding a copy if it is
// new.
func intern(f *frame, v *View) (int, error) {
	for i := range f.views {
		if sameView(&f.views[i], v) {
			return i, nil
		}
	}
	if !viewOK(v) {
		return 0, fmt.Errorf("%w: view ids not strictly ascending", ErrBadWorld)
	}
	n := len(f.views)
	if n < cap(f.views) {
		f.views = f.views[:n+1]
	} else {
		f.views = append(f.views, View{})
	}
	s := &f.views[n]
	if v.all() {
		s.Key, s.All, s.IDs = 0, true, s.IDs[:0]
	} else {
		s.Key, s.All, s.IDs = v.Key, false, append(s.IDs[:0], v.IDs...)
	}
	return n, nil
}
