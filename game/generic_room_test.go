package game

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// The generic path through the room: what a joining player brings, a
// game's refusal, events and a game's end of its match (tagGame in
// generic_test.go).

func (t *tagGames) pings() []int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []int64
	for _, g := range t.games {
		g.mu.Lock()
		out = append(out, g.pings...)
		g.mu.Unlock()
	}
	return out
}

// tagPing builds a client Ping event of the tag game.
func tagPing(gs *GameSchema, n int64) []byte {
	var v gameschema.Values
	ping := gs.Schema.ClientEvents.Event(1)
	v.Reset(ping)
	v.SetInt(ping.Field("n").Index, n)
	b := flatbuffers.NewBuilder(64)
	b.Finish(gs.Schema.ClientEvents.Build(b, &v))
	return b.FinishedBytes()
}

// tagServerPing builds a server Ping event of the tag game.
func tagServerPing(gs *GameSchema, n int64) []byte {
	var v gameschema.Values
	ping := gs.Schema.ServerEvents.Event(1)
	v.Reset(ping)
	v.SetInt(ping.Field("n").Index, n)
	b := flatbuffers.NewBuilder(64)
	b.Finish(gs.Schema.ServerEvents.Build(b, &v))
	return b.FinishedBytes()
}

// serverPings returns the seq and n of the server Pings of snapshot s.
func serverPings(t *testing.T, gs *GameSchema, s schema.Snapshot) (seqs []uint32, ns []int64) {
	t.Helper()
	for _, ev := range s.Events {
		var v gameschema.Values
		tb, err := gs.Schema.DecodeServerEvent(ev.Data, &v)
		if err != nil {
			t.Fatalf("server event %d: %v", ev.Seq, err)
		}
		seqs, ns = append(seqs, ev.Seq), append(ns, v.Int(tb.Field("n").Index))
	}
	return seqs, ns
}

