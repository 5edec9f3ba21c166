package game

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"no node id", func(c *Config) { c.NodeID = "" }, "node id: must not be empty"},
		{"tick rate 500", func(c *Config) { c.TickRate = 500 }, "tick rate 500: must be 1..128"},
		{"seats 0", func(c *Config) { c.Seats = 0 }, "seats 0: must be 1..1024"},
		{"empty timeout 0", func(c *Config) { c.EmptyTimeout = 0 }, "empty timeout 0s: must be > 0"},
		{"negative grace", func(c *Config) { c.ResumeGrace = -time.Second }, "resume grace -1s: must be >= 0"},
		{"zero grace", func(c *Config) { c.ResumeGrace = 0 }, ""},
		{"short secret", func(c *Config) { c.Secret = []byte("short") }, "secret of 5 bytes: must be empty or at least 16 bytes"},
		{"no default game", func(c *Config) { c.DefaultGame = "" }, "default game: must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if (tt.want == "") != (err == nil) || err != nil && err.Error() != tt.want {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	d := DefaultConfig()
	if d.Seats != 8 || d.EmptyTimeout != 30*time.Second || d.ResumeGrace != 15*time.Second || d.DefaultGame != "arena" {
		t.Fatalf("DefaultConfig() = %+v", d)
	}
	if _, err := NewManager(DefaultConfig(), NewRegistry()); !errors.Is(err, ErrUnknownGame) {
		t.Fatalf("NewManager without the default game: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	f := func(int64) Game { return &fakeGame{} }
	b, err := fakeBFBS()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterSpec(Spec{Name: "b", New: f, Schema: b}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterSpec(Spec{Name: "b", New: f, Schema: b}); err == nil {
		t.Fatal("registered a name twice")
	}
	if err := r.RegisterSpec(Spec{Name: "", New: f, Schema: b}); err == nil {
		t.Fatal("registered an empty name")
	}
	if err := r.RegisterSpec(Spec{Name: "c", New: f}); err == nil || !strings.Contains(err.Error(), "no schema") {
		t.Fatalf("registered a game without a schema: %v", err)
	}
	if err := r.RegisterSpec(Spec{Name: "a", New: f, Schema: b}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Fatalf("Names() = %s", got)
	}
	if _, err := r.New("c", 1); !errors.Is(err, ErrUnknownGame) {
		t.Fatalf("New(unknown) = %v", err)
	}
}

func TestMatchmakingFillsThenCreates(t *testing.T) {
	m, _ := newTestManager(t, nil)
	players := map[uint32]bool{}
	var first string
	for i := range 8 {
		s, _ := join(t, m, schema.Hello{}, 0)
		w := s.Welcome()
		if i == 0 {
			first = w.MatchID
		}
		if w.MatchID != first {
			t.Fatalf("player %d got match %s, want %s (fill before creating)", i, w.MatchID, first)
		}
		if players[w.PlayerID] || w.PlayerID == 0 {
			t.Fatalf("player id %d reused or zero", w.PlayerID)
		}
		players[w.PlayerID] = true
	}
	s9, _ := join(t, m, schema.Hello{}, 0)
	if s9.Welcome().MatchID == first {
		t.Fatal("ninth player joined a full match")
	}
	list := m.Matches()
	if len(list) != 2 || list[0].ID != first || list[0].Players != 8 || list[1].Players != 1 {
		t.Fatalf("Matches() = %+v, want %s with 8 players, then one with 1", list, first)
	}
	if list[0].Game != "fake" || list[0].Seats != 8 || list[0].Connected != 8 {
		t.Fatalf("listing %+v", list[0])
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Matches()[0].Tick > 0 })
}

func TestWelcome(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, c := join(t, m, schema.Hello{}, 0)
	w := s.Welcome()
	if w.NodeID != "n1" || w.TickRate != 128 || w.PlayerID != 1 || w.EntityID != 101 || w.MatchID == "" || w.SessionID == "" {
		t.Fatalf("Welcome = %+v", w)
	}
	r, err := token.VerifyResume(m.secret, w.ResumeToken, 0, time.Now())
	if err != nil || r.MatchID != w.MatchID || r.PlayerID != w.PlayerID {
		t.Fatalf("resume token claims %+v, %v", r, err)
	}
	// Snapshots flow, each carrying the player's last input seq.
	s.Input(&schema.Input{Seq: 1})
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() >= 3 })
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.snapshot(t, c.count()-1).LastInputSeq == 1 })
}

