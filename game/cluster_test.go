package game

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// recCheckpointer is a Checkpointer that keeps the newest checkpoint of each
// match (copied, as the contract asks).
type recCheckpointer struct {
	mu      sync.Mutex
	last    map[string]recCkpt
	count   map[string]int
	players map[string]int
	forgot  map[string]int
}

type recCkpt struct {
	epoch uint64
	tick  uint32
	state []byte
}

func newRec() *recCheckpointer {
	return &recCheckpointer{last: map[string]recCkpt{}, count: map[string]int{}, players: map[string]int{}, forgot: map[string]int{}}
}

func (r *recCheckpointer) Checkpoint(id string, epoch uint64, tick uint32, state []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last[id] = recCkpt{epoch, tick, bytes.Clone(state)}
	r.count[id]++
}

func (r *recCheckpointer) SetPlayers(id string, _ uint64, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.players[id] = n
}

func (r *recCheckpointer) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgot[id]++
}

func (r *recCheckpointer) get(id string) (recCkpt, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[id], r.count[id]
}

// switchLease is a Lease the test turns on and off.
type switchLease struct{ ok atomic.Bool }

func (l *switchLease) Valid(string, uint64) bool { return l.ok.Load() }

// funcPlacement is a Placement made of functions (nil: LocalPlacement's
// answer); End is recorded.
type funcPlacement struct {
	locate func(ctx context.Context, id string) (bool, error)
	admit  func(ctx context.Context, game string) (string, error)

	mu    sync.Mutex
	ended map[string]uint64
}

func (p *funcPlacement) Locate(ctx context.Context, id string) (bool, error) {
	if p.locate == nil {
		return false, nil
	}
	return p.locate(ctx, id)
}

func (p *funcPlacement) Admit(ctx context.Context, game, _ string) (string, error) {
	if p.admit == nil {
		return "", nil
	}
	return p.admit(ctx, game)
}

func (p *funcPlacement) End(_ context.Context, id string, epoch uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended == nil {
		p.ended = map[string]uint64{}
	}
	p.ended[id] = epoch
	return nil
}

func (p *funcPlacement) endedAt(id string) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.ended[id]
	return e, ok
}

var clusterSecret = []byte("a cluster-wide secret of 32 b!!!")

// newClusterManager is a test manager in cluster mode: shared secret, a
// recording Checkpointer, checkpoints every 50 ms.
func newClusterManager(t *testing.T, node string, edit func(*Config)) (*Manager, *recCheckpointer) {
	t.Helper()
	rec := newRec()
	m, _ := newTestManager(t, func(c *Config) {
		c.NodeID = node
		c.Secret = clusterSecret
		c.Checkpoints = rec
		c.CheckpointInterval = 50 * time.Millisecond
		if edit != nil {
			edit(c)
		}
	})
	return m, rec
}

