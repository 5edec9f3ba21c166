package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// fakeServer is a small in-test ticksync node on 127.0.0.1:0: gws's
// Upgrader behind net/http, Hello → Welcome → full snapshots, seats that
// survive a dropped connection (resume tokens), and hooks to answer a Hello
// with a Redirect or an Error, or to cut connections.
type fakeServer struct {
	t      testing.TB
	nodeID string
	hs     *httptest.Server
	url    string
	up     *gws.Upgrader

	// hook, if set, may answer a Hello itself: it returns true when it did
	// (sent a Redirect or an Error and closed), false to seat the player.
	hook func(fs *fakeServer, s *fakeSess, h *schema.Hello) bool
	// refuseHTTP, if set, answers upgrade requests with this status.
	refuseHTTP int
	// deltas: encode each snapshot against the tick the connection acked
	// (Hello.LastTick, then Input.AckTick) when the history holds it.
	deltas bool
	// hang (under mu), while set, holds every new upgrade request without
	// an answer, as a stopped process's listen backlog does, until the
	// client gives up or the server closes.
	hang   bool
	unhang chan struct{}

	mu        sync.Mutex
	enc       *schema.Encoder
	seats     map[string]*seat // by resume token
	sessions  map[*fakeSess]struct{}
	nplayers  uint32
	tick      uint32
	hellos    []schema.Hello
	closes    []error     // what OnClose saw, per connection
	requests  []time.Time // upgrade requests
	seqErrors []string    // inputs whose seq did not increase
	history   map[uint32][]schema.Entity
	delta     schema.Delta
	// game, when set (before the first connection), makes the server a
	// game with a schema: Welcome names it, snapshots carry gamedelta
	// state and events (gamefake_test.go).
	game *fakeGame

	stopTicker chan struct{}
	tickerDone chan struct{}
}

type seat struct {
	player, entity uint32
	token          string
	x, y           int32
	lastSeq        uint32
	sess           *fakeSess
	g              *gameSeat // with fs.game
}

type fakeSess struct {
	fs     *fakeServer
	ws     *gws.Conn
	seat   *seat
	ack    uint32 // the newest tick the client said it holds
	frozen bool   // under fs.mu: Tick sends this connection nothing
}

func newFakeServer(t testing.TB, nodeID string, tlsOn bool) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:        t,
		nodeID:   nodeID,
		enc:      schema.NewEncoder(1024),
		seats:    map[string]*seat{},
		sessions: map[*fakeSess]struct{}{},
		history:  map[uint32][]schema.Entity{},
		unhang:   make(chan struct{}),
	}
	fs.up = gws.NewUpgrader(fs, &gws.ServerOption{
		ReadMaxPayloadSize: 4096,
		Recovery:           gws.Recovery,
	})
	fs.hs = httptest.NewUnstartedServer(http.HandlerFunc(fs.serveHTTP))
	fs.hs.Config.ErrorLog = log.New(io.Discard, "", 0) // refused TLS handshakes are expected
	if tlsOn {
		fs.hs.StartTLS()
		fs.url = "wss://" + fs.hs.Listener.Addr().String() + "/ws"
	} else {
		fs.hs.Start()
		fs.url = "ws://" + fs.hs.Listener.Addr().String() + "/ws"
	}
	t.Cleanup(fs.close)
	return fs
}

func (fs *fakeServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.requests = append(fs.requests, time.Now())
	refuse, unhang := fs.refuseHTTP, fs.unhang
	if !fs.hang {
		unhang = nil
	}
	fs.mu.Unlock()
	if unhang != nil {
		select {
		case <-r.Context().Done(): // the client gave up
		case <-unhang: // the server closes
		}
		return
	}
	if refuse != 0 {
		http.Error(w, "refused", refuse)
		return
	}
	ws, err := fs.up.Upgrade(w, r)
	if err != nil {
		return
	}
	s := &fakeSess{fs: fs, ws: ws}
	ws.Session().Store("s", s)
	fs.mu.Lock()
	fs.sessions[s] = struct{}{}
	fs.mu.Unlock()
	ws.ReadLoop() // on the handler's goroutine: one goroutine per connection
}

func sessOf(ws *gws.Conn) *fakeSess {
	v, _ := ws.Session().Load("s")
	return v.(*fakeSess)
}

func (fs *fakeServer) OnOpen(*gws.Conn) {}

func (fs *fakeServer) OnClose(ws *gws.Conn, err error) {
	s := sessOf(ws)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.closes = append(fs.closes, err)
	delete(fs.sessions, s)
	if s.seat != nil && s.seat.sess == s {
		s.seat.sess = nil
	}
}

