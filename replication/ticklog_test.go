package replication

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// TestTickLoggerShipsRuns: owners append one record per tick from several
// goroutines while their tick loggers flush on their own (and now and then
// on demand); every node's FSM ends up with each match's whole log, in
// order, and a run of a match that moved is refused.
func TestTickLoggerShipsRuns(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	follower := c[(indexOf(c, leader)+1)%len(c)]
	var matches []MatchInfo
	for i := range 6 {
		m, err := follower.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: fmt.Sprintf("t%d", i), Game: "arena"})
		if err != nil {
			t.Fatal(err)
		}
		matches = append(matches, m)
	}
	rec := func(id string, tick uint32) []byte { return fmt.Appendf(nil, "<%s:%d>", id, tick) }
	const ticks = 90
	done := make(chan struct{}, len(matches))
	for _, m := range matches {
		owner := c.byID(m.Owner)
		go func() { // a room: one record per tick, every 2 ms
			defer func() { done <- struct{}{} }()
			for tick := uint32(1); tick <= ticks; tick++ {
				owner.TickLogger().Append(m.ID, m.Epoch, tick, rec(m.ID, tick))
				if tick%40 == 0 {
					_ = owner.TickLogger().Flush(ctxT(t, 5*time.Second))
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	for range matches {
		<-done
	}
	testutil.CheckFor(t, 10*time.Second, func() error {
		for _, n := range c {
			for _, m := range matches {
				var want []byte
				for tick := uint32(1); tick <= ticks; tick++ {
					want = append(want, rec(m.ID, tick)...)
				}
				got, ok := n.TickLog(m.ID, 0)
				if !ok || got.From != 1 || got.To != ticks || !bytes.Equal(got.Data, want) {
					return fmt.Errorf("%s: tick log of %s: %d..%d %v, %d of %d bytes", n.ID(), m.ID, got.From, got.To, ok, len(got.Data), len(want))
				}
			}
		}
		return nil
	})
	var st TickLogStats
	for _, n := range c {
		s := n.TickLogger().Stats()
		st.Batches += s.Batches
		st.Records += s.Records
		st.Rejected += s.Rejected
		if s.Batches > 0 && (s.ApplyP50 <= 0 || s.ApplyP99 < s.ApplyP50 || s.ApplyMax < s.ApplyP99) {
			t.Fatalf("%s: apply latencies %+v", n.ID(), s)
		}
	}
	if st.Records != ticks*uint64(len(matches)) || st.Rejected != 0 || st.Batches < 3 {
		t.Fatalf("tick loggers shipped %d records in %d batches, %d refused; want %d, ≥ 3, 0", st.Records, st.Batches, st.Rejected, ticks*len(matches))
	}

	// The match moves (a hand-over without state): its old owner's next
	// run is refused as stale and does not reach the log.
	m := matches[0]
	to := c[(indexOf(c, c.byID(m.Owner))+1)%len(c)]
	if _, err := leader.Apply(ctxT(t, 5*time.Second), &command.AssignMatch{ID: m.ID, FromEpoch: m.Epoch, From: m.Owner, To: to.ID()}); err != nil {
		t.Fatal(err)
	}
	old := c.byID(m.Owner)
	testutil.CheckFor(t, 5*time.Second, func() error {
		if mi, _ := old.Lookup(m.ID); mi.Epoch == m.Epoch {
			return fmt.Errorf("%s has not applied the move yet", old.ID())
		}
		return nil
	})
	before := old.TickLogger().Stats().Rejected
	old.TickLogger().Append(m.ID, m.Epoch, ticks+1, rec(m.ID, ticks+1))
	if err := old.TickLogger().Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if r := old.TickLogger().Stats().Rejected; r != before+1 {
		t.Fatalf("the old owner's run after the move: %d refused, want %d", r, before+1)
	}
	if got, _ := old.TickLog(m.ID, 0); got.To != ticks {
		t.Fatalf("the log of the moved match reaches tick %d, want %d", got.To, ticks)
	}
}
