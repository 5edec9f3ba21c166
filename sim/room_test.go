package sim

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

func in(seq, ack uint32, mx int8) *schema.Input {
	return &schema.Input{Seq: seq, AckTick: ack, Data: []byte{byte(mx)}}
}

func TestRoomInputsInSeqOrder(t *testing.T) {
	// A jitter buffer of 4: every input is applied, one per tick.
	r, w := newTestRoom(t, func(c *Config) { c.InputBuffer = 4 })
	mustJoin(t, r, 7, &fakeConn{})
	// Reordered in flight: 3, 1, 2 arrive before the first tick.
	for _, seq := range []uint32{3, 1, 2} {
		r.PushInput(7, in(seq, 0, int8(seq)))
	}
	var got []uint32
	for range 5 {
		r.step(time.Now())
		got = append(got, w.lastInputs()[7].Seq)
	}
	// One per tick in seq order; then the last one repeats.
	want := []uint32{1, 2, 3, 3, 3}
	if !equal(got, want) {
		t.Fatalf("applied seqs %v, want %v", got, want)
	}
	// A late input older than the last applied one is discarded.
	r.PushInput(7, in(2, 0, 0))
	r.step(time.Now())
	if s := w.lastInputs()[7].Seq; s != 3 {
		t.Fatalf("after a stale input, applied seq %d, want 3 repeated", s)
	}
	if d := r.Stats().InputsDiscarded; d != 1 {
		t.Fatalf("InputsDiscarded = %d, want 1", d)
	}
}

// TestRoomLatestInputWins: with the default InputBuffer (1), a tick applies
// the newest input that arrived, with its data; older ones are skipped;
// later ticks repeat it.
func TestRoomLatestInputWins(t *testing.T) {
	if DefaultConfig().InputBuffer != 1 {
		t.Fatalf("default InputBuffer %d, want 1", DefaultConfig().InputBuffer)
	}
	tests := []struct {
		name        string
		seqs        []uint32
		wantSeq     uint32
		wantSkipped uint64
	}{
		{"one input", []uint32{1}, 1, 0},
		{"a burst: newest wins", []uint32{1, 2, 3}, 3, 2},
		{"reordered burst", []uint32{3, 1, 2}, 3, 2},
		{"more than the buffer holds", []uint32{1, 2, 3, 4, 5}, 5, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w := newTestRoom(t, nil)
			mustJoin(t, r, 7, &fakeConn{})
			for _, seq := range tt.seqs {
				r.PushInput(7, in(seq, 0, int8(seq)))
			}
			r.step(time.Now())
			got := w.lastInputs()[7]
			if got.Seq != tt.wantSeq || mx(got) != int8(tt.wantSeq) {
				t.Fatalf("applied %+v, want seq %d with data %d", got, tt.wantSeq, tt.wantSeq)
			}
			if d := r.Stats().InputsDiscarded; d != tt.wantSkipped {
				t.Fatalf("InputsDiscarded = %d, want %d", d, tt.wantSkipped)
			}
			r.step(time.Now()) // nothing new: the same input again
			if again := w.lastInputs()[7]; !sameInput(&again, &got) {
				t.Fatalf("next tick applied %+v, want %+v repeated", again, got)
			}
		})
	}
}

func TestRoomMissingInputRepeatsLast(t *testing.T) {
	r, w := newTestRoom(t, nil)
	mustJoin(t, r, 1, &fakeConn{})
	mustJoin(t, r, 2, &fakeConn{})
	r.PushInput(1, in(1, 0, 50))
	r.PushInput(2, in(1, 0, -50))
	r.step(time.Now())
	r.PushInput(2, in(2, 0, 10)) // player 1 sends nothing this tick
	r.step(time.Now())
	got := w.lastInputs()
	if got[1].Seq != 1 || mx(got[1]) != 50 {
		t.Fatalf("player 1 input %+v, want seq 1 repeated with data 50", got[1])
	}
	if got[2].Seq != 2 || mx(got[2]) != 10 {
		t.Fatalf("player 2 input %+v, want seq 2", got[2])
	}
	// Step hands inputs in player order, one per player.
	w.mu.Lock()
	last := w.steps[len(w.steps)-1]
	w.mu.Unlock()
	if len(last) != 2 || last[0].Player != 1 || last[1].Player != 2 {
		t.Fatalf("step inputs %+v, want players 1, 2 in order", last)
	}
}