func adopt(t *testing.T, m *Manager, req AdoptRequest) *Match {
	t.Helper()
	if req.Game == "" {
		req.Game = "fake"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Adopt(ctx, req); err != nil {
		t.Fatalf("Adopt(%s): %v", req.MatchID, err)
	}
	mt := m.Match(req.MatchID)
	if mt == nil {
		t.Fatalf("Adopt(%s): not running", req.MatchID)
	}
	return mt
}

// oldCheckpoint encodes a checkpoint of version 2 or 3 (no event seqs;
// version 2 has no seat changes either).
func oldCheckpoint(version byte, tick, changes uint32, seed int64, nextGuest uint32, game string, seats []sim.Seat, toks map[uint32]seatToken, state []byte) []byte {
	le := binary.LittleEndian
	b := append([]byte("TSCK"), version)
	b = le.AppendUint32(b, tick)
	if version >= 3 {
		b = le.AppendUint32(b, changes)
	}
	b = le.AppendUint64(b, uint64(seed))
	b = le.AppendUint32(b, nextGuest)
	b = append(b, byte(len(game)))
	b = append(b, game...)
	b = le.AppendUint32(b, uint32(len(seats)))
	for _, s := range seats {
		b = le.AppendUint32(b, s.Player)
		b = le.AppendUint32(b, s.Entity)
		b = le.AppendUint32(b, s.LastSeq)
		b = le.AppendUint64(b, toks[s.Player].Nonce)
		b = le.AppendUint64(b, uint64(toks[s.Player].Issued))
		if version >= 4 {
			b = le.AppendUint32(b, s.InSeq)
			b = le.AppendUint32(b, s.OutSeq)
		}
	}
	b = le.AppendUint32(b, uint32(len(state)))
	return append(b, state...)
}

func TestCheckpointRoundTrip(t *testing.T) {
	seats := []sim.Seat{{Player: 1, Entity: 101, LastSeq: 9, InSeq: 4, OutSeq: 0xfffffff0}, {Player: 7, Entity: 107, LastSeq: 0, OutSeq: 9, Unsettled: true, OutBase: 6}}
	noSeqs := []sim.Seat{{Player: 1, Entity: 101, LastSeq: 9}, {Player: 7, Entity: 107, LastSeq: 0}}
	toks := map[uint32]seatToken{1: {Nonce: 0xabcdef0123456789, Issued: 1_800_000_000}, 7: {Nonce: 42, Issued: -1}}
	b := appendCheckpoint(nil, 1234, 3, -42, 7, "arena", seats, toks, []byte("state"))
	c, err := decodeCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tick != 1234 || c.Changes != 3 || c.Seed != -42 || c.NextGuest != 7 || c.Game != "arena" ||
		!slices.Equal(c.Seats, seats) || !slices.Equal(c.Tokens, []seatToken{toks[1], toks[7]}) || string(c.State) != "state" {
		t.Fatalf("decoded %+v", c)
	}
	// Version 4 (no unsettled seats) is still read, every seat settled.
	v4 := oldCheckpoint(4, 1234, 3, -42, 7, "arena", seats, toks, []byte("state"))
	settled := slices.Clone(seats)
	settled[1].Unsettled, settled[1].OutBase = false, 0
	if c4, err := decodeCheckpoint(v4); err != nil || c4.Changes != 3 || !slices.Equal(c4.Seats, settled) || string(c4.State) != "state" {
		t.Fatalf("version 4: %+v, %v", c4, err)
	}
	// Version 3 (no event seqs) is still read, as 0 seqs.
	v3 := oldCheckpoint(3, 1234, 3, -42, 7, "arena", seats, toks, []byte("state"))
	if c3, err := decodeCheckpoint(v3); err != nil || c3.Tick != 1234 || c3.Changes != 3 || c3.Seed != -42 || c3.NextGuest != 7 ||
		!slices.Equal(c3.Seats, noSeqs) || !slices.Equal(c3.Tokens, []seatToken{toks[1], toks[7]}) || string(c3.State) != "state" {
		t.Fatalf("version 3: %+v, %v", c3, err)
	}
	// Version 2 (no seat changes) is still read, as 0 changes.
	v2 := oldCheckpoint(2, 1234, 3, -42, 7, "arena", seats, toks, []byte("state"))
	if c2, err := decodeCheckpoint(v2); err != nil || c2.Tick != 1234 || c2.Changes != 0 || c2.Seed != -42 || !slices.Equal(c2.Seats, noSeqs) || string(c2.State) != "state" {
		t.Fatalf("version 2: %+v, %v", c2, err)
	}
	// Version 1 (no nonces) is still read: its seats accept any token.
	v1 := []byte("TSCK\x01")
	v1 = binary.LittleEndian.AppendUint32(v1, 9)
	v1 = binary.LittleEndian.AppendUint64(v1, 5)
	v1 = binary.LittleEndian.AppendUint32(v1, 3)
	v1 = append(v1, 1, 'g')
	v1 = binary.LittleEndian.AppendUint32(v1, 1)
	v1 = binary.LittleEndian.AppendUint32(v1, 4)
	v1 = binary.LittleEndian.AppendUint32(v1, 104)
	v1 = binary.LittleEndian.AppendUint32(v1, 8)
	v1 = binary.LittleEndian.AppendUint32(v1, 2)
	v1 = append(v1, "st"...)
	c1, err := decodeCheckpoint(v1)
	if err != nil {
		t.Fatalf("version 1: %v", err)
	}
	if c1.Tick != 9 || c1.NextGuest != 3 || c1.Game != "g" || len(c1.Seats) != 1 ||
		c1.Seats[0] != (sim.Seat{Player: 4, Entity: 104, LastSeq: 8}) || c1.Tokens[0] != (seatToken{}) || string(c1.State) != "st" {
		t.Fatalf("version 1 decoded %+v", c1)
	}
	// Reusing a buffer with room allocates nothing.
	buf := make([]byte, 0, 256)
	if a := testing.AllocsPerRun(100, func() {
		buf = appendCheckpoint(buf[:0], 1, 0, 2, 3, "arena", seats, toks, []byte("state"))
	}); a != 0 {
		t.Fatalf("%v allocs to encode into a reused buffer", a)
	}
	bad := map[string][]byte{
		"empty":       nil,
		"magic":       append([]byte("XXXX"), b[4:]...),
		"version":     append(append([]byte("TSCK"), 6), b[5:]...),
		"version 0":   append(append([]byte("TSCK"), 0), b[5:]...),
		"truncated":   b[:len(b)-1],
		"trailing":    append(bytes.Clone(b), 0),
		"seats":       appendCheckpoint(nil, 1, 0, 1, 0, "g", []sim.Seat{{Player: 3}, {Player: 3}}, nil, nil),
		"player zero": appendCheckpoint(nil, 1, 0, 1, 0, "g", []sim.Seat{{Player: 0}}, nil, nil),
		"seat flags":  seatFlags(appendCheckpoint(nil, 1, 0, 1, 0, "g", []sim.Seat{{Player: 3}}, nil, nil), 2),
	}
	for name, in := range bad {
		if _, err := decodeCheckpoint(in); !errors.Is(err, ErrBadCheckpoint) {
			t.Errorf("%s: %v, want ErrBadCheckpoint", name, err)
		}
	}
}

// seatFlags sets the flags of the last seat of checkpoint b, whose state
// is empty.
func seatFlags(b []byte, f byte) []byte {
	b[len(b)-4-5] = f
	return b
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(appendCheckpoint(nil, 1234, 0, -42, 7, "arena", []sim.Seat{{Player: 1, Entity: 101, LastSeq: 9}}, map[uint32]seatToken{1: {Nonce: 77, Issued: 1_800_000_000}}, []byte("state")))
	f.Add(appendCheckpoint(nil, 0, 0, 0, 0, "", nil, nil, nil))
	f.Add([]byte("TSCK\x01"))
	f.Add([]byte("TSCK\x02"))
	f.Add([]byte("TSCK\x03"))
	f.Add(oldCheckpoint(3, 1234, 1, -42, 7, "arena", []sim.Seat{{Player: 1, Entity: 101, LastSeq: 9}}, map[uint32]seatToken{1: {Nonce: 77, Issued: 1_800_000_000}}, []byte("state")))
	f.Add(appendCheckpoint(nil, 9, 0, 1, 2, "tag", []sim.Seat{{Player: 1, Entity: 1, InSeq: 3, OutSeq: 5}}, nil, nil))
	f.Add(appendCheckpoint(nil, 9, 0, 1, 2, "tag", []sim.Seat{{Player: 1, Entity: 1, InSeq: 3, OutSeq: 5, Unsettled: true, OutBase: 4}}, nil, nil))
	f.Add(oldCheckpoint(4, 9, 0, 1, 2, "tag", []sim.Seat{{Player: 1, Entity: 1, InSeq: 3, OutSeq: 5}}, nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		if b[4] != checkpointVersion {
			return // an older version re-encodes as the current one
		}
		toks := make(map[uint32]seatToken, len(c.Seats))
		for i, s := range c.Seats {
			toks[s.Player] = c.Tokens[i]
		}
		again := appendCheckpoint(nil, c.Tick, c.Changes, c.Seed, c.NextGuest, c.Game, c.Seats, toks, c.State)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}

// TestAdoptFromCheckpointResumesSeats is a failover in miniature: node A
// runs a match and checkpoints it; A is lost; node B adopts the newest
// checkpoint at a new epoch. The players resume on B with the tokens A
// issued, into their own seats and entities, at the checkpoint's tick; a
// new guest does not reuse their ids; the resume baseline from A's history
// is ignored (full snapshot) but B's own history is used after that.
func TestAdoptFromCheckpointResumesSeats(t *testing.T) {
	a, recA := newClusterManager(t, "a", nil)
	adopt(t, a, AdoptRequest{MatchID: "m1", Seed: 7, Epoch: 10})
	s1, _ := join(t, a, schema.Hello{MatchID: "m1"}, 0)
	s2, _ := join(t, a, schema.Hello{MatchID: "m1"}, 0)
	w1, w2 := s1.Welcome(), s2.Welcome()
	s1.Input(&schema.Input{Seq: 5})
	var ck recCkpt
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		ck, _ = recA.get("m1")
		c, err := decodeCheckpoint(ck.state)
		return err == nil && len(c.Seats) == 2 && c.Seats[0].LastSeq == 5 && ck.tick > 5
	})
	if ck.epoch != 10 {
		t.Fatalf("checkpoint epoch %d, want 10", ck.epoch)
	}
	if recA.players["m1"] != 2 {
		t.Fatalf("SetPlayers: %d, want 2", recA.players["m1"])
	}
	// A goes on ticking past the checkpoint: its players hold newer ticks.
	testutil.CheckTrue(t, 5*time.Second, func() bool { return a.Match("m1").Info().Tick > ck.tick+3 })
	aTick := a.Match("m1").Info().Tick

	b, recB := newClusterManager(t, "b", nil)
	mt := adopt(t, b, AdoptRequest{MatchID: "m1", Game: "fake", Seed: 7, Epoch: 20, Tick: ck.tick, State: ck.state})
	if info := mt.Info(); info.Tick < ck.tick || info.Players != 2 || info.Connected != 0 || info.Epoch != 20 {
		t.Fatalf("adopted match %+v, want tick ≥ %d, 2 players waiting, epoch 20", info, ck.tick)
	}
	// Let B tick past A's newest tick, so that tick is in B's ring (but
	// it is B's, not the one the player holds).
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Info().Tick > aTick+2 })
	r1, c1 := join(t, b, schema.Hello{ResumeToken: w1.ResumeToken, LastTick: aTick}, 0)
	if got := r1.Welcome(); got.PlayerID != w1.PlayerID || got.EntityID != w1.EntityID || got.NodeID != "b" || got.MatchID != "m1" {
		t.Fatalf("resumed welcome %+v, want player %d entity %d on b", got, w1.PlayerID, w1.EntityID)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c1.count() > 0 })
	if sn := c1.snapshot(t, 0); sn.BaselineTick != 0 || sn.Tick <= ck.tick {
		t.Fatalf("first snapshot on the new owner: tick %d baseline %d; want full, after %d", sn.Tick, sn.BaselineTick, ck.tick)
	}
	if sn := c1.snapshot(t, 0); countEntities(t, b, sn) != 2 {
		t.Fatalf("full snapshot with %d entities, want the 2 restored", countEntities(t, b, sn))
	}
	// Its inputs continue after the seq the old owner applied.
	r1.Input(&schema.Input{Seq: 5}) // applied by A already: discarded
	r1.Input(&schema.Input{Seq: 6})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c1.snapshot(t, c1.count()-1).LastInputSeq == 6 })

	// A second resume on B, with the token B issued, and a tick of B's
	// history: a delta. A's token was revoked by B's.
	held := c1.snapshot(t, c1.count()-1).Tick
	r1.Disconnect()
	joinErr(t, b, schema.Hello{ResumeToken: w1.ResumeToken, LastTick: held}, 0, schema.ErrCodeResumeRefused)
	_, c1b := join(t, b, schema.Hello{ResumeToken: r1.Welcome().ResumeToken, LastTick: held}, 0)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c1b.count() > 0 })
	if sn := c1b.snapshot(t, 0); sn.BaselineTick != held {
		t.Fatalf("second resume on b: baseline %d, want %d (our own history)", sn.BaselineTick, held)
	}

	r2, _ := join(t, b, schema.Hello{ResumeToken: w2.ResumeToken}, 0)
	if r2.Welcome().EntityID != w2.EntityID {
		t.Fatalf("player 2 entity %d, want %d", r2.Welcome().EntityID, w2.EntityID)
	}
	g, _ := join(t, b, schema.Hello{MatchID: "m1"}, 0)
	if id := g.Welcome().PlayerID; id == w1.PlayerID || id == w2.PlayerID {
		t.Fatalf("new guest got id %d, reused", id)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { ck, _ := recB.get("m1"); return ck.epoch == 20 })
}

