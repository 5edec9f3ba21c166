package bots

import (
	"context"
	"strings"
	"testing"
	"time"

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
		t.Fatal("no game section: the bots played the arena path")
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
