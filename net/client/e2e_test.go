package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/gametesting"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// view is what one player sees, copied out of its client's world on the
// client goroutine (read with arena.AppendEntities).
type view struct {
	client.NopHandler
	ents      []arena.Entity // client goroutine: the newest world, reused
	mu        sync.Mutex
	self      uint32 // own entity id, from the Welcome
	own       []arena.Entity
	avatars   map[uint32]bool // owners of the avatars seen
	baselines []uint32        // of every snapshot
	welcomes  []int           // len(baselines) at each Welcome
}

func (v *view) OnWelcome(_ *client.Client, w *schema.Welcome, _ bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.self = w.EntityID
	v.welcomes = append(v.welcomes, len(v.baselines))
}

func (v *view) OnSnapshot(_ *client.Client, s *schema.Snapshot, w *client.World) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.baselines = append(v.baselines, s.BaselineTick)
	v.ents = arena.AppendEntities(v.ents[:0], w)
	for _, e := range v.ents {
		if e.Kind == arena.KindAvatar {
			v.avatars[e.Owner] = true
		}
		if e.ID == v.self {
			v.own = append(v.own, e)
		}
	}
}

func (v *view) ownSince(i int) []arena.Entity {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]arena.Entity(nil), v.own[min(i, len(v.own)):]...)
}

// dialView dials a player of the arena; given: with the arena's schema
// (else the client fetches it from the node).
func dialView(t *testing.T, url string, reconnect, given bool) (*client.Client, *view) {
	t.Helper()
	v := &view{avatars: map[uint32]bool{}}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{url}
	if given {
		cfg.Game, cfg.Schema, cfg.Codec = arena.Name, arena.Schema(), arena.Codec()
	}
	cfg.Reconnect = reconnect
	cfg.BackoffMin = 20 * time.Millisecond
	cfg.Handler = v
	c, err := client.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, v
}

// sendFor sends each client its arena input once per tick (30 Hz) for d.
// Inputs refused while a client reconnects are skipped.
func sendFor(t *testing.T, d time.Duration, clients []*client.Client, inputs []arena.Input) {
	t.Helper()
	tk := time.NewTicker(time.Second / 30)
	defer tk.Stop()
	end := time.Now().Add(d)
	var data []byte
	for time.Now().Before(end) {
		for i, c := range clients {
			data = arena.AppendInput(data[:0], inputs[i])
			in := schema.Input{TargetTick: c.AckTick() + 1, Data: data}
			if err := c.SendInput(in); err != nil && err != client.ErrNotConnected {
				t.Fatal(err)
			}
		}
		<-tk.C
	}
}

// TestEndToEndThreePlayers: the real node, three players in one arena
// match (matchmaking); each sees its own avatar move the way its inputs
// ask, and sees the other two. The clients fetch the arena's schema from
// the node (no Config.Schema).
func TestEndToEndThreePlayers(t *testing.T) {
	url := gametesting.StartNode(t)
	inputs := []arena.Input{{MoveX: arena.AxisMax}, {MoveX: -arena.AxisMax}, {MoveY: arena.AxisMax}}
	var clients []*client.Client
	var views []*view
	for range inputs {
		c, v := dialView(t, url, false, false)
		clients = append(clients, c)
		views = append(views, v)
	}
	match := clients[0].Welcome().MatchID
	for _, c := range clients[1:] {
		if c.Welcome().MatchID != match {
			t.Fatalf("players in matches %q and %q", match, c.Welcome().MatchID)
		}
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		for i, v := range views {
			if len(v.ownSince(0)) == 0 {
				return fmt.Errorf("player %d has not seen its avatar", i)
			}
		}
		return nil
	})
	start := make([]int, len(views))
	for i, v := range views {
		start[i] = len(v.ownSince(0)) - 1
	}
	sendFor(t, time.Second, clients, inputs)

	testutil.CheckFor(t, 5*time.Second, func() error {
		for i, v := range views {
			own := v.ownSince(start[i])
			first, last := own[0], own[len(own)-1]
			dx, dy := last.X-first.X, last.Y-first.Y
			atWall := func(p int32) bool { return p <= 0 || p >= arena.MaxPos }
			var ok bool
			switch i {
			case 0:
				ok = dx > 16*30 || atWall(last.X)
			case 1:
				ok = dx < -16*30 || atWall(last.X)
			case 2:
				ok = dy > 16*30 || atWall(last.Y)
			}
			if !ok {
				return fmt.Errorf("player %d asked %+v, its avatar moved %d,%d", i, inputs[i], dx, dy)
			}
			v.mu.Lock()
			seen := len(v.avatars)
			v.mu.Unlock()
			if seen != 3 {
				return fmt.Errorf("player %d sees %d avatars", i, seen)
			}
			if c := clients[i]; c.LastInputSeq() != c.InputSeq() {
				return fmt.Errorf("player %d: server processed seq %d of %d", i, c.LastInputSeq(), c.InputSeq())
			}
		}
		return nil
	})
	for i, c := range clients {
		if w := c.Welcome(); w.Game != arena.Name || w.SchemaHash != arena.Schema().HashString() || c.Schema().HashString() != w.SchemaHash {
			t.Errorf("player %d: welcome %+v, schema fetched %s", i, w, c.Schema().HashString())
		}
		st := c.Stats()
		if st.SnapshotsDelta == 0 || st.ApplyErrors != 0 {
			t.Errorf("player %d: %+v", i, st)
		}
		t.Logf("player %d: %d full, %d delta, %d stale, %d ticks missed, %d B in, %d B out",
			i, st.SnapshotsFull, st.SnapshotsDelta, st.SnapshotsStale, st.TickGaps, st.BytesIn, st.BytesOut)
	}
}

