package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestPlayOverWebSocket: four players of the page's client library
// (testdata/play.mjs, on Node) play a whole game on a node over
// WebSocket: each is seated with its join payload, receives its own hand
// and never another's or the deck's, hears the chat, sees the same winner,
// and is told the match ended (Error 14) once the game has.
func TestPlayOverWebSocket(t *testing.T) {
	t.Parallel() // mostly waits: on its nodes, its browser, its clocks
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the page's client library:", err)
	}
	n := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, "testdata/play.mjs", "ws://"+n.Addr().String()+"/ws", "4")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("play.mjs: %v\n%s", err, stderr.Bytes())
	}
	type seen struct {
		Name    string
		Events  []string
		Chat    []string
		Winner  int
		Foreign int
		MaxHand int
		Error   *struct {
			Code    int
			Message string
		}
	}
	var players []seen
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var p seen
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("play.mjs printed %q: %v", sc.Bytes(), err)
		}
		players = append(players, p)
	}
	if len(players) != 4 {
		t.Fatalf("%d players reported:\n%s\n%s", len(players), out, stderr.Bytes())
	}
	for _, p := range players {
		switch {
		case p.Winner < 1 || p.Winner > 4 || p.Winner != players[0].Winner:
			t.Errorf("%s saw winner %d, %s saw %d", p.Name, p.Winner, players[0].Name, players[0].Winner)
		case p.Foreign != 0:
			t.Errorf("%s received %d cards of other hands or of the deck", p.Name, p.Foreign)
		case p.MaxHand < 3:
			t.Errorf("%s never held its 3 cards (at most %d)", p.Name, p.MaxHand)
		case !slices.Contains(p.Chat, "good luck") || !slices.ContainsFunc(p.Chat, func(c string) bool { return c == p.Name+" sits at seat "+strconv.Itoa(seatOf(p.Name)) }):
			t.Errorf("%s heard %q", p.Name, p.Chat)
		case p.Error == nil || p.Error.Code != 14:
			t.Errorf("%s: the match's end reached it as %+v, want error 14 (match ended)", p.Name, p.Error)
		}
	}
	if t.Failed() {
		t.Logf("play.mjs:\n%s\n%s", out, stderr.Bytes())
	}
}

// seatOf is the seat play.mjs's player of that name sits at: they join
// in turn.
func seatOf(name string) int { return 1 + slices.Index([]string{"ann", "bob", "cat", "dan"}, name) }
