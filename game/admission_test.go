package game

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
)

// joinFrom joins as a guest (player 0) or player from addr and returns the
// seat or the refusal.
func joinFrom(m *Manager, h schema.Hello, player uint32, addr netip.Addr) (Seat, *fakeConn, error) {
	c := &fakeConn{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := m.Join(ctx, JoinRequest{Hello: h, PlayerID: player, Conn: c, Addr: addr})
	return s, c, err
}

func wantCode(t *testing.T, err error, code schema.ErrorCode) {
	t.Helper()
	var je *JoinError
	if !errors.As(err, &je) || je.Code != code {
		t.Fatalf("Join = %v, want a JoinError with code %d (%s)", err, code, code)
	}
}

// counter reads one sample of a counter family from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// seatedUndisturbed checks that the seated players' connections were not
// kicked and still receive snapshots.
func seatedUndisturbed(t *testing.T, conns ...*fakeConn) {
	t.Helper()
	for i, c := range conns {
		if kicked, code, _ := c.kick(); kicked {
			t.Fatalf("seated player %d kicked with %d", i, code)
		}
		n := c.count()
		testutil.CheckTrue(t, 5*time.Second, func() bool { return c.count() > n })
	}
}

// TestMatchFloodPerIP: guests from one address may create only
// MaxMatchesPerIP matches a minute; the next Hello that would create one is
// refused with rate limited (counted), while joining a match with a free
// seat, another address, and an authenticated player are not limited, and
// the players already seated are not disturbed.
func TestMatchFloodPerIP(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, _ := newTestManager(t, func(c *Config) {
		c.Seats = 1 // every guest's Hello wants a match of its own
		c.MaxMatchesPerIP = 5
		c.Registerer = reg
	})
	var seated []*fakeConn
	refused := 0
	for range 50 {
		_, c, err := joinFrom(m, schema.Hello{}, 0, ipA)
		if err != nil {
			wantCode(t, err, schema.ErrCodeRateLimited)
			refused++
			continue
		}
		seated = append(seated, c)
	}
	if len(seated) != 5 || refused != 45 {
		t.Fatalf("one address: %d seated, %d refused; want 5 and 45", len(seated), refused)
	}
	if st := m.Stats(); st.Matches != 5 || st.RefusedMatchesPerIP != 45 {
		t.Fatalf("stats %+v, want 5 matches and 45 refusals", st)
	}
	if v := counter(t, reg, "ticksync_game_join_refusals_total", "reason", "matches_per_ip"); v != 45 {
		t.Fatalf("ticksync_game_join_refusals_total{reason=matches_per_ip} = %v, want 45", v)
	}
	// Another address has its own budget; an authenticated player is not
	// a guest; a match created by the admin API is joined without a cost.
	if _, _, err := joinFrom(m, schema.Hello{}, 0, ipB); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if _, _, err := joinFrom(m, schema.Hello{}, 77, ipA); err != nil {
		t.Fatalf("authenticated player from the flooding address: %v", err)
	}
	info, err := m.Create(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := joinFrom(m, schema.Hello{MatchID: info.ID}, 0, ipA); err != nil {
		t.Fatalf("join by match id from the flooding address: %v", err)
	}
	seatedUndisturbed(t, seated...)
}

// TestMatchmakingFillsOpenSeatsFirst: matchmaking puts a Hello in the oldest
// match with a free seat and creates a match only when none has one, so a
// guest address's budget is spent only on matches that were needed.
func TestMatchmakingFillsOpenSeatsFirst(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) {
		c.Seats = 3
		c.MaxMatchesPerIP = 3
	})
	var seats []Seat
	for range 7 {
		s, _, err := joinFrom(m, schema.Hello{}, 0, ipA)
		if err != nil {
			t.Fatal(err)
		}
		seats = append(seats, s)
	}
	sizes := func() []int {
		var n []int
		for _, mi := range m.Matches() {
			n = append(n, mi.Players)
		}
		return n
	}
	if got := fmt.Sprint(sizes()); got != "[3 3 1]" {
		t.Fatalf("7 guests in matches of %s, want [3 3 1]", got)
	}
	// A seat frees in the first match: the next Hello takes it rather than
	// the third match's.
	seats[1].Leave()
	if _, _, err := joinFrom(m, schema.Hello{}, 0, ipA); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sizes()); got != "[3 3 1]" {
		t.Fatalf("after a leave and a join: %s, want [3 3 1]", got)
	}
	// Two more fill the third; only then is a fourth match needed, over
	// this address's budget of 3.
	for range 2 {
		if _, _, err := joinFrom(m, schema.Hello{}, 0, ipA); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := joinFrom(m, schema.Hello{}, 0, ipA)
	wantCode(t, err, schema.ErrCodeRateLimited)
	if got := fmt.Sprint(sizes()); got != "[3 3 3]" {
		t.Fatalf("matches %s, want [3 3 3]", got)
	}
}

