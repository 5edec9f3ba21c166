package ws

import (
	"context"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
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
	// Counted once, as a move; a kick of the closing session is not a kick.
	seat.conn.Redirect("ws://n3.example:7350/ws", "m1")
	seat.conn.Kick(schema.ErrCodeUnavailable, "late")
	if st := ts.Stats(); st.RedirectsMoved != 1 || st.RedirectsJoin != 0 || len(st.Kicks) != 0 {
		t.Fatalf("redirects moved %d, join %d, kicks %v; want 1, 0, none", st.RedirectsMoved, st.RedirectsJoin, st.Kicks)
	}
}

// TestRedirectOnJoinCounted: a Hello for a match another node runs is
// redirected and counted as a join redirect.
func TestRedirectOnJoinCounted(t *testing.T) {
	ts := startServer(t, nil)
	ts.joiner.join = func(context.Context, game.JoinRequest) (game.Seat, error) {
		return nil, &game.RedirectError{URL: "ws://n2.example:7350/ws", MatchID: "m9"}
	}
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{MatchID: "m9"})
	c.expectClose(CloseRedirect, 5*time.Second)
	if st := ts.Stats(); st.RedirectsJoin != 1 || st.RedirectsMoved != 0 {
		t.Fatalf("redirects join %d, moved %d; want 1, 0", st.RedirectsJoin, st.RedirectsMoved)
	}
}
