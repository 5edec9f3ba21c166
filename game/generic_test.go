package game

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/sim"
)

// tagGame is the game of testdata/tag.fbs: one runner per player (its
// entity id is the player's id) moved by its input. JoinWith records what
// it was given, refuses the name "nobody" and ends the match for the name
// "ender"; once a "starter" has joined it refuses everyone else (a game
// that has started); client Pings are recorded and answered with a server Ping of
// n+1000 to their sender.
type tagGame struct {
	gs      *GameSchema
	out     sim.Outbox // room goroutine only
	started bool       // room goroutine only

	mu      sync.Mutex // what the tests read
	joins   []sim.JoinInfo
	pings   []int64
	runners map[uint32]*runner
}

type runner struct {
	x, vx int64
	name  []byte
}

// refusal is what tagGame tells "nobody": 200 bytes of two-byte runes.
var refusal = strings.Repeat("é", 100)

func (g *tagGame) Join(p uint32) (uint32, error) { return g.JoinWith(sim.JoinInfo{Player: p}) }

func (g *tagGame) JoinWith(j sim.JoinInfo) (uint32, error) {
	if j.Name == "nobody" {
		return 0, sim.Refuse(refusal)
	}
	if g.started {
		return 0, sim.Refuse("the game has started")
	}
	g.started = j.Name == "starter"
	g.mu.Lock()
	defer g.mu.Unlock()
	j.Payload, j.Claims = slices.Clone(j.Payload), slices.Clone(j.Claims) // valid during the call only
	g.joins = append(g.joins, j)
	g.runners[j.Player] = &runner{name: []byte(j.Name)}
	if j.Name == "ender" && g.out != nil {
		g.out.End("an ender joined")
	}
	return j.Player, nil
}

func (g *tagGame) Leave(p uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.runners, p)
}

func (g *tagGame) Step(_ uint32, inputs []sim.PlayerInput) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var v gameschema.Values
	move := g.gs.Schema.Input.Field("move").Index
	for _, in := range inputs {
		r := g.runners[in.Player]
		if r == nil || len(in.Input.Data) == 0 || g.gs.Schema.DecodeInput(in.Input.Data, &v) != nil {
			continue
		}
		r.vx = v.Int(move)
	}
	for _, r := range g.runners {
		r.x += r.vx
	}
}

func (g *tagGame) WriteState(w *gamedelta.World) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]uint32, 0, len(g.runners))
	for id := range g.runners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := g.runners[id]
		i := w.Add(id, 0, id)
		w.SetInt(i, 0, r.x)
		w.SetInt(i, 1, r.vx)
		w.SetBytes(i, 3, r.name)
	}
}

func (g *tagGame) Event(player uint32, data []byte) {
	var v gameschema.Values
	t, err := g.gs.Schema.DecodeEvent(data, &v)
	if err != nil {
		return
	}
	n := v.Int(t.Field("n").Index)
	g.mu.Lock()
	g.pings = append(g.pings, n)
	g.mu.Unlock()
	if g.out != nil {
		g.out.Send(player, tagServerPing(g.gs, n+1000))
	}
}

func (g *tagGame) SetOutbox(o sim.Outbox) { g.out = o }

func (g *tagGame) MarshalState(dst []byte) ([]byte, error) { return dst, nil }

func (g *tagGame) UnmarshalState([]byte) error { return nil }

// tagGames are the tag games a test's matches created.
type tagGames struct {
	mu    sync.Mutex
	games []*tagGame
}

func (t *tagGames) joins() []sim.JoinInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []sim.JoinInfo
	for _, g := range t.games {
		g.mu.Lock()
		out = append(out, g.joins...)
		g.mu.Unlock()
	}
	return out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registerTag registers the tag game on reg and returns its schema and the
// games its matches create.
func registerTag(t *testing.T, reg *Registry) (*GameSchema, *tagGames) {
	t.Helper()
	games := &tagGames{}
	f := func(int64) Game {
		g := &tagGame{gs: reg.Schema("tag"), runners: map[uint32]*runner{}}
		games.mu.Lock()
		games.games = append(games.games, g)
		games.mu.Unlock()
		return g
	}
	if err := reg.RegisterSpec(Spec{Name: "tag", New: f, Schema: readTestdata(t, "tag.bfbs")}); err != nil {
		t.Fatal(err)
	}
	return reg.Schema("tag"), games
}

// tagJoin builds a join payload of the tag game.
func tagJoin(gs *GameSchema, mode int64, team string) []byte {
	var v gameschema.Values
	j := gs.Schema.Join
	v.Reset(j)
	v.SetDefaults()
	v.SetInt(j.Field("mode").Index, mode)
	if team != "" {
		v.SetBytes(j.Field("team").Index, []byte(team))
	}
	b := flatbuffers.NewBuilder(64)
	b.Finish(j.Build(b, &v))
	return b.FinishedBytes()
}