func (fs *fakeServer) OnPing(ws *gws.Conn, p []byte) { _ = ws.WritePong(p) }
func (fs *fakeServer) OnPong(*gws.Conn, []byte)      {}

func (fs *fakeServer) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	s := sessOf(ws)
	var cm schema.ClientMessage
	if err := schema.DecodeClientMessage(m.Bytes(), &cm); err != nil {
		_ = ws.WriteClose(1007, nil)
		return
	}
	switch cm.Kind {
	case schema.ClientHello:
		fs.mu.Lock()
		h := cm.Hello
		h.Join = bytes.Clone(h.Join) // it aliases gws's pooled buffer
		fs.hellos = append(fs.hellos, h)
		hook := fs.hook
		fs.mu.Unlock()
		if hook != nil && hook(fs, s, &cm.Hello) {
			return
		}
		fs.seat(s, &cm.Hello)
	case schema.ClientInput:
		fs.mu.Lock()
		if st := s.seat; st != nil {
			in := &cm.Input
			if in.Seq <= st.lastSeq {
				fs.seqErrors = append(fs.seqErrors, fmt.Sprintf("player %d: seq %d after %d", st.player, in.Seq, st.lastSeq))
			}
			st.lastSeq = in.Seq
			s.ack = in.AckTick
			st.x += int32(in.MoveX)
			st.y += int32(in.MoveY)
			if fs.game != nil {
				fs.game.input(st, in)
			}
		}
		fs.mu.Unlock()
	case schema.ClientEvent:
		fs.mu.Lock()
		if st := s.seat; st != nil && fs.game != nil {
			fs.game.event(st, &cm.Event)
		}
		fs.mu.Unlock()
	case schema.ClientPing:
		fs.mu.Lock()
		b := fs.enc.Pong(cm.ClientTime, uint64(time.Now().UnixMilli()))
		_ = ws.WriteMessage(gws.OpcodeBinary, b)
		fs.mu.Unlock()
	case schema.ClientLeave:
		fs.mu.Lock()
		if st := s.seat; st != nil {
			delete(fs.seats, st.token)
		}
		fs.mu.Unlock()
		_ = ws.WriteClose(1000, nil)
	}
}

// seat seats (or reseats) the player and sends the Welcome.
func (fs *fakeServer) seat(s *fakeSess, h *schema.Hello) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var st *seat
	if h.ResumeToken != "" {
		st = fs.seats[h.ResumeToken]
		if st == nil {
			_ = s.ws.WriteMessage(gws.OpcodeBinary, fs.enc.Error(schema.ErrCodeResumeRefused, "unknown resume token"))
			_ = s.ws.WriteClose(4000+uint16(schema.ErrCodeResumeRefused), nil)
			return
		}
		if old := st.sess; old != nil {
			_ = old.ws.WriteMessage(gws.OpcodeBinary, fs.enc.Error(schema.ErrCodeReplaced, "replaced"))
			_ = old.ws.WriteClose(4000+uint16(schema.ErrCodeReplaced), nil)
		}
	} else {
		fs.nplayers++
		st = &seat{player: fs.nplayers, entity: 100 + fs.nplayers, token: fmt.Sprintf("tok-%s-%d", fs.nodeID, fs.nplayers)}
		fs.seats[st.token] = st
	}
	st.sess = s
	s.seat = st
	s.ack = h.LastTick
	w := schema.Welcome{
		SessionID: "s", ResumeToken: st.token, PlayerID: st.player, EntityID: st.entity,
		TickRate: 100, ServerTick: fs.tick, NodeID: fs.nodeID, MatchID: "m1",
	}
	if fs.game != nil {
		fs.game.seat(st, h, &w)
	}
	b := fs.enc.Welcome(&w)
	_ = s.ws.WriteMessage(gws.OpcodeBinary, b)
}

// redirect answers a Hello with a Redirect to url and closes with 4011.
func (fs *fakeServer) redirect(s *fakeSess, url string) {
	fs.mu.Lock()
	b := fs.enc.Redirect(url, "m1")
	_ = s.ws.WriteMessage(gws.OpcodeBinary, b)
	fs.mu.Unlock()
	_ = s.ws.WriteClose(4011, nil)
}

// refuse answers a Hello with an Error and closes with 4000+code.
func (fs *fakeServer) refuse(s *fakeSess, code schema.ErrorCode, msg string) {
	fs.mu.Lock()
	b := fs.enc.Error(code, msg)
	_ = s.ws.WriteMessage(gws.OpcodeBinary, b)
	fs.mu.Unlock()
	_ = s.ws.WriteClose(4000+uint16(code), nil)
}