func TestJoinExplicitMatch(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.Seats = 2 })
	s, _ := join(t, m, schema.Hello{}, 0)
	id := s.Welcome().MatchID
	s2, _ := join(t, m, schema.Hello{MatchID: id}, 0)
	if s2.Welcome().MatchID != id {
		t.Fatal("explicit match id not honoured")
	}
	je := joinErr(t, m, schema.Hello{MatchID: id}, 0, schema.ErrCodeMatchFull)
	if !strings.Contains(je.Message, "full") {
		t.Fatalf("message %q", je.Message)
	}
	joinErr(t, m, schema.Hello{MatchID: "nope"}, 0, schema.ErrCodeMatchNotFound)
	joinErr(t, m, schema.Hello{Game: "chess"}, 0, schema.ErrCodeBadRequest)
	info, err := m.Create(context.Background(), "")
	if err != nil || info.Game != "fake" || info.Players != 0 {
		t.Fatalf("Create = %+v, %v", info, err)
	}
	s3, _ := join(t, m, schema.Hello{MatchID: info.ID}, 0)
	if s3.Welcome().MatchID != info.ID {
		t.Fatal("could not join a created match")
	}
}

func TestAuthenticatedPlayerRejoinTakesSeat(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, c1 := join(t, m, schema.Hello{}, 42)
	id := s1.Welcome().MatchID
	s2, _ := join(t, m, schema.Hello{MatchID: id}, 42)
	if s2.Welcome().PlayerID != 42 || s2.Welcome().EntityID != s1.Welcome().EntityID {
		t.Fatalf("rejoin got %+v", s2.Welcome())
	}
	if k, code, _ := c1.kick(); !k || code != schema.ErrCodeReplaced {
		t.Fatal("older connection of the same player not replaced")
	}
}

func TestEmptyMatchCloses(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.EmptyTimeout = 50 * time.Millisecond })
	s, _ := join(t, m, schema.Hello{}, 0)
	id := s.Welcome().MatchID
	mt := m.Match(id)
	// The match survives its empty timeout while occupied.
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Room().Tick() > 20 })
	if m.Match(id) == nil {
		t.Fatal("occupied match closed")
	}
	s.Leave()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Match(id) == nil })
	select {
	case <-mt.Room().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("room of the closed match still running")
	}
	joinErr(t, m, schema.Hello{MatchID: id}, 0, schema.ErrCodeMatchNotFound)
	// A created match nobody joins closes too.
	info, _ := m.Create(context.Background(), "fake")
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Match(info.ID) == nil })
	if len(m.Matches()) != 0 {
		t.Fatalf("Matches() = %+v, want none", m.Matches())
	}
}

func TestResumeWithinGrace(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.ResumeGrace = time.Minute })
	s1, c1 := join(t, m, schema.Hello{}, 0)
	w1 := s1.Welcome()
	for seq := uint32(1); seq <= 3; seq++ {
		s1.Input(&schema.Input{Seq: seq})
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c1.count() >= 5 })
	last := c1.snapshot(t, c1.count()-1)
	if last.LastInputSeq != 3 {
		t.Fatalf("last input seq %d, want 3", last.LastInputSeq)
	}
	s1.Disconnect()
	if s1.Input(&schema.Input{Seq: 4}) {
		t.Fatal("a disconnected seat accepted input")
	}
	mt := m.Match(w1.MatchID)
	if info := mt.Info(); info.Players != 1 || info.Connected != 0 {
		t.Fatalf("during grace: %+v, want the seat kept, not connected", info)
	}
	n := c1.count()

	s2, c2 := join(t, m, schema.Hello{ResumeToken: w1.ResumeToken, LastTick: last.Tick}, 0)
	w2 := s2.Welcome()
	if w2.PlayerID != w1.PlayerID || w2.EntityID != w1.EntityID || w2.MatchID != w1.MatchID {
		t.Fatalf("resumed as %+v, want player %d entity %d", w2, w1.PlayerID, w1.EntityID)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c2.count() >= 1 })
	first := c2.snapshot(t, 0)
	if first.BaselineTick != last.Tick {
		t.Fatalf("first snapshot after resume has baseline %d, want %d (delta against Hello.last_tick)", first.BaselineTick, last.Tick)
	}
	if first.LastInputSeq != 3 {
		t.Fatalf("input seq after resume %d, want 3 (kept)", first.LastInputSeq)
	}
	if c1.count() > n+1 {
		t.Fatal("the old connection still receives snapshots")
	}
	if !s2.Input(&schema.Input{Seq: 4}) {
		t.Fatal("input refused after resume")
	}
	s1.Disconnect() // a stale handle: no effect
	s1.Leave()
	if info := mt.Info(); info.Players != 1 || info.Connected != 1 {
		t.Fatalf("after a stale Disconnect/Leave: %+v", info)
	}
}

