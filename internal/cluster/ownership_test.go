package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/schema"
)

// node is one in-process node of a fake cluster: a real game.Manager whose
// Placement, Lease and Checkpointer are an Adapter over a fake replica, and
// its ownership loop.
type node struct {
	id    string
	rep   *fakeReplica
	glue  *Adapter
	games *game.Manager
}

func startNode(t *testing.T, id string, f *fakeFSM) *node { return startNodeWith(t, id, f, nil) }

// startNodeWith is startNode with the game configuration edited.
func startNodeWith(t *testing.T, id string, f *fakeFSM, edit func(*game.Config)) *node {
	t.Helper()
	n := &node{id: id, rep: newFakeReplica(f)}
	n.glue = newAdapter(t, id, n.rep, &fakeCheckpointer{fsm: f})
	reg := game.NewRegistry()
	if err := reg.RegisterSpec(toySpec()); err != nil {
		t.Fatal(err)
	}
	gc := game.DefaultConfig()
	gc.NodeID = id
	gc.DefaultGame = toyName
	gc.Seats = 4
	gc.Secret = []byte("one secret for the whole cluster")
	gc.Placement, gc.Lease, gc.Checkpoints = n.glue, n.glue, n.glue
	gc.TickLog = n.glue.TickLog()
	gc.CheckpointInterval = 50 * time.Millisecond
	if edit != nil {
		edit(&gc)
	}
	gc.Logger = zerolog.Nop()
	var err error
	if n.games, err = game.NewManager(gc, reg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.glue.RunOwnership(ctx, n.rep, n.games)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = n.games.Shutdown(sctx)
	})
	return n
}

func (n *node) send(ev replication.OwnershipEvent) { n.rep.events <- ev }

// TestOwnershipFailover: two nodes over one directory. The match is placed
// on n1: its Acquired event starts the room there, a player joins and the
// room checkpoints. Then the directory gives the match to n2 (as after a
// failover): n1's room stops ticking at once (its lease names another
// owner), n2's Acquired restores it from the latest checkpoint, n1's
// Released redirects the player to n2, and the player resumes there in its
// seat.
func TestOwnershipFailover(t *testing.T) {
	f := newFakeFSM()
	f.addNode("n1", "", replication.NodeAlive)
	f.addNode("n2", "", replication.NodeAlive)
	n1, n2 := startNode(t, "n1", f), startNode(t, "n2", f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m := f.put(replication.MatchInfo{ID: "m1", Owner: "n1", Seed: 7})
	if local, err := n1.glue.Locate(ctx, m.ID); !local || err != nil {
		t.Fatalf("before the Acquired event: %v %v, want local", local, err)
	}
	n1.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: m.Epoch, Match: m})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return n1.glue.adopted(m.ID, m.Epoch) })
	if _, ok := n1.games.Tick(m.ID); !ok {
		t.Fatal("n1 does not run the match it acquired")
	}

	conn := &fakeConn{}
	seat, err := n1.games.Join(ctx, game.JoinRequest{Hello: schema.Hello{MatchID: m.ID}, Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	w := seat.Welcome()
	seat.Input(&schema.Input{Seq: 1, Data: arena.AppendInput(nil, arena.Input{MoveX: 100})})
	var cp replication.Checkpoint
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		cp, _ = n1.rep.LatestCheckpoint(m.ID)
		return cp.Epoch == m.Epoch && cp.Tick > 10 && conn.snapshots.Load() > 0
	})

	// The directory moves the match to n2.
	moved := m
	moved.Owner, moved.PrevEpoch = "n2", m.Epoch
	moved.Epoch = 0
	moved = f.put(moved)
	if n1.glue.Valid(m.ID, m.Epoch) {
		t.Fatal("n1's lease still valid for a match the directory gave to n2")
	}
	cp, _ = n1.rep.LatestCheckpoint(m.ID)
	n2.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: moved.Epoch, Match: moved})
	n1.send(replication.OwnershipEvent{Kind: replication.Released, Epoch: m.Epoch, Match: moved})

	testutil.CheckTrue(t, 5*time.Second, func() bool { return conn.redirected() != "" })
	if got, want := conn.redirected(), "ws://n2.test/ws m1"; got != want {
		t.Fatalf("player redirected to %q, want %q", got, want)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		_, running := n1.games.Tick(m.ID)
		return !running && n2.glue.adopted(moved.ID, moved.Epoch)
	})
	tick, ok := n2.games.Tick(m.ID)
	if !ok || tick < cp.Tick {
		t.Fatalf("n2 runs the match: %v, at tick %d; the checkpoint was at %d", ok, tick, cp.Tick)
	}
	// n1 now routes the match to n2 (its owner answers no probe here: the
	// fake n2 has no API, so it is a failover pending).
	if local, err := n1.glue.Locate(ctx, m.ID); local || err == nil {
		t.Fatalf("n1 locates the moved match: %v %v", local, err)
	}

	conn2 := &fakeConn{}
	seat2, err := n2.games.Join(ctx, game.JoinRequest{
		Hello: schema.Hello{MatchID: m.ID, ResumeToken: w.ResumeToken, LastTick: cp.Tick}, Conn: conn2,
	})
	if err != nil {
		t.Fatalf("resume on n2: %v", err)
	}
	if w2 := seat2.Welcome(); w2.PlayerID != w.PlayerID || w2.EntityID != w.EntityID || w2.NodeID != "n2" {
		t.Fatalf("resumed as %+v, was %+v", w2, w)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return conn2.snapshots.Load() > 0 })
}

