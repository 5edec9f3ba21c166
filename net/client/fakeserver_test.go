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
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// fakeServer is a small in-test ticksync node on 127.0.0.1:0 playing the
// cards test game (fakeGame, gamefake_test.go): gws's Upgrader behind
// net/http, the game's schema at GET /games/cards/schema, Hello → Welcome
// → snapshots (deltas against the client's acks), seats that survive a
// dropped connection (resume tokens), and hooks to answer a Hello with a
// Redirect or an Error, or to cut connections.
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
	// fullOnly: every snapshot is full; otherwise each one is a delta
	// against the tick the connection acked (Hello.LastTick, then
	// Input.AckTick) when the encoder's history holds it.
	fullOnly bool
	// noSchema: GET /games/cards/schema answers 404.
	noSchema bool
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
	// game is what the server plays: Welcome names it, snapshots carry
	// its gamedelta state and events (gamefake_test.go).
	game *fakeGame

	stopTicker chan struct{}
	tickerDone chan struct{}
}

type seat struct {
	player, entity uint32
	token          string
	lastSeq        uint32
	sess           *fakeSess
	g              *gameSeat // created by the first Welcome
}

type fakeSess struct {
	fs     *fakeServer
	ws     *gws.Conn
	seat   *seat
	frozen bool // under fs.mu: Tick sends this connection nothing
}

func newFakeServer(t testing.TB, nodeID string, tlsOn bool) *fakeServer {
	t.Helper()
	fs := &fakeServer{
		t:        t,
		nodeID:   nodeID,
		enc:      schema.NewEncoder(1024),
		seats:    map[string]*seat{},
		sessions: map[*fakeSess]struct{}{},
		unhang:   make(chan struct{}),
	}
	newFakeGame(t, fs)
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
	refuse, unhang, noSchema := fs.refuseHTTP, fs.unhang, fs.noSchema
	if !fs.hang {
		unhang = nil
	}
	fs.mu.Unlock()
	if r.URL.Path == "/games/"+fs.game.name+"/schema" && !noSchema {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+fs.game.schema.HashString()+`"`)
		_, _ = w.Write(fs.game.bfbs)
		return
	}
	if r.URL.Path != "/ws" {
		http.NotFound(w, r)
		return
	}
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
			fs.game.input(st, in)
		}
		fs.mu.Unlock()
	case schema.ClientEvent:
		fs.mu.Lock()
		if st := s.seat; st != nil {
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
	w := schema.Welcome{
		SessionID: "s", ResumeToken: st.token, PlayerID: st.player, EntityID: st.entity,
		TickRate: 100, ServerTick: fs.tick, NodeID: fs.nodeID, MatchID: "m1",
	}
	fs.game.seat(st, h, &w, fs.tick)
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

// Tick advances the game one tick and sends a snapshot to every seated
// connection: full, or a delta against the tick it acked.
func (fs *fakeServer) Tick() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.tick++
	fs.game.tick(fs, fs.tick)
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
