package bots

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema/gameschema"
)

func readCards(t *testing.T) ([]byte, *gameschema.Schema) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schema", "gameschema", "testdata", "cards.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	return b, s
}

// A generic bot's inputs, events and join payloads verify against the
// schema (the node would refuse them otherwise), vary from draw to draw,
// and replay with the same seed.
func TestGameBotDrawsVerify(t *testing.T) {
	_, s := readCards(t)
	g := newGameBot(s, 1, 3)
	seen := map[string]bool{}
	for i := range 200 {
		in := g.inputAt(int64(i+1)*wanderPeriodNanos, false)
		if err := s.VerifyInput(in); err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		seen[string(in)] = true
		ev := g.event()
		if _, err := s.VerifyEvent(ev); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if len(seen) < 100 {
		t.Errorf("%d distinct inputs in 200 draws", len(seen))
	}
	// Within a second the same input is sent again.
	a := bytes.Clone(g.inputAt(1000*wanderPeriodNanos, false))
	if b := g.inputAt(1000*wanderPeriodNanos+wanderPeriodNanos/2, false); !bytes.Equal(a, b) {
		t.Error("a new input within the second")
	}
	// Idle sends the defaults.
	idle := newGameBot(s, 1, 3)
	var v gameschema.Values
	if err := s.DecodeInput(idle.inputAt(1, true), &v); err != nil {
		t.Fatal(err)
	}
	if hover := v.Int(s.Input.Field("hover").Index); hover != -1 {
		t.Errorf("idle input hover %d, want the default -1", hover)
	}
	// Join payloads: valid, per bot, the same for the same seed.
	j3 := joinPayload(s, 1, 3)
	if err := s.VerifyJoin(j3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(j3, joinPayload(s, 1, 3)) || bytes.Equal(j3, joinPayload(s, 1, 4)) {
		t.Error("join payloads do not replay per seed and bot")
	}
}

func TestGameBotEventRate(t *testing.T) {
	_, s := readCards(t)
	g := newGameBot(s, 1, 0)
	n := 0
	for range 30_000 { // 1,000 s at 30 Hz
		if g.eventDue(0.5, 30) {
			n++
		}
	}
	if n < 400 || n > 600 {
		t.Errorf("%d events in 1,000 s at 0.5/s", n)
	}
	if g.eventDue(0, 30) {
		t.Error("an event at rate 0")
	}
}

// The swarm asks the nodes for every game's schema, the arena's too: the
// arena's input has movement axes (the bots steer), the card table's not
// (random inputs within its schema).
func TestLookupGame(t *testing.T) {
	bfbs, s := readCards(t)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b []byte
		var h string
		switch r.URL.Path {
		case "/games/cards/schema":
			b, h = bfbs, s.HashString()
		case "/games/arena/schema":
			b, h = arena.BFBS(), arena.Schema().HashString()
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("ETag", `"`+h+`"`)
		_, _ = w.Write(b)
	}))
	defer hs.Close()
	ws := "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/ws"
	swarm := func(game string, b Behavior) *Swarm {
		cfg := DefaultConfig()
		cfg.URLs, cfg.Bots, cfg.Game, cfg.Behavior = []string{"ws://127.0.0.1:1/ws", ws}, 2, game, b
		sw, err := New(cfg, io.Discard, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return sw
	}
	ctx := context.Background()

	sw := swarm("cards", Wander)
	if err := sw.lookupGame(ctx); err != nil {
		t.Fatal(err)
	}
	if sw.cfg.Schema == nil || sw.cfg.Schema.Hash != s.Hash || sw.cfg.Codec == nil || sw.bots[1].game == nil || sw.bots[1].mover != nil {
		t.Fatalf("cards: schema %v codec %v", sw.cfg.Schema, sw.cfg.Codec)
	}
	c := sw.clientConfig(sw.bots[1], "", "", joinPayload(s, 1, 1))
	if c.Schema != sw.cfg.Schema || c.Codec != sw.cfg.Codec || len(c.JoinPayload) == 0 || c.Validate() != nil {
		t.Fatalf("client config %+v: %v", c, c.Validate())
	}

	sw = swarm(arena.Name, Chase)
	if err := sw.lookupGame(ctx); err != nil || sw.cfg.Schema.Hash != arena.Schema().Hash || sw.cfg.Codec == nil || sw.move == nil || sw.chase == nil || sw.bots[0].mover == nil || sw.bots[0].game != nil {
		t.Fatalf("arena: %v, schema %v", err, sw.cfg.Schema)
	}
	if c := sw.clientConfig(sw.bots[0], "", "", nil); c.Schema != sw.cfg.Schema || c.Codec != sw.cfg.Codec || c.Game != arena.Name || c.Validate() != nil {
		t.Fatalf("arena client config %+v", c)
	}
	// A schema given is not fetched.
	sw = swarm(arena.Name, Wander)
	sw.cfg.URLs = sw.cfg.URLs[:1]
	sw.cfg.Schema = arena.Schema()
	if err := sw.lookupGame(ctx); err != nil || sw.cfg.Codec == nil || sw.bots[0].mover == nil {
		t.Fatalf("arena with its schema given: %v", err)
	}
	if DefaultConfig().Game != arena.Name {
		t.Fatalf("default game %q, want the arena", DefaultConfig().Game)
	}

	if err := swarm("cards", Chase).lookupGame(ctx); err == nil || !strings.Contains(err.Error(), "chase") || !strings.Contains(err.Error(), "move_x") {
		t.Fatalf("chase in a game without movement axes: %v", err)
	}

	// An unknown game (404), and a game no node answers for, end the run.
	if err := swarm("poker", Wander).lookupGame(ctx); !errors.Is(err, client.ErrSchemaNotServed) {
		t.Fatalf("unknown game: %v", err)
	}
	sw = swarm("cards", Wander)
	sw.cfg.URLs = sw.cfg.URLs[:1]
	if err := sw.lookupGame(ctx); err == nil || sw.cfg.Schema != nil {
		t.Fatalf("no node: %v, schema %v", err, sw.cfg.Schema)
	}
}
