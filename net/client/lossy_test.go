package client

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

var (
	lossySeed  = flag.Uint64("lossy.seed", 0, "run TestLossyNetwork for this seed only (replays a failure)")
	lossySeeds = flag.Int("lossy.seeds", 30, "number of seeds TestLossyNetwork runs")
)

// lossyServer is the server side of TestLossyNetwork: an arena world
// (games/arena's codec) in which entities spawn, despawn (ids reused now
// and then), move, turn, teleport and lose hp; a gamedelta.Encoder with
// sim's history (64 ticks), encoding each tick for the client against its
// newest ack (full when the ack left the history).
type lossyServer struct {
	rng     *rand.Rand
	tick    uint32
	ents    []arena.Entity
	w       *gamedelta.World
	enc     *gamedelta.Encoder
	cl      *gamedelta.Client
	history []*gamedelta.World // every tick's world: the test's oracle
	nextID  uint32
	gone    []uint32
	full    int
	deltas  int
}

func newLossyServer(rng *rand.Rand) *lossyServer {
	enc, err := gamedelta.NewEncoder(arena.Codec(), gamedelta.DefaultEncoderConfig())
	if err != nil {
		panic(err)
	}
	s := &lossyServer{
		rng: rng, w: gamedelta.NewWorld(arena.Codec()), enc: enc, cl: enc.NewClient(1),
		nextID: 1, history: []*gamedelta.World{nil},
	}
	for range 20 + rng.IntN(40) {
		s.spawn()
	}
	return s
}

func (s *lossyServer) pos() int32 { return s.rng.Int32N(arena.MaxPos + 1) }

func (s *lossyServer) spawn() {
	id := s.nextID
	if len(s.gone) > 0 && s.rng.IntN(4) == 0 {
		i := s.rng.IntN(len(s.gone))
		id = s.gone[i]
		s.gone = slices.Delete(s.gone, i, i+1)
	} else {
		s.nextID++
	}
	e := arena.Entity{
		ID: id, Kind: arena.KindNPC, X: s.pos(), Y: s.pos(),
		VX: int16(s.rng.IntN(65) - 32), VY: int16(s.rng.IntN(65) - 32),
		Angle: uint16(s.rng.Uint32()), HP: arena.MaxHP,
	}
	if s.rng.IntN(5) == 0 {
		e.Kind, e.Owner = arena.KindAvatar, 1+s.rng.Uint32N(8)
	}
	i := sort.Search(len(s.ents), func(i int) bool { return s.ents[i].ID >= id })
	s.ents = slices.Insert(s.ents, i, e)
}

// step advances the game by one tick, records it and keeps a copy.
func (s *lossyServer) step() {
	r := s.rng
	for i := 0; i < len(s.ents); i++ {
		e := &s.ents[i]
		if r.IntN(200) == 0 {
			s.gone = append(s.gone, e.ID)
			s.ents = slices.Delete(s.ents, i, i+1)
			i--
			continue
		}
		e.X = min(max(e.X+int32(e.VX), 0), arena.MaxPos)
		e.Y = min(max(e.Y+int32(e.VY), 0), arena.MaxPos)
		switch r.IntN(100) {
		case 0, 1, 2:
			e.VX, e.VY = int16(r.IntN(65)-32), int16(r.IntN(65)-32)
			e.Angle = uint16(r.Uint32())
		case 3:
			e.HP = uint8(r.IntN(arena.MaxHP + 1))
		case 4:
			e.X, e.Y = s.pos(), s.pos() // teleport
		case 5:
			e.Angle += uint16(r.IntN(2001) - 1000)
		}
	}
	if r.IntN(3) == 0 {
		s.spawn()
	}
	s.tick++
	s.w.Reset()
	for _, e := range s.ents {
		i := s.w.Add(e.ID, e.Kind, e.Owner)
		s.w.SetInt(i, arena.FieldX, int64(e.X))
		s.w.SetInt(i, arena.FieldY, int64(e.Y))
		s.w.SetInt(i, arena.FieldVX, int64(e.VX))
		s.w.SetInt(i, arena.FieldVY, int64(e.VY))
		s.w.SetInt(i, arena.FieldAngle, int64(e.Angle))
		s.w.SetInt(i, arena.FieldHP, int64(e.HP))
	}
	if err := s.enc.Record(s.tick, s.w); err != nil {
		panic(err)
	}
	h := gamedelta.NewWorld(arena.Codec())
	h.CopyFrom(s.w)
	s.history = append(s.history, h)
}

// snapshot encodes the current tick for the client; the snapshot owns
// its bytes.
func (s *lossyServer) snapshot() schema.Snapshot {
	e, err := s.enc.Encode(s.cl, nil)
	if err != nil {
		panic(err)
	}
	if e.Baseline == 0 {
		s.full++
	} else {
		s.deltas++
	}
	return schema.Snapshot{Tick: s.tick, BaselineTick: e.Baseline, State: slices.Clone(e.Data)}
}

// onAck takes a client input's ack (the newest one counts, as in sim).
func (s *lossyServer) onAck(a uint32) { s.cl.Ack(a) }

// lossyLink drops, delays and reorders messages, with outages longer than
// the history.
type lossyLink[T any] struct {
	rng      *rand.Rand
	q        []packet[T]
	drop     float64 // probability of losing a message
	maxDelay int     // ticks; random delays reorder
	outage   int     // ticks left during which everything is lost
}

type packet[T any] struct {
	at, seq int
	msg     T
}

func (l *lossyLink[T]) send(now int, msg T) {
	if l.outage > 0 || l.rng.Float64() < l.drop {
		return
	}
	delay := l.rng.IntN(l.maxDelay + 1)
	if l.rng.IntN(100) == 0 {
		delay = 65 + l.rng.IntN(100) // a lag longer than the history
	}
	l.q = append(l.q, packet[T]{at: now + delay, seq: l.rng.Int(), msg: msg})
}

