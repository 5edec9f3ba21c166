package sim_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// logged is a room recorded by the tick log, with every capture taken
// while it ran (the checkpoints a replay may start from).
type logged struct {
	room     *sim.Room
	log      []byte
	offs     []int // where each record starts in log
	changes  int   // seat changes noted since the last record
	captures []capture
	notes    map[uint32]int // player → joins and attaches noted
}

type capture struct {
	tick  uint32
	skip  int // seat changes since the last record, already in the state
	state []byte
	seats []sim.Seat
}

// arenaConfig is the room configuration of an arena: DefaultConfig with
// the arena's Codec. Replays of an arena take it too (arenaReplay).
func arenaConfig() sim.Config {
	cfg := sim.DefaultConfig()
	cfg.Codec = arena.Codec()
	return cfg
}

var arenaReplay = sim.ReplayWith(arenaConfig())

func newLogged(t testing.TB, world sim.World, opts ...sim.Option) *logged {
	t.Helper()
	l := &logged{notes: map[uint32]int{}}
	rec := sim.WithRecord(func(_ uint32, rec []byte) {
		l.offs = append(l.offs, len(l.log))
		l.log = append(l.log, rec...)
		l.changes = 0
	}, func(dst []byte, player uint32) []byte {
		l.changes++
		l.notes[player]++
		return fmt.Appendf(dst, "p%d", player)
	})
	r, err := sim.NewRoom("logged", arenaConfig(), world, nil, append(opts, rec)...)
	if err != nil {
		t.Fatal(err)
	}
	l.room = r
	return l
}

func (l *logged) capture(t testing.TB) capture {
	t.Helper()
	var c capture
	if err := l.room.CaptureForTest(func(tick uint32, st []byte, seats []sim.Seat) {
		c = capture{tick: tick, skip: l.changes, state: slices.Clone(st), seats: slices.Clone(seats)}
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// play drives l's room for ticks ticks with players coming and going at
// random, inputs at random (none, one or a burst per tick), disconnects,
// resumes and captures, all drawn from rng.
func play(t testing.TB, l *logged, rng *rand.Rand, ticks int) {
	t.Helper()
	seats := map[uint32]bool{}
	seq := map[uint32]uint32{}
	next := uint32(1)
	now := time.Unix(1_700_000_000, 0)
	for tick := uint32(1); tick <= uint32(ticks); tick++ {
		// Seat changes between two ticks, sometimes around a capture.
		for range rng.IntN(3) {
			switch k := rng.IntN(10); {
			case k < 4 && len(seats) < 8:
				if _, err := l.room.JoinForTest(next, nil); err != nil {
					t.Fatal(err)
				}
				seats[next] = true
				next++
			case k < 6 && len(seats) > 0:
				p := pick(rng, seats)
				if err := l.room.LeaveForTest(p); err != nil {
					t.Fatal(err)
				}
				delete(seats, p)
			case k < 8 && len(seats) > 0:
				if err := l.room.DetachForTest(pick(rng, seats)); err != nil {
					t.Fatal(err)
				}
			case len(seats) > 0:
				if err := l.room.AttachForTest(pick(rng, seats), nil, 0); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(8) == 0 {
				l.captures = append(l.captures, l.capture(t))
			}
		}
		for p := range seats {
			for range rng.IntN(3) {
				seq[p]++
				in := schema.Input{
					Seq: seq[p], TargetTick: tick + uint32(rng.IntN(3)), AckTick: tick - min(tick, uint32(rng.IntN(4))),
					Data: arena.AppendInput(nil, arena.Input{
						MoveX: int8(rng.IntN(201) - 100), MoveY: int8(rng.IntN(201) - 100),
						Aim: uint16(rng.Uint32()), Buttons: uint8(rng.Uint32()),
					}),
				}
				l.room.PushInput(p, &in)
			}
		}
		now = now.Add(time.Second / 30)
		l.room.StepForTest(now)
		if rng.IntN(10) == 0 {
			l.captures = append(l.captures, l.capture(t))
		}
	}
}

func pick(rng *rand.Rand, set map[uint32]bool) uint32 {
	ids := make([]uint32, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[rng.IntN(len(ids))]
}

// TestReplayEqualsRecording is the property of the tick log: for any seed,
// an arena played at random (joins, leaves, disconnects, resumes, inputs
// missing, repeated or in bursts) and restored from any of its captures,
// then replayed through the log, reaches exactly the state, tick and seats
// the room had, and every seat change comes back with its note.
func TestReplayEqualsRecording(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 8
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x7e57))
			l := newLogged(t, arena.New(int64(seed)))
			play(t, l, rng, 150+rng.IntN(150))
			end := l.capture(t)
			starts := append([]capture{{}}, l.captures...) // {}: the fresh game at tick 0
			skipped := 0
			for _, c := range starts {
				w := arena.New(int64(seed))
				if c.state != nil {
					if err := w.UnmarshalState(c.state); err != nil {
						t.Fatal(err)
					}
				}
				notes := 0
				got, err := sim.Replay(w, c.tick, c.skip, c.seats, l.log, func(ev sim.SeatEvent) {
					if ev.Kind != sim.SeatLeave && !bytes.Equal(ev.Note, fmt.Appendf(nil, "p%d", ev.Player)) {
						t.Fatalf("note of %+v", ev)
					}
					notes++
				}, arenaReplay)
				if err != nil {
					t.Fatalf("replay from tick %d (skip %d): %v", c.tick, c.skip, err)
				}
				if got.Tick != end.tick || got.Ticks != int(end.tick-c.tick) {
					t.Fatalf("replay from tick %d reached %d after %d ticks, want %d", c.tick, got.Tick, got.Ticks, end.tick)
				}
				if !slices.Equal(got.Seats, end.seats) {
					t.Fatalf("replay from tick %d: seats %+v, want %+v", c.tick, got.Seats, end.seats)
				}
				st, _ := w.MarshalState(nil)
				if !bytes.Equal(st, end.state) {
					t.Fatalf("replay from tick %d: state differs from the room's at tick %d", c.tick, end.tick)
				}
				if c.state == nil {
					total := 0
					for _, n := range l.notes {
						total += n
					}
					if notes != total {
						t.Fatalf("%d seat changes replayed from the start, %d noted", notes, total)
					}
				}
				if c.skip > 0 {
					skipped++
				}
			}
			t.Logf("%d ticks, %d captures replayed from (%d between seat changes), log %d bytes", end.tick, len(l.captures), skipped, len(l.log))
		})
	}
}