// TestGenericJoin: the game gets the player's id, name, join payload and
// claims; the room runs the schema's codec.
func TestGenericJoin(t *testing.T) {
	m, reg := newTestManager(t, nil)
	gs, games := registerTag(t, reg)
	payload := tagJoin(gs, 3, "red")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := m.Join(ctx, JoinRequest{
		Hello:    schema.Hello{Game: "tag", Name: "ann", Join: payload, SchemaHash: gs.Hash()},
		PlayerID: 42, Conn: &fakeConn{}, Claims: []byte(`{"sub":"ann"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Welcome()
	if w.PlayerID != 42 || w.EntityID != 42 || w.Game != "tag" || w.SchemaHash != gs.Hash() || w.EventSeq != 0 {
		t.Errorf("Welcome %+v", w)
	}
	joins := games.joins()
	if len(joins) != 1 {
		t.Fatalf("joins %+v", joins)
	}
	j := joins[0]
	if j.Player != 42 || j.Name != "ann" || !bytes.Equal(j.Payload, payload) || string(j.Claims) != `{"sub":"ann"}` {
		t.Errorf("the game got %+v", j)
	}
	if c := m.Match(w.MatchID).Room().Config().Codec; c != gs.Codec {
		t.Errorf("the room runs codec %p, want the schema's %p", c, gs.Codec)
	}
}

// TestGenericJoinRefused: a game's refusal reaches the client as
// ErrCodeJoinRefused with the game's reason (Public, cut to 128 bytes),
// and the match made for it closes.
func TestGenericJoinRefused(t *testing.T) {
	m, reg := newTestManager(t, nil)
	registerTag(t, reg)
	je := joinErr(t, m, schema.Hello{Game: "tag", Name: "nobody"}, 0, schema.ErrCodeJoinRefused)
	if !je.Public || je.Message != strings.Repeat("é", 64) {
		t.Errorf("refusal %+v", je)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return len(m.Matches()) == 0 })
}

// endPlacement is LocalPlacement that records the matches it is told ended.
type endPlacement struct {
	LocalPlacement
	mu    sync.Mutex
	ended []string
}

func (p *endPlacement) End(_ context.Context, id string, _ uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended = append(p.ended, id)
	return nil
}

func (p *endPlacement) endedIDs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.ended)
}

// TestGameEndsMatch: a game's Outbox.End ends its match as an operator's
// end-match does: every client gets ErrCodeMatchEnded, the match is gone,
// and the directory is told.
func TestGameEndsMatch(t *testing.T) {
	p := &endPlacement{}
	m, reg := newTestManager(t, func(c *Config) { c.Placement = p })
	registerTag(t, reg)
	s1, c1 := join(t, m, schema.Hello{Game: "tag", Name: "ann"}, 0)
	id := s1.Welcome().MatchID
	s2, c2 := join(t, m, schema.Hello{Game: "tag", Name: "ender"}, 0)
	if s2.Welcome().MatchID != id {
		t.Fatal("the ender joined another match")
	}
	for _, c := range []*fakeConn{c1, c2} {
		testutil.CheckTrue(t, 5*time.Second, func() bool {
			kicked, code, _ := c.kick()
			return kicked && code == schema.ErrCodeMatchEnded
		})
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Match(id) == nil && len(m.Matches()) == 0 })
	if ended := p.endedIDs(); !slices.Contains(ended, id) {
		t.Errorf("the directory was told %v, want %s", ended, id)
	}
	if s1.Input(&schema.Input{Seq: 1}) {
		t.Error("a seat of the ended match still takes inputs")
	}
	if s, _ := join(t, m, schema.Hello{Game: "tag"}, 0); s.Welcome().MatchID == id {
		t.Error("matchmaking joined the ended match")
	}
}

// TestSeatEvent: a client event reaches the game's Event; a dead seat
// takes none.
func TestSeatEvent(t *testing.T) {
	m, reg := newTestManager(t, nil)
	gs, games := registerTag(t, reg)
	s, _ := join(t, m, schema.Hello{Game: "tag"}, 0)
	if !s.Event(&schema.Event{Seq: 1, Data: tagPing(gs, 7)}) {
		t.Fatal("Event refused")
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return slices.Equal(games.pings(), []int64{7}) })
	s.Leave()
	if s.Event(&schema.Event{Seq: 2, Data: tagPing(gs, 8)}) {
		t.Error("a dead seat took an event")
	}
}

// TestAdoptReplaysGenericJoins: a node adopting a match of a game with a
// schema replays its tick log with the game's codec: the replayed game
// gets every join's name, payload and claims and every client event again.
func TestAdoptReplaysGenericJoins(t *testing.T) {
	a := newLogNode(t, "a")
	gs, _ := registerTag(t, a.m.games)
	adopt(t, a.m, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 10})
	payload := tagJoin(gs, 2, "blue")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := a.m.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1", Name: "ann", Join: payload},
		PlayerID: 5, Conn: &fakeConn{}, Claims: []byte(`{"sub":"ann"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Event(&schema.Event{Seq: 1, Data: tagPing(gs, 3)}) {
		t.Fatal("Event refused")
	}
	// Wait until the tick log holds a few ticks past the event.
	start := a.m.Match("g1").Room().Tick()
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, last := a.tlog.get("g1"); return last > start+3 })
	log, _ := a.tlog.get("g1")

	b := newLogNode(t, "b")
	b.m.cfg.Lease = &switchLease{} // paused: the adopted room does not tick past the log
	_, games := registerTag(t, b.m.games)
	mt := adopt(t, b.m, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 20, Log: log})
	if mt.replayed == 0 || mt.Info().Players != 1 {
		t.Fatalf("replayed %d ticks, %d players", mt.replayed, mt.Info().Players)
	}
	joins := games.joins()
	if len(joins) != 1 || joins[0].Player != 5 || joins[0].Name != "ann" || !bytes.Equal(joins[0].Payload, payload) || string(joins[0].Claims) != `{"sub":"ann"}` {
		t.Errorf("the replayed game got joins %+v", joins)
	}
	if p := games.pings(); !slices.Equal(p, []int64{3}) {
		t.Errorf("the replayed game got pings %v, want [3]", p)
	}
}

// TestAdoptRequeuesServerEvents: the server events a game sent during the
// ticks a new owner replays are queued again with their seqs, so a client
// that had not acknowledged them gets them from the new owner; the seqs
// go on from there, and client events applied before are not applied
// twice.
func TestAdoptRequeuesServerEvents(t *testing.T) {
	a := newLogNode(t, "a")
	gs, _ := registerTag(t, a.m.games)
	adopt(t, a.m, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := a.m.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1", Name: "ann"}, PlayerID: 5, Conn: &fakeConn{}})
	if err != nil {
		t.Fatal(err)
	}
	for seq, n := range []int64{3, 4} {
		if !s.Event(&schema.Event{Seq: uint32(seq + 1), Data: tagPing(gs, n)}) {
			t.Fatal("Event refused")
		}
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return a.m.Match("g1").Room().EventSeq(5) == 2 })
	start := a.m.Match("g1").Room().Tick()
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, last := a.tlog.get("g1"); return last > start+3 })
	log, _ := a.tlog.get("g1")

	b := newLogNode(t, "b")
	lease := &switchLease{}
	b.m.cfg.Lease = lease
	_, games := registerTag(t, b.m.games)
	mt := adopt(t, b.m, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 20, Log: log})
	if mt.replayed == 0 {
		t.Fatal("no tick replayed")
	}
	lease.ok.Store(true)
	c := &fakeConn{}
	r, err := b.m.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1", Name: "ann"}, PlayerID: 5, Conn: c})
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Welcome(); w.EventSeq != 2 {
		t.Errorf("Welcome.EventSeq %d after the replay, want 2", w.EventSeq)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() > 0 })
	seqs, ns := serverPings(t, gs, c.snapshot(t, 0))
	if !slices.Equal(seqs, []uint32{1, 2}) || !slices.Equal(ns, []int64{1003, 1004}) {
		t.Fatalf("the new owner's first snapshot carries server events %v %v, want seqs [1 2] of 1003 and 1004", seqs, ns)
	}
	// The client re-sends event 2 (ignored: applied before) and sends 3.
	r.Event(&schema.Event{Seq: 2, Data: tagPing(gs, 4)})
	r.Event(&schema.Event{Seq: 3, Data: tagPing(gs, 5)})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return b.m.Match("g1").Room().EventSeq(5) == 3 })
	if p := games.pings(); !slices.Equal(p, []int64{3, 4, 5}) {
		t.Errorf("the new owner's game got pings %v, want [3 4 5]", p)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		seqs, ns := serverPings(t, gs, c.snapshot(t, c.count()-1))
		return slices.Equal(seqs, []uint32{1, 2, 3}) && ns[2] == 1005
	})
}

