package systemtest

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTakeoverMeasure kills the owner of a played match again and again
// (alternately a follower and the leader; each killed node is restarted
// before the next round) and reports takeover times and game time lost,
// in a table to paste. Every round's match must come back (a round that
// loses it fails the test and ends the run) and the history checker must
// find no two nodes ticking it at once. It runs with -takeover.kills=N (N
// kills per owner kind) or TICKSYNC_SOAK=1 (10 per kind).
func TestTakeoverMeasure(t *testing.T) {
	n := *takeoverKills
	if n == 0 {
		if !soak() {
			t.Skip("measurement: run with -takeover.kills=N or TICKSYNC_SOAK=1")
		}
		n = 10
	}
	c := startCluster(t, clusterOpts{})
	var all []takeover
	overlapping, lost := 0, 0
	for i := range 2 * n {
		kind := [2]string{"follower", "leader"}[i%2]
		killing := false // the owner is being killed: a failure now is a lost match
		ok := t.Run(fmt.Sprintf("%02d-%s", i+1, kind), func(t *testing.T) {
			leader := c.leader(10 * time.Second)
			owner := c.followers(leader)[0]
			if kind == "leader" {
				owner = leader
			}
			m := c.createMatch(leader, owner)
			start := time.Now()
			ps := joinPlayers(t, c, m.ID, 4, nil)
			startInputs(t, c.opts.rate(), ps)
			waitPlaying(t, ps, owner.id, start, 30, 10*time.Second)
			c.waitCheckpoint(leader, m.ID, 1, 5*time.Second)
			// Kill at a random phase of the checkpoint cycle, counted from
			// the first committed checkpoint (not from the join, which is
			// always longer ago and would kill right after a commit).
			wait, phase := rand.N(c.opts.checkpoint()), time.Now()
			checkFor(t, 2*c.opts.checkpoint(), func() error {
				if time.Since(phase) < wait {
					return fmt.Errorf("waiting")
				}
				return nil
			})
			killing = true
			k := killOwner(t, c, owner, kind, m.ID, ps)
			killing = false
			all = append(all, k)
			if bad := overlaps(runs(snapshotObs(ps), 300*time.Millisecond), 5*time.Millisecond); len(bad) > 0 {
				overlapping += len(bad)
				t.Errorf("two nodes ticked %s at once:\n  %s", m.ID, strings.Join(bad, "\n  "))
			}
			c.restart(owner)
			c.waitConverged(30 * time.Second)
		})
		if !ok {
			if killing {
				lost++ // the match did not come back on another node
			}
			break
		}
	}
	t.Log(takeoverReport(all, c.opts))
	t.Logf("kills %d, matches lost %d, overlapping tick intervals %d", len(all)+lost, lost, overlapping)
	t.Log(checkpointReport(t, c))
	over := 0
	for _, k := range all {
		if len(k.overBound) > 0 {
			over++
			t.Logf("over the bound: %s", k.overBound[0])
		}
	}
	if over > 0 {
		t.Errorf("%d of %d kills lost more than one checkpoint interval + 1 tick of game time", over, len(all))
	}
}

// pct returns the p-th percentile (nearest rank) of xs.
func pct[T int | time.Duration](xs []T, p float64) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func takeoverReport(all []takeover, opts clusterOpts) string {
	var b strings.Builder
	ms := func(d time.Duration) string { return fmt.Sprintf("%d", d.Milliseconds()) }
	tickDur := time.Second / time.Duration(opts.rate())
	fmt.Fprintf(&b, "\ntakeover after kill -9 (3 nodes on loopback, tick %d Hz, checkpoint %v, failover-after default, players: net/client defaults)\n",
		opts.rate(), opts.checkpoint())
	fmt.Fprintf(&b, "| owner killed | kills | room ticking on new owner p50 / p99 / max (ms) | first player back p50 / p99 (ms) | all players back p50 / p99 / max (ms) | game time lost p50 / p99 / max (ms) |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, kind := range []string{"follower", "leader"} {
		var resumed, first, players []time.Duration
		var lost []int
		for _, k := range all {
			if k.kind != kind {
				continue
			}
			resumed = append(resumed, k.resumed)
			first = append(first, slices.Min(k.perPlayer))
			players = append(players, k.perPlayer...)
			lost = append(lost, k.lost...)
		}
		if len(resumed) == 0 {
			continue
		}
		lostD := make([]time.Duration, len(lost))
		for i, l := range lost {
			lostD[i] = time.Duration(l) * tickDur
		}
		fmt.Fprintf(&b, "| %s | %d | %s / %s / %s | %s / %s | %s / %s / %s | %s / %s / %s |\n", kind, len(resumed),
			ms(pct(resumed, 50)), ms(pct(resumed, 99)), ms(slices.Max(resumed)),
			ms(pct(first, 50)), ms(pct(first, 99)),
			ms(pct(players, 50)), ms(pct(players, 99)), ms(slices.Max(players)),
			ms(pct(lostD, 50)), ms(pct(lostD, 99)), ms(slices.Max(lostD)))
	}
	over100 := 0
	all100 := 0
	for _, k := range all {
		for _, l := range k.lost {
			all100++
			if time.Duration(l)*tickDur > 100*time.Millisecond {
				over100++
			}
		}
	}
	fmt.Fprintf(&b, "players that lost more than 100 ms of game time: %d of %d (the tick log is shipped every 50 ms)\n", over100, all100)
	fmt.Fprintf(&b, "raw:\n")
	for _, k := range all {
		fmt.Fprintf(&b, "  %v\n", k)
	}
	return b.String()
}

// checkpointReport reads every running node's checkpoint counters and data
// dir size.
func checkpointReport(t *testing.T, c *cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\ncheckpoints (counters since each node's last start)\n")
	fmt.Fprintf(&b, "| node | batches | checkpoints | rejected | state B/checkpoint | compressed B/checkpoint | B/room/s at %v | apply mean / max (ms) | data dir (MiB) |\n", c.opts.checkpoint())
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|\n")
	var tl strings.Builder
	for _, n := range c.live() {
		var st loadStatus
		if err := c.get(n, "/admin/v1/status", &st); err != nil {
			t.Logf("%s: %v", n.id, err)
			continue
		}
		l := st.TickLog
		fmt.Fprintf(&tl, "| %s | %d | %d | %d | %d | %.1f / %.1f / %.1f |\n", n.id, l.Batches, l.Records, l.Rejected, l.Dropped,
			float64(l.ApplyP50)/1e6, float64(l.ApplyP99)/1e6, float64(l.ApplyMax)/1e6)
		cp := st.Checkpoints
		var in, out float64
		if cp.Items > 0 {
			in, out = float64(cp.BytesIn)/float64(cp.Items), float64(cp.BytesOut)/float64(cp.Items)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %.0f | %.0f | %.0f | %.1f / %.1f | %.1f |\n", n.id, cp.Batches, cp.Items, cp.Rejected,
			in, out, out*float64(time.Second)/float64(c.opts.checkpoint()),
			float64(cp.ApplyMean)/1e6, float64(cp.ApplyMax)/1e6, float64(dirSize(n.dataDir))/(1<<20))
	}
	fmt.Fprintf(&b, "\ntick log (counters since each node's last start; latencies over its last 1,024 batches)\n")
	fmt.Fprintf(&b, "| node | batches | ticks | rejected | dropped | apply p50 / p99 / max (ms) |\n|---|---|---|---|---|---|\n")
	b.WriteString(tl.String())
	return b.String()
}

// dirSize sums the sizes of the files under dir.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			total += fi.Size()
		}
		return nil
	})
	return total
}
