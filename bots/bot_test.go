package bots

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/gametesting"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

func newTestSwarm(t *testing.T, b Behavior) *Swarm {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Bots, cfg.Behavior = 1, b
	s, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	s.start = time.Now()
	return s
}

// The receive path allocates nothing: OnSnapshot reads the client's reused
// structs, records into preallocated histograms and steers from the
// world's x and y fields.
func TestOnSnapshotAllocatesNothing(t *testing.T) {
	s := newTestSwarm(t, Chase)
	var err error
	if s.chase, err = newChaseLayout(arena.Schema()); err != nil {
		t.Fatal(err)
	}
	b := s.bots[0]
	b.entity.Store(1)
	w := gamedelta.NewWorld(arena.Codec())
	w.Add(1, arena.KindAvatar, 1)
	i := w.Add(2, arena.KindNPC, 0)
	w.SetInt(i, arena.FieldX, 160)
	w.SetInt(i, arena.FieldY, 160)
	var snap schema.Snapshot
	seq := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		snap.Tick = seq
		snap.LastInputSeq = seq
		slot := &b.ring[seq&rttRingMask]
		slot.at.Store(s.now())
		slot.seq.Store(seq)
		b.OnSnapshot(nil, &snap, w)
	})
	if allocs != 0 {
		t.Errorf("OnSnapshot: %.1f allocations per snapshot, want 0", allocs)
	}
	s.col.collect()
	if s.col.ivRTT.TotalCount() < 1000 || s.col.ivGap.TotalCount() < 999 {
		t.Errorf("rtt samples %d, gaps %d", s.col.ivRTT.TotalCount(), s.col.ivGap.TotalCount())
	}
	if st := steer(b.steer.Load()); st.still() || math.Abs(st.angle()-math.Pi/4) > 1e-9 {
		t.Errorf("chase steer = %v rad, want towards +x +y (π/4)", st.angle())
	}
}

func TestRTTSamplesForEveryAckedInput(t *testing.T) {
	s := newTestSwarm(t, Idle)
	b := s.bots[0]
	for seq := uint32(1); seq <= 3; seq++ {
		slot := &b.ring[seq&rttRingMask]
		slot.at.Store(s.now())
		slot.seq.Store(seq)
	}
	// One snapshot acks inputs 1..3: three samples; a repeat acks nothing.
	// An idle bot does not read the world (nil: SkipWorld).
	b.OnSnapshot(nil, &schema.Snapshot{Tick: 5, LastInputSeq: 3}, nil)
	b.OnSnapshot(nil, &schema.Snapshot{Tick: 6, LastInputSeq: 3}, nil)
	s.col.collect()
	if n := s.col.ivRTT.TotalCount(); n != 3 {
		t.Errorf("rtt samples = %d, want 3", n)
	}
	// An ack far ahead of the ring only looks at the last rttRing seqs.
	b.OnSnapshot(nil, &schema.Snapshot{Tick: 7, LastInputSeq: 1000}, nil)
	if b.acked != 1000 {
		t.Errorf("acked = %d, want 1000", b.acked)
	}
}

func TestWanderChangesDirectionEverySecond(t *testing.T) {
	w := newWanderer(1, 0)
	first := w.at(1)
	next := w.next
	if next < 1 || next > 1+wanderPeriodNanos {
		t.Fatalf("first change at %d, want within a second", next)
	}
	if got := w.at(next - 1); got != first {
		t.Errorf("direction changed before its time")
	}
	w.at(next)
	if w.next != next+wanderPeriodNanos {
		t.Errorf("next change at %d, want %d", w.next, next+wanderPeriodNanos)
	}
	for _, st := range []steer{first, w.steer} {
		if st.still() || st.angle() < 0 || st.angle() >= 2*math.Pi {
			t.Errorf("direction %v", st.angle())
		}
	}
	// Same seed and bot: the same directions.
	a, b := newWanderer(7, 3), newWanderer(7, 3)
	if a.at(5) != b.at(5) {
		t.Error("same seed gave different directions")
	}
}

