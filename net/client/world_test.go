package client

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/ticksync/ticksync/schema"
)

var (
	worldSeed  = flag.Uint64("world.seed", 0, "run TestWorldLossyNetwork for this seed only (replays a failure)")
	worldSeeds = flag.Int("world.seeds", 40, "number of seeds TestWorldLossyNetwork runs")
)

// simServer is the server side of TestWorldLossyNetwork: a game that
// spawns, despawns, moves and damages entities, a ring of the last 64 ticks
// like sim's history, and per tick one snapshot for the client, encoded
// with the real Encoder as a delta against the client's ack (full when the
// ack left the ring).
type simServer struct {
	rng     *rand.Rand
	tick    uint32
	world   []schema.Entity
	ring    [64]struct{ ents []schema.Entity } // ring[t%64] holds tick t if t > tick-64
	history [][]schema.Entity                  // every tick's world: the test's oracle
	nextID  uint32
	gone    []uint32 // despawned ids, sometimes reused
	ack     uint32   // baseline for the next snapshot; 0: none
	ackMax  bool     // take the max of received acks (else the latest received)
	enc     *schema.Encoder
	delta   schema.Delta
	full    int // full snapshots sent
	deltas  int // delta snapshots sent
}

func newSimServer(rng *rand.Rand) *simServer {
	s := &simServer{rng: rng, enc: schema.NewEncoder(0), nextID: 1, ackMax: rng.IntN(2) == 0}
	s.history = append(s.history, nil) // tick 0: nothing
	for range 20 + rng.IntN(40) {
		s.spawn()
	}
	return s
}

func (s *simServer) spawn() {
	id := s.nextID
	if len(s.gone) > 0 && s.rng.IntN(4) == 0 {
		i := s.rng.IntN(len(s.gone))
		id = s.gone[i]
		s.gone = slices.Delete(s.gone, i, i+1)
	} else {
		s.nextID++
	}
	e := schema.Entity{
		ID: id, X: s.rng.Int32N(1 << 16), Y: s.rng.Int32N(1 << 16),
		VX: int16(s.rng.IntN(65) - 32), VY: int16(s.rng.IntN(65) - 32),
		Angle: uint16(s.rng.Uint32()), Kind: uint8(s.rng.IntN(3)), HP: 100,
	}
	if s.rng.IntN(5) == 0 {
		e.Owner = 1 + s.rng.Uint32N(8)
	}
	i := sort.Search(len(s.world), func(i int) bool { return s.world[i].ID >= id })
	s.world = slices.Insert(s.world, i, e)
}

// step advances the game by one tick and records the world.
func (s *simServer) step() {
	r := s.rng
	for i := 0; i < len(s.world); i++ {
		e := &s.world[i]
		if r.IntN(200) == 0 {
			s.gone = append(s.gone, e.ID)
			s.world = slices.Delete(s.world, i, i+1)
			i--
			continue
		}
		e.X += int32(e.VX)
		e.Y += int32(e.VY)
		switch r.IntN(100) {
		case 0, 1, 2:
			e.VX, e.VY = int16(r.IntN(65)-32), int16(r.IntN(65)-32)
			e.Angle = uint16(r.Uint32())
		case 3:
			e.HP -= uint8(r.IntN(20))
		case 4:
			e.X, e.Y = int32(r.Uint32()), int32(r.Uint32()) // teleport, extremes included
		case 5:
			e.Kind, e.Owner = uint8(r.Uint32()), r.Uint32()
		case 6:
			e.Angle += uint16(r.IntN(2001) - 1000)
		}
	}
	if r.IntN(3) == 0 {
		s.spawn()
	}
	s.tick++
	slot := &s.ring[s.tick%64]
	slot.ents = append(slot.ents[:0], s.world...)
	s.history = append(s.history, slices.Clone(s.world))
}

// snapshot encodes the current tick for the client and returns a copy.
func (s *simServer) snapshot() []byte {
	snap := schema.Snapshot{Tick: s.tick, ServerTimeMS: uint64(s.tick) * 33}
	if s.ack != 0 && s.ack < s.tick && s.tick-s.ack < 64 {
		schema.Diff(&s.delta, s.ring[s.ack%64].ents, s.world, s.tick-s.ack)
		snap.BaselineTick = s.ack
		s.deltas++
	} else {
		schema.Diff(&s.delta, nil, s.world, 0) // full: everything spawned
		s.full++
	}
	snap.Spawned, snap.Changes, snap.Removed = s.delta.Spawned, s.delta.Changes, s.delta.Removed
	msg, off := s.enc.Snapshot(&snap)
	schema.PatchLastInputSeq(msg, off, s.tick/2)
	return slices.Clone(msg)
}

