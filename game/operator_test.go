package game

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// TestDetail: a match's players carry their names, entities, connection
// state, input age and round trip; the match its tick times and bytes per
// second.
func TestDetail(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, c1 := join(t, m, schema.Hello{Name: "ann"}, 0)
	w := s1.Welcome()
	s2, _ := join(t, m, schema.Hello{MatchID: w.MatchID, Name: "bob"}, 0)
	s2.Disconnect() // waits for a resume

	// ann acknowledges the snapshots she gets, as a client does.
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c1.count() > 0 })
	var seq uint32
	testutil.CheckFor(t, 10*time.Second, func() error {
		n := c1.count()
		seq++
		s1.Input(&schema.Input{Seq: seq, AckTick: c1.snapshot(t, n-1).Tick})
		d, ok := m.Detail(w.MatchID)
		if !ok {
			return errors.New("match not running")
		}
		if d.BytesPerSec == 0 || d.TickP99 == 0 || d.TickMax < d.TickP99 || d.SnapshotBytes == 0 {
			return errors.New("no measurements yet")
		}
		if len(d.Players) != 2 || d.Players[0].RTT == 0 {
			return errors.New("no round trip yet")
		}
		return nil
	})
	d, _ := m.Detail(w.MatchID)
	ann, bob := d.Players[0], d.Players[1]
	if ann.ID != w.PlayerID || ann.Name != "ann" || ann.Entity != w.EntityID || !ann.Connected ||
		ann.LastInput.IsZero() || time.Since(ann.LastInput) > 5*time.Second || ann.RTT > time.Second {
		t.Fatalf("ann: %+v", ann)
	}
	if bob.Name != "bob" || bob.Connected || !bob.LastInput.IsZero() || bob.RTT != 0 {
		t.Fatalf("bob: %+v", bob)
	}
	if d.ID != w.MatchID || d.Game != "fake" || d.TickRate != 128 || d.Players == nil || d.Connected != 1 {
		t.Fatalf("detail: %+v", d)
	}
	if _, ok := m.Detail("nope"); ok {
		t.Fatal("detail of a match that does not run here")
	}
	if got := m.GameNames(); len(got) != 1 || got[0] != "fake" {
		t.Fatalf("game names %v", got)
	}
}

// TestKick: the kicked player's connection gets ErrCodeKicked, its seat and
// entity are gone, its resume token no longer works; the others play on.
func TestKick(t *testing.T) {
	m, _ := newTestManager(t, nil)
	s1, c1 := join(t, m, schema.Hello{}, 0)
	w := s1.Welcome()
	_, c2 := join(t, m, schema.Hello{MatchID: w.MatchID}, 0)

	if err := m.Kick(w.MatchID, w.PlayerID); err != nil {
		t.Fatal(err)
	}
	if kicked, code, _ := c1.kick(); !kicked || code != schema.ErrCodeKicked {
		t.Fatalf("kicked connection got %v %d", kicked, code)
	}
	if kicked, _, _ := c2.kick(); kicked {
		t.Fatal("the other player was kicked too")
	}
	d, _ := m.Detail(w.MatchID)
	if len(d.Players) != 1 || d.Players[0].ID == w.PlayerID {
		t.Fatalf("players after the kick: %+v", d.Players)
	}
	if s1.Input(&schema.Input{Seq: 1}) {
		t.Fatal("the kicked seat still takes inputs")
	}
	joinErr(t, m, schema.Hello{ResumeToken: w.ResumeToken}, 0, schema.ErrCodeResumeRefused)

	if err := m.Kick(w.MatchID, w.PlayerID); !errors.Is(err, ErrNoSuchPlayer) {
		t.Fatalf("kick again: %v", err)
	}
	if err := m.Kick("nope", 1); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("kick in an unknown match: %v", err)
	}
}

// TestEnd: an ended match stops at once and its connections get
// ErrCodeMatchEnded; it is not told to the directory again.
func TestEnd(t *testing.T) {
	place := &recordingPlacement{}
	m, _ := newTestManager(t, func(c *Config) { c.Placement = place })
	s1, c1 := join(t, m, schema.Hello{}, 0)
	w := s1.Welcome()
	if !m.End(w.MatchID) {
		t.Fatal("End: not running")
	}
	if kicked, code, _ := c1.kick(); !kicked || code != schema.ErrCodeMatchEnded {
		t.Fatalf("connection got %v %d", kicked, code)
	}
	if _, ok := m.Detail(w.MatchID); ok || m.End(w.MatchID) {
		t.Fatal("the match still runs")
	}
	if place.ended() != 0 {
		t.Fatal("the directory was told of an end it made")
	}
}

// recordingPlacement is LocalPlacement that counts End calls.
type recordingPlacement struct {
	LocalPlacement
	mu   sync.Mutex
	ends int
}

func (p *recordingPlacement) End(context.Context, string, uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ends++
	return nil
}

func (p *recordingPlacement) ended() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ends
}
