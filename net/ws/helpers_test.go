package ws

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// ---- fake game ----------------------------------------------------------

type fakeSeat struct {
	conn         game.Conn
	welcome      schema.Welcome
	inputs       chan schema.Input
	left         atomic.Int32
	disconnected atomic.Int32
}

func (s *fakeSeat) Event(*schema.Event) bool { return false }

// Schema: the fake match plays the arena (games/arena).
func (s *fakeSeat) Schema() *game.GameSchema { return arenaSchema() }

// arenaSchema is the arena's schema as a node's registry holds it.
var arenaSchema = sync.OnceValue(func() *game.GameSchema {
	reg := game.NewRegistry()
	if err := arena.Register(reg); err != nil {
		panic(err)
	}
	return reg.Schema(arena.Name)
})

func (s *fakeSeat) Welcome() schema.Welcome { return s.welcome }
func (s *fakeSeat) Input(in *schema.Input) bool {
	select {
	case s.inputs <- *in:
		return true
	default:
		return false
	}
}
func (s *fakeSeat) Disconnect() { s.disconnected.Add(1) }
func (s *fakeSeat) Leave()      { s.left.Add(1) }

// fakeJoiner seats everyone in one match, unless join says otherwise.
type fakeJoiner struct {
	join func(ctx context.Context, req game.JoinRequest) (game.Seat, error) // nil result: default seat

	mu    sync.Mutex
	seats []*fakeSeat
}

func (j *fakeJoiner) Join(ctx context.Context, req game.JoinRequest) (game.Seat, error) {
	if j.join != nil {
		if seat, err := j.join(ctx, req); seat != nil || err != nil {
			return seat, err
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	n := uint32(len(j.seats) + 1)
	seat := &fakeSeat{
		conn:    req.Conn,
		inputs:  make(chan schema.Input, 64),
		welcome: schema.Welcome{SessionID: fmt.Sprint("s", n), PlayerID: n, EntityID: 100 + n, TickRate: 30, MatchID: "m1"},
	}
	j.seats = append(j.seats, seat)
	return seat, nil
}

func (j *fakeJoiner) seat(i int) *fakeSeat {
	j.mu.Lock()
	defer j.mu.Unlock()
	if i >= len(j.seats) {
		return nil
	}
	return j.seats[i]
}

// ---- test server --------------------------------------------------------

type testServer struct {
	*Server
	addr   string
	joiner *fakeJoiner
	http   *http.Server
}

// startServer runs a Server behind a real http.Server on 127.0.0.1:0.
func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	j := &fakeJoiner{}
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	cfg.Joiner = j
	cfg.CloseLinger = 500 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	ts := &testServer{Server: srv, addr: ln.Addr().String(), joiner: j, http: hs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return ts
}

// ---- raw WebSocket client -------------------------------------------------

// wsClient is a hand-rolled WebSocket client over a net.Conn, so that tests
// can send what a real client library would refuse to: text frames,
// oversize frames, garbage, and stop reading.
type wsClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	enc  *schema.Encoder
}

type dialOpts struct {
	origin string
	header string // extra raw header lines, each ending in \r\n
	conn   net.Conn
	rcvBuf int
}

// dialWS opens a WebSocket to addr and returns the client, or the HTTP
// response when the server refused the upgrade.
func dialWS(t testing.TB, addr string, o dialOpts) (*wsClient, *http.Response, error) {
	t.Helper()
	conn := o.conn
	if conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		if o.rcvBuf > 0 {
			d.Control = rcvBufControl(o.rcvBuf)
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		conn = c
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", addr)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
	if o.origin != "" {
		fmt.Fprintf(&req, "Origin: %s\r\n", o.origin)
	}
	req.WriteString(o.header)
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, resp, nil
	}
	c := &wsClient{t: t, conn: conn, br: br, enc: schema.NewEncoder(256)}
	t.Cleanup(func() { conn.Close() })
	return c, resp, nil
}

func mustDial(t testing.TB, addr string) *wsClient {
	t.Helper()
	c, resp, err := dialWS(t, addr, dialOpts{})
	if err != nil || c == nil {
		t.Fatalf("dial: %v %v", resp, err)
	}
	return c
}

// writeFrame sends one masked frame.
func (c *wsClient) writeFrame(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 0x80|127), uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	hdr = append(hdr, key[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ key[i%4]
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(append(hdr, masked...))
	return err
}

func (c *wsClient) send(payload []byte) {
	c.t.Helper()
	if err := c.writeFrame(0x2, payload); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *wsClient) hello(h schema.Hello) { c.t.Helper(); c.send(c.enc.Hello(&h)) }

type frame struct {
	op      byte
	payload []byte
}

// readFrame reads one server frame (unmasked, unfragmented).
func (c *wsClient) readFrame(timeout time.Duration) (frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return frame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if h[1]&0x80 != 0 || n > 16<<20 {
		return frame{}, errors.New("bad server frame")
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return frame{}, err
	}
	return frame{op: h[0] & 0x0f, payload: p}, nil
}

// next returns the next binary message, answering pings on the way.
func (c *wsClient) next(timeout time.Duration) (serverMsg, error) {
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			return serverMsg{}, err
		}
		switch f.op {
		case 0x9:
			_ = c.writeFrame(0xA, f.payload)
		case 0x2:
			return decodeServer(f.payload)
		case 0x8:
			code, reason := parseClose(f.payload)
			return serverMsg{}, &closeErr{code, reason}
		}
	}
}

