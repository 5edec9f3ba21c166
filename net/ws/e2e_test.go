package ws

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// startNode runs the real stack on loopback: game.Manager with the arena
// (games/arena), this package's Server, and httpserver, wired as the node
// does.
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

// player is an arena player on a raw connection, as a browser plays: a
// goroutine of its own reads every message, applies each snapshot's state
// with a gamedelta.Receiver, and reads the arena's entities out of it with
// arena.AppendEntities; the test goroutine sends inputs acknowledging the
// newest tick applied.
type player struct {
	c       *wsClient
	welcome schema.Welcome
	done    chan struct{}

	mu       sync.Mutex
	rx       *gamedelta.Receiver
	ents     []arena.Entity
	newest   uint32
	seq      uint32
	err      error        // the first thing the reader could not take
	first    arena.Entity // own avatar in the first snapshot that had it
	last     arena.Entity
	avatars  map[uint32]bool // owners of avatars seen
	ticks    []uint32
	arrivals []time.Time
	latency  []time.Duration // arrival minus the snapshot's server_time_ms
	data     []byte          // the input buffer, reused
}

func dialPlayer(t *testing.T, addr string) (*wsClient, *player) {
	t.Helper()
	c := mustDial(t, addr)
	c.hello(schema.Hello{Game: arena.Name, SchemaHash: arena.Schema().HashString()})
	w := c.mustNext(fb.ServerBodyWelcome)
	rx, err := gamedelta.NewReceiver(arena.Codec(), gamedelta.DefaultReceiverConfig(w.welcome.PlayerID))
	if err != nil {
		t.Fatal(err)
	}
	p := &player{c: c, welcome: w.welcome, done: make(chan struct{}), rx: rx, avatars: map[uint32]bool{}}
	go p.read()
	t.Cleanup(func() {
		_ = c.conn.Close()
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			t.Errorf("player %d: %v", p.welcome.PlayerID, p.err)
		}
	})
	return c, p
}

// read is the player's reader (its goroutine): it ends when the
// connection does.
func (p *player) read() {
	defer close(p.done)
	var m schema.ServerMessage
	for {
		f, err := p.c.readFrame(time.Minute)
		if err != nil {
			return
		}
		switch f.op {
		case 0x9:
			_ = p.c.writeFrame(0xA, f.payload)
		case 0x8:
			return
		case 0x2:
			if err := schema.DecodeServerMessage(f.payload, &m); err != nil {
				p.fail(err)
				return
			}
			if m.Kind == schema.ServerSnapshot {
				if err := p.snapshot(&m.Snapshot); err != nil {
					p.fail(err)
					return
				}
			}
		}
	}
}

func (p *player) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

func (p *player) snapshot(s *schema.Snapshot) error {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	w, err := p.rx.Apply(s.Tick, s.BaselineTick, s.State)
	if err != nil {
		return fmt.Errorf("snapshot %d against %d: %w", s.Tick, s.BaselineTick, err)
	}
	p.newest = s.Tick
	p.ticks = append(p.ticks, s.Tick)
	p.arrivals = append(p.arrivals, now)
	p.latency = append(p.latency, now.Sub(time.UnixMilli(int64(s.ServerTimeMS))))
	p.ents = arena.AppendEntities(p.ents[:0], w)
	for _, e := range p.ents {
		if e.Kind == arena.KindAvatar {
			p.avatars[e.Owner] = true
		}
		if e.ID == p.welcome.EntityID {
			if p.first.ID == 0 {
				p.first = e
			}
			p.last = e
		}
	}
	return nil
}

// count is the number of snapshots applied.
func (p *player) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ticks)
}

// stallWatch notes the stalls of this whole process: a goroutine wakes
// every 2 ms and records each wake more than 20 ms late. On a loaded
// machine such a stall delays the room, the sessions and the readers
// alike.
type stallWatch struct {
	mu     sync.Mutex
	stalls [][2]time.Time
	stop   chan struct{}
	done   chan struct{}
}

func watchStalls(t *testing.T) *stallWatch {
	w := &stallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			now := time.Now()
			if now.Sub(last) > 20*time.Millisecond {
				w.mu.Lock()
				w.stalls = append(w.stalls, [2]time.Time{last, now})
				w.mu.Unlock()
			}
			last = now
		}
	}()
	t.Cleanup(func() { close(w.stop); <-w.done })
	return w
}

// during reports whether a stall overlapped from..to.
func (w *stallWatch) during(from, to time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.stalls {
		if s[0].Before(to) && s[1].After(from) {
			return true
		}
	}
	return false
}

// input sends in, acknowledging the newest tick applied (test goroutine).
func (p *player) input(in arena.Input) {
	p.mu.Lock()
	p.seq++
	p.data = arena.AppendInput(p.data[:0], in)
	msg := schema.Input{Seq: p.seq, AckTick: p.newest, Data: p.data}
	p.mu.Unlock()
	p.c.send(p.c.enc.Input(&msg))
}

// TestEndToEndArena: three net/client players in one arena match; each sees
// its own avatar move the way its inputs ask, and sees the others.
func TestEndToEndArena(t *testing.T) {
	_, addr := startNode(t, nil)
	moves := []arena.Input{{MoveX: 100}, {MoveX: -100}, {MoveY: 100}}
	var players []*player
	for range moves {
		_, p := dialPlayer(t, addr)
		players = append(players, p)
	}
	// One input per tick for a second.
	for i := 0; i < 30; i++ {
		for j, p := range players {
			p.input(moves[j])
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
	stalls := watchStalls(t)
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
	// Half a second more of ticks (15 at 30 Hz) for the healthy ones.
	na, nb := a.count(), b.count()
	testutil.CheckTrue(t, 10*time.Second, func() bool { return a.count() >= na+15 && b.count() >= nb+15 })
	// Each snapshot carries the room's clock when it was encoded: its
	// delivery delay is what a slow peer could add. A stall of this whole
	// process (a loaded test machine) delays the room and every reader
	// alike and is not the transport's doing: snapshots in flight during
	// one are left out, and at least half must remain.
	for i, p := range []*player{a, b} {
		p.mu.Lock()
		var lat []time.Duration
		for k, d := range p.latency {
			if !stalls.during(p.arrivals[k].Add(-d), p.arrivals[k]) {
				lat = append(lat, d)
			}
		}
		all := len(p.latency)
		lost := 0
		for k := 1; k < len(p.ticks); k++ {
			lost += int(p.ticks[k] - p.ticks[k-1] - 1)
		}
		p.mu.Unlock()
		p95, worst := percentile(lat, 0.95), percentile(lat, 1)
		t.Logf("healthy player %d: %d snapshots (%d in flight during a process stall), %d ticks replaced, delivery p95 %v max %v",
			i, all, all-len(lat), lost, p95, worst)
		if p95 > 100*time.Millisecond || lost > all/2 || len(lat) < all/2 {
			t.Errorf("healthy player %d was delayed: delivery p95 %v, %d ticks replaced of %d, %d snapshots measured",
				i, p95, lost, all, len(lat))
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
