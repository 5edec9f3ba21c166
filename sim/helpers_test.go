package sim

import (
	"bytes"
	"cmp"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// fakeCodec is the fake world's state layout: one kind of entity with a
// signed 32-bit x and an 8-bit hp.
var fakeCodec = sync.OnceValue(func() *gamedelta.Codec {
	c, err := gamedelta.Compile(gamedelta.Layout{Kinds: []gamedelta.Kind{{Name: "ent", Fields: []gamedelta.Field{
		{Name: "x", Bits: 32, Signed: true},
		{Name: "hp", Bits: 8},
	}}}})
	if err != nil {
		panic(err)
	}
	return c
})

// fakeConfig is DefaultConfig with the fake world's Codec.
func fakeConfig() Config {
	c := DefaultConfig()
	c.Codec = fakeCodec()
	return c
}

// fakeEnt is one entity of the fake world, as its state carries it.
type fakeEnt struct {
	ID, Owner uint32
	X         int32
	HP        uint8
}

// fakeEnts reads the entities of a world of fakeCodec.
func fakeEnts(w *gamedelta.World) []fakeEnt {
	var out []fakeEnt
	for i := range w.Len() {
		out = append(out, fakeEnt{ID: w.ID(i), Owner: w.Owner(i), X: int32(w.Int(i, 0)), HP: uint8(w.Int(i, 1))})
	}
	return out
}

// writeFakeEnts adds ents to w, a world of fakeCodec.
func writeFakeEnts(w *gamedelta.World, ents []fakeEnt) {
	for _, e := range ents {
		i := w.Add(e.ID, 0, e.Owner)
		w.SetInt(i, 0, int64(e.X))
		w.SetInt(i, 1, int64(e.HP))
	}
}

// mx is the move of a fake world's input: the first byte of its data (0
// without data).
func mx(in schema.Input) int8 {
	if len(in.Data) == 0 {
		return 0
	}
	return int8(in.Data[0])
}

// fakeWorld has one entity per player (id = 1000+player) moving +1 in x per
// tick, plus one static entity 1. It records the inputs of every step.
type fakeWorld struct {
	mu      sync.Mutex // the loop test reads steps from the test goroutine
	ents    []fakeEnt
	steps   [][]PlayerInput
	record  bool
	joinErr error
	panicAt uint32

	marshalErr error
}

func newFakeWorld() *fakeWorld {
	return &fakeWorld{ents: []fakeEnt{{ID: 1, HP: 100}}, record: true}
}

func (w *fakeWorld) Join(p uint32) (uint32, error) {
	if w.joinErr != nil {
		return 0, w.joinErr
	}
	// Kept sorted by id, as StateWriter.WriteState promises.
	e := fakeEnt{ID: 1000 + p, Owner: p, HP: 100}
	i, _ := slices.BinarySearchFunc(w.ents, e.ID, func(x fakeEnt, id uint32) int { return cmp.Compare(x.ID, id) })
	w.ents = slices.Insert(w.ents, i, e)
	return 1000 + p, nil
}

func (w *fakeWorld) Leave(p uint32) {
	for i := range w.ents {
		if w.ents[i].Owner == p && p != 0 {
			w.ents = append(w.ents[:i], w.ents[i+1:]...)
			return
		}
	}
}

func (w *fakeWorld) Step(tick uint32, inputs []PlayerInput) {
	if w.panicAt != 0 && tick == w.panicAt {
		panic("fake world exploded")
	}
	for i := range w.ents {
		if w.ents[i].Owner != 0 {
			w.ents[i].X++
		}
	}
	if w.record {
		w.mu.Lock()
		// The inputs' data is the room's: valid during the call only.
		step := append([]PlayerInput(nil), inputs...)
		for i := range step {
			step[i].Input.Data = bytes.Clone(step[i].Input.Data)
		}
		w.steps = append(w.steps, step)
		w.mu.Unlock()
	}
}

func (w *fakeWorld) WriteState(gw *gamedelta.World) { writeFakeEnts(gw, w.ents) }

// MarshalState writes the entity count and each entity's id and x.
func (w *fakeWorld) MarshalState(dst []byte) ([]byte, error) {
	if w.marshalErr != nil {
		return dst, w.marshalErr
	}
	dst = append(dst, byte(len(w.ents)))
	for _, e := range w.ents {
		dst = append(dst, byte(e.ID), byte(e.X))
	}
	return dst, nil
}

// lastInputs returns the inputs of the newest step, by player.
func (w *fakeWorld) lastInputs() map[uint32]schema.Input {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[uint32]schema.Input{}
	if len(w.steps) == 0 {
		return m
	}
	for _, pi := range w.steps[len(w.steps)-1] {
		m[pi.Player] = pi.Input
	}
	return m
}

// fakeConn keeps a copy of every snapshot, as the Conn contract asks, and
// counts Overflow calls.
type fakeConn struct {
	mu        sync.Mutex
	msgs      [][]byte
	overflows int
}

func (c *fakeConn) Overflow() {
	c.mu.Lock()
	c.overflows++
	c.mu.Unlock()
}

func (c *fakeConn) overflowed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflows
}

func (c *fakeConn) SendSnapshot(msg []byte) {
	c.mu.Lock()
	c.msgs = append(c.msgs, append([]byte(nil), msg...))
	c.mu.Unlock()
}

func (c *fakeConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// last decodes the newest snapshot.
func (c *fakeConn) last(t *testing.T) snap {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.msgs) == 0 {
		t.Fatal("no snapshot received")
	}
	return decodeSnap(t, c.msgs[len(c.msgs)-1])
}

// snap is the part of a Snapshot the room tests look at.
type snap struct {
	Tick, Baseline, Seq uint32
	State               []byte
}

// decodeSnap reads a snapshot with the verifying decoder a client uses.
func decodeSnap(t *testing.T, msg []byte) snap {
	t.Helper()
	var m schema.ServerMessage
	if err := schema.DecodeServerMessage(msg, &m); err != nil {
		t.Fatalf("decode snapshot: %v", err)
	}
	if m.Kind != schema.ServerSnapshot {
		t.Fatalf("message kind %v, want Snapshot", m.Kind)
	}
	s := &m.Snapshot
	return snap{
		Tick: s.Tick, Baseline: s.BaselineTick, Seq: s.LastInputSeq,
		State: bytes.Clone(s.State),
	}
}

// newTestRoom returns a room driven by the test (no loop).
func newTestRoom(t testing.TB, edit func(*Config)) (*Room, *fakeWorld) {
	t.Helper()
	cfg := fakeConfig()
	if edit != nil {
		edit(&cfg)
	}
	w := newFakeWorld()
	r, err := NewRoom("test", cfg, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

func mustJoin(t testing.TB, r *Room, id uint32, c Conn) {
	t.Helper()
	if _, err := r.join(id, c, nil); err != nil {
		t.Fatal(err)
	}
}

var errFake = errors.New("fake refusal")