// TestAdoptFromCheckpointContinuesEventSeqs: a match adopted from a
// checkpoint alone (no tick log) goes on numbering each seat's events: the
// Welcome says which client events were applied, a re-sent one is not
// applied twice, and the next server event follows the old owner's.
func TestAdoptFromCheckpointContinuesEventSeqs(t *testing.T) {
	a, recA := newClusterManager(t, "a", nil)
	gs, _ := registerTag(t, a.games)
	adopt(t, a, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := a.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1"}, PlayerID: 5, Conn: &fakeConn{}})
	if err != nil {
		t.Fatal(err)
	}
	for seq, n := range []int64{3, 4} {
		if !s.Event(&schema.Event{Seq: uint32(seq + 1), Data: tagPing(gs, n)}) {
			t.Fatal("Event refused")
		}
	}
	var ck *checkpoint
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		rec, _ := recA.get("g1")
		c, err := decodeCheckpoint(rec.state)
		if err != nil || len(c.Seats) != 1 {
			return false
		}
		ck = c
		return c.Seats[0].InSeq == 2 && c.Seats[0].OutSeq == 2
	})
	rec, _ := recA.get("g1")

	b, _ := newClusterManager(t, "b", nil)
	_, games := registerTag(t, b.games)
	adopt(t, b, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 20, Tick: ck.Tick, State: rec.state})
	c := &fakeConn{}
	r, err := b.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1"}, PlayerID: 5, Conn: c})
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Welcome(); w.EventSeq != 2 {
		t.Errorf("Welcome.EventSeq %d on the new owner, want 2", w.EventSeq)
	}
	r.Event(&schema.Event{Seq: 2, Data: tagPing(gs, 4)}) // applied before the checkpoint
	r.Event(&schema.Event{Seq: 3, Data: tagPing(gs, 5)})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return b.Match("g1").Room().EventSeq(5) == 3 })
	if p := games.pings(); !slices.Equal(p, []int64{5}) {
		t.Errorf("the new owner's game got pings %v, want [5]", p)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		if c.count() == 0 {
			return false
		}
		seqs, ns := serverPings(t, gs, c.snapshot(t, c.count()-1))
		return slices.Equal(seqs, []uint32{3}) && ns[0] == 1005
	})
}