// TestAdoptedSeatsExpire: restored seats nobody resumes are freed after the
// resume grace; then the empty match closes and is ended in the directory.
func TestAdoptedSeatsExpire(t *testing.T) {
	a, recA := newClusterManager(t, "a", nil)
	adopt(t, a, AdoptRequest{MatchID: "m1", Epoch: 3})
	join(t, a, schema.Hello{MatchID: "m1"}, 0)
	var ck recCkpt
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		ck, _ = recA.get("m1")
		c, err := decodeCheckpoint(ck.state)
		return err == nil && len(c.Seats) == 1
	})
	pl := &funcPlacement{}
	b, _ := newClusterManager(t, "b", func(c *Config) {
		c.ResumeGrace = 50 * time.Millisecond
		c.EmptyTimeout = 50 * time.Millisecond
		c.Placement = pl
	})
	adopt(t, b, AdoptRequest{MatchID: "m1", Epoch: 9, State: ck.state})
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, ok := pl.endedAt("m1"); return ok })
	if b.Match("m1") != nil {
		t.Fatal("ended match still listed")
	}
	if e, ok := pl.endedAt("m1"); !ok || e != 9 {
		t.Fatalf("End(m1) = %d, %v; want epoch 9", e, ok)
	}
}

func TestAdoptRefusals(t *testing.T) {
	m, _ := newClusterManager(t, "a", nil)
	ctx := context.Background()
	good := appendCheckpoint(nil, 5, 0, 1, 0, "fake", nil, nil, []byte{0, 0, 0, 0})
	for name, req := range map[string]AdoptRequest{
		"no id":        {Game: "fake"},
		"unknown game": {MatchID: "x", Game: "chess"},
		"garbage":      {MatchID: "x", Game: "fake", State: []byte("nope")},
		"other game":   {MatchID: "x", Game: "fake", State: appendCheckpoint(nil, 5, 0, 1, 0, "arena", nil, nil, nil)},
		"tick differs": {MatchID: "x", Game: "fake", Tick: 6, State: good},
		"bad state":    {MatchID: "x", Game: "fake", State: appendCheckpoint(nil, 5, 0, 1, 0, "fake", nil, nil, []byte{1})},
	} {
		if err := m.Adopt(ctx, req); err == nil {
			t.Errorf("%s: Adopt succeeded", name)
		}
	}
	if len(m.Matches()) != 0 {
		t.Fatalf("matches after refused adoptions: %+v", m.Matches())
	}
	// Adopting again at the same epoch is a no-op; at a new one it replaces.
	first := adopt(t, m, AdoptRequest{MatchID: "x", Epoch: 1, Tick: 5, State: good})
	if again := adopt(t, m, AdoptRequest{MatchID: "x", Epoch: 1}); again != first {
		t.Fatal("a second Adopt at the same epoch replaced the match")
	}
	if next := adopt(t, m, AdoptRequest{MatchID: "x", Epoch: 2}); next == first || next.Info().Epoch != 2 {
		t.Fatal("Adopt at a new epoch kept the old room")
	}
	select {
	case <-first.Room().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the old epoch's room still runs")
	}
}

