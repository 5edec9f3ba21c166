package ws

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/game/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// startNode runs the real stack on loopback: game.Manager with the arena,
// this package's Server, and httpserver, wired as the node does.
func startNode(t *testing.T, mod func(*Config)) (*Server, string) {
	t.Helper()
	reg := game.NewRegistry()
	if err := arena.Register(reg); err != nil {
		t.Fatal(err)
	}
	gc := game.DefaultConfig()
	gc.NodeID = "n1"
	mgr, err := game.NewManager(gc, reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	cfg.Joiner = mgr
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, serve(t, srv, "", "", mgr)
}

// serve is the node's HTTP wiring of a Server, shared by the end-to-end
// and TLS tests (the node itself, package ticksync, imports this package,
// so its tests cannot use it): srv at /ws of an httpserver on a free
// loopback port, TLS with certFile and keyFile when given. Both start now
// and stop at the end of the test in the node's order: listener, rooms
// (games, when not nil), sessions. It returns the bound address.
func serve(t *testing.T, srv *Server, certFile, keyFile string, games *game.Manager) string {
	t.Helper()
	hc := httpserver.DefaultConfig()
	hc.Addr = "127.0.0.1:0"
	hc.TLSCertFile, hc.TLSKeyFile = certFile, keyFile
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
		if games != nil {
			_ = games.Shutdown(ctx)
		}
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("ws shutdown: %v", err)
		}
	})
	return hs.Addr().String()
}

// player records what a net/client player sees, for the test goroutine.
type player struct {
	client.NopHandler
	mu       sync.Mutex
	self     uint32 // own entity id
	first    schema.Entity
	last     schema.Entity
	avatars  map[uint32]bool // owners of avatars seen
	ticks    []uint32
	arrivals []time.Time
	latency  []time.Duration // arrival minus the snapshot's server_time_ms
}

func (p *player) OnSnapshot(_ *client.Client, s *schema.Snapshot, w *client.World) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ticks = append(p.ticks, s.Tick)
	now := time.Now()
	p.arrivals = append(p.arrivals, now)
	p.latency = append(p.latency, now.Sub(time.UnixMilli(int64(s.ServerTimeMS))))
	for _, e := range w.Entities() {
		if e.Kind == arena.KindAvatar {
			p.avatars[e.Owner] = true
		}
		if e.ID == p.self {
			if p.first.ID == 0 {
				p.first = e
			}
			p.last = e
		}
	}
}

func dialPlayer(t *testing.T, addr string) (*client.Client, *player) {
	t.Helper()
	p := &player{avatars: map[uint32]bool{}}
	cfg := client.DefaultConfig()
	cfg.URLs = []string{"ws://" + addr + "/ws"}
	cfg.Reconnect = false
	cfg.Handler = p
	// The context bounds the client's whole life, not only the dial.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.mu.Lock() // OnSnapshot waits until self is known
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	p.self = c.Welcome().EntityID
	p.mu.Unlock()
	t.Cleanup(func() { _ = c.Close() })
	return c, p
}

// TestEndToEndArena: three net/client players in one arena match; each sees
// its own avatar move the way its inputs ask, and sees the others.
func TestEndToEndArena(t *testing.T) {
	_, addr := startNode(t, nil)
	moves := []schema.Input{{MoveX: 100}, {MoveX: -100}, {MoveY: 100}}
	var clients []*client.Client
	var players []*player
	for range moves {
		c, p := dialPlayer(t, addr)
		clients = append(clients, c)
		players = append(players, p)
	}
	// One input per tick for a second.
	for i := 0; i < 30; i++ {
		for j, c := range clients {
			in := moves[j]
			in.AckTick = c.AckTick()
			if err := c.SendInput(in); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second / 30)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		for j, p := range players {
			p.mu.Lock()
			first, last, seen := p.first, p.last, len(p.avatars)
			p.mu.Unlock()
			dx, dy := last.X-first.X, last.Y-first.Y
			atWall := func(v int32) bool { return v <= 0 || v >= arena.MaxPos }
			switch j {
			case 0:
				if dx <= 16 && !atWall(last.X) {
					return fmt.Errorf("player 0 asked +x, moved %d,%d", dx, dy)
				}
			case 1:
				if dx >= -16 && !atWall(last.X) {
					return fmt.Errorf("player 1 asked -x, moved %d,%d", dx, dy)
				}
			case 2:
				if dy <= 16 && !atWall(last.Y) {
					return fmt.Errorf("player 2 asked +y, moved %d,%d", dx, dy)
				}
			}
			if seen != 3 {
				return fmt.Errorf("player %d sees %d avatars", j, seen)
			}
		}
		return nil
	})
}

