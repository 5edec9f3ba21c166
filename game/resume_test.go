package game

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
	"github.com/ticksync/ticksync/sim"
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

// TestRestoredSeatAcceptsLaterToken: a checkpoint names the newest resume
// token of each seat, but the old owner may have issued a newer one (a
// resume) just before it was lost, after its last checkpoint. The new
// owner accepts a token issued later than the recorded one, and the
// recorded one, but not an older one; after the seat's first Welcome here,
// only that Welcome's token.
func TestRestoredSeatAcceptsLaterToken(t *testing.T) {
	b, _ := newClusterManager(t, "b", nil)
	const player, entity = 3, 103
	issued := time.Now().Add(-time.Minute).Unix()
	le := binary.LittleEndian
	state := le.AppendUint32(nil, 1)
	state = le.AppendUint32(state, entity)
	state = le.AppendUint32(state, player)
	state = le.AppendUint32(state, 0)
	ck := appendCheckpoint(nil, 50, 0, 7, player, "fake", []sim.Seat{{Player: player, Entity: entity}},
		map[uint32]seatToken{player: {Nonce: 5, Issued: issued}}, state)
	adopt(t, b, AdoptRequest{MatchID: "m1", Game: "fake", Seed: 7, Epoch: 3, Tick: 50, State: ck})

	mint := func(nonce uint64, at int64) string {
		return token.MintResume(clusterSecret, "m1", player, nonce, time.Unix(at, 0))
	}
	older := mint(6, issued-1)   // issued before the recorded token: revoked
	recorded := mint(5, issued)  // the recorded token
	later := mint(99, issued+30) // issued by the old owner after its checkpoint
	joinErr(t, b, schema.Hello{ResumeToken: older}, 0, schema.ErrCodeResumeRefused)
	s1, _ := join(t, b, schema.Hello{ResumeToken: later}, 0)
	if w := s1.Welcome(); w.PlayerID != player || w.EntityID != entity {
		t.Fatalf("resumed %+v, want player %d entity %d", w, player, entity)
	}
	// The seat has had a Welcome here: only its token is good now.
	s1.Disconnect()
	for _, tok := range []string{older, recorded, later} {
		joinErr(t, b, schema.Hello{ResumeToken: tok}, 0, schema.ErrCodeResumeRefused)
	}
	if _, err := b.Join(t.Context(), JoinRequest{Hello: schema.Hello{ResumeToken: s1.Welcome().ResumeToken}, Conn: &fakeConn{}}); err != nil {
		t.Fatalf("resume with the new owner's token: %v", err)
	}
}