// onInput takes a client input's ack.
func (s *simServer) onInput(b []byte) error {
	var m schema.ClientMessage
	if err := schema.DecodeClientMessage(b, &m); err != nil {
		return err
	}
	if a := m.Input.AckTick; !s.ackMax || a > s.ack {
		s.ack = a
	}
	return nil
}

// lossyLink drops, delays and reorders messages, with outages longer than
// the ring.
type lossyLink struct {
	rng      *rand.Rand
	q        []packet
	drop     float64 // probability of losing a message
	maxDelay int     // ticks; random delays reorder
	outage   int     // ticks left during which everything is lost
}

type packet struct {
	at, seq int
	data    []byte
}

func (l *lossyLink) send(now int, data []byte) {
	if l.outage > 0 || l.rng.Float64() < l.drop {
		return
	}
	delay := l.rng.IntN(l.maxDelay + 1)
	if l.rng.IntN(100) == 0 {
		delay = 65 + l.rng.IntN(100) // a lag longer than the ring
	}
	l.q = append(l.q, packet{at: now + delay, seq: l.rng.Int(), data: data})
}

// deliver returns the messages due at now, in arrival order.
func (l *lossyLink) deliver(now int) [][]byte {
	if l.outage > 0 {
		l.outage--
	} else if l.rng.IntN(400) == 0 {
		l.outage = 65 + l.rng.IntN(100)
	}
	sort.Slice(l.q, func(i, j int) bool {
		if l.q[i].at != l.q[j].at {
			return l.q[i].at < l.q[j].at
		}
		return l.q[i].seq < l.q[j].seq
	})
	var out [][]byte
	for len(l.q) > 0 && l.q[0].at <= now {
		out = append(out, l.q[0].data)
		l.q = l.q[1:]
	}
	return out
}

type lossyStats struct{ applied, ignored, full, deltas, noBaseline int }

// playLossy plays one seeded game and checks the client's world after
// every snapshot it applies. ring is the World's ring size (0: the zero
// World, DefaultWorldRing). With a ring smaller than the server's 64 ticks,
// a snapshot may name a baseline the World has dropped: that is accepted
// only when the baseline really left the ring, and must leave the world
// unchanged.
func playLossy(seed uint64, ticks, ring int) (lossyStats, error) {
	rng := rand.New(rand.NewPCG(seed, 0x3071d))
	srv := newSimServer(rng)
	down := &lossyLink{rng: rng, drop: rng.Float64() * 0.3, maxDelay: rng.IntN(8)}
	up := &lossyLink{rng: rng, drop: rng.Float64() * 0.3, maxDelay: rng.IntN(8)}
	w := &World{}
	if ring > 0 {
		w = NewWorld(ring)
	}
	var m schema.ServerMessage
	enc := schema.NewEncoder(0)
	var st lossyStats
	for now := 1; now <= ticks; now++ {
		srv.step()
		down.send(now, srv.snapshot())
		for _, b := range down.deliver(now) {
			if err := schema.DecodeServerMessage(b, &m); err != nil {
				return st, fmt.Errorf("tick %d: decode: %w", now, err)
			}
			before := w.Tick()
			if err := w.Apply(&m.Snapshot); err != nil {
				base := m.Snapshot.BaselineTick
				if errors.Is(err, ErrNoBaseline) && w.Ring() < 64 && base != 0 && base+uint32(w.Ring()) <= before && w.Tick() == before {
					st.noBaseline++
					continue
				}
				return st, fmt.Errorf("tick %d: apply snapshot %d (baseline %d): %w", now, m.Snapshot.Tick, m.Snapshot.BaselineTick, err)
			}
			if m.Snapshot.Tick <= before {
				st.ignored++
				if w.Tick() != before {
					return st, fmt.Errorf("old snapshot %d moved the world from %d to %d", m.Snapshot.Tick, before, w.Tick())
				}
				continue
			}
			st.applied++
			tick := m.Snapshot.Tick
			if w.Tick() != tick || w.AckTick() != tick {
				return st, fmt.Errorf("after snapshot %d: Tick %d, AckTick %d", tick, w.Tick(), w.AckTick())
			}
			if want := srv.history[tick]; !slices.Equal(w.Entities(), want) {
				return st, fmt.Errorf("snapshot %d (baseline %d): world differs from the server's\ngot  %v\nwant %v",
					tick, m.Snapshot.BaselineTick, w.Entities(), want)
			}
		}
		up.send(now, slices.Clone(enc.Input(&schema.Input{Seq: uint32(now), AckTick: w.AckTick()})))
		for _, b := range up.deliver(now) {
			if err := srv.onInput(b); err != nil {
				return st, fmt.Errorf("tick %d: server decode: %w", now, err)
			}
		}
	}
	st.full, st.deltas = srv.full, srv.deltas
	return st, nil
}