// TestOwnershipEnded: a Released event for an ended match closes its
// players with "match ended" (no redirect), and a later Locate on this node
// says "not found".
func TestOwnershipEnded(t *testing.T) {
	f := newFakeFSM()
	f.addNode("n1", "", replication.NodeAlive)
	n1 := startNode(t, "n1", f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := f.put(replication.MatchInfo{ID: "m1", Owner: "n1"})
	n1.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: m.Epoch, Match: m})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return n1.glue.adopted(m.ID, m.Epoch) })
	conn := &fakeConn{}
	if _, err := n1.games.Join(ctx, game.JoinRequest{Hello: schema.Hello{MatchID: m.ID}, Conn: conn}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	delete(f.matches, m.ID)
	f.mu.Unlock()
	n1.send(replication.OwnershipEvent{Kind: replication.Released, Epoch: m.Epoch, Match: m, Ended: true})
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		return conn.kicked == schema.ErrCodeMatchEnded
	})
	if conn.redirected() != "" {
		t.Fatalf("redirected to %q", conn.redirected())
	}
	if local, err := n1.glue.Locate(ctx, m.ID); local || err != nil {
		t.Fatalf("after the end: %v %v, want not found", local, err)
	}
}

// TestOwnershipBadCheckpoint: an unreadable checkpoint starts the match
// fresh instead of leaving it without a room.
func TestOwnershipBadCheckpoint(t *testing.T) {
	f := newFakeFSM()
	n1 := startNode(t, "n1", f)
	m := f.put(replication.MatchInfo{ID: "m1", Owner: "n1"})
	f.checkpoints[m.ID] = replication.Checkpoint{Match: m.ID, Epoch: 1, Tick: 50, Data: []byte("not zstd")}
	n1.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: m.Epoch, Match: m})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return n1.glue.adopted(m.ID, m.Epoch) })
	if tick, ok := n1.games.Tick(m.ID); !ok || tick >= 50 {
		t.Fatalf("running %v at tick %d, want a fresh room", ok, tick)
	}
}

// TestOwnershipFailoverReplaysTickLog: as TestOwnershipFailover, with
// checkpoints rare (one at the join, the next 10 s later) and the room's
// tick log in the directory: n2 restores the checkpoint and replays the log
// to n1's last tick, so the match goes on from there, not from the
// checkpoint. (That the replayed state is n1's is game's test.)
func TestOwnershipFailoverReplaysTickLog(t *testing.T) {
	f := newFakeFSM()
	f.addNode("n1", "", replication.NodeAlive)
	f.addNode("n2", "", replication.NodeAlive)
	rare := func(c *game.Config) { c.CheckpointInterval = 10 * time.Second }
	n1, n2 := startNodeWith(t, "n1", f, rare), startNodeWith(t, "n2", f, rare)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	m := f.put(replication.MatchInfo{ID: "m1", Owner: "n1", Seed: 7})
	n1.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: m.Epoch, Match: m})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return n1.glue.adopted(m.ID, m.Epoch) })
	seat, err := n1.games.Join(ctx, game.JoinRequest{Hello: schema.Hello{MatchID: m.ID}, Conn: &fakeConn{}})
	if err != nil {
		t.Fatal(err)
	}
	seat.Input(&schema.Input{Seq: 1, Data: arena.AppendInput(nil, arena.Input{MoveX: 3})})
	var cp replication.Checkpoint
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		cp, _ = n1.rep.LatestCheckpoint(m.ID)
		tick, _ := n1.games.Tick(m.ID)
		return cp.Epoch == m.Epoch && tick > cp.Tick+30
	})

	moved := m
	moved.Owner, moved.PrevEpoch, moved.Epoch = "n2", m.Epoch, 0
	moved = f.put(moved) // n1's room stops at its next tick: its lease names n2
	var last uint32
	testutil.CheckTrue(t, 5*time.Second, func() bool { // n1's log has stopped growing
		lg, _ := n1.rep.TickLog(m.ID, 0)
		done := lg.To == last
		last = lg.To
		return done && last > 0
	})
	n2.send(replication.OwnershipEvent{Kind: replication.Acquired, Epoch: moved.Epoch, Match: moved})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return n2.glue.adopted(moved.ID, moved.Epoch) })
	tick, ok := n2.games.Tick(m.ID)
	if !ok || tick < last || last <= cp.Tick+30 {
		t.Fatalf("n2 runs the match at tick %d (%v); n1's tick log ends at %d, its checkpoint at %d", tick, ok, last, cp.Tick)
	}
}
