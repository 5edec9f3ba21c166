package gamedelta

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The property test: random layouts, each run for a number of ticks with
// random spawns, removals, kind changes under a reused id, owner changes,
// steady and broken motion, value changes, views that change over time,
// and a network that drops, delays and reorders snapshots and acks, with
// outages longer than the history ring. After every snapshot a client
// applies, its world must equal the server's world seen through the view
// the server used for it, exactly.
//
// Replay a failure with the seed (and layout) it prints:
//
//	go test ./schema/gamedelta -run TestProperty -seed=S -layout=N
var (
	propSeed    = flag.Uint64("seed", 0, "property test seed (0: from the clock)")
	propLayout  = flag.Int("layout", -1, "property test: run only this layout")
	propLayouts = flag.Int("layouts", 0, "property test: layouts (0: $TICKSYNC_GAMEDELTA_LAYOUTS or 1000)")
	propTicks   = flag.Int("ticks", 100, "property test: ticks per layout")
)

// propCounts returns the layouts and ticks of the property test: 1,000 × 100
// (200 × 100 with -short) unless the flags or TICKSYNC_GAMEDELTA_LAYOUTS say
// otherwise.
func propCounts(t *testing.T) (layouts, ticks int) {
	layouts = 1000
	if testing.Short() {
		layouts = 200
	}
	if s := os.Getenv("TICKSYNC_GAMEDELTA_LAYOUTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TICKSYNC_GAMEDELTA_LAYOUTS=%q: want a positive number", s)
		}
		layouts = n
	}
	if *propLayouts > 0 {
		layouts = *propLayouts
	}
	return layouts, *propTicks
}

// propStats counts what the property test exercised, so that it can check
// every path was taken.
type propStats struct {
	applied, full, deltas, stale, noBase, dropped int
	recoveries                                    int // full snapshots after a delta: the ring was outlived
	spawns, removes, reKinds, owners, views       int
	shared, encodes                               int
}

func TestProperty(t *testing.T) {
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	layouts, ticks := propCounts(t)
	t.Logf("seed %d: %d layouts × %d ticks (replay: -seed=%d)", seed, layouts, ticks, seed)
	var st propStats
	start := time.Now()
	for n := range layouts {
		if *propLayout >= 0 && n != *propLayout {
			continue
		}
		if err := runLayout(seed, n, ticks, &st); err != nil {
			t.Fatalf("seed %d layout %d: %v\nreplay: go test ./schema/gamedelta -run TestProperty -seed=%d -layout=%d", seed, n, err, seed, n)
		}
	}
	t.Logf("%d snapshots applied (%d full, %d of them after the baseline left the ring, %d deltas), %d stale ignored, %d without baseline, %d dropped; "+
		"%d spawns, %d removes, %d kind changes, %d owner changes, %d view changes; %d encodes, %d shared; %v",
		st.applied, st.full, st.recoveries, st.deltas, st.stale, st.noBase, st.dropped,
		st.spawns, st.removes, st.reKinds, st.owners, st.views, st.encodes, st.shared, time.Since(start).Round(time.Millisecond))
	if *propLayout < 0 && layouts*ticks >= 10_000 {
		for name, v := range map[string]int{"full": st.full, "recovery": st.recoveries, "delta": st.deltas, "stale": st.stale, "no-baseline": st.noBase,
			"spawn": st.spawns, "remove": st.removes, "kind change": st.reKinds, "owner change": st.owners,
			"view change": st.views, "shared": st.shared} {
			if v == 0 {
				t.Errorf("no %s happened: the generator does not exercise it", name)
			}
		}
	}
}

// packet is a snapshot in flight to a client.
type packet struct {
	tick, base uint32
	data       []byte
	at         int // tick it arrives
}

// ackMsg is an acknowledgement in flight to the server.
type ackMsg struct {
	tick uint32
	at   int
}

// propClient is one client of the property test: its encoder record, its
// receiver, its network, and the view the server gives it.
type propClient struct {
	cl       *Client
	rx       *Receiver
	player   uint32
	smallRx  bool // its history is shorter than the server's: ErrNoBaseline may happen
	view     View
	down     []packet
	up       []ackMsg
	drop     float64 // loss rate, both ways
	maxDelay int
	outage   int               // ticks left of an outage (everything dropped)
	want     map[uint32]*World // per tick, the server's world through the view it used: what the client must hold
}

