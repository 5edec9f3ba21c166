package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// fakeNode is a scripted ticksync node for the browser test of the paths a
// real node rarely takes on cue: Redirect, a dropped socket and resume, and
// Error followed by its close code. It serves Handler at "/" and the
// arena's schema at GET /games/arena/schema, redirects every Hello on /ws
// to /ws2, and on /ws2 welcomes the player into the arena (game and schema
// hash) and sends snapshots at 30 Hz, encoded by gamedelta against what
// the page acknowledged, in which the player's avatar moves with its
// inputs (each verified against the arena's Input table); its GET
// /v1/cluster names /ws2 as the cluster's one node.
//
// Goroutines: one per upgraded connection (the HTTP handler running gws's
// ReadLoop) and one snapshot sender per welcomed session; Close ends both
// and waits for them.
type fakeNode struct {
	t      *testing.T
	srv    *httptest.Server
	up     *gws.Upgrader
	hellos chan fakeHello
	wg     sync.WaitGroup

	mu    sync.Mutex
	cur   *fakeSession // the welcomed session, if any
	all   map[*gws.Conn]*fakeSession
	tick  uint32 // the match's tick, continued across sessions
	x     int32  // the player's entity x, continued across sessions
	enc   *gamedelta.Encoder
	world *gamedelta.World
}

type fakeHello struct {
	path  string
	hello schema.Hello
}

type fakeSession struct {
	conn *gws.Conn
	path string
	enc  *schema.Encoder // used by the read goroutine only
	stop chan struct{}   // closed by OnClose

	mu      sync.Mutex
	moveX   int8
	lastSeq uint32
	client  *gamedelta.Client // under fakeNode.mu
	// frozen: no more snapshots on this socket, which stays open (pongs
	// still go out), as from a stopped node or a stuck room.
	frozen atomic.Bool
}

const (
	fakePlayer = 7
	fakeEntity = 1007
	fakeResume = "rt-7"
	fakeMatch  = "m1"
)