func TestRoomCatchUpSkipsToNewest(t *testing.T) {
	r, w := newTestRoom(t, func(c *Config) { c.InputBuffer = 4 })
	mustJoin(t, r, 1, &fakeConn{})
	for seq := uint32(1); seq <= 6; seq++ { // a burst beyond the buffer
		r.PushInput(1, in(seq, 0, 0))
	}
	r.step(time.Now())
	if s := w.lastInputs()[1].Seq; s != 6 {
		t.Fatalf("applied seq %d, want the newest (6)", s)
	}
	if d := r.Stats().InputsDiscarded; d != 5 {
		t.Fatalf("InputsDiscarded = %d, want 5", d)
	}
	// Within the buffer: one per tick.
	for seq := uint32(7); seq <= 9; seq++ {
		r.PushInput(1, in(seq, 0, 0))
	}
	r.step(time.Now())
	if s := w.lastInputs()[1].Seq; s != 7 {
		t.Fatalf("applied seq %d, want 7", s)
	}
}

func TestRoomInputQueueFullDropsOldest(t *testing.T) {
	r, w := newTestRoom(t, func(c *Config) { c.InputQueue = 4 })
	mustJoin(t, r, 1, &fakeConn{})
	accepted := 0
	for seq := uint32(1); seq <= 10; seq++ {
		if r.PushInput(1, in(seq, 0, int8(seq))) {
			accepted++
		}
	}
	if accepted != 4 || r.Stats().InputsDropped != 6 {
		t.Fatalf("accepted %d dropped %d, want 4 and 6", accepted, r.Stats().InputsDropped)
	}
	r.step(time.Now()) // drains: the newest wins, with its own data
	if in := w.lastInputs()[1]; in.Seq != 10 || mx(in) != 10 {
		t.Fatalf("applied seq %d data %d, want 10 and 10", in.Seq, mx(in))
	}
	if !r.PushInput(1, in(11, 0, 0)) {
		t.Fatal("PushInput refused after the queue was drained")
	}
}

func TestRoomBaselinePerClient(t *testing.T) {
	r, _ := newTestRoom(t, func(c *Config) { c.History = 8 })
	conns := map[uint32]*fakeConn{}
	for id := uint32(1); id <= 5; id++ {
		conns[id] = &fakeConn{}
		mustJoin(t, r, id, conns[id])
	}
	for range 10 {
		r.step(time.Now())
	}
	// Tick 11 is next. Acks: 1 none (full), 2 and 3 tick 10, 4 tick 8,
	// 5 tick 3 (fell out of an 8-tick ring: full).
	acks := map[uint32]uint32{2: 10, 3: 10, 4: 8, 5: 3}
	for id, ack := range acks {
		r.PushInput(id, &schema.Input{Seq: 100 + id, AckTick: ack})
	}
	before := r.Stats()
	r.step(time.Now())
	after := r.Stats()

	// The fake world at tick k: the static entity, and each player's
	// entity at x = k.
	worldAt := func(k uint32) []fakeEnt {
		ents := []fakeEnt{{ID: 1, HP: 100}}
		for id := uint32(1); id <= 5; id++ {
			ents = append(ents, fakeEnt{ID: 1000 + id, Owner: id, X: int32(k), HP: 100})
		}
		return ents
	}
	// decode applies a snapshot's state to the world the client holds at
	// its baseline, as a client's gamedelta decoder does.
	decode := func(id uint32, s snap) ([]fakeEnt, error) {
		d := gamedelta.NewDecoder(fakeCodec(), id)
		var base *gamedelta.World
		if s.Baseline != 0 {
			base = gamedelta.NewWorld(fakeCodec())
			writeFakeEnts(base, worldAt(s.Baseline))
		}
		dst := gamedelta.NewWorld(fakeCodec())
		err := d.Apply(dst, base, s.Tick-s.Baseline, s.State)
		return fakeEnts(dst), err
	}
	wantBase := map[uint32]uint32{1: 0, 2: 10, 3: 10, 4: 8, 5: 0}
	for id, c := range conns {
		s := c.last(t)
		if s.Tick != 11 || s.Baseline != wantBase[id] {
			t.Errorf("player %d: tick %d baseline %d, want 11 and %d", id, s.Tick, s.Baseline, wantBase[id])
		}
		wantSeq := uint32(0)
		if _, ok := acks[id]; ok {
			wantSeq = 100 + id
		}
		if s.Seq != wantSeq {
			t.Errorf("player %d: last input seq %d, want %d (patched per client)", id, s.Seq, wantSeq)
		}
		// The full snapshot, or the delta applied to the baseline the
		// client holds, rebuilds tick 11.
		if got, err := decode(id, s); err != nil || !slices.Equal(got, worldAt(11)) {
			t.Errorf("player %d: snapshot against tick %d applies to %v, %v; want %v", id, s.Baseline, got, err, worldAt(11))
		}
	}
	// Three distinct baselines: full, 10, 8.
	if n := after.Encodes - before.Encodes; n != 3 {
		t.Errorf("encodes this tick = %d, want 3 (one per distinct baseline)", n)
	}
	if n := after.Snapshots - before.Snapshots; n != 5 {
		t.Errorf("snapshots this tick = %d, want 5", n)
	}
}

