package systemtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The history checker. The property is the cluster's fencing promise,
// mutual exclusion in time: no two nodes tick the same match at
// overlapping moments (replication/DESIGN.md, "Fencing"). That is
// not a linearizability question over operations with invocations and
// responses (what porcupine checks), but one over intervals on a shared
// clock, and all our processes share one machine's clock. So the checker
// is a sweep over intervals, and it says which nodes overlapped, when and
// by how much — porcupine would add a dependency and a model encoding for
// a weaker, harder-to-read answer.
//
// Evidence comes in as observations "node N ticked match M at some moment
// in [lo, hi]": a snapshot pins the moment to its server time (lo = hi); an
// admin-API poll that saw the tick advance between two samples pins it only
// to the window between them. Observations of one node and match are
// grouped into runs (a gap longer than maxGap starts a new run); a run is
// the interval over which the node certainly ticked: from the latest
// possible moment of its first observation to the earliest possible moment
// of its last (so uncertain evidence only ever shrinks it). Two runs of
// different nodes for the same match that overlap by more than the
// tolerance are a violation.

// tickObs is evidence that node ticked match at some moment in [lo, hi].
type tickObs struct {
	node, match string
	lo, hi      time.Time
	src         string // "snapshot" or "admin"
}

// run is an interval over which node certainly ticked match.
type run struct {
	node, match string
	from, to    time.Time
	n           int // observations
}

func (r run) String() string {
	return fmt.Sprintf("%s ticked %s %s–%s (%d obs)", r.node, r.match,
		r.from.Format("15:04:05.000"), r.to.Format("15:04:05.000"), r.n)
}

// runs groups observations into runs per node and match, splitting where
// two consecutive observations are more than maxGap apart.
func runs(obs []tickObs, maxGap time.Duration) []run {
	type key struct{ node, match string }
	by := make(map[key][]tickObs)
	for _, o := range obs {
		k := key{o.node, o.match}
		by[k] = append(by[k], o)
	}
	var out []run
	for k, os := range by {
		slices.SortFunc(os, func(a, b tickObs) int { return a.hi.Compare(b.hi) })
		cur := run{node: k.node, match: k.match, from: os[0].hi, to: os[0].lo, n: 1}
		for _, o := range os[1:] {
			if o.lo.Sub(cur.to) > maxGap {
				out = append(out, cur)
				cur = run{node: k.node, match: k.match, from: o.hi, to: o.lo, n: 1}
				continue
			}
			if o.lo.After(cur.to) {
				cur.to = o.lo
			}
			cur.n++
		}
		out = append(out, cur)
	}
	slices.SortFunc(out, func(a, b run) int {
		if c := strings.Compare(a.match, b.match); c != 0 {
			return c
		}
		return a.from.Compare(b.from)
	})
	return out
}

// overlaps returns a description of every pair of runs of the same match
// on different nodes that overlap by more than tolerance.
func overlaps(rs []run, tolerance time.Duration) []string {
	var bad []string
	for i, a := range rs {
		for _, b := range rs[i+1:] {
			if a.match != b.match || a.node == b.node {
				continue
			}
			from, to := a.from, a.to
			if b.from.After(from) {
				from = b.from
			}
			if b.to.Before(to) {
				to = b.to
			}
			if d := to.Sub(from); d > tolerance {
				bad = append(bad, fmt.Sprintf("%v and %v overlap by %v", a, b, d))
			}
		}
	}
	return bad
}

// snapshotObs turns players' snapshot records into observations.
func snapshotObs(players ...[]*player) []tickObs {
	var out []tickObs
	for _, ps := range players {
		for _, p := range ps {
			for _, s := range p.snapshots() {
				out = append(out, tickObs{node: s.node, match: s.match, lo: s.server, hi: s.server, src: "snapshot"})
			}
		}
	}
	return out
}

// tickPoller samples GET /admin/v1/matches/{id} on every running node
// every period and turns "the tick advanced between two samples" into
// observations. It also remembers the first advance seen on each node
// (when a new owner started ticking). It stops when t ends or on stop.
type tickPoller struct {
	c      *cluster
	match  string
	period time.Duration

	mu    sync.Mutex
	obs   []tickObs
	first map[string]time.Time // node → hi of its first observation
	errs  int

	cancel context.CancelFunc
	done   chan struct{}
}

func startTickPoller(t *testing.T, c *cluster, match string, period time.Duration) *tickPoller {
	ctx, cancel := context.WithCancel(context.Background())
	tp := &tickPoller{c: c, match: match, period: period, first: make(map[string]time.Time), cancel: cancel, done: make(chan struct{})}
	go tp.run(ctx)
	t.Cleanup(tp.stop)
	return tp
}

func (tp *tickPoller) stop() {
	tp.cancel()
	<-tp.done
}