func TestRegisterSpec(t *testing.T) {
	r := NewRegistry()
	bfbs := readTestdata(t, "tag.bfbs")
	f := func(int64) Game { return &tagGame{} }
	if err := r.RegisterSpec(Spec{Name: "tag", New: f, Schema: bfbs}); err != nil {
		t.Fatal(err)
	}
	gs := r.Schema("tag")
	if gs == nil || !r.Has("tag") {
		t.Fatal("tag registered without its schema")
	}
	if gs.Hash() != gs.Schema.HashString() || len(gs.Hash()) != 64 || !bytes.Equal(gs.BFBS, bfbs) {
		t.Errorf("hash %q (schema's %q), BFBS kept: %v", gs.Hash(), gs.Schema.HashString(), bytes.Equal(gs.BFBS, bfbs))
	}
	rt := gs.Schema.Entities[0]
	if gs.Codec.NumKinds() != 1 || gs.Codec.FieldIndex(0, "name") != rt.Field("name").Index || gs.Codec.NumFields(0) != len(rt.Fields) {
		t.Errorf("codec: %d kinds, name at %d", gs.Codec.NumKinds(), gs.Codec.FieldIndex(0, "name"))
	}
	bfbs[0] ^= 0xff
	if bytes.Equal(gs.BFBS, bfbs) {
		t.Error("the registry keeps the caller's .bfbs, not a copy")
	}
	if err := r.RegisterSpec(Spec{Name: "tag", New: f, Schema: readTestdata(t, "tag.bfbs")}); err == nil {
		t.Error("registered tag twice")
	}
	if err := r.RegisterSpec(Spec{Name: "plain", New: f}); err == nil || r.Has("plain") {
		t.Errorf("a Spec without a schema: %v, has %v", err, r.Has("plain"))
	}
	if r.Schema("nope") != nil {
		t.Error("a schema for an unknown game")
	}
	if err := r.RegisterSpec(Spec{Name: "x", Schema: bfbs}); err == nil {
		t.Error("registered a nil factory")
	}
}

// TestRegisterSpecRefuses: a schema the node cannot use is refused naming
// the table and field at fault, and the game is not registered.
func TestRegisterSpecRefuses(t *testing.T) {
	cases := []struct {
		name, file   string
		table, field string // of the *gameschema.SchemaError; "" table: not one
		says         string
	}{
		{"no input table", "noinput.bfbs", "", "", "no table marked (ticksync_input)"},
		{"float without quantum", "floatnoquantum.bfbs", "floatnoquantum.Runner", "speed", "quantum"},
		{"predicted field without its velocity", "predictnovel.bfbs", "predictnovel.Runner", "x", `no field "vz"`},
		{"not a schema", "", "", "", "bad game schema"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bfbs := []byte("not a compiled schema at all")
			if c.file != "" {
				bfbs = readTestdata(t, c.file)
			}
			r := NewRegistry()
			err := r.RegisterSpec(Spec{Name: "g", New: func(int64) Game { return &tagGame{} }, Schema: bfbs})
			if !errors.Is(err, gameschema.ErrBadSchema) || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), `register game "g"`) {
				t.Fatalf("RegisterSpec: %v, want a bad schema error saying %q", err, c.says)
			}
			if c.table != "" {
				var se *gameschema.SchemaError
				if !errors.As(err, &se) || se.Table != c.table || se.Field != c.field {
					t.Fatalf("%v: want a *SchemaError naming %s.%s", err, c.table, c.field)
				}
			}
			if r.Has("g") || r.Schema("g") != nil {
				t.Error("a refused game is registered")
			}
		})
	}
}