func (c *wsClient) mustNext(kind fb.ServerBody) serverMsg {
	c.t.Helper()
	m, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("want %v: %v", fb.EnumNamesServerBody[kind], err)
	}
	if m.kind != kind {
		c.t.Fatalf("got %v, want %v", fb.EnumNamesServerBody[m.kind], fb.EnumNamesServerBody[kind])
	}
	return m
}

type closeErr struct {
	code   uint16
	reason string
}

func (e *closeErr) Error() string { return fmt.Sprintf("close %d %q", e.code, e.reason) }

// expectClose reads until the close frame, skipping messages, and checks
// its code; it answers the close like a browser would.
func (c *wsClient) expectClose(want CloseCode, timeout time.Duration) (msgs []serverMsg, reason string) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m, err := c.next(time.Until(deadline))
		var ce *closeErr
		if errors.As(err, &ce) {
			if ce.code != uint16(want) {
				c.t.Fatalf("closed with %d %q, want %d", ce.code, ce.reason, want)
			}
			_ = c.writeFrame(0x8, binary.BigEndian.AppendUint16(nil, ce.code))
			return msgs, ce.reason
		}
		if err != nil {
			c.t.Fatalf("want close %d, got %v (after %d messages)", want, err, len(msgs))
		}
		msgs = append(msgs, m)
	}
}

func parseClose(p []byte) (uint16, string) {
	if len(p) < 2 {
		return 1005, ""
	}
	return binary.BigEndian.Uint16(p), string(p[2:])
}

// serverMsg is a server message decoded with the generated accessors (the
// bytes come from our own server).
type serverMsg struct {
	kind     fb.ServerBody
	welcome  schema.Welcome
	errCode  uint16
	errMsg   string
	url      string
	matchID  string
	tick     uint32
	clientTs uint64
	raw      []byte // the message as received
}

func decodeServer(b []byte) (m serverMsg, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode server message: %v", r)
		}
	}()
	root := fb.GetRootAsServerMessage(b, 0)
	var t flatbuffers.Table
	if !root.Body(&t) {
		return m, errors.New("no body")
	}
	m.kind, m.raw = root.BodyType(), b
	switch m.kind {
	case fb.ServerBodyWelcome:
		var w fb.Welcome
		w.Init(t.Bytes, t.Pos)
		m.welcome = schema.Welcome{SessionID: string(w.SessionId()), ResumeToken: string(w.ResumeToken()), PlayerID: w.PlayerId(), EntityID: w.EntityId(),
			TickRate: w.TickRate(), NodeID: string(w.NodeId()), MatchID: string(w.MatchId())}
	case fb.ServerBodyError:
		var e fb.Error
		e.Init(t.Bytes, t.Pos)
		m.errCode, m.errMsg = e.Code(), string(e.Message())
	case fb.ServerBodyRedirect:
		var r fb.Redirect
		r.Init(t.Bytes, t.Pos)
		m.url, m.matchID = string(r.Url()), string(r.MatchId())
	case fb.ServerBodySnapshot:
		var s fb.Snapshot
		s.Init(t.Bytes, t.Pos)
		m.tick = s.Tick()
	case fb.ServerBodyPong:
		var p fb.Pong
		p.Init(t.Bytes, t.Pos)
		m.clientTs = p.ClientTime()
	}
	return m, nil
}

// snapshotBytes encodes a snapshot of tick with a state of n×24 bytes
// (about n arena entities in full; the transport does not read them).
func snapshotBytes(tick uint32, n int) []byte {
	s := schema.Snapshot{Tick: tick, State: make([]byte, 24*n)}
	for i := range s.State {
		s.State[i] = byte(i)
	}
	b, _ := schema.NewEncoder(1024).Snapshot(&s)
	return append([]byte(nil), b...)
}