// The generic wander plays the arena by its field names: its inputs pass
// the node's verifier, and arena.ReadInput reads back full-speed axes in
// -AxisMax..AxisMax and the aim of the direction, as the arena's own
// input builder would write them. Building allocates nothing.
func TestArenaBotInputs(t *testing.T) {
	l, err := newMoveLayout(arena.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if l.randOthers || l.aim == nil {
		t.Fatalf("arena layout %+v", l)
	}
	m := newMover(l, 1, 0)
	w := newWanderer(3, 1)
	for i := range 200 {
		st := w.at(int64(i) * wanderPeriodNanos)
		data := m.input(st)
		if err := arena.Schema().VerifyInput(data); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		a := st.angle()
		sin, cos := math.Sincos(a)
		turn := a / (2 * math.Pi)
		want := arena.Input{
			MoveX: int8(math.Round(cos * arena.AxisMax)),
			MoveY: int8(math.Round(sin * arena.AxisMax)),
			Aim:   uint16((turn - math.Floor(turn)) * 65536),
		}
		if got := arena.ReadInput(data); got != want {
			t.Fatalf("input %d read back %+v, want %+v", i, got, want)
		}
		if int(want.MoveX)*int(want.MoveX)+int(want.MoveY)*int(want.MoveY) < 99*99 {
			t.Fatalf("input %d: not full speed: %+v", i, want)
		}
	}
	// Standing still: zero axes (what an idle or lost chaser sends).
	if got := arena.ReadInput(m.input(steerStill)); got != (arena.Input{}) {
		t.Errorf("still: %+v", got)
	}
	st := steerToward(1)
	m.input(steerToward(2))
	if allocs := testing.AllocsPerRun(100, func() {
		m.input(st)
		m.input(steerToward(2))
	}); allocs != 0 {
		t.Errorf("%.1f allocations per input", allocs)
	}
}

// A game's field names decide the behaviour: the card table's input has
// no movement axes, so wander draws random inputs and chase is refused
// naming move_x; the richer test arena (events, a join table, a bit-set
// button field) is steered, its chasers find x and y, and its bots also
// send events.
func TestBehaviourByFieldNames(t *testing.T) {
	_, cards := readCards(t)
	if _, err := newMoveLayout(cards); err == nil || !strings.Contains(err.Error(), FieldMoveX) {
		t.Fatalf("cards move layout: %v", err)
	}
	err := checkChase(cards)
	if err == nil || !strings.Contains(err.Error(), "move_x") {
		t.Fatalf("chase on cards: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Game, cfg.Schema, cfg.Behavior = "cards", cards, Chase
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "move_x") || !strings.Contains(err.Error(), "chase") {
		t.Fatalf("config chase on cards: %v", err)
	}
	ctx := context.Background()
	cfg.Behavior = Wander
	sw, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.lookupGame(ctx); err != nil || sw.move != nil || sw.bots[0].mover != nil || sw.bots[0].game == nil {
		t.Fatalf("wander on cards: %v, move %v", err, sw.move)
	}

	rich, err := gameschema.Load(gametesting.ReadBFBS(t, "arena.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkChase(rich); err != nil {
		t.Fatal(err)
	}
	cfg.Game, cfg.Schema, cfg.Behavior = "arena", rich, Chase
	if sw, err = New(cfg, io.Discard, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	if err := sw.lookupGame(ctx); err != nil || sw.move == nil || sw.chase == nil || sw.bots[0].mover == nil || sw.bots[0].game == nil {
		t.Fatalf("chase on the rich arena: %v", err)
	}
	m := sw.bots[0].mover
	for _, st := range []steer{steerStill, steerToward(-3), steerToward(0.5)} {
		if err := rich.VerifyInput(m.input(st)); err != nil {
			t.Fatalf("input %v: %v", st.angle(), err)
		}
	}
	if _, err := rich.VerifyEvent(sw.bots[0].game.event()); err != nil {
		t.Fatal(err)
	}
}

// Axes scale onto any declared range; a range that excludes zero maps
// -1..1 onto it linearly.
func TestAxisValue(t *testing.T) {
	for _, c := range []struct {
		min, max int64
		in       float64
		want     int64
	}{
		{-100, 100, 1, 100}, {-100, 100, -1, -100}, {-100, 100, 0, 0}, {-100, 100, 0.5, 50},
		{-10, 1000, -1, -10}, {-10, 1000, 1, 1000}, {-10, 1000, 0, 0},
		{0, 200, -1, 0}, {0, 200, 0, 100}, {0, 200, 1, 200},
		{-128, 127, 1, 127}, {-128, 127, -1, -128},
	} {
		f := &gameschema.Field{Type: gameschema.Int32, Min: c.min, Max: c.max}
		if got := axisValue(f, c.in); got != c.want {
			t.Errorf("axis %d..%d of %g = %d, want %d", c.min, c.max, c.in, got, c.want)
		}
	}
}

// An aim field spans one turn over its range: an integer range by whole
// steps, a float range (stored as float32) within its bounds.
func TestAimScales(t *testing.T) {
	in := &gameschema.Table{Name: "t.Input", Fields: []gameschema.Field{
		{Name: FieldMoveX, Index: 0, Type: gameschema.Int16, Min: -1000, Max: 1000},
		{Name: FieldMoveY, Index: 1, Type: gameschema.Int16, Min: -1000, Max: 1000},
		{Name: FieldAim, Index: 2, Type: gameschema.Uint16, Min: 0, Max: 359},
		{Name: "aim_f", Index: 3, Type: gameschema.Float32, FMin: 0, FMax: 0.1, HasRange: true},
	}}
	var v gameschema.Values
	for _, f := range []int{2, 3} {
		l := &moveLayout{input: in, moveX: &in.Fields[0], moveY: &in.Fields[1], aim: &in.Fields[f]}
		for _, c := range []struct {
			angle float64
			aim   int64
		}{{0, 0}, {math.Pi, 180}, {-math.Pi / 2, 270}, {2*math.Pi - 1e-12, 359}} {
			v.Reset(in)
			l.set(&v, steerToward(c.angle))
			if f == 2 {
				if got := v.Int(2); got != c.aim {
					t.Errorf("aim of %g rad = %d, want %d", c.angle, got, c.aim)
				}
				continue
			}
			x := v.Float(3)
			if x < 0 || x > 0.1 || float64(float32(x)) != x || math.Abs(x-float64(c.aim)/360*0.1) > 1e-3 {
				t.Errorf("float aim of %g rad = %v", c.angle, x)
			}
		}
		v.Reset(in)
		l.set(&v, steerToward(0))
		if v.Int(0) != 1000 || v.Int(1) != 0 {
			t.Errorf("axes at 0 rad: %d, %d", v.Int(0), v.Int(1))
		}
	}
}