func TestRoomAckValidation(t *testing.T) {
	r, _ := newTestRoom(t, nil)
	c := &fakeConn{}
	mustJoin(t, r, 1, c)
	r.step(time.Now())
	r.step(time.Now())
	// An ack for a tick never sent is ignored; the older valid one holds.
	r.PushInput(1, &schema.Input{Seq: 1, AckTick: 2})
	r.PushInput(1, &schema.Input{Seq: 2, AckTick: 99})
	r.step(time.Now())
	if s := c.last(t); s.Baseline != 2 {
		t.Fatalf("baseline %d, want 2 (ack 99 ignored)", s.Baseline)
	}
}

func TestRoomAttachDetach(t *testing.T) {
	r, w := newTestRoom(t, nil)
	c1 := &fakeConn{}
	mustJoin(t, r, 1, c1)
	r.PushInput(1, in(1, 0, 100))
	for range 5 {
		r.step(time.Now())
	}
	r.PushInput(1, in(2, 0, 100)) // sent just before the connection died
	if err := r.detach(1); err != nil {
		t.Fatal(err)
	}
	n := c1.count()
	r.step(time.Now())
	if c1.count() != n {
		t.Fatal("a detached player still receives snapshots")
	}
	if got := w.lastInputs()[1]; got.Data != nil {
		t.Fatalf("detached player's input data %v, want none (stand still)", got.Data)
	}
	// Resume on a new connection holding tick 4: a delta against it.
	c2 := &fakeConn{}
	if err := r.attach(1, c2, 4); err != nil {
		t.Fatal(err)
	}
	r.step(time.Now())
	if s := c2.last(t); s.Tick != 7 || s.Baseline != 4 || s.Seq != 1 {
		t.Fatalf("first snapshot after resume: %+v, want tick 7 baseline 4 seq 1", s)
	}
	if got := w.lastInputs()[1]; got.Data != nil {
		t.Fatalf("an input queued before the detach reached the game: data %v", got.Data)
	}
	// The player keeps its seq: the next input continues after 1.
	r.PushInput(1, in(3, 7, 0))
	r.step(time.Now())
	if s := c2.last(t); s.Seq != 3 || s.Baseline != 7 {
		t.Fatalf("snapshot %+v, want seq 3 baseline 7", s)
	}
	for _, err := range []error{r.attach(9, c2, 0), r.detach(9), r.leave(9)} {
		if !errors.Is(err, ErrNoPlayer) {
			t.Fatalf("command on unknown player: %v, want ErrNoPlayer", err)
		}
	}
}