func runLayout(seed uint64, n, ticks int, st *propStats) error {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	l := genLayout(rng)
	c, err := Compile(l)
	if err != nil {
		return fmt.Errorf("generated layout refused: %w", err)
	}
	cfg := DefaultEncoderConfig()
	cfg.History = []int{2, 4, 8, 16, 64}[rng.IntN(5)]
	enc, err := NewEncoder(c, cfg)
	if err != nil {
		return err
	}
	sim := &propWorld{rng: rng, l: &l, c: c, w: genWorld(rng, &l, c, 12)}
	var clients []*propClient
	for i := range 2 + rng.IntN(3) {
		pc := &propClient{
			player:   uint32(i % 3), // 0 (spectator), 1, 2, and twins sharing encodings
			drop:     []float64{0, 0.1, 0.3}[rng.IntN(3)],
			maxDelay: rng.IntN(4),
			want:     map[uint32]*World{},
			view:     View{All: true},
		}
		pc.cl = enc.NewClient(pc.player)
		rcfg := DefaultReceiverConfig(pc.player)
		rcfg.History = cfg.History
		if rng.IntN(6) == 0 && cfg.History > 2 {
			rcfg.History, pc.smallRx = cfg.History/2, true
		}
		if pc.rx, err = NewReceiver(c, rcfg); err != nil {
			return err
		}
		clients = append(clients, pc)
	}
	s0 := enc.Stats()
	for tick := uint32(1); tick <= uint32(ticks); tick++ {
		sim.step(st)
		if err := enc.Record(tick, sim.w); err != nil {
			return fmt.Errorf("tick %d: record: %w", tick, err)
		}
		for _, pc := range clients {
			// Acks that arrive now.
			pc.up = slices.DeleteFunc(pc.up, func(a ackMsg) bool {
				if a.at <= int(tick) {
					pc.cl.Ack(a.tick)
					return true
				}
				return false
			})
			if rng.IntN(10) == 0 {
				pc.view = sim.randView(rng)
				st.views++
			}
			if pc.outage == 0 && rng.IntN(60) == 0 {
				pc.outage = cfg.History + 1 + rng.IntN(10) // longer than the ring
			}
			snap, err := enc.Encode(pc.cl, &pc.view)
			if err != nil {
				return fmt.Errorf("tick %d: encode: %w", tick, err)
			}
			data, base := snap.Data, snap.Baseline
			pc.want[tick] = project(&l, c, sim.w, &pc.view, pc.player)
			if err := crossCheck(&l, c, pc, tick, base, data); err != nil {
				return fmt.Errorf("tick %d player %d: %w", tick, pc.player, err)
			}
			if pc.outage > 0 || rng.Float64() < pc.drop {
				st.dropped++
			} else {
				pc.down = append(pc.down, packet{tick: tick, base: base, data: slices.Clone(data), at: int(tick) + rng.IntN(pc.maxDelay+1)})
			}
			if pc.outage > 0 {
				pc.outage--
			}
			if err := pc.receive(int(tick), &l, c, st); err != nil {
				return fmt.Errorf("tick %d player %d: %w", tick, pc.player, err)
			}
			// The client acknowledges its newest world with every input.
			if a := pc.rx.Newest(); a != 0 && pc.outage == 0 && rng.Float64() >= pc.drop {
				pc.up = append(pc.up, ackMsg{tick: a, at: int(tick) + 1 + rng.IntN(pc.maxDelay+1)})
			}
		}
	}
	s1 := enc.Stats()
	st.encodes += int(s1.Encodes - s0.Encodes)
	st.shared += int(s1.Shared - s0.Shared)
	return nil
}

// crossCheck decodes a snapshot at once against the oracle's baseline,
// which tells an encoding error from a client-side one.
func crossCheck(l *Layout, c *Codec, pc *propClient, tick, base uint32, data []byte) error {
	var bw *World
	if base != 0 {
		bw = pc.want[base]
	}
	got := NewWorld(c)
	if err := NewDecoder(c, pc.player).Apply(got, bw, tick-base, data); err != nil {
		return fmt.Errorf("encoded snapshot against %d does not decode against the oracle's baseline: %w\nbaseline %v\nwant %v\nbytes %x",
			base, err, bw, pc.want[tick], data)
	}
	want := pc.want[tick]
	if !Equal(got, want) {
		return fmt.Errorf("encoded snapshot against %d decodes to\n%v\nwant\n%v", base, got, want)
	}
	return checkRef(l, pc.player, bw, tick-base, data, want)
}

// receive applies the packets that have arrived, in a shuffled order when
// several arrive at once, and checks every accepted world.
func (pc *propClient) receive(now int, l *Layout, c *Codec, st *propStats) error {
	var due []packet
	pc.down = slices.DeleteFunc(pc.down, func(p packet) bool {
		if p.at <= now {
			due = append(due, p)
			return true
		}
		return false
	})
	rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	for _, p := range due {
		newest := pc.rx.Newest()
		got, err := pc.rx.Apply(p.tick, p.base, p.data)
		switch {
		case errors.Is(err, ErrStale):
			if p.tick > newest {
				return fmt.Errorf("snapshot %d refused as stale with newest %d", p.tick, newest)
			}
			st.stale++
			continue
		case errors.Is(err, ErrNoBaseline):
			if !pc.smallRx {
				return fmt.Errorf("snapshot %d: %w, though the client keeps as many worlds as the server", p.tick, err)
			}
			st.noBase++
			continue
		case err != nil:
			return fmt.Errorf("snapshot %d against %d (%d bytes): %w", p.tick, p.base, len(p.data), err)
		}
		if p.tick <= newest {
			return fmt.Errorf("snapshot %d applied after %d", p.tick, newest)
		}
		want := pc.want[p.tick]
		if !Equal(got, want) {
			return fmt.Errorf("snapshot %d against %d: client world\n%v\nwant\n%v", p.tick, p.base, got, want)
		}
		st.applied++
		if p.base == 0 {
			st.full++
			if newest != 0 {
				st.recoveries++
			}
		} else {
			st.deltas++
		}
	}
	return nil
}

