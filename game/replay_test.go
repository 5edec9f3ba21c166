package game

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// recTickLog is a TickLogger that keeps every match's records (copied, as
// the contract asks), as the cluster's FSM would hold them.
type recTickLog struct {
	mu     sync.Mutex
	log    map[string][]byte
	last   map[string]uint32
	forgot map[string]int
}

func newRecTickLog() *recTickLog {
	return &recTickLog{log: map[string][]byte{}, last: map[string]uint32{}, forgot: map[string]int{}}
}

func (r *recTickLog) Append(id string, _ uint64, tick uint32, rec []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log[id] = append(r.log[id], rec...)
	r.last[id] = tick
}

func (r *recTickLog) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgot[id]++
}

func (r *recTickLog) get(id string) ([]byte, uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.log[id]), r.last[id]
}

// wobble, when set, makes every movingGame step drift by a value no input
// explains: a game that reads something outside its state.
var wobble atomic.Int32

// movingGame moves each player's entity by its input's axes every tick.
type movingGame struct{ fakeGame }

func (g *movingGame) Step(_ uint32, inputs []sim.PlayerInput) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, in := range inputs {
		mx, my := readFakeInput(in.Input.Data)
		for i := range g.ents {
			if g.ents[i].Owner == in.Player {
				g.ents[i].X += int32(mx)
				g.ents[i].Y += int32(my) + wobble.Load()
			}
		}
	}
}

// MarshalState writes next, then each entity's id, owner, x and y.
func (g *movingGame) MarshalState(dst []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, g.next)
	for _, e := range g.ents {
		dst = le.AppendUint32(dst, e.ID)
		dst = le.AppendUint32(dst, e.Owner)
		dst = le.AppendUint32(dst, uint32(e.X))
		dst = le.AppendUint32(dst, uint32(e.Y))
	}
	return dst, nil
}

func (g *movingGame) UnmarshalState(b []byte) error {
	if len(b) < 4 || (len(b)-4)%16 != 0 {
		return errors.New("moving game: bad state")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	le := binary.LittleEndian
	g.next = le.Uint32(b)
	g.ents = g.ents[:0]
	for p := 4; p < len(b); p += 16 {
		g.ents = append(g.ents, fakeEnt{ID: le.Uint32(b[p:]), Owner: le.Uint32(b[p+4:]),
			X: int32(le.Uint32(b[p+8:])), Y: int32(le.Uint32(b[p+12:]))})
	}
	return nil
}

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// logNode is a cluster-mode manager with the moving game, a recording
// Checkpointer and TickLogger, its metrics in reg and its log in out.
type logNode struct {
	m    *Manager
	ckpt *recCheckpointer
	tlog *recTickLog
	reg  *prometheus.Registry
	out  *testutil.SyncBuffer
}

func newLogNode(t *testing.T, id string) *logNode {
	t.Helper()
	n := &logNode{tlog: newRecTickLog(), reg: prometheus.NewRegistry(), out: &testutil.SyncBuffer{}}
	m, rec := newClusterManager(t, id, func(c *Config) {
		c.TickLog = n.tlog
		c.Registerer = n.reg
		c.Logger = zerolog.New(n.out)
		c.ResumeGrace = time.Minute
	})
	registerFake(t, m.games, "moving", func(int64) Game { return &movingGame{} })
	n.m, n.ckpt = m, rec
	return n
}

// played is a match played on a: a checkpoint taken while players 1 and 2
// were seated; after it player 3 joined, player 2 left and everyone kept
// moving; then a froze the room at tick (its state is final).
type played struct {
	ck      recCkpt
	ckTick  uint32
	tick    uint32
	final   *checkpoint
	welcome [3]schema.Welcome
	tok3    seatToken
}

func playOnA(t *testing.T, a *logNode) played {
	t.Helper()
	var p played
	adopt(t, a.m, AdoptRequest{MatchID: "m1", Game: "moving", Seed: 7, Epoch: 10})
	s1, _ := join(t, a.m, schema.Hello{MatchID: "m1"}, 0)
	s2, _ := join(t, a.m, schema.Hello{MatchID: "m1"}, 0)
	seats := []Seat{s1, s2}
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // inputs at ~200 Hz with changing axes: some ticks get none, some several
		defer close(done)
		seq := uint32(0)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			seq++
			mu.Lock()
			for i, s := range seats {
				s.Input(&schema.Input{Seq: seq, Data: fakeInput(int8(int(seq)%7-3+i), int8(int(seq)%5-2))})
			}
			mu.Unlock()
		}
	}()
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		ck, _ := a.ckpt.get("m1")
		c, err := decodeCheckpoint(ck.state)
		return err == nil && len(c.Seats) == 2 && c.Seats[0].LastSeq > 3
	})
	p.ck, _ = a.ckpt.get("m1")
	c, _ := decodeCheckpoint(p.ck.state)
	p.ckTick = c.Tick
	s3, _ := join(t, a.m, schema.Hello{MatchID: "m1"}, 0)
	mu.Lock()
	seats = append(seats, s3)
	mu.Unlock()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return a.m.Match("m1").Info().Tick > p.ckTick+20 })
	s2.Leave()
	mu.Lock()
	seats = slices.Delete(seats, 1, 2)
	mu.Unlock()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return a.m.Match("m1").Info().Tick > p.ckTick+40 })
	close(stop)
	<-done
	p.welcome = [3]schema.Welcome{s1.Welcome(), s2.Welcome(), s3.Welcome()}
	mt := a.m.Match("m1")
	mt.mu.Lock()
	p.tok3 = mt.seats[p.welcome[2].PlayerID].tok
	mt.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tick, state, err := a.m.Freeze(ctx, "m1", 10)
	if err != nil {
		t.Fatal(err)
	}
	p.tick = tick
	if p.final, err = decodeCheckpoint(state); err != nil {
		t.Fatal(err)
	}
	if _, last := a.tlog.get("m1"); last != tick {
		t.Fatalf("tick log ends at %d, the room froze at %d", last, tick)
	}
	return p
}