func TestResumeAfterGraceRefused(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.ResumeGrace = 50 * time.Millisecond })
	s1, _ := join(t, m, schema.Hello{}, 0)
	w := s1.Welcome()
	_, keep := join(t, m, schema.Hello{MatchID: w.MatchID}, 0) // keeps the match open
	_ = keep
	s1.Disconnect()
	mt := m.Match(w.MatchID)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return mt.Info().Players == 1 })
	je := joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken}, 0, schema.ErrCodeResumeRefused)
	if je.Message != "resume token expired: seat freed after 50ms" {
		t.Fatalf("message %q", je.Message)
	}
	// The freed guest id is never handed out again in this match.
	s3, _ := join(t, m, schema.Hello{MatchID: w.MatchID}, 0)
	if s3.Welcome().PlayerID == w.PlayerID {
		t.Fatal("a freed guest id was reused")
	}
}

func TestResumeReplacesLiveConn(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, c1 := join(t, m, schema.Hello{}, 0)
	w := s1.Welcome()
	s2, c2 := join(t, m, schema.Hello{ResumeToken: w.ResumeToken}, 0)
	kicked, code, reason := c1.kick()
	if !kicked || code != schema.ErrCodeReplaced || reason != "replaced by a newer connection" {
		t.Fatalf("old conn kick = %v %d %q", kicked, code, reason)
	}
	if k, _, _ := c2.kick(); k {
		t.Fatal("new conn kicked")
	}
	if s2.Welcome().EntityID != w.EntityID {
		t.Fatal("entity changed on replace")
	}
	// The old session's close path must not disturb the new one.
	s1.Disconnect()
	if s1.Input(&schema.Input{Seq: 1}) {
		t.Fatal("replaced seat accepted input")
	}
	n := c2.count()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c2.count() > n+2 })
	if info := m.Match(w.MatchID).Info(); info.Connected != 1 {
		t.Fatalf("after replacement: %+v", info)
	}
}

func TestResumeRefused(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, _ := join(t, m, schema.Hello{}, 0)
	w := s.Welcome()
	tests := []struct {
		name   string
		hello  schema.Hello
		player uint32
		want   string
	}{
		{"garbage", schema.Hello{ResumeToken: "xyz"}, 0, "invalid resume token"},
		{"forged", schema.Hello{ResumeToken: token.MintResume([]byte("another secret of 32 bytes......"), w.MatchID, w.PlayerID, 1, time.Now())}, 0, "invalid resume token"},
		{"other player", schema.Hello{ResumeToken: w.ResumeToken}, 77, "another player"},
		{"other match", schema.Hello{ResumeToken: w.ResumeToken, MatchID: "zzz"}, 0, "another match"},
		{"match gone", schema.Hello{ResumeToken: token.MintResume(m.secret, "gone", 1, 1, time.Now())}, 0, "has ended"},
		{"never seated", schema.Hello{ResumeToken: token.MintResume(m.secret, w.MatchID, 999, 1, time.Now())}, 0, "no seat"},
		{"other nonce", schema.Hello{ResumeToken: token.MintResume(m.secret, w.MatchID, w.PlayerID, 1, time.Now())}, 0, "newer resume token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			je := joinErr(t, m, tt.hello, tt.player, schema.ErrCodeResumeRefused)
			if !strings.Contains(je.Message, tt.want) {
				t.Fatalf("message %q, want it to mention %q", je.Message, tt.want)
			}
		})
	}
}

