package sim

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

// switchGate is a Gate the test opens and closes.
type switchGate struct {
	open  atomic.Bool
	calls atomic.Uint64
}

func (g *switchGate) Open() bool {
	g.calls.Add(1)
	return g.open.Load()
}

// ckptLog records every checkpoint (copied, as the contract asks).
type ckptLog struct {
	mu    sync.Mutex
	ticks []uint32
	state [][]byte
	seats [][]Seat
}

func (l *ckptLog) record(tick uint32, state []byte, seats []Seat) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ticks = append(l.ticks, tick)
	l.state = append(l.state, slices.Clone(state))
	l.seats = append(l.seats, slices.Clone(seats))
}

func (l *ckptLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ticks)
}

// settle lets d of wall time pass. Only for asserting that nothing happens
// in a window (a paused or frozen room); waits for something to happen use
// checkFor.
func settle(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

func startLoopRoom(t *testing.T, opts ...Option) (*Room, *fakeWorld) {
	t.Helper()
	w := newFakeWorld()
	w.record = false
	cfg := fakeConfig()
	cfg.TickRate = 128
	r, err := NewRoom("lifecycle", cfg, w, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r, w
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRoomGatePausesAndResumes: while the gate is closed the room neither
// steps nor sends (paused ticks are counted); when it opens the room goes
// on from its tick at the normal pace, without a catch-up burst.
func TestRoomGatePausesAndResumes(t *testing.T) {
	g := &switchGate{}
	g.open.Store(true)
	r, _ := startLoopRoom(t, WithGate(g))
	c := &fakeConn{}
	if _, err := r.Join(ctxT(t), 1, c); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() >= 5 })

	g.open.Store(false)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return r.Paused() })
	tick, sent := r.Tick(), c.count()
	p0 := r.Stats().PausedTicks
	testutil.CheckTrue(t, 5*time.Second, func() bool { return r.Stats().PausedTicks >= p0+20 }) // ≈ 160 ms closed
	if r.Tick() != tick || c.count() != sent {
		t.Fatalf("while gated: tick %d → %d, snapshots %d → %d; want no change", tick, r.Tick(), sent, c.count())
	}

	before := r.Stats()
	period := r.Config().Period()
	reopened := time.Now() // before the loop can see the gate open
	g.open.Store(true)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return r.Tick() >= tick+4 })
	after := r.Stats()
	elapsed := time.Since(reopened) // after reading the counters
	if r.Paused() {
		t.Fatal("still paused after the gate opened")
	}
	// Four ticks take at least three periods at the normal pace; a burst
	// replaying the time lost would run them back to back.
	if elapsed < 3*period {
		t.Fatalf("4 ticks %v after reopening (period %v): a catch-up burst", elapsed, period)
	}
	// Re-anchored when the gate opened, the clock's slot 1 is due at that
	// moment, so the slots used since (ticks run plus ticks skipped) are at
	// most one more than the periods elapsed. A stall of the loop after
	// reopening (a loaded machine) may skip slots, within that bound; a clock
	// still anchored before the pause would also count the 20 or more
	// periods spent paused.
	ran := after.Ticks - before.Ticks
	skipped := after.SkippedTicks - before.SkippedTicks
	if limit := uint64(elapsed/period) + 1; ran+skipped > limit {
		t.Fatalf("%d ticks run and %d skipped in %v since reopening (period %v), want at most %d: the clock was not re-anchored",
			ran, skipped, elapsed, period, limit)
	}
	if s := c.last(t); s.Tick < tick+1 {
		t.Fatalf("snapshot tick %d after reopening, want > %d", s.Tick, tick)
	}
}