// TestMaxPlayers: the node seats at most MaxPlayers; the next Hello is
// refused with node full, a resume is not, and a freed seat makes room.
func TestMaxPlayers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, _ := newTestManager(t, func(c *Config) {
		c.Seats = 2
		c.MaxPlayers = 3
		c.Registerer = reg
	})
	var seats []Seat
	var conns []*fakeConn
	for range 3 {
		s, c, err := joinFrom(m, schema.Hello{}, 0, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		seats, conns = append(seats, s), append(conns, c)
	}
	for _, h := range []schema.Hello{{}, {MatchID: seats[2].Welcome().MatchID}} {
		_, _, err := joinFrom(m, h, 0, netip.Addr{})
		wantCode(t, err, schema.ErrCodeNodeFull)
	}
	if st := m.Stats(); st.Players != 3 || st.Matches != 2 || st.RefusedMaxPlayers != 2 {
		t.Fatalf("stats %+v, want 3 players in 2 matches, 2 refusals", st)
	}
	if v := counter(t, reg, "ticksync_game_join_refusals_total", "reason", "max_players"); v != 2 {
		t.Fatalf("refusals{max_players} = %v, want 2", v)
	}
	seatedUndisturbed(t, conns...)
	// A resume is never refused: its seat is counted already.
	seats[0].Disconnect()
	r, c, err := joinFrom(m, schema.Hello{ResumeToken: seats[0].Welcome().ResumeToken}, 0, netip.Addr{})
	if err != nil {
		t.Fatalf("resume on a full node: %v", err)
	}
	conns[0] = c
	// A seat freed makes room for one.
	seats[1].Leave()
	if _, _, err := joinFrom(m, schema.Hello{}, 0, netip.Addr{}); err != nil {
		t.Fatalf("after a leave: %v", err)
	}
	if st := m.Stats(); st.Players != 3 {
		t.Fatalf("stats %+v, want 3 players", st)
	}
	seatedUndisturbed(t, conns[0], conns[2])
	r.Leave()
	if st := m.Stats(); st.Players != 2 {
		t.Fatalf("after a leave: %d players, want 2", st.Players)
	}
}

// TestMaxRooms: matchmaking and Create refuse with node full at MaxRooms
// matches; joining a running match is not refused.
func TestMaxRooms(t *testing.T) {
	m, _ := newTestManager(t, func(c *Config) {
		c.Seats = 1
		c.MaxRooms = 2
		c.EmptyTimeout = 50 * time.Millisecond
	})
	s1, _, err := joinFrom(m, schema.Hello{}, 0, ipA)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := joinFrom(m, schema.Hello{}, 0, ipB); err != nil {
		t.Fatal(err)
	}
	_, _, err = joinFrom(m, schema.Hello{}, 0, ipA)
	wantCode(t, err, schema.ErrCodeNodeFull)
	if _, err := m.Create(context.Background(), ""); !errors.Is(err, errMaxRooms) {
		t.Fatalf("Create at max rooms: %v, want node full", err)
	}
	if st := m.Stats(); st.Matches != 2 || st.RefusedMaxRooms != 2 {
		t.Fatalf("stats %+v, want 2 matches and 2 refusals", st)
	}
	// A match that closes makes room.
	s1.Leave()
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Stats().Matches == 1 })
	if _, _, err := joinFrom(m, schema.Hello{}, 0, ipA); err != nil {
		t.Fatalf("after a match closed: %v", err)
	}
}

// TestAbandonedMatchesClose is the connect-Hello-drop churn without
// sockets: 2,000 guests each join through matchmaking and disconnect at
// once. Their seats wait the resume grace (1 s); then every match,
// abandoned by all its players, closes at once rather than after
// EmptyTimeout (a minute).
func TestAbandonedMatchesClose(t *testing.T) {
	const grace = time.Second
	m, _ := newTestManager(t, func(c *Config) {
		c.TickRate = 30
		c.ResumeGrace = grace
		c.EmptyTimeout = time.Minute
		c.MaxMatchesPerIP = 0
	})
	start := time.Now()
	matches := map[string]bool{}
	for range 2000 {
		s, _, err := joinFrom(m, schema.Hello{}, 0, ipA)
		if err != nil {
			t.Fatal(err)
		}
		matches[s.Welcome().MatchID] = true
		s.Disconnect()
	}
	// Seats are kept for a resume, so a churn shorter than the grace needs
	// a match per 8 (a longer one refills the seats freed meanwhile).
	if took := time.Since(start); took < grace && len(matches) < 2000/8 {
		t.Fatalf("the churn went through %d matches in %v, want ≥ %d", len(matches), took, 2000/8)
	}
	testutil.CheckFor(t, 20*time.Second, func() error {
		if st := m.Stats(); st.Matches != 0 || st.Players != 0 {
			return fmt.Errorf("%d matches, %d seats still held past the resume grace", st.Matches, st.Players)
		}
		return nil
	})
}

// refusingGame refuses every player.
type refusingGame struct{ fakeGame }

func (*refusingGame) Join(uint32) (uint32, error) { return 0, errors.New("no players today") }

// TestUnclaimedMatchCloses: a match made by matchmaking for a Hello that
// then got no seat in it closes at once, not after EmptyTimeout.
func TestUnclaimedMatchCloses(t *testing.T) {
	m, reg := newTestManager(t, func(c *Config) { c.EmptyTimeout = time.Minute })
	registerFake(t, reg, "refuser", func(int64) Game { return &refusingGame{} })
	if _, _, err := joinFrom(m, schema.Hello{Game: "refuser"}, 0, ipA); err == nil {
		t.Fatal("joined a game that refuses everyone")
	}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return m.Stats().Matches == 0 })
	// A match created by the admin API waits EmptyTimeout for its players.
	if _, err := m.Create(context.Background(), "fake"); err != nil {
		t.Fatal(err)
	}
	if n := m.Stats().Matches; n != 1 {
		t.Fatalf("%d matches after Create, want 1", n)
	}
}
