package ws

import (
	"testing"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// TestRedirectSeatedSession: game.Conn.Redirect on a seated session (its
// match moved to another node) sends Redirect{url, match id} and closes
// with 4011; a snapshot handed over after it is not sent.
func TestRedirectSeatedSession(t *testing.T) {
	ts := startServer(t, nil)
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	seat := ts.joiner.seat(0)
	seat.conn.Redirect("ws://n2.example:7350/ws", "m1")
	seat.conn.SendSnapshot(snapshotBytes(7, 1))
	msgs, _ := c.expectClose(CloseRedirect, 5*time.Second)
	if len(msgs) != 1 || msgs[0].kind != fb.ServerBodyRedirect {
		t.Fatalf("messages before the close: %+v, want one Redirect", msgs)
	}
	if r := msgs[0]; r.url != "ws://n2.example:7350/ws" || r.matchID != "m1" {
		t.Fatalf("redirect %+v", r)
	}
}