// TestWorldLossyNetwork plays random games through a network that drops,
// delays and reorders snapshots and acks (including lags and outages longer
// than the ring), and checks that after every applied snapshot the client's
// world equals the server's world at that tick, exactly. A failure names
// its seed; -world.seed=N replays it.
func TestWorldLossyNetwork(t *testing.T) {
	first, last := uint64(1), uint64(*worldSeeds)
	if *worldSeed != 0 {
		first, last = *worldSeed, *worldSeed
	}
	var total lossyStats
	for seed := first; seed <= last; seed++ {
		st, err := playLossy(seed, 800, 0)
		if err != nil {
			t.Fatalf("seed %d (replay: go test ./net/client -run TestWorldLossyNetwork -world.seed=%d): %v", seed, seed, err)
		}
		total.applied += st.applied
		total.ignored += st.ignored
		total.full += st.full
		total.deltas += st.deltas
	}
	t.Logf("seeds %d..%d: %d snapshots applied, %d ignored as old; server sent %d full, %d deltas",
		first, last, total.applied, total.ignored, total.full, total.deltas)
	if *worldSeed == 0 && (total.ignored == 0 || total.full <= int(last) || total.deltas < total.full) {
		t.Errorf("the network did not exercise reordering, ring overflow and deltas: %+v", total)
	}
}

// TestWorldSmallRing plays the lossy games with rings smaller than the
// server's history: every applied world must still be exact, refused
// snapshots must name a baseline that really left the ring, and the world
// must keep advancing (the client acks its newest world, which the ring
// always holds).
func TestWorldSmallRing(t *testing.T) {
	for _, ring := range []int{1, 4, 8} {
		t.Run(fmt.Sprintf("ring=%d", ring), func(t *testing.T) {
			var total lossyStats
			for seed := uint64(1); seed <= 20; seed++ {
				st, err := playLossy(seed, 800, ring)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				total.applied += st.applied
				total.noBaseline += st.noBaseline
			}
			t.Logf("%d snapshots applied, %d refused for a dropped baseline", total.applied, total.noBaseline)
			if total.applied < 20*800/8 {
				t.Errorf("only %d snapshots applied in 20 games of 800 ticks", total.applied)
			}
		})
	}
}