// TestReleaseRedirects: Release stops the room at once and redirects each
// connected player to the new owner; with no url they are kicked.
func TestReleaseRedirects(t *testing.T) {
	m, rec := newClusterManager(t, "a", nil)
	mt := adopt(t, m, AdoptRequest{MatchID: "m1", Epoch: 4})
	_, c1 := join(t, m, schema.Hello{MatchID: "m1"}, 0)
	s2, c2 := join(t, m, schema.Hello{MatchID: "m1"}, 0)
	s2.Disconnect() // waiting for a resume: nothing to redirect
	if !m.Release("m1", "ws://b:7350/ws") {
		t.Fatal("Release of a running match returned false")
	}
	select {
	case <-mt.Room().Done():
	default:
		t.Fatal("room still running after Release")
	}
	if u, id := c1.redirected(); u != "ws://b:7350/ws" || id != "m1" {
		t.Fatalf("redirect %q %q", u, id)
	}
	if u, _ := c2.redirected(); u != "" {
		t.Fatal("a disconnected player was redirected")
	}
	if m.Match("m1") != nil || m.Release("m1", "x") {
		t.Fatal("match still listed after Release")
	}
	if rec.forgot["m1"] == 0 {
		t.Fatal("pending checkpoint not forgotten")
	}
	adopt(t, m, AdoptRequest{MatchID: "m2", Epoch: 5})
	_, c3 := join(t, m, schema.Hello{MatchID: "m2"}, 0)
	m.Release("m2", "")
	if k, code, _ := c3.kick(); !k || code != schema.ErrCodeUnavailable {
		t.Fatalf("release without a url: kicked %v code %d, want unavailable", k, code)
	}
}