// propWorld is the server's world of the property test.
type propWorld struct {
	rng *rand.Rand
	l   *Layout
	c   *Codec
	w   *World
	tmp *World
}

// step changes the world by one tick: most fields move as predicted, some
// break prediction, entities spawn, leave, change kind and owner.
func (p *propWorld) step(st *propStats) {
	rng, l := p.rng, p.l
	if p.tmp == nil {
		p.tmp = NewWorld(p.c)
	}
	out := p.tmp
	out.Reset()
	old := p.w
	for i := range old.Len() {
		switch r := rng.IntN(100); {
		case r < 2:
			st.removes++
			continue
		case r < 3: // the id is reused for an entity of another kind
			j := out.Add(old.ID(i), rng.IntN(len(l.Kinds)), old.Owner(i))
			fillEntity(rng, l, out, j)
			st.reKinds++
			continue
		}
		j := out.Add(old.ID(i), old.Kind(i), old.Owner(i))
		if rng.IntN(40) == 0 {
			out.SetOwner(j, uint32(rng.IntN(4)))
			st.owners++
		}
		p.move(old, i, out, j)
	}
	// Spawns at new ids, in order; now and then near the top of the id space.
	for range rng.IntN(3) {
		if rng.IntN(3) != 0 {
			continue
		}
		id := uint32(1 + rng.IntN(200))
		if rng.IntN(20) == 0 {
			id = ^uint32(0) - uint32(rng.IntN(3))
		}
		if out.Find(id) >= 0 {
			continue
		}
		j := out.Add(id, rng.IntN(len(l.Kinds)), uint32(rng.IntN(4)))
		fillEntity(rng, l, out, j)
		out.Sort()
		st.spawns++
	}
	p.w, p.tmp = out, old
}

// move sets the fields of entity j of out from entity i of old: predicted
// fields move by their velocity (and jump now and then), others mostly
// keep their value.
func (p *propWorld) move(old *World, i int, out *World, j int) {
	rng := p.rng
	fields := p.l.Kinds[old.Kind(i)].Fields
	for f, fd := range fields {
		if fd.Type == FieldBytes {
			if rng.IntN(20) == 0 {
				out.SetBytes(j, f, randBytes(rng, fd))
			} else {
				out.SetBytes(j, f, old.Bytes(i, f))
			}
			continue
		}
		v := old.Int(i, f)
		if fd.Velocity != "" && rng.IntN(15) != 0 {
			vel := p.c.FieldIndex(old.Kind(i), fd.Velocity)
			v += old.Int(i, vel)
			if fd.Wrap {
				v = wrapValue(fd, v)
			}
			if lo, hi, full := fieldRange(fd); !full && (v < lo || v > hi) {
				v = randValue(rng, fd) // off the edge: a teleport
			}
		} else if rng.IntN(10) == 0 {
			switch rng.IntN(3) {
			case 0:
				v = randValue(rng, fd)
			default: // a small step, wrapping or clamped
				v += rng.Int64N(9) - 4
				if fd.Wrap {
					v = wrapValue(fd, v)
				} else if lo, hi, full := fieldRange(fd); !full {
					v = max(lo, min(hi, v))
				}
			}
		}
		out.SetInt(j, f, v)
	}
}

// wrapValue reduces v into a wrapping field's range.
func wrapValue(fd Field, v int64) int64 {
	b := fd.Bits
	if b == 0 || b == 64 {
		return v
	}
	if fd.Signed {
		return v << (64 - b) >> (64 - b)
	}
	return v & (1<<b - 1)
}

// randView returns a random view of the current world: everything, a
// random subset (with ids that do not exist), or an id band; with a key
// that is sometimes shared by different views.
func (p *propWorld) randView(rng *rand.Rand) View {
	switch rng.IntN(4) {
	case 0:
		return View{All: true}
	case 1:
		lo := uint32(rng.IntN(200))
		var ids []uint32
		for i := range p.w.Len() {
			if id := p.w.ID(i); id >= lo && id < lo+60 {
				ids = append(ids, id)
			}
		}
		return View{Key: uint64(rng.IntN(3)), IDs: ids}
	}
	var ids []uint32
	for i := range p.w.Len() {
		if rng.IntN(3) != 0 {
			ids = append(ids, p.w.ID(i))
		}
	}
	for range rng.IntN(3) {
		ids = append(ids, uint32(rng.IntN(250)))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return View{Key: uint64(rng.IntN(3)), IDs: ids}
}

func cloneWorld(w *World) *World {
	c := NewWorld(w.Codec())
	c.CopyFrom(w)
	return c
}