// deliver returns the messages due at now, in arrival order.
func (l *lossyLink[T]) deliver(now int) []T {
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
	var out []T
	for len(l.q) > 0 && l.q[0].at <= now {
		out = append(out, l.q[0].msg)
		l.q = l.q[1:]
	}
	return out
}

type lossyStats struct{ applied, ignored, full, deltas, noBaseline int }

// playLossy plays one seeded arena game through the client's receive path
// (applyState, as onSnapshot calls it) and checks the client's world after
// every snapshot it applies. ring is Config.WorldRing (0: the default, the
// server's history). With a ring smaller than the server's 64 ticks a
// snapshot may name a baseline the client dropped: that is accepted only
// when the baseline really left the ring, and must leave the world as it
// was.
func playLossy(seed uint64, ticks, ring int) (lossyStats, error) {
	rng := rand.New(rand.NewPCG(seed, 0x3071d))
	srv := newLossyServer(rng)
	down := &lossyLink[schema.Snapshot]{rng: rng, drop: rng.Float64() * 0.3, maxDelay: rng.IntN(8)}
	up := &lossyLink[uint32]{rng: rng, drop: rng.Float64() * 0.3, maxDelay: rng.IntN(8)}
	cfg := testConfig("ws://127.0.0.1:1/ws")
	cfg.Schema, cfg.Codec, cfg.WorldRing = arena.Schema(), arena.Codec(), ring
	c := newClient(cfg)
	if err := c.gameWelcome(&schema.Welcome{PlayerID: 1}, true, false); err != nil {
		return lossyStats{}, err
	}
	held := receiverHistory(ring)
	var st lossyStats
	for now := 1; now <= ticks; now++ {
		srv.step()
		down.send(now, srv.snapshot())
		for _, sn := range down.deliver(now) {
			before := c.newestTick()
			tick, err := c.applyState(&sn)
			if err != nil {
				base := sn.BaselineTick
				if errors.Is(err, ErrNoBaseline) && held < 64 && base != 0 && base+uint32(held) <= before && c.newestTick() == before {
					st.noBaseline++
					continue
				}
				return st, fmt.Errorf("tick %d: apply snapshot %d (baseline %d): %w", now, sn.Tick, sn.BaselineTick, err)
			}
			if sn.Tick <= before {
				st.ignored++
				if tick != before || c.newestTick() != before {
					return st, fmt.Errorf("old snapshot %d moved the client from %d to %d", sn.Tick, before, c.newestTick())
				}
				continue
			}
			st.applied++
			if tick != sn.Tick {
				return st, fmt.Errorf("snapshot %d applied as tick %d", sn.Tick, tick)
			}
			if want := srv.history[sn.Tick]; !gamedelta.Equal(c.World(), want) {
				return st, fmt.Errorf("snapshot %d (baseline %d): world differs from the server's\ngot  %v\nwant %v",
					sn.Tick, sn.BaselineTick, c.World(), want)
			}
		}
		up.send(now, c.newestTick())
		for _, a := range up.deliver(now) {
			srv.onAck(a)
		}
	}
	st.full, st.deltas = srv.full, srv.deltas
	return st, nil
}

// TestLossyNetwork plays random arena games through a network that drops,
// delays and reorders snapshots and acks (lags and outages longer than the
// server's history included), and checks that after every snapshot the
// client applies its world equals the server's world at that tick,
// exactly. A failure names its seed; -lossy.seed=N replays it.
func TestLossyNetwork(t *testing.T) {
	first, last := uint64(1), uint64(*lossySeeds)
	if *lossySeed != 0 {
		first, last = *lossySeed, *lossySeed
	}
	var total lossyStats
	for seed := first; seed <= last; seed++ {
		st, err := playLossy(seed, 600, 0)
		if err != nil {
			t.Fatalf("seed %d (replay: go test ./net/client -run TestLossyNetwork -lossy.seed=%d): %v", seed, seed, err)
		}
		total.applied += st.applied
		total.ignored += st.ignored
		total.full += st.full
		total.deltas += st.deltas
		total.noBaseline += st.noBaseline
	}
	t.Logf("seeds %d..%d: %d snapshots applied, %d ignored as old; server sent %d full, %d deltas",
		first, last, total.applied, total.ignored, total.full, total.deltas)
	if total.noBaseline != 0 {
		t.Errorf("%d snapshots refused with the default ring (the server's history)", total.noBaseline)
	}
	if *lossySeed == 0 && (total.ignored == 0 || total.full <= int(last) || total.deltas < total.full) {
		t.Errorf("the network did not exercise reordering, history overflow and deltas: %+v", total)
	}
}

// TestLossyNetworkSmallRing plays the lossy games with rings smaller than
// the server's history: every applied world must still be exact, refused
// snapshots must name a baseline that really left the ring, and the world
// must keep advancing (the client acks its newest world, which the ring
// always holds).
func TestLossyNetworkSmallRing(t *testing.T) {
	for _, ring := range []int{2, 4, 8} {
		t.Run(fmt.Sprintf("ring=%d", ring), func(t *testing.T) {
			var total lossyStats
			for seed := uint64(1); seed <= 15; seed++ {
				st, err := playLossy(seed, 600, ring)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				total.applied += st.applied
				total.noBaseline += st.noBaseline
			}
			t.Logf("%d snapshots applied, %d refused for a dropped baseline", total.applied, total.noBaseline)
			if total.applied < 15*600/8 {
				t.Errorf("only %d snapshots applied in 15 games of 600 ticks", total.applied)
			}
		})
	}
}