// TestEndToEndResumeAfterCut: mid-match, the client's TCP connection is
// cut (its net.Conn closed, no close frame). The client reconnects by
// itself and resumes: same player, same entity, the input seq counting on
// (the server processes the new inputs), a delta against the tick it held,
// and its avatar keeps moving the way its inputs ask. This client is given
// the arena's schema (games/arena) instead of fetching it.
func TestEndToEndResumeAfterCut(t *testing.T) {
	url := gametesting.StartNode(t)
	c, v := dialView(t, url, true, true)
	other, ov := dialView(t, url, false, false) // a second player who stays
	inputs := []arena.Input{{MoveX: arena.AxisMax}, {MoveY: arena.AxisMax}}
	clients := []*client.Client{c, other}
	sendFor(t, 500*time.Millisecond, clients, inputs)
	testutil.CheckFor(t, 5*time.Second, func() error {
		if c.LastInputSeq() != c.InputSeq() {
			return fmt.Errorf("server processed seq %d of %d", c.LastInputSeq(), c.InputSeq())
		}
		return nil
	})
	w0 := c.Welcome()
	seq0 := c.InputSeq()
	own := v.ownSince(0)
	x0 := own[len(own)-1].X
	heldTick := c.AckTick()

	client.CutForTest(c)
	testutil.CheckFor(t, 5*time.Second, func() error {
		if st := c.Stats(); st.Resumes != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	w1 := c.Welcome()
	if w1.PlayerID != w0.PlayerID || w1.EntityID != w0.EntityID || w1.MatchID != w0.MatchID {
		t.Fatalf("resumed as %+v, was %+v", w1, w0)
	}
	v.mu.Lock()
	firstAfter := v.baselines[v.welcomes[1]]
	v.mu.Unlock()
	// The room keeps ticking between reading the held tick and the cut, so
	// the client may hold a snapshot or two more by then; the resume must
	// be a delta against what it held then, not a full snapshot.
	if firstAfter < heldTick || firstAfter > heldTick+3 {
		t.Errorf("first snapshot after the resume has baseline %d; the client held tick %d just before the cut", firstAfter, heldTick)
	}

	n := len(v.ownSince(0))
	sendFor(t, 500*time.Millisecond, clients, inputs)
	if c.InputSeq() <= seq0 {
		t.Fatalf("input seq %d after the resume, was %d", c.InputSeq(), seq0)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if c.LastInputSeq() != c.InputSeq() {
			return fmt.Errorf("after the resume the server processed seq %d of %d", c.LastInputSeq(), c.InputSeq())
		}
		after := v.ownSince(n)
		if len(after) == 0 {
			return fmt.Errorf("no snapshot since the resume")
		}
		if x := after[len(after)-1].X; x <= x0 && x < arena.MaxPos {
			return fmt.Errorf("avatar at x=%d after the resume, %d before: it did not move on", x, x0)
		}
		ov.mu.Lock()
		defer ov.mu.Unlock()
		if !ov.avatars[w0.PlayerID] {
			return fmt.Errorf("the other player does not see the resumed one")
		}
		return nil
	})
	st := c.Stats()
	if st.Reconnects != 1 || st.Drops != 1 || st.ApplyErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("resume: downtime %v; seq %d → %d; first snapshot after it: baseline %d (held %d)",
		st.LastResume, seq0, c.InputSeq(), firstAfter, heldTick)
}