func (tp *tickPoller) run(ctx context.Context) {
	defer close(tp.done)
	type sample struct {
		tick uint32
		at   time.Time
	}
	prev := make(map[string]sample)
	tk := time.NewTicker(tp.period)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for _, n := range tp.c.nodes {
			if !n.running() {
				delete(prev, n.id)
				continue
			}
			before := time.Now()
			m, err := tp.c.matchOn(n, tp.match)
			after := time.Now()
			if err != nil || m.Tick == nil || m.Owner != n.id {
				if err != nil {
					tp.mu.Lock()
					tp.errs++
					tp.mu.Unlock()
				}
				delete(prev, n.id)
				continue
			}
			// The tick was read somewhere in [before, after].
			cur := sample{tick: *m.Tick, at: before}
			if p, ok := prev[n.id]; ok && cur.tick > p.tick {
				tp.mu.Lock()
				tp.obs = append(tp.obs, tickObs{node: n.id, match: tp.match, lo: p.at, hi: after, src: "admin"})
				if _, seen := tp.first[n.id]; !seen {
					tp.first[n.id] = after
				}
				tp.mu.Unlock()
			}
			// Keep the later bound for the next window's start.
			cur.at = after
			prev[n.id] = cur
		}
	}
}

// observations returns a copy of what the poller saw.
func (tp *tickPoller) observations() []tickObs {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]tickObs(nil), tp.obs...)
}

// firstTick is when the poller first saw node's tick advance.
func (tp *tickPoller) firstTick(node string) (time.Time, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	at, ok := tp.first[node]
	return at, ok
}

// checkHistory runs the checker over obs and fails t on any overlap. It
// logs the runs.
func checkHistory(t *testing.T, obs []tickObs, maxGap, tolerance time.Duration) []run {
	t.Helper()
	rs := runs(obs, maxGap)
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "\n  %v", r)
	}
	t.Logf("history: %d observations, %d runs:%s", len(obs), len(rs), b.String())
	if bad := overlaps(rs, tolerance); len(bad) > 0 {
		t.Errorf("two nodes ticked the same match at once:\n  %s", strings.Join(bad, "\n  "))
	}
	return rs
}

// TestHistoryChecker checks the checker on made-up histories.
func TestHistoryChecker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	snap := func(node, match string, ms ...int) []tickObs {
		var out []tickObs
		for _, m := range ms {
			out = append(out, tickObs{node: node, match: match, lo: at(m), hi: at(m)})
		}
		return out
	}
	every := func(from, to int) []int {
		var out []int
		for ms := from; ms <= to; ms += 33 {
			out = append(out, ms)
		}
		return out
	}
	cat := func(xs ...[]tickObs) []tickObs { return slices.Concat(xs...) }
	for _, tc := range []struct {
		name    string
		obs     []tickObs
		runs    int
		overlap bool
	}{
		{"one node", snap("a", "m", every(0, 1000)...), 1, false},
		{"hand-over with a gap", cat(snap("a", "m", every(0, 1000)...), snap("b", "m", every(1500, 2500)...)), 2, false},
		{"touching within tolerance", cat(snap("a", "m", 0, 33, 66, 100), snap("b", "m", 98, 131)), 2, false},
		{"overlap", cat(snap("a", "m", every(0, 1000)...), snap("b", "m", every(900, 2000)...)), 2, true},
		{"a returns after b started", cat(snap("a", "m", every(0, 500)...), snap("b", "m", every(1000, 2000)...), snap("a", "m", every(1500, 1600)...)), 3, true},
		{"a returns after b stopped", cat(snap("a", "m", every(0, 500)...), snap("b", "m", every(1000, 2000)...), snap("a", "m", every(2500, 2600)...)), 3, false},
		{"other matches do not count", cat(snap("a", "m", every(0, 1000)...), snap("b", "n", every(0, 1000)...)), 2, false},
		{"uncertain evidence shrinks runs", cat(
			snap("a", "m", every(0, 1000)...),
			[]tickObs{{node: "b", match: "m", lo: at(900), hi: at(1100)}, {node: "b", match: "m", lo: at(1100), hi: at(1300)}},
		), 2, false},
		{"uncertain evidence still catches a clear overlap", cat(
			snap("a", "m", every(0, 2000)...),
			[]tickObs{{node: "b", match: "m", lo: at(900), hi: at(1000)}, {node: "b", match: "m", lo: at(1000), hi: at(1100)}, {node: "b", match: "m", lo: at(1100), hi: at(1200)}},
		), 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := runs(tc.obs, 300*time.Millisecond)
			if len(rs) != tc.runs {
				t.Fatalf("%d runs, want %d: %v", len(rs), tc.runs, rs)
			}
			bad := overlaps(rs, 5*time.Millisecond)
			if (len(bad) > 0) != tc.overlap {
				t.Fatalf("overlaps %v, want overlap %v (runs %v)", bad, tc.overlap, rs)
			}
		})
	}
}
