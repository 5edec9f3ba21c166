package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/faultproxy"
	"github.com/ticksync/ticksync/internal/gametesting"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/net/ws"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// stallLog records the disconnects and welcomes of one client.
type stallLog struct {
	client.NopHandler
	mu          sync.Mutex
	disconnects []error
	welcomes    []schema.Welcome
}

func (l *stallLog) OnWelcome(_ *client.Client, w *schema.Welcome, _ bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.welcomes = append(l.welcomes, *w)
}

func (l *stallLog) OnDisconnect(_ *client.Client, err error, _ bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.disconnects = append(l.disconnects, err)
}

func (l *stallLog) errs() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.disconnects...)
}

// TestStallFrozenPathToRealNode: a real node, reached first through a TCP
// proxy and also directly. The player sends nothing (the node still sends a
// snapshot every tick) and nothing stalls for several stall timeouts. Then
// the proxy goes silent both ways, keeping the connection open and
// accepting new ones that stay silent, as a stopped process does: the
// client drops the connection after the stall timeout, tries the other URL
// first and resumes its seat there.
func TestStallFrozenPathToRealNode(t *testing.T) {
	direct := gametesting.StartNode(t)
	addr := direct[len("ws://") : len(direct)-len("/ws")]
	p, err := faultproxy.Listen("127.0.0.1:0", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	viaProxy := "ws://" + p.Addr() + "/ws"

	log := &stallLog{}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{viaProxy, direct}
	cfg.Handler = log
	c, err := client.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w0 := c.Welcome()

	// An idle player, snapshots flowing: no stall.
	end := time.Now().Add(3 * cfg.StallTimeout)
	testutil.CheckTrue(t, 30*time.Second, func() bool { return time.Now().After(end) })
	st := c.Stats()
	if st.Stalls != 0 || st.Drops != 0 || st.Reconnects != 0 {
		t.Fatalf("stats while snapshots flow: %+v", st)
	}
	if min := uint64(3*cfg.StallTimeout/time.Second) * 30 / 2; st.SnapshotsFull+st.SnapshotsDelta < min {
		t.Fatalf("%d snapshots in %v to an idle player: want one per tick (at least %d)", st.SnapshotsFull+st.SnapshotsDelta, 3*cfg.StallTimeout, min)
	}

	// The proxy carried the game connection (and the schema's fetch).
	accepted := p.Stats().Accepted
	p.SetAll(faultproxy.Blackhole)
	frozenAt := time.Now()
	testutil.CheckFor(t, cfg.StallTimeout*9/8+10*time.Second, func() error {
		if st := c.Stats(); st.Resumes != 1 {
			return fmt.Errorf("not resumed: stats %+v, disconnects %v, proxy %+v", st, log.errs(), p.Stats())
		}
		return nil
	})
	back := time.Since(frozenAt)
	st = c.Stats()
	if st.Stalls != 1 || st.Drops != 0 {
		t.Fatalf("stats after the freeze: %+v", st)
	}
	if w := c.Welcome(); w.PlayerID != w0.PlayerID || w.EntityID != w0.EntityID || w.MatchID != w0.MatchID {
		t.Fatalf("welcome after the stall %+v, before %+v", w, w0)
	}
	if errs := log.errs(); len(errs) != 1 || !errors.Is(errs[0], client.ErrStalled) {
		t.Fatalf("disconnects %v", errs)
	}
	if ps := p.Stats(); ps.Accepted != accepted {
		t.Fatalf("proxy accepted %d connections: the stalled path was tried again before the other URL", ps.Accepted)
	}
	tick := c.AckTick()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > tick+30 })
	t.Logf("back %v after the path froze (stall timeout %v, last resume %v)", back, cfg.StallTimeout, st.LastResume)
}

// managerNode is a game.Manager with the arena behind net/ws on a loopback
// port: a node without the cluster (and without its HTTP API: its clients
// are given the arena's schema), whose matches a test can freeze, adopt
// and release by hand.
type managerNode struct {
	mgr *game.Manager
	url string
}

