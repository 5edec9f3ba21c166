package game

import (
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// TestNewerResumeTokenRevokesOlder: every Welcome carries a new resume token
// and the seat accepts only the newest; an older token is refused, also
// when the seat is waiting for a resume.
func TestNewerResumeTokenRevokesOlder(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, _ := join(t, m, schema.Hello{}, 0)
	t1 := s1.Welcome().ResumeToken
	s1.Disconnect()

	s2, _ := join(t, m, schema.Hello{ResumeToken: t1}, 0)
	t2 := s2.Welcome().ResumeToken
	if t2 == t1 {
		t.Fatal("the resumed Welcome carries the same token")
	}
	s2.Disconnect()
	je := joinErr(t, m, schema.Hello{ResumeToken: t1}, 0, schema.ErrCodeResumeRefused)
	if je != errTokenSuperseded {
		t.Fatalf("older token refused with %q, want %q", je.Message, errTokenSuperseded.Message)
	}

	// Taking over a live connection revokes the token it held, too.
	s3, c3 := join(t, m, schema.Hello{ResumeToken: t2}, 0)
	t3 := s3.Welcome().ResumeToken
	s4, _ := join(t, m, schema.Hello{ResumeToken: t3}, 0)
	if kicked, code, _ := c3.kick(); !kicked || code != schema.ErrCodeReplaced {
		t.Fatalf("the replaced connection: kicked %v code %d", kicked, code)
	}
	for _, old := range []string{t1, t2, t3} {
		joinErr(t, m, schema.Hello{ResumeToken: old}, 0, schema.ErrCodeResumeRefused)
	}
	// The newest still works, and its seat is the same one.
	s4.Disconnect()
	s5, _ := join(t, m, schema.Hello{ResumeToken: s4.Welcome().ResumeToken}, 0)
	if s5.Welcome().PlayerID != s1.Welcome().PlayerID || s5.Welcome().EntityID != s1.Welcome().EntityID {
		t.Fatalf("resumed %+v, want the first seat's player and entity", s5.Welcome())
	}
}

// TestResumeTokenExpiresWithGrace: once the resume grace has freed a seat,
// its tokens are dead for good, even when the same (authenticated) player
// takes a new seat in the same match.
func TestResumeTokenExpiresWithGrace(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.ResumeGrace = 50 * time.Millisecond })
	const player = 4242
	s1, _ := join(t, m, schema.Hello{}, player)
	w := s1.Welcome()
	join(t, m, schema.Hello{MatchID: w.MatchID}, 0) // keeps the match open
	s1.Disconnect()
	mt := m.Match(w.MatchID)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Info().Players == 1 })
	joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken}, 0, schema.ErrCodeResumeRefused)
	joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken}, player, schema.ErrCodeResumeRefused)

	// The player comes back by match id: a new seat, a new token. The token
	// of the expired seat does not take it.
	s2, _ := join(t, m, schema.Hello{MatchID: w.MatchID}, player)
	if s2.Welcome().PlayerID != player {
		t.Fatalf("rejoined as player %d, want %d", s2.Welcome().PlayerID, player)
	}
	s2.Disconnect()
	joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken}, player, schema.ErrCodeResumeRefused)
	if _, err := m.Join(t.Context(), JoinRequest{Hello: schema.Hello{ResumeToken: s2.Welcome().ResumeToken}, PlayerID: player, Conn: &fakeConn{}}); err != nil {
		t.Fatalf("resume with the new seat's token: %v", err)
	}
}