// shaky is an arena whose Step, once in a while, moves every entity by a
// value no input explains: it reads a counter outside its state, as a game
// that reads the clock or a global random source would.
type shaky struct {
	*arena.Arena
	calls *int
	every int
}

func (s shaky) Step(tick uint32, in []sim.PlayerInput) {
	s.Arena.Step(tick, in)
	*s.calls++
	if *s.calls%s.every == 0 {
		// A join and a leave change nothing visible but the state's
		// entity ids; a second join makes a difference the hash sees.
		_, _ = s.Arena.Join(1_000_000 + uint32(*s.calls))
	}
}

// TestReplayDetectsDivergence: a game that is not deterministic is caught
// at the first tick whose state differs, with the tick named, and a replay
// of a deterministic game from the same log is not.
func TestReplayDetectsDivergence(t *testing.T) {
	calls := 0
	l := newLogged(t, shaky{Arena: arena.New(7), calls: &calls, every: 1 << 30})
	play(t, l, rand.New(rand.NewPCG(7, 7)), 120)
	if len(l.captures) == 0 {
		t.Fatal("no capture taken")
	}
	c := l.captures[0]

	// The same game, now misbehaving 10 steps into the replay.
	n := 0
	w := shaky{Arena: arena.New(7), calls: &n, every: 10}
	if err := w.UnmarshalState(c.state); err != nil {
		t.Fatal(err)
	}
	got, err := sim.Replay(w, c.tick, c.skip, c.seats, l.log, nil, arenaReplay)
	var de *sim.DivergedError
	if !errors.As(err, &de) || !errors.Is(err, sim.ErrDiverged) {
		t.Fatalf("replay of a non-deterministic game: %+v, %v; want a DivergedError", got, err)
	}
	if de.Tick != c.tick+10 || got.Tick != c.tick+9 {
		t.Fatalf("diverged at tick %d (replayed to %d), want %d (replayed to %d)", de.Tick, got.Tick, c.tick+10, c.tick+9)
	}

	// Behaving: no divergence.
	w2 := arena.New(7)
	if err := w2.UnmarshalState(c.state); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Replay(w2, c.tick, c.skip, c.seats, l.log, nil, arenaReplay); err != nil {
		t.Fatalf("deterministic replay: %v", err)
	}
}