// TestWorldSmallRingSteadyDelay: a link with a fixed delay each way of d
// ticks and no loss. The server deltas against the newest ack it has, which
// is about 2d ticks old; a ring of R holds it when 2d−1 < R, and no
// snapshot may be refused then. With a longer round trip some are, but the
// world still advances and stays exact.
func TestWorldSmallRingSteadyDelay(t *testing.T) {
	for _, tc := range []struct {
		ring, delay  int
		wantRefusals bool
	}{
		{ring: 4, delay: 1},
		{ring: 4, delay: 2},
		{ring: 8, delay: 4},
		{ring: 4, delay: 3, wantRefusals: true},
		{ring: 2, delay: 5, wantRefusals: true},
	} {
		t.Run(fmt.Sprintf("ring=%d/delay=%d", tc.ring, tc.delay), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 5))
			srv := newSimServer(rng)
			w := NewWorld(tc.ring)
			var m schema.ServerMessage
			enc := schema.NewEncoder(0)
			down := make(map[int][]byte)
			up := make(map[int]uint32)
			applied, refused := 0, 0
			const ticks = 600
			for now := 1; now <= ticks; now++ {
				if a, ok := up[now]; ok {
					srv.ack = a
				}
				srv.step()
				down[now+tc.delay] = srv.snapshot()
				if b, ok := down[now]; ok {
					if err := schema.DecodeServerMessage(b, &m); err != nil {
						t.Fatal(err)
					}
					before := w.Tick()
					switch err := w.Apply(&m.Snapshot); {
					case errors.Is(err, ErrNoBaseline):
						refused++
						if w.Tick() != before {
							t.Fatalf("a refused snapshot moved the world")
						}
					case err != nil:
						t.Fatal(err)
					default:
						applied++
						if want := srv.history[w.Tick()]; !slices.Equal(w.Entities(), want) {
							t.Fatalf("snapshot %d: world differs from the server's", w.Tick())
						}
					}
				}
				var in schema.ClientMessage
				if err := schema.DecodeClientMessage(enc.Input(&schema.Input{Seq: uint32(now), AckTick: w.AckTick()}), &in); err != nil {
					t.Fatal(err)
				}
				up[now+tc.delay] = in.Input.AckTick
			}
			t.Logf("%d applied, %d refused", applied, refused)
			if !tc.wantRefusals && refused > 0 {
				t.Errorf("%d snapshots refused with a round trip of %d ticks and a ring of %d", refused, 2*tc.delay, tc.ring)
			}
			if tc.wantRefusals && refused == 0 {
				t.Errorf("no snapshot refused with a round trip of %d ticks and a ring of %d", 2*tc.delay, tc.ring)
			}
			// At least one snapshot per round trip: the one encoded against
			// the newest world's ack always applies.
			if applied < (ticks-tc.delay)/(2*tc.delay+1) {
				t.Errorf("only %d of %d snapshots applied: the world must keep advancing", applied, ticks-tc.delay)
			}
		})
	}
}

// fixedGame returns n snapshots of a game with a fixed population, each a
// delta against the previous tick (the first one full).
func fixedGame(n int) []schema.Snapshot {
	rng := rand.New(rand.NewPCG(9, 9))
	srv := newSimServer(rng)
	out := make([]schema.Snapshot, 0, n)
	var m schema.ServerMessage
	for i := range n {
		// Move only: no spawn or despawn, so slot sizes stay put.
		for j := range srv.world {
			e := &srv.world[j]
			e.X += int32(e.VX)
			if rng.IntN(10) == 0 {
				e.VX = int16(rng.IntN(65) - 32)
			}
		}
		srv.tick++
		srv.ring[srv.tick%64].ents = append(srv.ring[srv.tick%64].ents[:0], srv.world...)
		if i > 0 {
			srv.ack = srv.tick - 1
		}
		if err := schema.DecodeServerMessage(srv.snapshot(), &m); err != nil {
			panic(err)
		}
		s := m.Snapshot
		s.Spawned, s.Changes, s.Removed = slices.Clone(s.Spawned), slices.Clone(s.Changes), slices.Clone(s.Removed)
		out = append(out, s)
	}
	return out
}

func TestWorldSteadyStateAllocatesNothing(t *testing.T) {
	snaps := fixedGame(400)
	var w World
	for i := range 150 { // every slot gets its slice
		if err := w.Apply(&snaps[i]); err != nil {
			t.Fatal(err)
		}
	}
	i := 150
	if n := testing.AllocsPerRun(200, func() {
		if err := w.Apply(&snaps[i]); err != nil {
			t.Fatal(err)
		}
		i++
	}); n != 0 {
		t.Errorf("%v allocations per snapshot; want 0", n)
	}
}

