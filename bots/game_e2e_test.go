package bots

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/gametesting"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// TestSwarmPlaysAGameWithASchema: the swarm against a real node, -game
// naming the card table: the bots fetch its schema, join with random
// payloads, send random inputs and events, and the report counts what
// the arena's does plus the events.
func TestSwarmPlaysAGameWithASchema(t *testing.T) {
	url := gametesting.StartNode(t)
	s, err := gameschema.Load(gametesting.ReadBFBS(t, "cards.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	cfg.Game = gametesting.Name
	cfg.Bots, cfg.PerRoom = 8, 8
	cfg.Ramp, cfg.Duration = 200*time.Millisecond, 2*time.Second
	cfg.TickRate = 0 // from the Welcome
	cfg.EventRate = 3
	var progress strings.Builder
	sw, err := New(cfg, &progress, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", table.String())
	if !rep.OK() || rep.ErrorCount != 0 {
		t.Errorf("verdict %s; errors %v", rep.Verdict(), rep.Errors)
	}
	g := rep.Game
	switch {
	case g == nil:
		t.Fatal("no game section: the bots took the card table for the arena")
	case g.Name != gametesting.Name || g.SchemaHash != s.HashString():
		t.Errorf("game %+v", g)
	case g.EventsSent == 0 || g.EventsReceived == 0:
		// The table answers bids, echoes says to all and broadcasts.
		t.Errorf("events: %+v", g)
	}
	if rep.BytesDownPerBotPerS <= 0 || rep.BytesUpPerBotPerS <= 0 || rep.Snapshots.Delta == 0 || rep.RTT.Count == 0 {
		t.Errorf("bytes down %.0f up %.0f per bot per s, snapshots %+v, rtt %+v",
			rep.BytesDownPerBotPerS, rep.BytesUpPerBotPerS, rep.Snapshots, rep.RTT)
	}
	if !strings.Contains(table.String(), "server events") {
		t.Errorf("the table has no event lines")
	}
}

// TestSwarmPlaysTheArena: the swarm's default game against a real node:
// the bots fetch the arena's schema like any game's, 8 chasing bots fill
// one arena match, steer by the x and y of the world they rebuild, and
// the report has no game section (the arena has no events), with RTT
// samples, deltas and no errors.
func TestSwarmPlaysTheArena(t *testing.T) {
	url := gametesting.StartNode(t)
	cfg := DefaultConfig()
	cfg.URLs = []string{url}
	cfg.Bots, cfg.PerRoom = 8, 8
	cfg.Behavior = Chase
	cfg.Ramp, cfg.Duration = 200*time.Millisecond, 2*time.Second
	cfg.TickRate = 0 // from the Welcome
	sw, err := New(cfg, io.Discard, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := sw.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", table.String())
	if !rep.OK() || rep.ErrorCount != 0 || rep.Bots.Connected != 8 || rep.Rooms.Count != 1 {
		t.Errorf("verdict %s; bots %+v rooms %+v errors %v", rep.Verdict(), rep.Bots, rep.Rooms, rep.Errors)
	}
	if rep.Game != nil {
		t.Errorf("a game section for the arena: %+v", rep.Game)
	}
	if sw.cfg.Schema == nil || sw.cfg.Schema.Hash != arena.Schema().Hash || sw.move == nil {
		t.Errorf("the arena's schema was not fetched and steered: %v", sw.cfg.Schema)
	}
	if rep.BytesDownPerBotPerS <= 0 || rep.BytesUpPerBotPerS <= 0 || rep.Snapshots.Delta == 0 || rep.RTT.Count == 0 || rep.Snapshots.NoBaseline != 0 {
		t.Errorf("bytes down %.0f up %.0f per bot per s, snapshots %+v, rtt %+v",
			rep.BytesDownPerBotPerS, rep.BytesUpPerBotPerS, rep.Snapshots, rep.RTT)
	}
	// The chasers steered: their last decisions are not all zero.
	moving := 0
	for _, b := range sw.bots {
		if st := steer(b.steer.Load()); !st.still() {
			moving++
		}
	}
	if moving == 0 {
		t.Error("no chasing bot steered: the world was not read")
	}
}