// TestLeaseGatesRoomsAndJoins: while the lease is not valid the room does
// not tick, players get nothing and new joins are refused as unavailable.
func TestLeaseGatesRoomsAndJoins(t *testing.T) {
	l := &switchLease{}
	l.ok.Store(true)
	m, _ := newClusterManager(t, "a", func(c *Config) { c.Lease = l })
	mt := adopt(t, m, AdoptRequest{MatchID: "m1", Epoch: 1})
	_, c := join(t, m, schema.Hello{MatchID: "m1"}, 0)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() > 3 })
	l.ok.Store(false)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Room().Paused() })
	tick, n := mt.Info().Tick, c.count()
	p0 := mt.Room().Stats().PausedTicks
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Room().Stats().PausedTicks > p0+10 })
	if mt.Info().Tick != tick || c.count() != n {
		t.Fatalf("without a lease: tick %d → %d, snapshots %d → %d", tick, mt.Info().Tick, n, c.count())
	}
	joinErr(t, m, schema.Hello{MatchID: "m1"}, 0, schema.ErrCodeUnavailable)
	if k := m.DisconnectAll(schema.ErrCodeUnavailable, "lost the cluster"); k != 1 {
		t.Fatalf("DisconnectAll kicked %d, want 1", k)
	}
	l.ok.Store(true)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Info().Tick > tick })
	join(t, m, schema.Hello{MatchID: "m1"}, 0)
}