// TestRoomFreezeThaw: a frozen room does not tick, send or checkpoint, but
// runs commands; Thaw resumes it from the same tick.
func TestRoomFreezeThaw(t *testing.T) {
	log := &ckptLog{}
	r, _ := startLoopRoom(t, WithCheckpoint(20*time.Millisecond, log.record))
	c := &fakeConn{}
	if _, err := r.Join(ctxT(t), 1, c); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return log.count() >= 2 && c.count() >= 5 })
	tick, err := r.Freeze(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Freeze(ctxT(t)); again != tick {
		t.Fatalf("second Freeze returned tick %d, want %d", again, tick)
	}
	if !r.Frozen() || !r.Stats().Frozen {
		t.Fatal("Frozen() false after Freeze")
	}
	sent, ckpts := c.count(), log.count()
	settle(100 * time.Millisecond) // ≈ 13 periods
	if r.Tick() != tick || c.count() != sent || log.count() != ckpts {
		t.Fatalf("frozen room moved: tick %d → %d, snapshots %d → %d, checkpoints %d → %d",
			tick, r.Tick(), sent, c.count(), ckpts, log.count())
	}
	// Commands still run; Capture sees the frozen tick.
	var got uint32
	if err := r.Capture(ctxT(t), func(tk uint32, _ []byte, seats []Seat) {
		got = tk
		if len(seats) != 1 || seats[0] != (Seat{Player: 1, Entity: 1001}) {
			t.Errorf("captured seats %+v", seats)
		}
	}); err != nil || got != tick {
		t.Fatalf("Capture = %v at tick %d, want tick %d", err, got, tick)
	}
	if err := r.Thaw(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return r.Tick() > tick && c.count() > sent })
	if r.Stats().PausedTicks != 0 {
		t.Fatalf("a frozen room counted %d paused ticks; those are for the gate", r.Stats().PausedTicks)
	}
}

// TestRoomCheckpointInterval drives the room by hand: a checkpoint every
// interval of game time, and one at the tick after each join or leave.
func TestRoomCheckpointInterval(t *testing.T) {
	log := &ckptLog{}
	cfg := fakeConfig() // 30 Hz: 100 ms is 3 ticks
	w := newFakeWorld()
	r, err := NewRoom("ckpt", cfg, w, nil, WithCheckpoint(100*time.Millisecond, log.record))
	if err != nil {
		t.Fatal(err)
	}
	tick := func() { r.step(time.Now()); r.maybeCheckpoint() }
	mustJoin(t, r, 7, &fakeConn{})
	r.PushInput(7, in(5, 0, 0))
	for range 10 {
		tick()
	}
	if err := r.leave(7); err != nil {
		t.Fatal(err)
	}
	tick()
	want := []uint32{1, 4, 7, 10, 11}
	if !slices.Equal(log.ticks, want) {
		t.Fatalf("checkpoints at ticks %v, want %v", log.ticks, want)
	}
	if s := log.seats[1]; len(s) != 1 || s[0] != (Seat{Player: 7, Entity: 1007, LastSeq: 5}) {
		t.Fatalf("seats at tick 4: %+v", s)
	}
	if len(log.seats[4]) != 0 {
		t.Fatalf("seats after the leave: %+v", log.seats[4])
	}
	// State from MarshalState: 2 entities at tick 4 (static 1 and player's 1007 at x=4).
	if st := log.state[1]; len(st) != 5 || st[0] != 2 || st[4] != 4 {
		t.Fatalf("state at tick 4: %v", st)
	}
	if r.Stats().Checkpoints != 5 {
		t.Fatalf("Stats().Checkpoints = %d, want 5", r.Stats().Checkpoints)
	}

	// A failing MarshalState is counted, not fatal.
	w.marshalErr = errFake
	mustJoin(t, r, 8, nil)
	tick()
	if st := r.Stats(); st.CheckpointFails != 1 || log.count() != 5 {
		t.Fatalf("after a failing MarshalState: %+v, %d checkpoints", st, log.count())
	}
}

