package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// fakeFSM is the match directory as every node of a fake cluster sees it
// (one shared, always current view).
type fakeFSM struct {
	mu          sync.Mutex
	index       uint64
	nodes       map[string]replication.NodeInfo
	matches     map[string]replication.MatchInfo
	checkpoints map[string]replication.Checkpoint
	tlogs       map[string]*replication.TickLog // every record since the match started
	placeOn     string                          // owner of the matches CreateMatch creates
	createErr   error
	endErr      error
	ended       []string
	creates     atomic.Int32
	createGate  chan struct{} // non-nil: CreateMatch waits for it
}

func newFakeFSM() *fakeFSM {
	return &fakeFSM{
		nodes:       make(map[string]replication.NodeInfo),
		matches:     make(map[string]replication.MatchInfo),
		checkpoints: make(map[string]replication.Checkpoint),
		tlogs:       make(map[string]*replication.TickLog),
	}
}

// addNode registers a node; api is its API base URL (the owner probe's
// target).
func (f *fakeFSM) addNode(id, api string, state replication.NodeState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.nodes[id] = replication.NodeInfo{ID: id, API: api, Advertise: "ws://" + id + ".test/ws", State: state}
}

// put stores a match as given, at a new index (its epoch when it has an
// owner and none is given).
func (f *fakeFSM) put(m replication.MatchInfo) replication.MatchInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	if m.Created == 0 {
		m.Created = f.index
	}
	if m.Epoch == 0 && m.Owner != "" {
		m.Epoch = f.index
	}
	if m.Status == 0 {
		m.Status = replication.MatchRunning
	}
	if m.Game == "" {
		m.Game = toyName
	}
	f.matches[m.ID] = m
	return m
}

// fakeReplica is one node's replica of a fakeFSM: its own lease, its own
// ownership events, and counters of the calls the glue made.
type fakeReplica struct {
	fsm      *fakeFSM
	lease    atomic.Bool
	events   chan replication.OwnershipEvent
	catchUps atomic.Int32
	lookups  atomic.Int32
	waited   atomic.Uint64 // the newest index WaitApplied was asked for
}

var _ Replica = (*fakeReplica)(nil)

func newFakeReplica(f *fakeFSM) *fakeReplica {
	r := &fakeReplica{fsm: f, events: make(chan replication.OwnershipEvent, 16)}
	r.lease.Store(true)
	return r
}

func (r *fakeReplica) LeaseValid() bool { return r.lease.Load() }

func (r *fakeReplica) Lookup(id string) (replication.MatchInfo, bool) {
	r.lookups.Add(1)
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	m, ok := r.fsm.matches[id]
	return m, ok
}

func (r *fakeReplica) Matches() []replication.MatchInfo {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	var out []replication.MatchInfo
	for _, m := range r.fsm.matches {
		out = append(out, m)
	}
	return out
}

func (r *fakeReplica) Member(id string) (replication.NodeInfo, bool) {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	n, ok := r.fsm.nodes[id]
	return n, ok
}

func (r *fakeReplica) CreateMatch(ctx context.Context, req command.CreateMatch) (replication.MatchInfo, error) {
	f := r.fsm
	f.creates.Add(1)
	if f.createGate != nil {
		select {
		case <-f.createGate:
		case <-ctx.Done():
			return replication.MatchInfo{}, ctx.Err()
		}
	}
	if f.createErr != nil {
		return replication.MatchInfo{}, f.createErr
	}
	return f.put(replication.MatchInfo{ID: req.ID, Game: req.Game, Key: req.Key, Owner: f.placeOn}), nil
}

func (r *fakeReplica) EndMatch(_ context.Context, id string, _ uint64) error {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	if r.fsm.endErr != nil {
		return r.fsm.endErr
	}
	r.fsm.ended = append(r.fsm.ended, id)
	return nil
}

func (r *fakeReplica) WaitApplied(_ context.Context, index uint64) error {
	r.waited.Store(index)
	return nil
}

func (r *fakeReplica) CatchUp(context.Context) error {
	r.catchUps.Add(1)
	return nil
}

func (r *fakeReplica) Ownership() <-chan replication.OwnershipEvent { return r.events }

func (r *fakeReplica) LatestCheckpoint(id string) (replication.Checkpoint, bool) {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	cp, ok := r.fsm.checkpoints[id]
	return cp, ok
}

func (r *fakeReplica) TickLog(id string, after uint32) (replication.TickLog, bool) {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	lg := r.fsm.tlogs[id]
	if lg == nil || lg.From > after+1 || lg.To <= after {
		return replication.TickLog{}, false
	}
	out := *lg
	out.Data = append([]byte(nil), lg.Data...)
	return out, true
}

// fakeTickLogger keeps every record of every match in the fakeFSM, as if
// each reached Raft at once (records of an older epoch are refused).
type fakeTickLogger struct{ fsm *fakeFSM }

func (l *fakeTickLogger) Append(matchID string, epoch uint64, tick uint32, rec []byte) {
	f := l.fsm
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.matches[matchID]; !ok || m.Epoch != epoch {
		return
	}
	lg := f.tlogs[matchID]
	if lg == nil {
		lg = &replication.TickLog{Match: matchID, From: tick}
		f.tlogs[matchID] = lg
	}
	lg.To = tick
	lg.Data = append(lg.Data, rec...)
}