// TestLocateWaitsForAdoption: a Hello for a match the directory placed here
// but not adopted yet waits for the Adopt; past AdoptWait it is refused as
// unavailable.
func TestLocateWaitsForAdoption(t *testing.T) {
	pl := &funcPlacement{locate: func(_ context.Context, id string) (bool, error) {
		switch id {
		case "elsewhere":
			return false, &RedirectError{URL: "ws://b/ws", MatchID: id}
		case "gone":
			return false, nil
		}
		return true, nil
	}}
	m, _ := newClusterManager(t, "a", func(c *Config) { c.Placement = pl; c.AdoptWait = 300 * time.Millisecond })
	got := make(chan error, 1)
	go func() {
		_, err := m.Join(context.Background(), JoinRequest{Hello: schema.Hello{MatchID: "m5"}, Conn: &fakeConn{}})
		got <- err
	}()
	adopt(t, m, AdoptRequest{MatchID: "m5", Epoch: 2})
	if err := <-got; err != nil {
		t.Fatalf("join waiting for the adoption: %v", err)
	}
	joinErr(t, m, schema.Hello{MatchID: "never"}, 0, schema.ErrCodeUnavailable)
	joinErr(t, m, schema.Hello{MatchID: "gone"}, 0, schema.ErrCodeMatchNotFound)
	_, err := m.Join(context.Background(), JoinRequest{Hello: schema.Hello{MatchID: "elsewhere"}, Conn: &fakeConn{}})
	var re *RedirectError
	if !errors.As(err, &re) || re.URL != "ws://b/ws" {
		t.Fatalf("join of a match elsewhere: %v", err)
	}
	// A resume token for a match no node runs: refused as ended.
	tok := join2token(t, m)
	joinErr(t, m, schema.Hello{ResumeToken: tok}, 0, schema.ErrCodeResumeRefused)
}

// join2token returns a valid resume token for player 1 of match "gone".
func join2token(t *testing.T, m *Manager) string {
	t.Helper()
	b, _ := newClusterManager(t, "b", nil)
	adopt(t, b, AdoptRequest{MatchID: "gone", Epoch: 1})
	s, _ := join(t, b, schema.Hello{MatchID: "gone"}, 0)
	return s.Welcome().ResumeToken
}

