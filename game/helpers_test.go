package game

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

//go:generate sh -c "cd testdata && flatc --binary --schema fake.fbs"

// fakeBFBS is the compiled schema of the fake games (testdata/fake.fbs):
// one kind of entity (x, y), an input of two axes.
var fakeBFBS = sync.OnceValues(func() ([]byte, error) { return os.ReadFile("testdata/fake.bfbs") })

// registerFake registers a game of the fake schema under name.
func registerFake(t *testing.T, reg *Registry, name string, f Factory) {
	t.Helper()
	b, err := fakeBFBS()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.RegisterSpec(Spec{Name: name, New: f, Schema: b}); err != nil {
		t.Fatal(err)
	}
}

// fakeInput is the fake schema's input buffer of the axes mx and my.
func fakeInput(mx, my int8) []byte {
	b := flatbuffers.NewBuilder(32)
	b.StartObject(2)
	b.PrependInt8Slot(0, mx, 0)
	b.PrependInt8Slot(1, my, 0)
	b.Finish(b.EndObject())
	return b.FinishedBytes()
}

// readFakeInput reads the axes of a fake input buffer (none: 0, 0).
func readFakeInput(data []byte) (mx, my int8) {
	if len(data) < flatbuffers.SizeUOffsetT {
		return 0, 0
	}
	t := flatbuffers.Table{Bytes: data, Pos: flatbuffers.GetUOffsetT(data)}
	if o := flatbuffers.UOffsetT(t.Offset(4)); o != 0 {
		mx = t.GetInt8(o + t.Pos)
	}
	if o := flatbuffers.UOffsetT(t.Offset(6)); o != 0 {
		my = t.GetInt8(o + t.Pos)
	}
	return mx, my
}

// fakeEnt is one entity of a fake game.
type fakeEnt struct {
	ID, Owner uint32
	X, Y      int32
}

// fakeGame gives each player one entity (id 100+n, n counting joins).
type fakeGame struct {
	mu      sync.Mutex
	ents    []fakeEnt
	next    uint32
	panicOn uint32 // Step panics when a player with this id is seated
}

func (g *fakeGame) Join(p uint32) (uint32, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next++
	id := 100 + g.next
	g.ents = append(g.ents, fakeEnt{ID: id, Owner: p})
	return id, nil
}

func (g *fakeGame) Leave(p uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.ents {
		if g.ents[i].Owner == p {
			g.ents = append(g.ents[:i], g.ents[i+1:]...)
			return
		}
	}
}

func (g *fakeGame) Step(_ uint32, inputs []sim.PlayerInput) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, in := range inputs {
		if g.panicOn != 0 && in.Player == g.panicOn {
			panic("fake game exploded")
		}
	}
	for i := range g.ents {
		g.ents[i].X++
	}
}

// WriteState writes the entities (ids ascending: joins count up).
func (g *fakeGame) WriteState(w *gamedelta.World) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.ents {
		i := w.Add(e.ID, 0, e.Owner)
		w.SetInt(i, 0, int64(e.X))
		w.SetInt(i, 1, int64(e.Y))
	}
}

// MarshalState writes next, then each entity's id, owner and x.
func (g *fakeGame) MarshalState(dst []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	dst = binary.LittleEndian.AppendUint32(dst, g.next)
	for _, e := range g.ents {
		dst = binary.LittleEndian.AppendUint32(dst, e.ID)
		dst = binary.LittleEndian.AppendUint32(dst, e.Owner)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(e.X))
	}
	return dst, nil
}

func (g *fakeGame) UnmarshalState(b []byte) error {
	if len(b) < 4 || (len(b)-4)%12 != 0 {
		return errors.New("fake game: bad state")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	le := binary.LittleEndian
	g.next = le.Uint32(b)
	g.ents = g.ents[:0]
	for p := 4; p < len(b); p += 12 {
		g.ents = append(g.ents, fakeEnt{ID: le.Uint32(b[p:]), Owner: le.Uint32(b[p+4:]), X: int32(le.Uint32(b[p+8:]))})
	}
	return nil
}

// fakeConn records snapshots (copied), kicks and redirects.
type fakeConn struct {
	mu       sync.Mutex
	snaps    [][]byte
	kicked   bool
	code     schema.ErrorCode
	reason   string
	redirect string // url of a Redirect
	redirMID string // its match id
}

func (c *fakeConn) Redirect(url, matchID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirect, c.redirMID = url, matchID
}

func (c *fakeConn) redirected() (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redirect, c.redirMID
}

func (c *fakeConn) SendSnapshot(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snaps = append(c.snaps, append([]byte(nil), msg...))
}

// Overflow implements sim.Conn (a server event backlog); these tests
// send no events.
func (c *fakeConn) Overflow() {}

func (c *fakeConn) Kick(code schema.ErrorCode, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kicked, c.code, c.reason = true, code, reason
}

func (c *fakeConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.snaps)
}

func (c *fakeConn) kick() (bool, schema.ErrorCode, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kicked, c.code, c.reason
}

// snapshot decodes the i-th snapshot received.
func (c *fakeConn) snapshot(t *testing.T, i int) schema.Snapshot {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var m schema.ServerMessage
	if err := schema.DecodeServerMessage(c.snaps[i], &m); err != nil || m.Kind != schema.ServerSnapshot {
		t.Fatalf("snapshot %d: %v (kind %d)", i, err, m.Kind)
	}
	return m.Snapshot
}

// countEntities decodes the state of a full snapshot of a fake game of m
// and returns how many entities it holds.
func countEntities(t *testing.T, m *Manager, s schema.Snapshot) int {
	t.Helper()
	gs := m.games.Schema("fake")
	if gs == nil || s.BaselineTick != 0 {
		t.Fatalf("not a full snapshot of the fake game (baseline %d)", s.BaselineTick)
	}
	w := gamedelta.NewWorld(gs.Codec)
	if err := gamedelta.NewDecoder(gs.Codec, 0).Apply(w, nil, 0, s.State); err != nil {
		t.Fatal(err)
	}
	return w.Len()
}

// newTestManager returns a manager of fake games ("fake", the default) at
// 128 Hz, shut down at the end of the test.
func newTestManager(t *testing.T, edit func(*Config)) (*Manager, *Registry) {
	t.Helper()
	reg := NewRegistry()
	registerFake(t, reg, "fake", func(int64) Game { return &fakeGame{} })
	cfg := DefaultConfig()
	cfg.NodeID = "n1"
	cfg.TickRate = 128
	cfg.DefaultGame = "fake"
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewManager(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return m, reg
}

func join(t *testing.T, m *Manager, h schema.Hello, player uint32) (Seat, *fakeConn) {
	t.Helper()
	c := &fakeConn{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := m.Join(ctx, JoinRequest{Hello: h, PlayerID: player, Conn: c})
	if err != nil {
		t.Fatalf("Join(%+v): %v", h, err)
	}
	return s, c
}

// joinErr expects Join to be refused with code.
func joinErr(t *testing.T, m *Manager, h schema.Hello, player uint32, code schema.ErrorCode) *JoinError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := m.Join(ctx, JoinRequest{Hello: h, PlayerID: player, Conn: &fakeConn{}})
	var je *JoinError
	if !errors.As(err, &je) || je.Code != code {
		t.Fatalf("Join(%+v) = %v, want JoinError code %d", h, err, code)
	}
	return je
}