// TestReplayBadLog: a log cut short stops the replay at the last whole
// record, with the World in that tick's state; a log that does not start
// at the tick after the checkpoint, or with a record that is not full,
// replays nothing.
func TestReplayBadLog(t *testing.T) {
	l := newLogged(t, arena.New(3))
	rng := rand.New(rand.NewPCG(3, 3))
	play(t, l, rng, 60)
	w := arena.New(3)
	got, err := sim.Replay(w, 0, 0, nil, l.log[:len(l.log)-2], nil, arenaReplay)
	if !errors.Is(err, sim.ErrBadLog) || got.Tick != 59 {
		t.Fatalf("cut log: %+v, %v; want ErrBadLog at tick 59", got, err)
	}
	// A checkpoint newer than the log: nothing to replay, no error.
	got, err = sim.Replay(arena.New(3), 500, 0, nil, l.log, nil, arenaReplay)
	if err != nil || got.Tick != 500 || got.Ticks != 0 {
		t.Fatalf("log older than the checkpoint: %+v, %v", got, err)
	}
	// A log that starts past the checkpoint's next tick: a gap.
	got, err = sim.Replay(arena.New(3), 5, 0, nil, l.log[l.offs[10]:], nil, arenaReplay)
	if !errors.Is(err, sim.ErrBadLog) || got.Ticks != 0 || got.Tick != 5 {
		t.Fatalf("gap between the checkpoint (5) and the log (11): %+v, %v", got, err)
	}
	for i := range len(l.log) {
		_, _ = sim.Replay(arena.New(3), 0, 0, nil, l.log[:i], nil, arenaReplay) // never panics
	}
}

// TestRecordAllocs: recording every tick allocates nothing once warm.
func TestRecordAllocs(t *testing.T) {
	var buf []byte
	r, err := sim.NewRoom("rec", arenaConfig(), arena.New(1), nil,
		sim.WithRecord(func(_ uint32, rec []byte) { buf = append(buf[:0], rec...) }, nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 8; i++ {
		if _, err := r.JoinForTest(i, discard{}); err != nil {
			t.Fatal(err)
		}
	}
	seq := uint32(0)
	now := time.Unix(1_700_000_000, 0)
	var in schema.Input
	data := make([]byte, 0, 64)
	tick := func() {
		seq++
		for i := uint32(1); i <= 8; i++ {
			in = schema.Input{Seq: seq, AckTick: r.Tick(), Data: arena.AppendInput(data[:0], arena.Input{MoveX: int8(seq % 100)})}
			r.PushInput(i, &in)
		}
		now = now.Add(time.Second / 30)
		r.StepForTest(now)
	}
	for range 100 {
		tick()
	}
	want := 0.0
	if sim.RaceBuild() {
		want = 1000 // counted, but the instrumentation's own allocations are not ours
	}
	if a := testing.AllocsPerRun(200, tick); a > want {
		t.Fatalf("%v allocs per recorded tick, want %v", a, want)
	}
	if len(buf) < 8*8 {
		t.Fatalf("record of %d bytes for 8 players", len(buf))
	}
}

type discard struct{}

func (discard) SendSnapshot([]byte) {}
func (discard) Overflow()           {}

// FuzzReplay: whatever bytes a tick log holds, Replay refuses or replays
// them without panicking, and never reports more ticks than it stepped.
func FuzzReplay(f *testing.F) {
	l := newLogged(f, arena.New(5))
	play(f, l, rand.New(rand.NewPCG(5, 5)), 40)
	f.Add(l.log, uint32(0), 0)
	f.Add(l.log[l.offs[20]:], uint32(19), 1)
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0}, uint32(0), 0)
	f.Fuzz(func(t *testing.T, log []byte, start uint32, skip int) {
		got, err := sim.Replay(arena.New(5), start, skip, nil, log, nil, arenaReplay)
		if got.Tick != start+uint32(got.Ticks) {
			t.Fatalf("replayed %d ticks from %d, reports tick %d (%v)", got.Ticks, start, got.Tick, err)
		}
	})
}