// TestAdmitPlacesHere: matchmaking with no open local match asks Admit;
// the directory places a match here and the Acquired event (here: a
// goroutine) adopts it; the player is seated in it.
func TestAdmitPlacesHere(t *testing.T) {
	var m *Manager
	var n atomic.Int32
	pl := &funcPlacement{admit: func(context.Context, string) (string, error) {
		id := "placed" + string(rune('0'+n.Add(1)))
		go func() { _ = m.Adopt(context.Background(), AdoptRequest{MatchID: id, Game: "fake", Epoch: 3}) }()
		return id, nil
	}}
	m, _ = newClusterManager(t, "a", func(c *Config) { c.Placement = pl; c.Seats = 2 })
	s1, _ := join(t, m, schema.Hello{}, 0)
	s2, _ := join(t, m, schema.Hello{}, 0)
	s3, _ := join(t, m, schema.Hello{}, 0)
	if s1.Welcome().MatchID != "placed1" || s2.Welcome().MatchID != "placed1" || s3.Welcome().MatchID != "placed2" {
		t.Fatalf("matches %s %s %s, want placed1 twice then placed2", s1.Welcome().MatchID, s2.Welcome().MatchID, s3.Welcome().MatchID)
	}
	info, err := m.Create(context.Background(), "fake")
	if err != nil || info.ID != "placed3" {
		t.Fatalf("Create = %+v, %v", info, err)
	}
}

// TestConcurrentJoinsFillOnePlacedMatch: a burst of players arriving while
// the match placed for the first of them is not adopted yet (the directory's
// Acquired event is slow) fills that match; no second match is opened while
// it has a free seat.
func TestConcurrentJoinsFillOnePlacedMatch(t *testing.T) {
	const seats = 6
	var m *Manager
	var admits atomic.Int32
	pl := &funcPlacement{admit: func(context.Context, string) (string, error) {
		id := fmt.Sprintf("placed%d", admits.Add(1))
		go func() {
			time.Sleep(30 * time.Millisecond) // the Acquired event on its way
			_ = m.Adopt(context.Background(), AdoptRequest{MatchID: id, Game: "fake", Epoch: 3})
		}()
		return id, nil
	}}
	m, _ = newClusterManager(t, "a", func(c *Config) { c.Placement = pl; c.Seats = seats })
	ids := make(chan string, seats)
	var wg sync.WaitGroup
	for range seats {
		wg.Go(func() {
			s, err := m.Join(context.Background(), JoinRequest{Conn: &fakeConn{}})
			if err != nil {
				t.Errorf("join: %v", err)
				return
			}
			ids <- s.Welcome().MatchID
		})
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		if id != "placed1" {
			t.Errorf("a player was seated in %s, want placed1", id)
		}
	}
	if n := admits.Load(); n != 1 {
		t.Fatalf("%d matches placed for %d players and %d seats, want 1", n, seats, seats)
	}
}

// TestFreezeThawHandOver: Freeze returns a checkpoint of the frozen tick;
// the room stays frozen; Thaw resumes it; another manager adopting the
// frozen state starts from exactly that tick with the seats.
func TestFreezeThawHandOver(t *testing.T) {
	a, _ := newClusterManager(t, "a", nil)
	mt := adopt(t, a, AdoptRequest{MatchID: "m1", Epoch: 7})
	s, c := join(t, a, schema.Hello{MatchID: "m1"}, 0)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() > 3 })
	ctx := context.Background()
	if _, _, err := a.Freeze(ctx, "m1", 6); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Freeze at a wrong epoch: %v", err)
	}
	if _, _, err := a.Freeze(ctx, "nope", 7); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Freeze of an unknown match: %v", err)
	}
	tick, state, err := a.Freeze(ctx, "m1", 7)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := a.Tick("m1"); !ok || got != tick || !mt.Room().Frozen() {
		t.Fatalf("after Freeze: Tick = %d, %v; frozen %v; want %d", got, ok, mt.Room().Frozen(), tick)
	}
	b, _ := newClusterManager(t, "b", nil)
	bm := adopt(t, b, AdoptRequest{MatchID: "m1", Epoch: 8, Tick: tick, State: state})
	if st := bm.Room().Stats(); st.Tick < tick || st.Players != 1 {
		t.Fatalf("adopted the frozen state: %+v", st)
	}
	if bm.adoptTick != tick {
		t.Fatalf("adopted at tick %d, want the frozen %d", bm.adoptTick, tick)
	}
	r, _ := join(t, b, schema.Hello{ResumeToken: s.Welcome().ResumeToken}, 0)
	if r.Welcome().EntityID != s.Welcome().EntityID {
		t.Fatal("hand-over lost the player's entity")
	}
	a.Thaw("m1", 7)
	testutil.CheckTrue(t, 5*time.Second, func() bool { got, _ := a.Tick("m1"); return got > tick })
	if _, ok := b.Tick("zzz"); ok {
		t.Fatal("Tick of an unknown match")
	}
}