func TestWorldBaselines(t *testing.T) {
	snaps := fixedGame(80)
	var w World
	if w.Tick() != 0 || w.AckTick() != 0 || w.Entities() != nil {
		t.Fatalf("zero World: tick %d ack %d entities %v", w.Tick(), w.AckTick(), w.Entities())
	}
	if err := w.Apply(&snaps[1]); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("delta before any full snapshot: %v; want ErrNoBaseline", err)
	}
	for i := range 70 {
		if err := w.Apply(&snaps[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Tick 71 against baseline 5: its slot (5) now holds tick 69.
	stale := snaps[70]
	stale.BaselineTick = 5
	if err := w.Apply(&stale); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("baseline out of the ring: %v; want ErrNoBaseline", err)
	}
	if w.Tick() != 70 {
		t.Fatalf("a refused snapshot moved the world to %d", w.Tick())
	}
	// A delta that does not fit its baseline.
	bad := snaps[70]
	bad.Removed = []uint32{1 << 30}
	if err := w.Apply(&bad); !errors.Is(err, schema.ErrBadDelta) {
		t.Fatalf("bad delta: %v; want schema.ErrBadDelta", err)
	}
	// An old snapshot is ignored.
	if err := w.Apply(&snaps[3]); err != nil || w.Tick() != 70 {
		t.Fatalf("old snapshot: err %v, tick %d", err, w.Tick())
	}
	// The good one applies; Entity finds entities of the newest world.
	if err := w.Apply(&snaps[70]); err != nil || w.Tick() != 71 {
		t.Fatalf("snapshot 71: err %v, tick %d", err, w.Tick())
	}
	for _, e := range w.Entities() {
		if got, ok := w.Entity(e.ID); !ok || got != e {
			t.Fatalf("Entity(%d) = %v, %v; want %v", e.ID, got, ok, e)
		}
	}
	if _, ok := w.Entity(1 << 31); ok {
		t.Fatal("Entity found an id that is not there")
	}
	// Reset forgets everything: a delta has no baseline, a full applies.
	w.Reset()
	if w.Tick() != 0 || w.Entities() != nil {
		t.Fatalf("after Reset: tick %d", w.Tick())
	}
	if err := w.Apply(&snaps[71]); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("delta after Reset: %v; want ErrNoBaseline", err)
	}
	full := schema.Snapshot{Tick: 3, Spawned: snaps[0].Spawned}
	if err := w.Apply(&full); err != nil || w.Tick() != 3 || len(w.Entities()) != len(snaps[0].Spawned) {
		t.Fatalf("full after Reset: err %v tick %d", err, w.Tick())
	}
}

// TestConfigWorldRing: Config.WorldRing sizes the client's World (0: the
// default) and Validate bounds it and ReadBufferSize.
func TestConfigWorldRing(t *testing.T) {
	for _, tc := range []struct {
		ring, readBuf int
		wantErr       bool
		wantRing      int
	}{
		{ring: 0, wantRing: DefaultWorldRing},
		{ring: 1, wantRing: 1},
		{ring: 8, readBuf: 1024, wantRing: 8},
		{ring: MaxWorldRing, wantRing: MaxWorldRing},
		{ring: -1, wantErr: true},
		{ring: MaxWorldRing + 1, wantErr: true},
		{ring: 8, readBuf: 100, wantErr: true},
		{ring: 8, readBuf: 2 << 20, wantErr: true},
	} {
		t.Run(fmt.Sprintf("ring=%d/readbuf=%d", tc.ring, tc.readBuf), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.URLs = []string{"ws://127.0.0.1:1/ws"}
			cfg.WorldRing, cfg.ReadBufferSize = tc.ring, tc.readBuf
			if err := cfg.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got := newClient(cfg).World().Ring(); got != tc.wantRing {
				t.Errorf("World().Ring() = %d, want %d", got, tc.wantRing)
			}
		})
	}
	if got := DefaultConfig().WorldRing; got != DefaultWorldRing {
		t.Errorf("DefaultConfig().WorldRing = %d, want %d", got, DefaultWorldRing)
	}
	var w World
	if w.Ring() != DefaultWorldRing {
		t.Errorf("zero World: Ring() = %d, want %d", w.Ring(), DefaultWorldRing)
	}
}

// TestWorldSkipWorld: with Config.SkipWorld the World keeps the newest tick
// only: every newer snapshot moves it, whatever its baseline, older ones are
// ignored, and no world is built.
func TestWorldSkipWorld(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URLs, cfg.SkipWorld = []string{"ws://127.0.0.1:1/ws"}, true
	w := newClient(cfg).World()
	if w.Ring() != 0 {
		t.Fatalf("Ring() = %d, want 0", w.Ring())
	}
	snaps := fixedGame(10)
	for _, i := range []int{0, 5, 3, 9} {
		want := max(w.Tick(), snaps[i].Tick)
		s := snaps[i]
		s.BaselineTick = 1 << 20 // never held: no matter
		if err := w.Apply(&s); err != nil {
			t.Fatalf("snapshot %d: %v", s.Tick, err)
		}
		if w.Tick() != want || w.AckTick() != want {
			t.Fatalf("after snapshot %d: tick %d ack %d, want %d", s.Tick, w.Tick(), w.AckTick(), want)
		}
		if w.Entities() != nil {
			t.Fatal("a tick-only World built entities")
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = w.Apply(&snaps[9]) }); n != 0 {
		t.Errorf("%v allocations per snapshot", n)
	}
}