func (l *fakeTickLogger) Forget(string) {}

// fakeCheckpointer stores every checkpoint in the fakeFSM, compressed as
// replication stores them.
type fakeCheckpointer struct {
	fsm *fakeFSM
	n   atomic.Int32
}

var zenc, _ = zstd.NewWriter(nil)

func (c *fakeCheckpointer) Checkpoint(matchID string, epoch uint64, tick uint32, state []byte) {
	c.n.Add(1)
	data := zenc.EncodeAll(state, nil) // copies: the room reuses state
	c.fsm.mu.Lock()
	defer c.fsm.mu.Unlock()
	c.fsm.index++
	c.fsm.checkpoints[matchID] = replication.Checkpoint{Match: matchID, Epoch: epoch, Tick: tick, Index: c.fsm.index, Data: data}
}

func (c *fakeCheckpointer) SetPlayers(string, uint64, int) {}
func (c *fakeCheckpointer) Forget(string)                  {}

// readyServer is a node's API answering GET /readyz with status.
func readyServer(t *testing.T, status *atomic.Int32) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// newAdapter returns an Adapter of node self attached to r (unless nil),
// with a short locate wait.
func newAdapter(t *testing.T, self string, r Replica, cp *fakeCheckpointer) *Adapter {
	t.Helper()
	return newAdapterWith(t, self, r, cp, nil)
}

// newAdapterWith is newAdapter with mod (unless nil) applied to its Config.
func newAdapterWith(t *testing.T, self string, r Replica, cp *fakeCheckpointer, mod func(*Config)) *Adapter {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeID = self
	cfg.Seats = 4
	cfg.Listen = "127.0.0.1:0"
	cfg.LocateWait = 300 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		var tl game.TickLogger
		if cp != nil {
			tl = &fakeTickLogger{fsm: cp.fsm}
		}
		a.Attach(r, cp, tl)
	}
	return a
}

// --- a tiny game ---

const toyName = "toy"

// toySpec registers the toy with the arena's schema: its dots are arena
// avatars (only x moves) and its inputs arena inputs.
func toySpec() game.Spec {
	return game.Spec{Name: toyName, New: func(seed int64) game.Game { return newToy(seed) }, Schema: arena.BFBS()}
}

// toy gives each player a dot that moves by its input each tick; the state
// is the tick count and the dots.
type toy struct {
	steps uint32
	dots  []toyDot
}

type toyDot struct {
	id, owner uint32
	x         int32
}

func newToy(int64) *toy { return &toy{} }

func (g *toy) Join(p uint32) (uint32, error) {
	id := uint32(len(g.dots) + 1)
	g.dots = append(g.dots, toyDot{id: id, owner: p})
	return id, nil
}

func (g *toy) Leave(p uint32) {
	for i := range g.dots {
		if g.dots[i].owner == p {
			g.dots = append(g.dots[:i], g.dots[i+1:]...)
			return
		}
	}
}

func (g *toy) Step(_ uint32, in []sim.PlayerInput) {
	g.steps++
	for _, pi := range in {
		mx := int32(arena.ReadInput(pi.Input.Data).MoveX)
		for i := range g.dots {
			if g.dots[i].owner == pi.Player {
				g.dots[i].x = min(max(g.dots[i].x+mx, 0), arena.MaxPos)
			}
		}
	}
}

// WriteState writes the dots as arena avatars, ids ascending.
func (g *toy) WriteState(w *gamedelta.World) {
	for _, d := range g.dots {
		i := w.Add(d.id, arena.KindAvatar, d.owner)
		w.SetInt(i, arena.FieldX, int64(d.x))
		w.SetInt(i, arena.FieldHP, 1)
	}
}

func (g *toy) MarshalState(dst []byte) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, g.steps)
	for _, d := range g.dots {
		dst = binary.LittleEndian.AppendUint32(dst, d.id)
		dst = binary.LittleEndian.AppendUint32(dst, d.owner)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(d.x))
	}
	return dst, nil
}

func (g *toy) UnmarshalState(b []byte) error {
	if len(b) < 4 || (len(b)-4)%12 != 0 {
		return errors.New("toy state: bad length")
	}
	g.steps = binary.LittleEndian.Uint32(b)
	g.dots = g.dots[:0]
	for b = b[4:]; len(b) > 0; b = b[12:] {
		g.dots = append(g.dots, toyDot{
			id: binary.LittleEndian.Uint32(b), owner: binary.LittleEndian.Uint32(b[4:]),
			x: int32(binary.LittleEndian.Uint32(b[8:])),
		})
	}
	return nil
}

// fakeConn is a player's connection as the Manager sees it.
type fakeConn struct {
	snapshots atomic.Int32
	mu        sync.Mutex
	redirect  string // "url match" of a Redirect
	kicked    schema.ErrorCode
}

func (c *fakeConn) SendSnapshot([]byte) { c.snapshots.Add(1) }

func (c *fakeConn) Overflow() {}

func (c *fakeConn) Kick(code schema.ErrorCode, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kicked = code
}

func (c *fakeConn) Redirect(url, matchID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.redirect = fmt.Sprint(url, " ", matchID)
}

func (c *fakeConn) redirected() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redirect
}