// TestAdoptNumbersEventsPastClients: the old owner sent server event 3
// after its last checkpoint, and it is lost with it; the client that got
// it says so when it takes its seat back on the new owner
// (Hello.event_ack), so the new owner's next events are numbered 4, 5, not
// 3, 4 (3 the client holds, and would drop as a repeat).
func TestAdoptNumbersEventsPastClients(t *testing.T) {
	a, recA := newClusterManager(t, "a", nil)
	gs, _ := registerTag(t, a.games)
	adopt(t, a, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 10})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca := &fakeConn{}
	s, err := a.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1"}, PlayerID: 5, Conn: ca})
	if err != nil {
		t.Fatal(err)
	}
	for seq, n := range []int64{3, 4} {
		if !s.Event(&schema.Event{Seq: uint32(seq + 1), Data: tagPing(gs, n)}) {
			t.Fatal("Event refused")
		}
	}
	var state []byte
	var tick uint32
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		rec, _ := recA.get("g1")
		c, err := decodeCheckpoint(rec.state)
		if err != nil || len(c.Seats) != 1 || c.Seats[0].OutSeq != 2 {
			return false
		}
		state, tick = bytes.Clone(rec.state), c.Tick
		return true
	})
	// Event 3 reaches the client, not the checkpoint the new owner gets.
	s.Event(&schema.Event{Seq: 3, Data: tagPing(gs, 5)})
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		seqs, _ := serverPings(t, gs, ca.snapshot(t, ca.count()-1))
		return slices.Contains(seqs, 3)
	})

	b, _ := newClusterManager(t, "b", nil)
	registerTag(t, b.games)
	adopt(t, b, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 20, Tick: tick, State: state})
	c := &fakeConn{}
	r, err := b.Join(ctx, JoinRequest{Hello: schema.Hello{MatchID: "g1", EventAck: 3}, PlayerID: 5, Conn: c})
	if err != nil {
		t.Fatal(err)
	}
	if w := r.Welcome(); w.EventSeq != 2 {
		t.Fatalf("Welcome.EventSeq %d on the new owner, want 2", w.EventSeq)
	}
	r.Event(&schema.Event{Seq: 3, Data: tagPing(gs, 5)}) // lost with the old owner: re-sent
	r.Event(&schema.Event{Seq: 4, Data: tagPing(gs, 6)})
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		if c.count() == 0 {
			return false
		}
		seqs, ns := serverPings(t, gs, c.snapshot(t, c.count()-1))
		return slices.Equal(seqs, []uint32{4, 5}) && slices.Equal(ns, []int64{1005, 1006})
	})
}

// TestGameSeats: a game registered with Spec.Seats holds that many players
// per match: matchmaking opens another match past it, a join by match id
// finds it full; other games keep the node's Config.Seats.
func TestGameSeats(t *testing.T) {
	m, reg := newTestManager(t, func(c *Config) { c.Seats = 8 })
	f := func(int64) Game { return &tagGame{gs: reg.Schema("duel"), runners: map[uint32]*runner{}} }
	if err := reg.RegisterSpec(Spec{Name: "duel", New: f, Schema: readTestdata(t, "tag.bfbs"), Seats: 2}); err != nil {
		t.Fatal(err)
	}
	if reg.Seats("duel") != 2 || reg.Seats("fake") != 0 {
		t.Fatalf("registry seats: duel %d, fake %d", reg.Seats("duel"), reg.Seats("fake"))
	}
	var ids []string
	for range 5 {
		s, _ := join(t, m, schema.Hello{Game: "duel"}, 0)
		ids = append(ids, s.Welcome().MatchID)
	}
	if ids[0] != ids[1] || ids[2] != ids[3] || ids[0] == ids[2] || ids[4] == ids[0] || ids[4] == ids[2] {
		t.Fatalf("five duel players got matches %v, want two per match", ids)
	}
	je := joinErr(t, m, schema.Hello{MatchID: ids[0]}, 0, schema.ErrCodeMatchFull)
	if !strings.Contains(je.Message, "(2 seats)") {
		t.Errorf("match full: %q", je.Message)
	}
	for _, info := range m.Matches() {
		if info.Seats != 2 {
			t.Errorf("match %s lists %d seats, want 2", info.ID, info.Seats)
		}
	}
	s, _ := join(t, m, schema.Hello{Game: "fake"}, 0)
	if info := m.Match(s.Welcome().MatchID).Info(); info.Seats != 8 {
		t.Errorf("a game without Spec.Seats holds %d, want the node's 8", info.Seats)
	}
	for _, n := range []int{-1, 1025} {
		if err := reg.RegisterSpec(Spec{Name: "bad", New: f, Seats: n}); err == nil || reg.Has("bad") {
			t.Errorf("Seats %d registered (%v)", n, err)
		}
	}
}