// Tick advances the world one tick and sends a snapshot to every seated
// connection: full, or (deltas) against the tick it acked.
func (fs *fakeServer) Tick() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.tick++
	t := fs.tick
	if fs.game != nil {
		fs.game.tick(fs, t)
		return
	}
	ents := make([]schema.Entity, 0, len(fs.seats)+3)
	// NPC 1 moves at constant velocity (predicted: costs nothing in a
	// delta), NPC 2 jumps about (a change record), NPC 3 exists on even
	// ticks only (spawned and removed).
	ents = append(ents,
		schema.Entity{ID: 1, X: int32(t), VX: 1, Kind: 2, HP: 100},
		schema.Entity{ID: 2, X: int32(t * t % 1000), Y: int32(t % 7), Kind: 2, HP: uint8(t % 100)})
	if t%2 == 0 {
		ents = append(ents, schema.Entity{ID: 3, X: 5, Kind: 3, HP: 1})
	}
	for _, st := range fs.seats {
		ents = append(ents, schema.Entity{ID: st.entity, Owner: st.player, X: st.x, Y: st.y, Kind: 1, HP: 100})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].ID < ents[j].ID })
	fs.history[t] = ents
	delete(fs.history, t-64)
	for s := range fs.sessions {
		if s.seat == nil || s.seat.sess != s || s.frozen {
			continue
		}
		snap := schema.Snapshot{Tick: t, Spawned: ents, LastInputSeq: s.seat.lastSeq, ServerTimeMS: uint64(time.Now().UnixMilli())}
		if base, ok := fs.history[s.ack]; fs.deltas && s.ack != 0 && ok {
			schema.Diff(&fs.delta, base, ents, t-s.ack)
			snap.BaselineTick = s.ack
			snap.Spawned, snap.Changes, snap.Removed = fs.delta.Spawned, fs.delta.Changes, fs.delta.Removed
		}
		msg, _ := fs.enc.Snapshot(&snap)
		_ = s.ws.WriteMessage(gws.OpcodeBinary, msg)
	}
}

// worldAt returns the server's world at tick t, if still held.
func (fs *fakeServer) worldAt(t uint32) ([]schema.Entity, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	w, ok := fs.history[t]
	return w, ok
}

// startTicker ticks every period until the test ends.
func (fs *fakeServer) startTicker(period time.Duration) {
	fs.stopTicker, fs.tickerDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fs.tickerDone)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				fs.Tick()
			case <-fs.stopTicker:
				return
			}
		}
	}()
}

// cutAll closes every connection's TCP socket without a close frame.
func (fs *fakeServer) cutAll() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for s := range fs.sessions {
		_ = s.ws.NetConn().Close()
	}
}

// freeze stops the snapshots of every current connection, which stay
// open (pings and pongs still flow): a room or node that stopped ticking.
// New connections get snapshots again.
func (fs *fakeServer) freeze() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for s := range fs.sessions {
		s.frozen = true
	}
}

// requestCount is the number of upgrade requests so far.
func (fs *fakeServer) requestCount() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return len(fs.requests)
}

// forgetSeats drops every seat, so that resumes are refused.
func (fs *fakeServer) forgetSeats() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	clear(fs.seats)
}

func (fs *fakeServer) seatOf(player uint32) (seat, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, st := range fs.seats {
		if st.player == player {
			return *st, true
		}
	}
	return seat{}, false
}

func (fs *fakeServer) closeCodes() []uint16 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []uint16
	for _, err := range fs.closes {
		var ce *gws.CloseError
		if errors.As(err, &ce) {
			out = append(out, ce.Code)
		} else {
			out = append(out, 0)
		}
	}
	return out
}

func (fs *fakeServer) helloList() []schema.Hello {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]schema.Hello(nil), fs.hellos...)
}

func (fs *fakeServer) close() {
	if fs.stopTicker != nil {
		close(fs.stopTicker)
		<-fs.tickerDone
		fs.stopTicker = nil
	}
	fs.mu.Lock()
	if fs.unhang != nil {
		close(fs.unhang)
		fs.unhang = nil
	}
	fs.mu.Unlock()
	fs.hs.Listener.Close()
	fs.cutAll()
	fs.hs.Close()
	// Wait for the connections' read loops (the handlers) to end.
	testutil.CheckTrue(fs.t, 5*time.Second, func() bool {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		return len(fs.sessions) == 0
	})
}

var _ net.Conn = (*net.TCPConn)(nil)