func startManagerNode(t *testing.T, id string, secret []byte) *managerNode {
	t.Helper()
	reg := game.NewRegistry()
	if err := arena.Register(reg); err != nil {
		t.Fatal(err)
	}
	gc := game.DefaultConfig()
	gc.NodeID = id
	gc.Secret = secret
	mgr, err := game.NewManager(gc, reg)
	if err != nil {
		t.Fatal(err)
	}
	wc := ws.DefaultConfig()
	wc.NodeID = id
	wc.Joiner = mgr
	srv, err := ws.New(wc)
	if err != nil {
		t.Fatal(err)
	}
	hc := httpserver.DefaultConfig()
	hc.Addr = "127.0.0.1:0"
	hs, err := httpserver.New(hc)
	if err != nil {
		t.Fatal(err)
	}
	hs.Handle("/ws", srv.Handler())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if err := hs.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = mgr.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	return &managerNode{mgr: mgr, url: "ws://" + hs.Addr().String() + "/ws"}
}

// TestStallDuringPlannedMove: a planned move freezes the room (no
// snapshots) until the new owner runs it, then redirects the players.
// Here the freeze outlasts the stall timeout: the client reconnects to the
// old owner, which still owns the match and seats it again in the frozen
// room with a new resume token. The move then completes as the cluster
// does it (the frozen state adopted by the new node, released by the old
// one with a Redirect), and the client resumes there in its seat with the
// token the frozen room issued: the stall reconnect did not break the move.
func TestStallDuringPlannedMove(t *testing.T) {
	secret := []byte("stall-test-secret-0123456789")
	a := startManagerNode(t, "n1", secret)
	b := startManagerNode(t, "n2", secret)

	log := &stallLog{}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{a.url}
	cfg.Schema, cfg.Codec = arena.Schema(), arena.Codec()
	cfg.StallTimeout = client.MinStallTimeout
	cfg.Handler = log
	c, err := client.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	w0 := c.Welcome()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.AckTick() > w0.ServerTick+10 })

	var info game.MatchInfo
	for _, m := range a.mgr.Matches() {
		if m.ID == w0.MatchID {
			info = m
		}
	}
	if info.ID == "" {
		t.Fatalf("match %s not listed on n1", w0.MatchID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick, state, err := a.mgr.Freeze(ctx, info.ID, info.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	// The freeze outlasts the stall timeout: the client stalls and is
	// seated again by n1, in the frozen room.
	testutil.CheckTrue(t, cfg.StallTimeout*9/8+5*time.Second, func() bool {
		log.mu.Lock()
		defer log.mu.Unlock()
		return c.Stats().Stalls >= 1 && len(log.welcomes) >= 2
	})
	log.mu.Lock()
	w1 := log.welcomes[len(log.welcomes)-1]
	log.mu.Unlock()
	if w1.NodeID != "n1" || w1.PlayerID != w0.PlayerID || w1.ResumeToken == w0.ResumeToken {
		t.Fatalf("welcome during the freeze %+v (first %+v): want n1, the same player, a new token", w1, w0)
	}

	// The move completes: n2 adopts the frozen state, n1 redirects.
	if err := b.mgr.Adopt(ctx, game.AdoptRequest{MatchID: info.ID, Game: info.Game, Epoch: info.Epoch + 1, Tick: tick, State: state}); err != nil {
		t.Fatal(err)
	}
	if !a.mgr.Release(info.ID, b.url) {
		t.Fatal("n1 did not run the match")
	}
	testutil.CheckTrue(t, 10*time.Second, func() bool {
		w := c.Welcome()
		return w.NodeID == "n2" && c.AckTick() > tick
	})
	if w := c.Welcome(); w.PlayerID != w0.PlayerID || w.EntityID != w0.EntityID {
		t.Fatalf("welcome on n2 %+v, first %+v: the seat was lost", w, w0)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("client ended: %v", err)
	}
	st := c.Stats()
	if st.Redirects < 1 || st.Stalls < 1 {
		t.Fatalf("stats %+v: want a stall and the move's redirect", st)
	}
	t.Logf("frozen at tick %d; %d stall reconnects during the freeze; resumed on n2 at tick %d", tick, st.Stalls, c.AckTick())
}

// stillWorld is a game in which nothing ever changes: one arena NPC that
// never moves, no avatars.
type stillWorld struct{}

func (stillWorld) Join(uint32) (uint32, error)    { return 0, nil }
func (stillWorld) Leave(uint32)                   {}
func (stillWorld) Step(uint32, []sim.PlayerInput) {}
func (stillWorld) WriteState(w *gamedelta.World) {
	i := w.Add(1, arena.KindNPC, 0)
	w.SetInt(i, arena.FieldX, 100)
	w.SetInt(i, arena.FieldY, 100)
	w.SetInt(i, arena.FieldHP, arena.MaxHP)
}

// snapCounter is a sim.Conn that decodes what the room sends it and
// applies the state, as a client does.
type snapCounter struct {
	mu     sync.Mutex
	rcv    *gamedelta.Receiver
	ticks  []uint32
	deltas int
	sizes  map[int]int // state bytes of the deltas → how many
	errs   []error
}

func (s *snapCounter) Overflow() {}

func (s *snapCounter) SendSnapshot(msg []byte) {
	var m schema.ServerMessage
	err := schema.DecodeServerMessage(msg, &m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || m.Kind != schema.ServerSnapshot {
		s.errs = append(s.errs, fmt.Errorf("kind %v: %w", m.Kind, err))
		return
	}
	sn := &m.Snapshot
	w, err := s.rcv.Apply(sn.Tick, sn.BaselineTick, sn.State)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("snapshot %d: %w", sn.Tick, err))
		return
	}
	if w.Len() != 1 || w.Int(0, arena.FieldX) != 100 {
		s.errs = append(s.errs, fmt.Errorf("snapshot %d: world %v", sn.Tick, w))
	}
	s.ticks = append(s.ticks, sn.Tick)
	if sn.BaselineTick != 0 {
		s.deltas++
		s.sizes[len(sn.State)]++
	}
}

// TestRoomSendsSnapshotsWhenNothingChanges pins what the stall watch rests
// on: the engine sends every attached player a snapshot each tick, even when
// nothing in the world changed (an empty delta), so a player that gets none
// for the stall timeout can take its node for frozen.
func TestRoomSendsSnapshotsWhenNothingChanges(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Codec = arena.Codec()
	room, err := sim.NewRoom("still", cfg, stillWorld{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	room.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = room.Stop(ctx)
	})
	rcv, err := gamedelta.NewReceiver(arena.Codec(), gamedelta.DefaultReceiverConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	conn := &snapCounter{rcv: rcv, sizes: map[int]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := room.Join(ctx, 1, conn); err != nil {
		t.Fatal(err)
	}
	// A client that acks every snapshot gets deltas against its ack.
	testutil.CheckTrue(t, 10*time.Second, func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		n := len(conn.ticks)
		if n > 0 {
			room.PushInput(1, &schema.Input{Seq: uint32(n), AckTick: conn.ticks[n-1]})
		}
		return n >= 60
	})
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.errs) > 0 {
		t.Fatalf("snapshots that do not decode or apply: %v", conn.errs)
	}
	for i := 1; i < len(conn.ticks); i++ {
		if conn.ticks[i] != conn.ticks[i-1]+1 {
			t.Fatalf("ticks %v: a tick without a snapshot (after %d came %d)", conn.ticks, conn.ticks[i-1], conn.ticks[i])
		}
	}
	// An unchanged world costs the same few bytes whatever the baseline's
	// distance: the deltas carry no entity.
	if conn.deltas < 30 || len(conn.sizes) > 2 {
		t.Fatalf("%d deltas of %d snapshots, state sizes %v: want deltas, empty, from a world that never changes", conn.deltas, len(conn.ticks), conn.sizes)
	}
	for size := range conn.sizes {
		if size > 16 {
			t.Fatalf("a delta of an unchanged world carries %d bytes (sizes %v)", size, conn.sizes)
		}
	}
}