func TestPublicReason(t *testing.T) {
	cases := []struct{ in, want string }{
		{"full", "full"},
		{"", "join refused"},
		{"   ", "join refused"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("a", 200), strings.Repeat("a", 128)},
		{strings.Repeat("é", 100), strings.Repeat("é", 64)},
		{"a" + strings.Repeat("€", 50), "a" + strings.Repeat("€", 42)}, // 1 + 42×3 = 127 bytes: the 43rd would cross 128
	}
	for _, c := range cases {
		got := publicReason(c.in)
		if got != c.want || len(got) > maxReasonLen || !utf8.ValidString(got) {
			t.Errorf("publicReason(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSchemaMismatch: a Hello whose schema hash is not the match's is
// refused before it is seated, by matchmaking, by match id and on resume;
// a game without a schema refuses any hash; an empty hash joins any match
// and the Welcome names the match's schema.
func TestSchemaMismatch(t *testing.T) {
	m, reg := newTestManager(t, nil)
	gs, _ := registerTag(t, reg)
	wrong := strings.Repeat("0", 64)
	want := "schema mismatch: the match speaks tag " + gs.Hash()

	je := joinErr(t, m, schema.Hello{Game: "tag", SchemaHash: wrong}, 0, schema.ErrCodeSchemaMismatch)
	if !je.Public || je.Message != want {
		t.Errorf("matchmaking: %+v, want a public %q", je, want)
	}
	if n := len(m.Matches()); n != 0 {
		t.Errorf("%d matches made for a refused Hello", n)
	}
	s, _ := join(t, m, schema.Hello{Game: "tag", SchemaHash: gs.Hash()}, 0)
	w := s.Welcome()
	if w.Game != "tag" || w.SchemaHash != gs.Hash() || s.Schema() != gs {
		t.Errorf("Welcome game %q hash %q, Seat schema %p (want %p)", w.Game, w.SchemaHash, s.Schema(), gs)
	}
	if je := joinErr(t, m, schema.Hello{MatchID: w.MatchID, SchemaHash: wrong}, 0, schema.ErrCodeSchemaMismatch); !je.Public || je.Message != want {
		t.Errorf("by match id: %+v", je)
	}
	if je := joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken, SchemaHash: wrong}, 0, schema.ErrCodeSchemaMismatch); !je.Public || je.Message != want {
		t.Errorf("resume: %+v", je)
	}
	if info := m.Matches()[0]; info.Players != 1 || info.SchemaHash != gs.Hash() {
		t.Errorf("after the refusals: %+v", info)
	}
	if err := reg.RegisterSpec(Spec{Name: "plain", New: func(int64) Game { return &fakeGame{} }}); err == nil {
		t.Error("a game without a schema was registered")
	}
	if s2, _ := join(t, m, schema.Hello{Game: "tag"}, 0); s2.Welcome().MatchID != w.MatchID {
		t.Error("a Hello without a hash did not join the open tag match")
	}
	fake := reg.Schema("fake")
	if s3, _ := join(t, m, schema.Hello{Game: "fake"}, 0); s3.Schema() != fake || s3.Welcome().SchemaHash != fake.Hash() || s3.Welcome().Game != "fake" {
		t.Errorf("the fake game: Seat schema %v, Welcome %+v", s3.Schema(), s3.Welcome())
	}
}

// TestMatchKeyFilter: matchmaking seats players together only when the
// join payloads' (match_key) fields are equal; other fields do not matter.
func TestMatchKeyFilter(t *testing.T) {
	m, reg := newTestManager(t, nil)
	gs, _ := registerTag(t, reg)
	joinMode := func(mode int64, team string) schema.Welcome {
		t.Helper()
		var payload []byte
		if mode >= 0 {
			payload = tagJoin(gs, mode, team)
		}
		s, _ := join(t, m, schema.Hello{Game: "tag", Join: payload}, 0)
		return s.Welcome()
	}
	one := joinMode(1, "red")
	two := joinMode(2, "red")
	if one.MatchID == two.MatchID {
		t.Fatal("modes 1 and 2 share a match")
	}
	if again := joinMode(1, "blue"); again.MatchID != one.MatchID {
		t.Errorf("a second mode-1 player got match %s, want %s", again.MatchID, one.MatchID)
	}
	none := joinMode(-1, "") // no payload: the defaults, mode 0
	if none.MatchID == one.MatchID || none.MatchID == two.MatchID {
		t.Error("a player without a payload joined a mode-1 or mode-2 match")
	}
	keys := map[string]string{}
	for _, info := range m.Matches() {
		keys[info.ID] = info.Key
	}
	if keys[one.MatchID] != "mode=1" || keys[two.MatchID] != "mode=2" || keys[none.MatchID] != "mode=0" || len(keys) != 3 {
		t.Errorf("match keys %v", keys)
	}
	if s, _ := join(t, m, schema.Hello{Game: "fake"}, 0); s.Welcome().MatchID == one.MatchID {
		t.Error("another game joined a tag match")
	}
}

// TestMalformedJoinPayload: a join payload the game's schema refuses is an
// error wrapping gameschema's (malformed, or a value out of range), not a
// JoinError, by matchmaking and by match id, so that the transport closes
// the connection as for any malformed game bytes (net/ws: 1007); nobody is
// seated and no match is left for it.
func TestMalformedJoinPayload(t *testing.T) {
	m, reg := newTestManager(t, nil)
	gs, _ := registerTag(t, reg)
	s, _ := join(t, m, schema.Hello{Game: "tag", Join: tagJoin(gs, 1, "")}, 0)
	id := s.Welcome().MatchID
	cases := []struct {
		name  string
		hello schema.Hello
		want  error
	}{
		{"matchmaking, malformed", schema.Hello{Game: "tag", Join: []byte("not a join")}, gameschema.ErrMalformed},
		{"matchmaking, out of range", schema.Hello{Game: "tag", Join: tagJoin(gs, 9, "")}, gameschema.ErrOutOfRange}, // mode: 0..3
		{"match id, malformed", schema.Hello{MatchID: id, Join: []byte("not a join")}, gameschema.ErrMalformed},
		{"match id, out of range", schema.Hello{MatchID: id, Join: tagJoin(gs, 9, "")}, gameschema.ErrOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			seat, err := m.Join(ctx, JoinRequest{Hello: c.hello, Conn: &fakeConn{}})
			var je *JoinError
			if seat != nil || !errors.Is(err, c.want) || errors.As(err, &je) {
				t.Fatalf("Join: seat %v, %v (%T); want an error wrapping %v, not a JoinError", seat, err, err, c.want)
			}
		})
	}
	if infos := m.Matches(); len(infos) != 1 || infos[0].Players != 1 {
		t.Errorf("matches after the refusals: %+v", infos)
	}
}