func TestZeroGraceFreesAtDisconnect(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.ResumeGrace = 0 })
	s, _ := join(t, m, schema.Hello{}, 0)
	_, _ = join(t, m, schema.Hello{}, 0)
	s.Disconnect()
	if p := m.Match(s.Welcome().MatchID).Info().Players; p != 1 {
		t.Fatalf("%d players after a disconnect with no grace, want 1", p)
	}
}

type redirectPlacement struct{}

func (redirectPlacement) Locate(_ context.Context, id string) (bool, error) {
	if id == "elsewhere" {
		return false, &RedirectError{URL: "ws://n2/ws", MatchID: id}
	}
	return false, nil
}

func (redirectPlacement) Admit(context.Context, string, string) (string, error) {
	return "", &JoinError{Code: schema.ErrCodeUnavailable, Message: "full node"}
}

func (redirectPlacement) End(context.Context, string, uint64) error { return nil }

func TestPlacement(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) { c.Placement = redirectPlacement{} })
	_, err := m.Join(context.Background(), JoinRequest{Hello: schema.Hello{MatchID: "elsewhere"}, Conn: &fakeConn{}})
	var re *RedirectError
	if !errors.As(err, &re) || re.URL != "ws://n2/ws" {
		t.Fatalf("Join of a match on another node = %v, want a redirect", err)
	}
	joinErr(t, m, schema.Hello{MatchID: "unknown"}, 0, schema.ErrCodeMatchNotFound)
	joinErr(t, m, schema.Hello{}, 0, schema.ErrCodeUnavailable) // Admit refuses to create
}

func TestShutdown(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s, _ := join(t, m, schema.Hello{}, 0)
	mt := m.Match(s.Welcome().MatchID)
	ctx := context.Background()
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	select {
	case <-mt.Room().Done():
	default:
		t.Fatal("room still running after Shutdown")
	}
	joinErr(t, m, schema.Hello{}, 0, schema.ErrCodeShuttingDown)
	if s.Input(&schema.Input{Seq: 1}) {
		t.Fatal("input accepted after Shutdown")
	}
	s.Disconnect()
	s.Leave()
	if len(m.Matches()) != 0 {
		t.Fatal("matches listed after Shutdown")
	}
}

func TestCrashedMatchKicksPlayers(t *testing.T) {
	reg := NewRegistry()
	registerFake(t, reg, "bomb", func(int64) Game { return &fakeGame{panicOn: 2} })
	cfg := DefaultConfig()
	cfg.TickRate, cfg.DefaultGame = 128, "bomb"
	m, err := NewManager(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Shutdown(context.Background()) }()
	s1, c1 := join(t, m, schema.Hello{}, 0)
	join(t, m, schema.Hello{}, 0) // player 2: the game panics
	testutil.CheckTrue(t, 5*time.Second, func() bool { k, _, _ := c1.kick(); return k })
	if _, code, _ := c1.kick(); code != schema.ErrCodeUnavailable {
		t.Fatalf("kick code %d, want unavailable", code)
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Match(s1.Welcome().MatchID) == nil })
}

func TestConcurrentMatchmaking(t *testing.T) {
	m, _ := newTestManager(t, nil)
	const n = 40
	errs := make(chan error, n)
	seats := make(chan Seat, n)
	for range n {
		go func() {
			s, err := m.Join(context.Background(), JoinRequest{Conn: &fakeConn{}})
			errs <- err
			seats <- s
		}()
	}
	perMatch := map[string]int{}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		perMatch[(<-seats).Welcome().MatchID]++
	}
	for id, c := range perMatch {
		if c > 8 {
			t.Fatalf("match %s has %d players, over its 8 seats", id, c)
		}
	}
	// Racing joiners may open an extra match, but never leave many half empty.
	if len(perMatch) < 5 || len(perMatch) > 7 {
		t.Fatalf("%d matches for %d players: %v", len(perMatch), n, perMatch)
	}
	total := 0
	for _, info := range m.Matches() {
		total += info.Players
	}
	if total != n {
		t.Fatalf("listing shows %d players, want %d", total, n)
	}
}
