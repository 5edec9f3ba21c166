package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// wsPlayer is a bare WebSocket client of the node: it sends one Hello and
// reports the first server message, or the close code.
type wsPlayer struct {
	gws.BuiltinEventHandler
	first chan schema.ServerMessage
	close chan uint16
}

func (p *wsPlayer) OnMessage(_ *gws.Conn, msg *gws.Message) {
	defer msg.Close()
	var m schema.ServerMessage
	if err := schema.DecodeServerMessage(msg.Bytes(), &m); err == nil && (m.Kind == schema.ServerWelcome || m.Kind == schema.ServerError) {
		select {
		case p.first <- m:
		default:
		}
	}
}

func (p *wsPlayer) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	code := uint16(0)
	if errors.As(err, &ce) {
		code = ce.Code
	}
	p.close <- code
}

// hello dials url, sends h and returns the Welcome, or the close code of a
// refusal (0 with a Welcome). The connection stays open until the test ends.
func hello(t *testing.T, url string, h schema.Hello) (schema.Welcome, uint16) {
	t.Helper()
	p := &wsPlayer{first: make(chan schema.ServerMessage, 1), close: make(chan uint16, 1)}
	conn, _, err := gws.NewClient(p, &gws.ClientOption{Addr: url})
	if err != nil {
		t.Fatal(err)
	}
	go conn.ReadLoop()
	t.Cleanup(func() { _ = conn.WriteClose(1000, nil) })
	if err := conn.WriteMessage(gws.OpcodeBinary, schema.NewEncoder(256).Hello(&h)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-p.first:
		if m.Kind == schema.ServerWelcome {
			return m.Welcome, 0
		}
		select {
		case code := <-p.close:
			return schema.Welcome{}, code
		case <-time.After(10 * time.Second):
			t.Fatalf("an Error %d without a close", m.Error.Code)
		}
	case code := <-p.close:
		return schema.Welcome{}, code
	case <-time.After(10 * time.Second):
		t.Fatal("no answer to the Hello")
	}
	return schema.Welcome{}, 0
}

// wsURL waits until n takes players (it holds its cluster lease) and
// returns its WebSocket endpoint.
func wsURL(t *testing.T, n *ticksync.Node) string {
	t.Helper()
	testutil.CheckTrue(t, 20*time.Second, func() bool { return n.Ready() == nil })
	return "ws://" + n.Addr().String() + "/ws"
}

// cardsJoin builds a join payload of the cards game.
func cardsJoin(name string, mode cardsfb.Mode) []byte {
	b := flatbuffers.NewBuilder(64)
	n := b.CreateString(name)
	cardsfb.JoinStart(b)
	cardsfb.JoinAddName(b, n)
	cardsfb.JoinAddMode(b, mode)
	b.Finish(cardsfb.JoinEnd(b))
	return b.FinishedBytes()
}

// TestFifthPlayerGetsNewTable: matchmaking seats four cards players per
// match (Spec.Seats); the fifth gets a new match, not the game's refusal.
func TestFifthPlayerGetsNewTable(t *testing.T) {
	url := wsURL(t, startServer(t))
	var ids []string
	for i := range 5 {
		w, code := hello(t, url, schema.Hello{Game: "cards", Join: cardsJoin(fmt.Sprint("p", i), cardsfb.ModeQuick)})
		if code != 0 {
			t.Fatalf("player %d refused with close code %d", i+1, code)
		}
		ids = append(ids, w.MatchID)
	}
	for i := 1; i < 4; i++ {
		if ids[i] != ids[0] {
			t.Fatalf("the first four players got matches %v, want one", ids[:4])
		}
	}
	if ids[4] == ids[0] {
		t.Fatalf("the fifth player joined the full table %s", ids[0])
	}
}

// TestBadJoinPayload: a join payload the cards schema refuses (not a
// buffer of its Join table, or a mode it does not have) closes the
// connection with 1007, as any malformed game bytes do.
func TestBadJoinPayload(t *testing.T) {
	url := wsURL(t, startServer(t))
	for name, join := range map[string][]byte{
		"malformed":    []byte("not a join payload of the cards game"),
		"out of range": cardsJoin("ann", cardsfb.Mode(9)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, code := hello(t, url, schema.Hello{Game: "cards", Join: join}); code != 1007 {
				t.Fatalf("close code %d, want 1007", code)
			}
		})
	}
}