// TestRefusedJoinPlacedElsewhere: when the game of a running match refuses
// a matchmaking join (it has started), the player is seated in another
// match, or a new one; after three refusals the refusal stands. A join by
// match id gets the refusal at once.
func TestRefusedJoinPlacedElsewhere(t *testing.T) {
	m, reg := newTestManager(t, nil)
	registerTag(t, reg)
	first, _ := join(t, m, schema.Hello{Game: "tag", Name: "starter"}, 0)
	a := first.Welcome().MatchID
	bob, _ := join(t, m, schema.Hello{Game: "tag", Name: "bob"}, 0)
	b := bob.Welcome().MatchID
	if b == a {
		t.Fatal("bob was seated in the match that had started")
	}
	if info := m.Match(a).Info(); info.Players != 1 {
		t.Errorf("the started match has %d players, want 1", info.Players)
	}
	je := joinErr(t, m, schema.Hello{MatchID: a, Name: "cat"}, 0, schema.ErrCodeJoinRefused)
	if je.Message != "the game has started" {
		t.Errorf("by match id: %+v", je)
	}
	// Matches a and b, then c, started: a fourth starter is refused by
	// all three and gets the refusal.
	join(t, m, schema.Hello{Game: "tag", Name: "starter"}, 0) // into b, which starts
	s3, _ := join(t, m, schema.Hello{Game: "tag", Name: "starter"}, 0)
	if c := s3.Welcome().MatchID; c == a || c == b {
		t.Fatalf("the third starter joined a started match %s", c)
	}
	je = joinErr(t, m, schema.Hello{Game: "tag", Name: "dan"}, 0, schema.ErrCodeJoinRefused)
	if !je.Public || je.Message != "the game has started" {
		t.Errorf("after three refusals: %+v", je)
	}
	if n := len(m.Matches()); n != 3 {
		t.Errorf("%d matches, want 3", n)
	}
}

// TestGameEndsAdoptedMatch: in cluster mode, a game's Outbox.End reaches
// the connected players as ErrCodeMatchEnded, ends the match in the
// directory at its epoch (Placement.End), drops its checkpoints and tick
// log, and a resume is then refused.
func TestGameEndsAdoptedMatch(t *testing.T) {
	n := newLogNode(t, "a")
	p := &funcPlacement{locate: func(context.Context, string) (bool, error) { return false, nil }}
	n.m.place = p
	registerTag(t, n.m.games)
	adopt(t, n.m, AdoptRequest{MatchID: "g1", Game: "tag", Seed: 7, Epoch: 10})
	s1, c1 := join(t, n.m, schema.Hello{MatchID: "g1", Name: "ann"}, 0)
	_, c2 := join(t, n.m, schema.Hello{MatchID: "g1", Name: "ender"}, 0)
	for _, c := range []*fakeConn{c1, c2} {
		testutil.CheckTrue(t, 5*time.Second, func() bool {
			kicked, code, _ := c.kick()
			return kicked && code == schema.ErrCodeMatchEnded
		})
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { _, ok := p.endedAt("g1"); return ok })
	if epoch, _ := p.endedAt("g1"); epoch != 10 {
		t.Errorf("ended in the directory at epoch %d, want 10", epoch)
	}
	n.ckpt.mu.Lock()
	forgot := n.ckpt.forgot["g1"]
	n.ckpt.mu.Unlock()
	n.tlog.mu.Lock()
	logForgot := n.tlog.forgot["g1"]
	n.tlog.mu.Unlock()
	if forgot != 1 || logForgot != 1 {
		t.Errorf("checkpoints forgotten %d times, tick log %d; want 1 and 1", forgot, logForgot)
	}
	if n.m.Match("g1") != nil {
		t.Error("the ended match still runs")
	}
	je := joinErr(t, n.m, schema.Hello{ResumeToken: s1.Welcome().ResumeToken}, 0, schema.ErrCodeResumeRefused)
	if !strings.Contains(je.Message, "has ended") {
		t.Errorf("resume after the end: %+v", je)
	}
}