// TestAdoptReplaysTickLog is a failover with the tick log: node B adopts
// A's older checkpoint and A's tick log, and its match starts exactly
// where A stopped: same tick, same game state, same seats (the player who
// joined after the checkpoint is there with A's resume token, the one who
// left is gone), and the guest counter moved on.
func TestAdoptReplaysTickLog(t *testing.T) {
	a := newLogNode(t, "a")
	p := playOnA(t, a)
	log, _ := a.tlog.get("m1")

	b := newLogNode(t, "b")
	lease := &switchLease{} // B's room must not tick until its state is compared
	b.m.cfg.Lease = lease
	mt := adopt(t, b.m, AdoptRequest{MatchID: "m1", Game: "moving", Seed: 7, Epoch: 20, Tick: p.ckTick, State: p.ck.state, Log: log})
	if mt.adoptTick != p.tick || mt.replayed != int(p.tick-p.ckTick) {
		t.Fatalf("adopted at tick %d after replaying %d ticks; want %d and %d", mt.adoptTick, mt.replayed, p.tick, p.tick-p.ckTick)
	}
	var state []byte
	var seats []sim.Seat
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mt.room.Capture(ctx, func(tick uint32, st []byte, ss []sim.Seat) {
		if tick != p.tick {
			t.Errorf("room at tick %d, want %d", tick, p.tick)
		}
		state, seats = bytes.Clone(st), slices.Clone(ss)
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(state, p.final.State) {
		t.Fatal("the replayed game's state differs from A's at the same tick")
	}
	if want := unsettled(p.final.Seats); !slices.Equal(seats, want) || len(seats) != 2 {
		t.Fatalf("seats after the replay %+v, want A's, unsettled: %+v", seats, want)
	}
	mt.mu.Lock()
	tok := mt.seats[p.welcome[2].PlayerID].tok
	_, left := mt.seats[p.welcome[1].PlayerID]
	guests := mt.nextGuest
	mt.mu.Unlock()
	if tok != p.tok3 || tok.Nonce == 0 {
		t.Fatalf("player 3's seat token %+v, want A's %+v", tok, p.tok3)
	}
	if left || guests < 3 {
		t.Fatalf("player 2 seated: %v; guest counter %d, want ≥ 3", left, guests)
	}
	if got := counterValue(t, b.m.replays.replays); got != 1 {
		t.Fatalf("replays counted %v, want 1", got)
	}
	if got := counterValue(t, b.m.replays.ticks); got != float64(p.tick-p.ckTick) {
		t.Fatalf("replayed ticks counted %v, want %d", got, p.tick-p.ckTick)
	}

	// The players come back: 3 (who joined after the checkpoint) with the
	// token A gave it, 1 too; 2's token is refused.
	lease.ok.Store(true)
	r3, _ := join(t, b.m, schema.Hello{ResumeToken: p.welcome[2].ResumeToken}, 0)
	if w := r3.Welcome(); w.PlayerID != p.welcome[2].PlayerID || w.EntityID != p.welcome[2].EntityID {
		t.Fatalf("player 3 resumed as %+v, want %+v", w, p.welcome[2])
	}
	join(t, b.m, schema.Hello{ResumeToken: p.welcome[0].ResumeToken}, 0)
	joinErr(t, b.m, schema.Hello{ResumeToken: p.welcome[1].ResumeToken}, 0, schema.ErrCodeResumeRefused)
}

// TestAdoptDivergedReplayFallsBack: a game that does not replay to the
// states A recorded is caught; B then starts from the checkpoint alone
// (its tick and seats), counts it and logs it with the match id.
func TestAdoptDivergedReplayFallsBack(t *testing.T) {
	a := newLogNode(t, "a")
	p := playOnA(t, a)
	log, _ := a.tlog.get("m1")

	wobble.Store(1)
	defer wobble.Store(0)
	b := newLogNode(t, "b")
	b.m.cfg.Lease = &switchLease{}
	mt := adopt(t, b.m, AdoptRequest{MatchID: "m1", Game: "moving", Seed: 7, Epoch: 20, Tick: p.ckTick, State: p.ck.state, Log: log})
	if mt.adoptTick != p.ckTick || mt.replayed != 0 {
		t.Fatalf("adopted at tick %d after replaying %d; want the checkpoint's %d", mt.adoptTick, mt.replayed, p.ckTick)
	}
	ck, _ := decodeCheckpoint(p.ck.state)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := mt.room.Capture(ctx, func(tick uint32, st []byte, ss []sim.Seat) {
		if tick != ck.Tick || !bytes.Equal(st, ck.State) || !slices.Equal(ss, unsettled(ck.Seats)) {
			t.Errorf("room at tick %d with seats %+v; want the checkpoint's %d, %+v (unsettled) and its state", tick, ss, ck.Tick, ck.Seats)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, b.m.replays.diverged); got != 1 {
		t.Fatalf("divergences counted %v, want 1", got)
	}
	if got := counterValue(t, b.m.replays.replays); got != 0 {
		t.Fatalf("replays counted %v, want 0", got)
	}
	out := b.out.String()
	if !bytes.Contains([]byte(out), []byte(`"match":"m1"`)) || !bytes.Contains([]byte(out), []byte("tick log replay diverged")) {
		t.Fatalf("no divergence logged with the match id:\n%s", out)
	}
}

// TestAdoptWithoutCheckpointReplaysFromStart: a match lost before its first
// checkpoint reached the cluster is replayed from its seed.
func TestAdoptWithoutCheckpointReplaysFromStart(t *testing.T) {
	a := newLogNode(t, "a")
	p := playOnA(t, a)
	log, _ := a.tlog.get("m1")
	b := newLogNode(t, "b")
	b.m.cfg.Lease = &switchLease{}
	mt := adopt(t, b.m, AdoptRequest{MatchID: "m1", Game: "moving", Seed: 7, Epoch: 20, Log: log})
	if mt.adoptTick != p.tick || mt.Info().Players != 2 {
		t.Fatalf("adopted at tick %d with %d players; want %d and 2", mt.adoptTick, mt.Info().Players, p.tick)
	}
}

// unsettled returns seats as a room restored from them lists them until
// their clients resume: unsettled, from their server event seq (sim.Seat).
func unsettled(seats []sim.Seat) []sim.Seat {
	out := slices.Clone(seats)
	for i := range out {
		if !out[i].Unsettled {
			out[i].Unsettled, out[i].OutBase = true, out[i].OutSeq
		}
	}
	return out
}