// TestEndToEndSlowClient: in a real room at 30 Hz, a client that stops
// reading is closed with 4010 while the two healthy players of its match
// keep getting every tick on time.
func TestEndToEndSlowClient(t *testing.T) {
	srv, addr := startNode(t, func(c *Config) {
		c.SlowConsumerAfter = 300 * time.Millisecond
		c.SendBufferBytes = 4 << 10
		c.CloseLinger = 5 * time.Second
	})
	_, a := dialPlayer(t, addr)
	slow, _, err := dialWS(t, addr, dialOpts{rcvBuf: 4 << 10})
	if err != nil || slow == nil {
		t.Fatal(err)
	}
	slow.hello(schema.Hello{})
	w := slow.mustNext(fb.ServerBodyWelcome)
	_, b := dialPlayer(t, addr)
	// The slow client never acks, so its snapshots soon become full ones
	// and fill its small buffers.
	start := time.Now()
	testutil.CheckFor(t, 15*time.Second, func() error {
		if n := srv.Stats().SlowConsumers; n != 1 {
			return fmt.Errorf("%d slow consumers", n)
		}
		return nil
	})
	t.Logf("slow consumer detected after %v", time.Since(start))
	time.Sleep(500 * time.Millisecond) // half a second more of ticks for the healthy ones
	// Each snapshot carries the room's clock when it was encoded: its
	// delivery delay is what a slow peer could add (a stall of the whole
	// room, e.g. on a loaded test machine, delays everyone alike and is not
	// the transport's doing).
	for i, p := range []*player{a, b} {
		p.mu.Lock()
		lat := slices.Clone(p.latency)
		lost := 0
		for k := 1; k < len(p.ticks); k++ {
			lost += int(p.ticks[k] - p.ticks[k-1] - 1)
		}
		p.mu.Unlock()
		p95, worst := percentile(lat, 0.95), percentile(lat, 1)
		t.Logf("healthy player %d: %d snapshots, %d ticks replaced, delivery p95 %v max %v", i, len(lat), lost, p95, worst)
		if p95 > 100*time.Millisecond || lost > len(lat)/2 {
			t.Errorf("healthy player %d was delayed: delivery p95 %v, %d ticks replaced of %d", i, p95, lost, len(lat))
		}
	}
	msgs, _ := slow.expectClose(CloseSlowConsumer, 10*time.Second)
	t.Logf("slow client (player %d) read %d snapshots before its 4010", w.welcome.PlayerID, len(msgs))
}

// TestEndToEndResumeReplaces: a resume token used while its first
// connection is live takes the seat over; the older connection gets
// Error{replaced} and 4006.
func TestEndToEndResumeReplaces(t *testing.T) {
	srv, addr := startNode(t, nil)
	first := mustDial(t, addr)
	first.hello(schema.Hello{})
	w1 := first.mustNext(fb.ServerBodyWelcome).welcome
	if w1.ResumeToken == "" {
		t.Fatal("no resume token in the Welcome")
	}
	second := mustDial(t, addr)
	second.hello(schema.Hello{ResumeToken: w1.ResumeToken, MatchID: w1.MatchID})
	w2 := second.mustNext(fb.ServerBodyWelcome).welcome
	if w2.PlayerID != w1.PlayerID || w2.EntityID != w1.EntityID {
		t.Fatalf("resumed as %+v, was %+v", w2, w1)
	}
	msgs, _ := first.expectClose(CloseCodeFor(schema.ErrCodeReplaced), 5*time.Second)
	if last := msgs[len(msgs)-1]; last.kind != fb.ServerBodyError || last.errCode != uint16(schema.ErrCodeReplaced) {
		t.Fatalf("last message before the close: %+v", last)
	}
	if _, err := second.next(2 * time.Second); err != nil {
		t.Fatalf("resumed connection: %v", err)
	}
	// A token for another match is refused.
	third := mustDial(t, addr)
	third.hello(schema.Hello{ResumeToken: w1.ResumeToken, MatchID: "not-" + w1.MatchID})
	third.expectClose(CloseCodeFor(schema.ErrCodeResumeRefused), 5*time.Second)
	st := srv.Stats()
	if st.Resumes != 1 || st.ResumesRefused != 1 || st.Kicks[schema.ErrCodeReplaced] != 1 || len(st.Kicks) != 1 {
		t.Fatalf("resumes %d, refused %d, kicks %v; want 1, 1 and one replaced", st.Resumes, st.ResumesRefused, st.Kicks)
	}
}