func TestRoomCheckpointOptionsValidated(t *testing.T) {
	type noState struct {
		World
		StateWriter
	}
	w0 := newFakeWorld()
	if _, err := NewRoom("x", fakeConfig(), noState{w0, w0}, nil, WithCheckpoint(time.Second, func(uint32, []byte, []Seat) {})); err == nil {
		t.Fatal("checkpoints accepted for a world without MarshalState")
	}
	if _, err := NewRoom("x", fakeConfig(), newFakeWorld(), nil, WithCheckpoint(0, func(uint32, []byte, []Seat) {})); err == nil {
		t.Fatal("checkpoint interval 0 accepted")
	}
	if _, err := NewRoom("x", fakeConfig(), newFakeWorld(), nil, WithRestore(5, []Seat{{Player: 1}, {Player: 1}})); err == nil {
		t.Fatal("a player restored twice accepted")
	}
	r, err := NewRoom("x", fakeConfig(), noState{w0, w0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer func() { _ = r.Stop(context.Background()) }()
	if err := r.Capture(ctxT(t), func(uint32, []byte, []Seat) {}); err == nil {
		t.Fatal("Capture of a world without MarshalState succeeded")
	}
}

// TestRoomRestore: a room restored at tick 100 with two seats steps 101
// next; the seats are detached until Attach, keep their entity and last
// seq, and their older inputs are discarded.
func TestRoomRestore(t *testing.T) {
	cfg := fakeConfig()
	w := newFakeWorld()
	w.ents = append(w.ents, fakeEnt{ID: 1003, Owner: 3}, fakeEnt{ID: 1009, Owner: 9})
	seats := []Seat{{Player: 9, Entity: 1009, LastSeq: 40}, {Player: 3, Entity: 1003, LastSeq: 7}}
	log := &ckptLog{}
	r, err := NewRoom("restored", cfg, w, nil, WithRestore(100, seats), WithCheckpoint(time.Second, log.record))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tick() != 100 || r.Players() != 2 {
		t.Fatalf("restored room: tick %d, %d players; want 100, 2", r.Tick(), r.Players())
	}
	r.PushInput(3, in(8, 0, 1)) // detached: discarded
	r.step(time.Now())
	if r.Tick() != 101 || r.Stats().InputsDiscarded != 1 {
		t.Fatalf("after a step: tick %d, discarded %d; want 101, 1", r.Tick(), r.Stats().InputsDiscarded)
	}
	c := &fakeConn{}
	if err := r.attach(3, c, 0); err != nil {
		t.Fatal(err)
	}
	r.PushInput(3, in(7, 0, 1))  // already applied by the old owner: discarded
	r.PushInput(3, in(8, 0, 42)) // new
	r.step(time.Now())
	if s := c.last(t); s.Tick != 102 || s.Baseline != 0 || s.Seq != 8 {
		t.Fatalf("first snapshot after restore %+v, want tick 102, full, seq 8", s)
	}
	if err := r.capture(log.record); err != nil {
		t.Fatal(err)
	}
	// Player 9 has not resumed here: its seat is still unsettled (Seat).
	want := []Seat{{Player: 3, Entity: 1003, LastSeq: 8}, {Player: 9, Entity: 1009, LastSeq: 40, Unsettled: true}}
	if got := log.seats[0]; !slices.Equal(got, want) || log.ticks[0] != 102 {
		t.Fatalf("capture at %d: seats %+v, want %+v", log.ticks[0], got, want)
	}
	if _, err := r.join(3, nil, nil); !errors.Is(err, ErrPlayerExists) {
		t.Fatalf("join of a restored player: %v, want ErrPlayerExists", err)
	}
}

// TestRoomCheckpointAllocs: with a gate and checkpoints on, a warm tick
// still allocates nothing (the checkpoint buffers are reused).
func TestRoomCheckpointAllocs(t *testing.T) {
	g := &switchGate{}
	g.open.Store(true)
	w := newFakeWorld()
	w.record = false
	var n int
	r, err := NewRoom("allocs", fakeConfig(), w, nil, WithGate(g),
		WithCheckpoint(time.Millisecond, func(uint32, []byte, []Seat) { n++ }))
	if err != nil {
		t.Fatal(err)
	}
	for id := uint32(1); id <= 8; id++ {
		mustJoin(t, r, id, discardConn{})
	}
	tick := func() {
		if !r.hold() {
			r.step(time.Now())
			r.maybeCheckpoint()
		}
	}
	for range 50 {
		tick()
	}
	if a := testing.AllocsPerRun(200, tick); a != 0 {
		t.Fatalf("%v allocs per tick with a gate and a checkpoint every tick, want 0", a)
	}
	if n < 250 {
		t.Fatalf("%d checkpoints, want one per tick", n)
	}
}