// TestShutdownTakesFinalCheckpoint: Shutdown hands the Checkpointer a last
// checkpoint of every room at its final tick.
func TestShutdownTakesFinalCheckpoint(t *testing.T) {
	m, rec := newClusterManager(t, "a", func(c *Config) { c.CheckpointInterval = time.Minute })
	adopt(t, m, AdoptRequest{MatchID: "m1", Epoch: 2})
	join(t, m, schema.Hello{MatchID: "m1"}, 0)
	testutil.CheckTrue(t, 5*time.Second, func() bool { got, _ := m.Tick("m1"); return got > 5 })
	_, before := rec.get("m1")
	final, _ := m.Tick("m1")
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ck, after := rec.get("m1")
	if after != before+1 || ck.tick < final {
		t.Fatalf("checkpoints %d → %d, last at tick %d (final ≥ %d)", before, after, ck.tick, final)
	}
}

// TestCaptureCheckpoints: CaptureCheckpoints hands the Checkpointer a
// checkpoint of every running room at its current tick, skips frozen and
// paused rooms, and returns when ctx ends even if a room has not answered.
func TestCaptureCheckpoints(t *testing.T) {
	l := &switchLease{}
	l.ok.Store(true)
	m, rec := newClusterManager(t, "a", func(c *Config) { c.CheckpointInterval = time.Minute; c.Lease = l })
	adopt(t, m, AdoptRequest{MatchID: "m1", Epoch: 2})
	adopt(t, m, AdoptRequest{MatchID: "m2", Epoch: 3})
	join(t, m, schema.Hello{MatchID: "m1"}, 0)
	testutil.CheckTrue(t, 5*time.Second, func() bool { got, _ := m.Tick("m1"); return got > 5 })
	_, n1 := rec.get("m1")
	_, n2 := rec.get("m2")
	before, _ := m.Tick("m1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if missed := m.CaptureCheckpoints(ctx); missed != 0 {
		t.Fatalf("missed %d", missed)
	}
	ck1, c1 := rec.get("m1")
	ck2, c2 := rec.get("m2")
	if c1 != n1+1 || c2 != n2+1 || ck1.tick < before || ck1.epoch != 2 || ck2.epoch != 3 {
		t.Fatalf("after a capture: m1 %d → %d checkpoints (tick %d ≥ %d, epoch %d), m2 %d → %d (epoch %d)",
			n1, c1, ck1.tick, before, ck1.epoch, n2, c2, ck2.epoch)
	}
	if c, err := decodeCheckpoint(ck1.state); err != nil || c.Tick != ck1.tick || len(c.Seats) != 1 {
		t.Fatalf("captured checkpoint: %+v, %v", c, err)
	}

	// Frozen and paused rooms are skipped.
	if _, _, err := m.Freeze(ctx, "m2", 3); err != nil {
		t.Fatal(err)
	}
	_, c2 = rec.get("m2")
	m.CaptureCheckpoints(ctx)
	if _, got := rec.get("m2"); got != c2 {
		t.Fatalf("a frozen room was captured (%d → %d)", c2, got)
	}
	l.ok.Store(false)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Match("m1").Room().Paused() })
	_, c1 = rec.get("m1")
	m.CaptureCheckpoints(ctx)
	if _, got := rec.get("m1"); got != c1 {
		t.Fatalf("a paused room was captured (%d → %d)", c1, got)
	}
	l.ok.Store(true)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return !m.Match("m1").Room().Paused() })

	// A room busy in a long command: the capture waits at most until ctx
	// ends and counts it as missed; its checkpoint arrives once the room
	// gets to it.
	release := make(chan struct{})
	busy := make(chan struct{})
	go func() {
		_ = m.Match("m1").Room().Do(context.Background(), func(uint32) error { close(busy); <-release; return nil })
	}()
	<-busy
	_, c1 = rec.get("m1")
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if missed := m.CaptureCheckpoints(short); missed != 1 {
		t.Fatalf("missed %d, want 1 (the busy room)", missed)
	}
	close(release)
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, got := rec.get("m1"); return got > c1 })
}