func TestRoomJoinLeave(t *testing.T) {
	r, w := newTestRoom(t, nil)
	mustJoin(t, r, 3, nil)
	mustJoin(t, r, 1, nil)
	if _, err := r.join(1, nil, nil); !errors.Is(err, ErrPlayerExists) {
		t.Fatalf("second join: %v, want ErrPlayerExists", err)
	}
	w.joinErr = errFake
	if _, err := r.join(5, nil, nil); !errors.Is(err, errFake) {
		t.Fatalf("join refused by the world: %v, want errFake", err)
	}
	if r.Players() != 2 {
		t.Fatalf("Players() = %d, want 2", r.Players())
	}
	if err := r.leave(1); err != nil {
		t.Fatal(err)
	}
	r.PushInput(1, in(1, 0, 0)) // for a player who left: discarded
	r.step(time.Now())
	if d := r.Stats().InputsDiscarded; d != 1 {
		t.Fatalf("InputsDiscarded = %d, want 1", d)
	}
	if r.Players() != 1 || len(w.ents) != 2 {
		t.Fatalf("after leave: %d players, %d entities; want 1, 2", r.Players(), len(w.ents))
	}
}

// TestRoomSteadyStateAllocs proves the tick allocates nothing once warm:
// inputs, step, ring, one encoding per baseline, per-client patch and send.
func TestRoomSteadyStateAllocs(t *testing.T) {
	r, w := newTestRoom(t, nil)
	w.record = false
	for id := uint32(1); id <= 8; id++ {
		mustJoin(t, r, id, discardConn{})
	}
	seq := uint32(0)
	tick := func() {
		seq++
		for id := uint32(1); id <= 8; id++ {
			// Half the clients ack the previous tick, half two back.
			r.PushInput(id, &schema.Input{Seq: seq, AckTick: r.tick - id%2})
		}
		r.step(time.Now())
	}
	for range 100 {
		tick()
	}
	if a := testing.AllocsPerRun(200, tick); a != 0 {
		t.Fatalf("%v allocs per tick in steady state, want 0", a)
	}
}

type discardConn struct{}

func (discardConn) SendSnapshot([]byte) {}
func (discardConn) Overflow()           {}

func TestRoomLoop(t *testing.T) {
	w := newFakeWorld()
	cfg := fakeConfig()
	cfg.TickRate = 128
	r, err := NewRoom("loop", cfg, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	r.Start() // no-op
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &fakeConn{}
	ent, err := r.Join(ctx, 1, c)
	if err != nil || ent != 1001 {
		t.Fatalf("Join = %d, %v; want 1001", ent, err)
	}
	r.PushInput(1, in(1, 0, 42))
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() >= 10 && r.Tick() >= 10 })
	if got := w.lastInputs()[1]; mx(got) != 42 {
		t.Fatalf("input not applied on the loop: %+v", got)
	}
	var seen uint32
	if err := r.Do(ctx, func(tick uint32) error { seen = tick; return nil }); err != nil || seen == 0 {
		t.Fatalf("Do = %v with tick %d", err, seen)
	}
	if err := r.Detach(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Attach(ctx, 1, c, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Leave(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if r.Err() != nil {
		t.Fatalf("Err() after Stop = %v, want nil", r.Err())
	}
	if _, err := r.Join(ctx, 2, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("Join after Stop: %v, want ErrStopped", err)
	}
	st := r.Stats()
	if st.Ticks < 10 || st.Encodes == 0 || st.Snapshots < 10 || st.SnapshotBytes == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRoomStopBeforeStart(t *testing.T) {
	r, _ := newTestRoom(t, nil)
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Start() // after Stop: nothing runs
	select {
	case <-r.Done():
	default:
		t.Fatal("Done not closed")
	}
}

func TestRoomCrash(t *testing.T) {
	w := newFakeWorld()
	w.panicAt = 3
	cfg := fakeConfig()
	cfg.TickRate = 128
	r, err := NewRoom("crash", cfg, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("room did not exit after the world panicked")
	}
	if err := r.Err(); !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "fake world exploded") {
		t.Fatalf("Err() = %v, want ErrCrashed with the panic", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sameInput reports whether a and b are the same input in every field the
// tick log records (EventAck does not reach the game's state).
func sameInput(a, b *schema.Input) bool {
	return a.Seq == b.Seq && a.TargetTick == b.TargetTick && a.AckTick == b.AckTick &&
		bytes.Equal(a.Data, b.Data)
}