func newFakeNode(t *testing.T) *fakeNode {
	enc, err := gamedelta.NewEncoder(arena.Codec(), gamedelta.DefaultEncoderConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{t: t, hellos: make(chan fakeHello, 16), all: map[*gws.Conn]*fakeSession{}, x: 500 * 16,
		enc: enc, world: gamedelta.NewWorld(arena.Codec())}
	f.up = gws.NewUpgrader(f, &gws.ServerOption{
		Recovery: gws.Recovery,
	})
	mux := http.NewServeMux()
	mux.Handle("/", Handler())
	mux.HandleFunc("/ws", f.serveWS)
	mux.HandleFunc("/ws2", f.serveWS)
	mux.HandleFunc("GET /games/arena/schema", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(arena.BFBS())
	})
	mux.HandleFunc("/v1/cluster", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"nodes":[{"id":"fake-2","url":%q}]}`, f.ws2URL())
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.close)
	return f
}

func (f *fakeNode) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := f.up.Upgrade(w, r)
	if err != nil {
		return
	}
	s := &fakeSession{conn: conn, path: r.URL.Path, enc: schema.NewEncoder(256), stop: make(chan struct{})}
	f.mu.Lock()
	f.all[conn] = s
	f.mu.Unlock()
	f.wg.Add(1)
	defer f.wg.Done()
	conn.ReadLoop() // returns after OnClose
}

func (f *fakeNode) close() {
	f.mu.Lock()
	for c := range f.all {
		_ = c.NetConn().Close()
	}
	f.mu.Unlock()
	f.srv.Close()
	f.wg.Wait()
}

func (f *fakeNode) session(c *gws.Conn) *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.all[c]
}

func (f *fakeNode) OnOpen(*gws.Conn)             {}
func (f *fakeNode) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }
func (f *fakeNode) OnPong(*gws.Conn, []byte)     {}
func (f *fakeNode) OnClose(c *gws.Conn, _ error) { f.ended(c) }
func (f *fakeNode) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	s := f.session(c)
	if s == nil {
		return
	}
	var msg schema.ClientMessage
	if err := schema.DecodeClientMessage(m.Bytes(), &msg); err != nil {
		f.t.Errorf("fake node: client sent a message the verifier refuses: %v", err)
		_ = c.WriteClose(1007, nil)
		return
	}
	switch msg.Kind {
	case schema.ClientHello:
		f.hellos <- fakeHello{path: s.path, hello: msg.Hello}
		if s.path == "/ws" {
			_ = c.WriteMessage(gws.OpcodeBinary, s.enc.Redirect(f.ws2URL(), fakeMatch))
			_ = c.WriteClose(4011, []byte("redirect"))
			return
		}
		if h := msg.Hello; h.Game != arena.Name || h.SchemaHash != arena.Schema().HashString() {
			f.t.Errorf("fake node: Hello for game %q schema %q, want %q %s", h.Game, h.SchemaHash, arena.Name, arena.Schema().HashString())
		}
		f.mu.Lock()
		f.cur = s
		tick := f.tick
		s.client = f.enc.NewClient(fakePlayer)
		f.mu.Unlock()
		_ = c.WriteMessage(gws.OpcodeBinary, s.enc.Welcome(&schema.Welcome{
			SessionID: "s", ResumeToken: fakeResume, PlayerID: fakePlayer, EntityID: fakeEntity,
			TickRate: 30, ServerTick: tick, NodeID: "fake-2", MatchID: fakeMatch,
			Game: arena.Name, SchemaHash: arena.Schema().HashString(),
		}))
		f.wg.Add(1)
		go f.sendSnapshots(s)
	case schema.ClientInput:
		if err := arena.Schema().VerifyInput(msg.Input.Data); err != nil {
			f.t.Errorf("fake node: the page's input %x: %v", msg.Input.Data, err)
		}
		in := arena.ReadInput(msg.Input.Data)
		s.mu.Lock()
		s.moveX, s.lastSeq = in.MoveX, msg.Input.Seq
		s.mu.Unlock()
		f.mu.Lock()
		if s.client != nil {
			s.client.Ack(msg.Input.AckTick)
		}
		f.mu.Unlock()
	case schema.ClientPing:
		_ = c.WriteMessage(gws.OpcodeBinary, s.enc.Pong(msg.ClientTime, uint64(time.Now().UnixMilli())))
	}
}

func (f *fakeNode) ended(c *gws.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.all[c]; s != nil {
		close(s.stop)
		if f.cur == s {
			f.cur = nil
		}
		delete(f.all, c)
	}
}

// sendSnapshots sends a snapshot per tick until the session ends: the
// arena's world (two NPCs and the player's avatar) recorded by the node's
// gamedelta encoder, encoded against what the page acknowledged.
func (f *fakeNode) sendSnapshots(s *fakeSession) {
	defer f.wg.Done()
	enc := schema.NewEncoder(1024)
	tk := time.NewTicker(time.Second / 30)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
		}
		if s.frozen.Load() {
			continue
		}
		s.mu.Lock()
		moveX, seq := s.moveX, s.lastSeq
		s.mu.Unlock()
		f.mu.Lock()
		f.tick++
		f.x = min(max(f.x+int32(moveX)*16*4/100, 0), arena.MaxPos)
		tick := f.tick
		w := f.world
		w.Reset()
		addEntity(w, 1, arena.KindNPC, 0, 200*16, 300*16, 0, 0, uint16(tick*500), 100)
		addEntity(w, 2, arena.KindNPC, 0, 700*16, int32(600*16+tick%64*16), 0, 16, 0, 40)
		addEntity(w, fakeEntity, arena.KindAvatar, fakePlayer, f.x, 500*16, int16(moveX)*16*4/100, 0, 0, 90)
		var e gamedelta.Encoded
		err := f.enc.Record(tick, w)
		if err == nil {
			e, err = f.enc.Encode(s.client, nil)
		}
		var msg []byte
		if err == nil {
			msg, _ = enc.Snapshot(&schema.Snapshot{Tick: tick, BaselineTick: e.Baseline, LastInputSeq: seq,
				State: e.Data, ServerTimeMS: uint64(time.Now().UnixMilli())})
		}
		f.mu.Unlock()
		if err != nil {
			f.t.Errorf("fake node: snapshot %d: %v", tick, err)
			return
		}
		if err := s.conn.WriteMessage(gws.OpcodeBinary, msg); err != nil {
			return
		}
	}
}

// addEntity adds one arena entity to w.
func addEntity(w *gamedelta.World, id uint32, kind int, owner uint32, x, y int32, vx, vy int16, angle uint16, hp uint8) {
	i := w.Add(id, kind, owner)
	w.SetInt(i, arena.FieldX, int64(x))
	w.SetInt(i, arena.FieldY, int64(y))
	w.SetInt(i, arena.FieldVX, int64(vx))
	w.SetInt(i, arena.FieldVY, int64(vy))
	w.SetInt(i, arena.FieldAngle, int64(angle))
	w.SetInt(i, arena.FieldHP, int64(hp))
}

// ws2URL is the game endpoint that welcomes players, the one node of the
// fake node's /v1/cluster.
func (f *fakeNode) ws2URL() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws2" }

// current returns the welcomed session.
func (f *fakeNode) current() *fakeSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

func (f *fakeNode) nextHello(t *testing.T) fakeHello {
	t.Helper()
	select {
	case h := <-f.hellos:
		return h
	case <-time.After(15 * time.Second):
		t.Fatal("no Hello from the page within 15 s")
		return fakeHello{}
	}
}

// TestBrowserRedirectResumeError drives the page through a Redirect, a
// dropped socket (it must come back with its resume token and last tick) and
// an Error with close code 4006 (it must show the message and stop).
func TestBrowserRedirectResumeError(t *testing.T) {
	p := newPage(t)
	f := newFakeNode(t)

	p.do(15*time.Second, chromedp.Navigate(f.srv.URL+"/"))
	if h := f.nextHello(t); h.path != "/ws" || h.hello.ResumeToken != "" || h.hello.MatchID != "" {
		t.Fatalf("first Hello %+v: want a fresh matchmaking Hello on /ws", h)
	}
	if h := f.nextHello(t); h.path != "/ws2" || h.hello.MatchID != fakeMatch {
		t.Fatalf("Hello after Redirect %+v: want match %q on /ws2", h, fakeMatch)
	}
	s := p.waitState(15*time.Second, "playing after the redirect", func(s *debugState) bool {
		return s.State == "playing" && s.Own != nil && s.Entities == 3
	})
	if s.Redirects != 1 || s.PlayerID != fakePlayer || s.NodeID != "fake-2" {
		t.Errorf("after redirect: redirects %d player %d node %q", s.Redirects, s.PlayerID, s.NodeID)
	}
	// After the Welcome the page asks the node it plays on for the cluster's nodes.
	p.waitState(10*time.Second, "the node list", func(s *debugState) bool {
		return len(s.Nodes) == 1 && s.Nodes[0] == f.ws2URL()
	})
	x0 := s.Own.X
	p.key("keyDown", "d", "KeyD", 68)
	p.waitState(10*time.Second, "own entity moving right", func(s *debugState) bool {
		return s.Own != nil && s.Own.X > x0+16*10 && s.LastInputSeq > 0
	})
	p.key("keyUp", "d", "KeyD", 68)

	// Drop the socket without a close frame: the page resumes.
	before := p.state()
	sess := f.current()
	if sess == nil {
		t.Fatal("no welcomed session")
	}
	_ = sess.conn.NetConn().Close()
	h := f.nextHello(t)
	if h.hello.ResumeToken != fakeResume || h.hello.MatchID != fakeMatch || h.hello.LastTick == 0 || h.hello.LastTick < before.Tick {
		t.Fatalf("Hello after the drop %+v: want resume token %q, match %q, last tick >= %d", h.hello, fakeResume, fakeMatch, before.Tick)
	}
	s = p.waitState(10*time.Second, "playing again after the drop", func(s *debugState) bool {
		return s.State == "playing" && s.Tick > before.Tick+5
	})
	if s.Reconnects < 1 {
		t.Errorf("reconnects %d after a drop", s.Reconnects)
	}
	t.Logf("resumed with last tick %d; now tick %d, %d reconnects, ping %.0f ms", h.hello.LastTick, s.Tick, s.Reconnects, s.PingMS)

	// Replaced: an Error, then 4006. The page shows it and stops.
	sess = f.current()
	if sess == nil {
		t.Fatal("no welcomed session after resume")
	}
	enc := schema.NewEncoder(128)
	_ = sess.conn.WriteMessage(gws.OpcodeBinary, enc.Error(schema.ErrCodeReplaced, "replaced by a newer connection"))
	_ = sess.conn.WriteClose(4006, []byte("replaced"))
	s = p.waitState(10*time.Second, "stopped with the error shown", func(s *debugState) bool {
		return s.State == "stopped"
	})
	// gws's WriteClose closes the socket right after the close frame. When the
	// page's inputs are still unread on the fake node, the kernel answers them
	// with a reset and the browser reports 1006 instead of 4006 (the real node
	// lingers; see net/ws sockConn). The page must stop either way, because
	// the Error message already told it why.
	if !strings.Contains(s.LastError, "replaced by a newer connection") || (s.LastClose != 4006 && s.LastClose != 1006) {
		t.Errorf("after Error+4006: last error %q, last close %d", s.LastError, s.LastClose)
	}
	t.Logf("close code seen by the page: %d", s.LastClose)
	select {
	case h := <-f.hellos:
		t.Errorf("page reconnected after 4006: %+v", h)
	default:
	}
	var banner string
	checkFor(t, 5*time.Second, "the error banner", func() bool {
		banner = p.eval(`(b => b.hidden ? "" : b.textContent)(document.getElementById("banner"))`)
		return strings.Contains(banner, "replaced by a newer connection")
	}, func() string { return "banner " + banner })
	t.Logf("screenshot: %s", p.screenshot("ticksync-fake-replaced"))
	p.checkNoErrors()
}

// TestBrowserStallResume: the node stops sending snapshots on the page's
// open socket (it still answers pings). The page drops the socket after
// its stall timeout (2 s by default), tries the stalled node last (its home
// node first, which redirects it back), resumes its seat with the resume
// token and plays on; window.__ticksync counts the stall.
func TestBrowserStallResume(t *testing.T) {
	p := newPage(t)
	f := newFakeNode(t)

	p.do(15*time.Second, chromedp.Navigate(f.srv.URL+"/"))
	f.nextHello(t) // /ws, redirected
	f.nextHello(t) // /ws2, welcomed
	before := p.waitState(15*time.Second, "playing", func(s *debugState) bool {
		return s.State == "playing" && s.Tick > 10 && len(s.Nodes) == 1
	})
	// Snapshots flowing: no stall over several stall timeouts.
	calm := time.Now().Add(5 * time.Second)
	checkFor(t, 15*time.Second, "5 s of play", func() bool { return time.Now().After(calm) }, func() string { return "" })
	if s := p.state(); s.Stalls != 0 || s.Reconnects != 0 {
		t.Fatalf("stalls %d, reconnects %d while snapshots flow", s.Stalls, s.Reconnects)
	}

	sess := f.current()
	if sess == nil {
		t.Fatal("no welcomed session")
	}
	sess.frozen.Store(true)
	frozenAt := time.Now()
	h := f.nextHello(t)
	firstBack := time.Since(frozenAt)
	if h.path != "/ws" || h.hello.ResumeToken != fakeResume {
		t.Fatalf("first Hello after the stall %+v on %s: want the resume token on the page's node /ws (the stalled /ws2 last)", h.hello, h.path)
	}
	if h = f.nextHello(t); h.path != "/ws2" || h.hello.ResumeToken != fakeResume || h.hello.LastTick < before.Tick {
		t.Fatalf("Hello after the redirect %+v on %s: want a resume on /ws2 from tick >= %d", h.hello, h.path, before.Tick)
	}
	s := p.waitState(10*time.Second, "playing again after the stall", func(s *debugState) bool {
		return s.State == "playing" && s.Stalls == 1 && s.Tick > h.hello.LastTick+5
	})
	back := time.Since(frozenAt)
	if firstBack < 2*time.Second {
		t.Errorf("the page reconnected %v after the freeze: before its 2 s stall timeout", firstBack)
	}
	if firstBack > 2*time.Second+5*time.Second {
		t.Errorf("the page reconnected %v after the freeze: want about its 2 s stall timeout", firstBack)
	}
	if s.PlayerID != fakePlayer || s.LastError != "" {
		t.Errorf("after the stall: player %d, last error %q", s.PlayerID, s.LastError)
	}
	t.Logf("first Hello %v after the freeze, playing again after %v (tick %d, %d reconnects)", firstBack, back, s.Tick, s.Reconnects)
	p.checkNoErrors()
}
