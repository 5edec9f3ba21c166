package bots

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
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
// arena's world (read with arena.AppendEntities into a reused slice).
func TestOnSnapshotAllocatesNothing(t *testing.T) {
	s := newTestSwarm(t, Chase)
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
	if st := unpackSteer(b.steer.Load()); st.moveX <= 0 || st.moveY <= 0 {
		t.Errorf("chase steer = %+v, want towards +x +y", st)
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
		if st.moveX < -arena.AxisMax || st.moveX > arena.AxisMax || st.moveY < -arena.AxisMax || st.moveY > arena.AxisMax {
			t.Errorf("axes out of range: %+v", st)
		}
	}
	// Same seed and bot: the same directions.
	a, b := newWanderer(7, 3), newWanderer(7, 3)
	if a.at(5) != b.at(5) {
		t.Error("same seed gave different directions")
	}
}

// The arena bots' inputs are the arena's: what arena.ReadInput reads back
// from the data a wandering bot sends is its steering.
func TestArenaBotInputs(t *testing.T) {
	w := newWanderer(3, 1)
	st := w.at(1)
	data := arena.AppendInput(nil, st.input())
	if err := arena.Schema().VerifyInput(data); err != nil {
		t.Fatal(err)
	}
	if got := arena.ReadInput(data); got != st.input() || got.MoveX == 0 && got.MoveY == 0 {
		t.Fatalf("input read back %+v, sent %+v", got, st.input())
	}
}

func TestPackSteer(t *testing.T) {
	for _, st := range []steer{{}, {moveX: -100, moveY: 100, aim: 65535}, {moveX: 37, moveY: -5, aim: 123}} {
		if got := unpackSteer(packSteer(st)); got != st {
			t.Errorf("unpack(pack(%+v)) = %+v", st, got)
		}
	}
}
