package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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

// failingForwarder forwards like the node's own, except tick log batches
// while failing is set.
type failingForwarder struct {
	next    Forwarder
	failing atomic.Bool
}

func (f *failingForwarder) Forward(ctx context.Context, leader NodeInfo, cmd []byte) (*Result, error) {
	if f.failing.Load() && len(cmd) > 0 {
		if c, err := command.Decode(cmd); err == nil {
			if _, ok := c.(*command.TickLogBatch); ok {
				return nil, errors.New("injected: the leader cannot be reached")
			}
		}
	}
	return f.next.Forward(ctx, leader, cmd)
}

// TestTickLoggerKeepsOrderAcrossFailures: a follower's tick log batches
// fail for a while; the runs that failed go back in front of what the room
// appended meanwhile, and once forwarding works again the FSM holds the
// whole log, in order, without a gap.
func TestTickLoggerKeepsOrderAcrossFailures(t *testing.T) {
	fw := &failingForwarder{}
	c := startCluster(t, 2, func(i int) []nodeOpt {
		if i != 1 {
			return nil
		}
		return []nodeOpt{func(cfg *Config) {
			fw.next = &httpForwarder{client: newPeerClient(cfg)}
			cfg.Forwarder = fw
			cfg.TickLogInterval = time.Second // the test flushes
		}}
	})
	leader := c.waitLeader(t, 10*time.Second)
	follower := c[1]
	if follower == leader {
		t.Fatal("n2 leads; the test needs it to forward") // n1 bootstraps and n2 joins it
	}
	m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "f1", Game: "arena", Owner: follower.ID()})
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if _, ok := follower.Lookup(m.ID); !ok {
			return errors.New("not applied on the follower yet")
		}
		return nil
	})
	tl := follower.TickLogger()
	var want []byte
	tick := uint32(0)
	appendTicks := func(n int) {
		for range n {
			tick++
			rec := fmt.Appendf(nil, "<%d>", tick)
			want = append(want, rec...)
			tl.Append(m.ID, m.Epoch, tick, rec)
		}
	}
	appendTicks(10)
	if err := tl.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	fw.failing.Store(true)
	for range 3 {
		appendTicks(7)
		if err := tl.Flush(ctxT(t, 5*time.Second)); err == nil {
			t.Fatal("flush through a failing forwarder succeeded")
		}
	}
	appendTicks(5)
	fw.failing.Store(false)
	if err := tl.Flush(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		got, ok := leader.TickLog(m.ID, 0)
		if !ok || got.From != 1 || got.To != tick || !bytes.Equal(got.Data, want) {
			return fmt.Errorf("leader's tick log %d..%d (%v): %q", got.From, got.To, ok, got.Data)
		}
		return nil
	})
	if s := tl.Stats(); s.Failures != 3 || s.Dropped != 0 || s.Rejected != 0 {
		t.Fatalf("stats %+v: want 3 failures, nothing dropped or refused", s)
	}
	if n, _ := leader.fsm.tickLogSize(m.ID); n != 2 {
		t.Fatalf("%d segments; want 2 (the first flush, then everything that waited)", n)
	}
}
