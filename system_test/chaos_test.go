package systemtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/faultproxy"
	"github.com/ticksync/ticksync/net/client"
)

// The chaos test's knobs (environment variables, like the soak's).
const (
	envChaosCycles = "TICKSYNC_CHAOS_CYCLES" // fault cycles (default 2)
	envChaosSeed   = "TICKSYNC_CHAOS_SEED"   // the random choices' seed (default: the clock)
	envChaosBudget = "TICKSYNC_CHAOS_BUDGET" // start no cycle after this long (default: none); the counts cover the cycles run

	chaosDefaultCycles = 2
	chaosPlayers       = 4 // per match; one match per node at the start
	// chaosSlowDelay is the latency a "slow" cycle adds to each direction
	// of every link of one node (Raft, node-to-node HTTP): a round trip
	// 2 × 80 ms longer, below Raft's LeaderLeaseTimeout (300 ms), so a
	// slow leader keeps leading while its lease renewals commit late.
	chaosSlowDelay = 80 * time.Millisecond
	// chaosHold is how long a partition or a slow link lasts once the
	// cluster has done what it must (moved the cut-off node's matches).
	chaosHold = time.Second
	// chaosResumeGrace is the nodes' -resume-grace, and chaosWait what the
	// test allows each step (a takeover, players back, a restart): generous,
	// since nothing here is judged on timing and other work may hold the
	// machine.
	chaosResumeGrace = time.Minute
	chaosWait        = time.Minute
)

// chaosMatch is one match and the players who play it.
type chaosMatch struct {
	id      string
	players []*player
}

// chaosTakeover is one match moved by a fault: fault → first snapshot
// from the new owner per player, and the game time lost.
type chaosTakeover struct {
	kind      string // "kill" or "partition"
	cycle     int
	match     string
	from, to  string
	perPlayer []time.Duration
	lost      time.Duration // the most game time any player saw rolled back
}

// measureTakeover fills in k's figures from m's players: the first snapshot
// from another node than k.from after at, per player; and the game time
// lost: the ticks the players saw from k.from past the checkpoint the new
// owner (k.to at epoch) restored, from its log line, or else past the
// first snapshot they saw from another node.
func (c *cluster) measureTakeover(t *testing.T, k *chaosTakeover, m *chaosMatch, at time.Time, epoch uint64, rate int) {
	t.Helper()
	restored, _, fromLog := adoptedAt(c.byID(k.to), m.id, epoch)
	for _, p := range m.players {
		first, ok := p.firstNotFrom(k.from, at)
		if !ok {
			t.Fatalf("%s: no snapshot from a node other than %s after the fault", p.name, k.from)
		}
		k.perPlayer = append(k.perPlayer, first.recv.Sub(at))
		old, ok := p.lastBefore(k.from, first.recv)
		if !ok {
			continue
		}
		from := first.tick
		if fromLog {
			from = restored
		}
		if rolled := int(old.tick) + 1 - int(from); rolled > 0 {
			k.lost = max(k.lost, time.Duration(rolled)*time.Second/time.Duration(rate))
		}
	}
}

// chaosCounts sums what the cycles did.
type chaosCounts struct {
	kills, leaderKills      int
	partitions              map[faultproxy.Fault]int
	leaderPartitions        int
	slow, slowLeader        int
	moved                   int // matches that changed owner
	takeovers               []chaosTakeover
	leaderChanges, restarts int
	lostMatches             int
}

// TestChaos plays matches on three real ticksync processes (cluster
// certificates, every node-to-node link through a fault proxy) while it
// runs cycles of faults, one at a time on a random node (the first cycle
// kills the leader, the second cuts off a match's owner): kill -9 and restart from the same data dir; a
// partition of one node, its links refused or silently dropped, held until
// the majority has moved its matches, then healed; or every link of one
// node slowed by 80 ms each way for a few seconds. After each cycle every
// match must be running on a live node with every one of its players back
// in its seat; at the end no match is lost, the history of snapshots shows
// no two nodes ticking one match at once, and every player is back. The takeover time (kill → first
// snapshot from the new owner, per player) and the game time lost per
// moved match are logged as percentiles; nothing here is judged on
// timing. TICKSYNC_CHAOS_CYCLES sets the number of cycles (default 2, a
// bounded run for every go test), TICKSYNC_CHAOS_SEED replays the random
// choices.
func TestChaos(t *testing.T) {
	cycles := chaosDefaultCycles
	if v := os.Getenv(envChaosCycles); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: must be a number of cycles ≥ 1", envChaosCycles, v)
		}
		cycles = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envChaosSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: must be an unsigned integer", envChaosSeed, v)
		}
		seed = s
	}
	var budget time.Duration
	if v := os.Getenv(envChaosBudget); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: must be a positive duration", envChaosBudget, v)
		}
		budget = d
	}
	t.Logf("chaos: %d cycles, seed %d (%s=%d replays the choices)", cycles, seed, envChaosSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	// Seats wait a minute for their players: on a loaded machine a cluster
	// that has just lost a node may take longer than the default 15 s to
	// settle, and a seat given up is a player who cannot come back.
	c := startCluster(t, clusterOpts{extra: []string{"-resume-grace", chaosResumeGrace.String()}})
	rate := c.opts.rate()
	leader := c.leader(10 * time.Second)
	var matches []*chaosMatch
	start := time.Now()
	for _, n := range c.nodes {
		m := c.createMatch(leader, n)
		ps := joinPlayersWith(t, c, m.ID, chaosPlayers, n, func(cfg *client.Config) {
			// A node that stops ticking is given up after 3 s (the node
			// pings every 5 s), so players find the new owner by
			// themselves, as after a crash.
			cfg.ReadTimeout = 3 * time.Second
			cfg.DialTimeout = 2 * time.Second
		})
		matches = append(matches, &chaosMatch{id: m.ID, players: ps})
	}
	var all [][]*player
	for _, m := range matches {
		all = append(all, m.players)
	}
	startInputs(t, rate, all...)
	for _, m := range matches {
		owner, _ := c.matchOwner(nil, m.id)
		waitPlaying(t, m.players, owner, start, 30, 20*time.Second)
		c.waitCheckpoint(leader, m.id, 1, 10*time.Second)
	}

	counts := chaosCounts{partitions: make(map[faultproxy.Fault]int)}
	faults := []faultproxy.Fault{faultproxy.Refuse, faultproxy.Blackhole}
	ran := 0
	for cycle := range cycles {
		if budget > 0 && time.Since(start) > budget {
			t.Logf("chaos: %s (%v) spent after %d cycles: no more cycles", envChaosBudget, budget, cycle)
			break
		}
		ran++
		leader := c.leader(chaosWait)
		victim := c.nodes[rng.IntN(len(c.nodes))]
		kind := []string{"kill", "kill", "partition", "partition", "slow"}[rng.IntN(5)]
		switch cycle { // a short run still has both: the leader's kill and an owner's partition
		case 0:
			kind, victim = "kill", leader
		case 1:
			owner, _ := c.matchOwner(nil, matches[rng.IntN(len(matches))].id)
			kind, victim = "partition", c.byID(owner)
		}
		before := c.owners(matches)
		owned := c.ownedBy(victim, matches)
		switch kind {
		case "kill":
			counts.kills++
			if victim == leader {
				counts.leaderKills++
			}
			counts.takeovers = append(counts.takeovers, c.chaosKill(t, cycle, victim, owned, rate)...)
			counts.restarts++
		case "partition":
			f := faults[rng.IntN(len(faults))]
			counts.partitions[f]++
			if victim == leader {
				counts.leaderPartitions++
			}
			counts.takeovers = append(counts.takeovers, c.chaosPartition(t, cycle, victim, f, owned, rate)...)
		case "slow":
			counts.slow++
			if victim == leader {
				counts.slowLeader++
			}
			c.chaosSlow(t, cycle, victim)
		}
		if now := c.leader(chaosWait); now != leader {
			counts.leaderChanges++
		}
		// Every match runs on a live node, every player is in its seat
		// there and playing (a match may move again meanwhile: the owner
		// is read afresh).
		after := make(map[string]string)
		for _, m := range matches {
			after[m.id] = c.waitBack(t, m, time.Time{}, chaosWait)
			if after[m.id] != before[m.id] {
				counts.moved++
			}
		}
		t.Logf("cycle %d (%s of %s): owners %v → %v, every player back", cycle, kind, victim.id, before, after)
	}

	// No match lost: each is known to every node, running, owned by a live
	// node that reports its room ticking.
	for _, m := range matches {
		ok := true
		for _, n := range c.live() {
			got, err := c.matchOn(n, m.id)
			switch {
			case err != nil:
				t.Errorf("match %s on %s: %v", m.id, n.id, err)
			case got.Status != "running" || got.Owner == "":
				t.Errorf("match %s as %s sees it: %+v", m.id, n.id, got)
			case got.Owner == n.id && got.Tick == nil:
				t.Errorf("match %s: its owner %s reports no room", m.id, n.id)
			default:
				continue
			}
			ok = false
		}
		if !ok {
			counts.lostMatches++
		}
	}
	var players []*player
	for _, m := range matches {
		players = append(players, m.players...)
	}
	back := 0
	for _, m := range matches {
		owner, _ := c.matchOwner(nil, m.id)
		for _, p := range m.players {
			if l := p.last(); l.node == owner && l.playerID == p.first().playerID {
				back++
			}
		}
	}
	rs := checkHistory(t, snapshotObs(players), 300*time.Millisecond, 5*time.Millisecond)
	logChaos(t, counts, ran, back, len(players), len(rs))
	if back != len(players) {
		t.Errorf("%d of %d players back in their seats at the end", back, len(players))
	}
}

// chaosKill kills victim with SIGKILL, waits until its matches run
// elsewhere, restarts victim from its data dir (as a process supervisor
// would, without waiting for the players), then waits until the players
// are back and measures each takeover.
func (c *cluster) chaosKill(t *testing.T, cycle int, victim *node, owned []*chaosMatch, rate int) []chaosTakeover {
	t.Helper()
	epochs := make(map[string]uint64)
	for _, m := range owned {
		_, epochs[m.id] = c.matchOwner(victim, m.id)
	}
	killed := c.kill(victim)
	t.Logf("cycle %d: kill -9 %s (owner of %d matches)", cycle, victim.id, len(owned))
	moved := make(map[string]adminMatch)
	for _, m := range owned {
		moved[m.id] = c.waitOwner(m.id, victim.id, epochs[m.id], chaosWait)
	}
	c.restart(victim)
	var out []chaosTakeover
	for _, m := range owned {
		c.waitBack(t, m, killed, chaosWait)
		k := chaosTakeover{kind: "kill", cycle: cycle, match: m.id, from: victim.id, to: moved[m.id].Owner}
		c.measureTakeover(t, &k, m, killed, moved[m.id].Epoch, rate)
		out = append(out, k)
	}
	c.waitConverged(chaosWait)
	t.Logf("cycle %d: %s restarted and back in the cluster", cycle, victim.id)
	return out
}

// chaosPartition cuts victim off with fault f until the majority has moved
// its matches, holds the cut a moment, heals it, and waits until victim is
// back in the cluster and the players of its matches on their new owners.
// The takeovers count from the cut (players who stayed on the cut-off node
// come back after their read timeout or the heal).
func (c *cluster) chaosPartition(t *testing.T, cycle int, victim *node, f faultproxy.Fault, owned []*chaosMatch, rate int) []chaosTakeover {
	t.Helper()
	epochs := make(map[string]uint64)
	for _, m := range owned {
		_, epochs[m.id] = c.matchOwner(victim, m.id)
	}
	cut := time.Now()
	c.isolate(victim, f)
	t.Logf("cycle %d: %s cut off (%v), owner of %d matches", cycle, victim.id, f, len(owned))
	moved := make(map[string]adminMatch)
	for _, m := range owned {
		moved[m.id] = c.waitOwner(m.id, victim.id, epochs[m.id], chaosWait, victim)
	}
	time.Sleep(chaosHold) // the cut stays a moment after the takeover: not a wait for a condition
	c.heal()
	c.waitConverged(chaosWait)
	var out []chaosTakeover
	for _, m := range owned {
		c.waitBack(t, m, cut, chaosWait)
		k := chaosTakeover{kind: "partition", cycle: cycle, match: m.id, from: victim.id, to: moved[m.id].Owner}
		c.measureTakeover(t, &k, m, cut, moved[m.id].Epoch, rate)
		out = append(out, k)
	}
	t.Logf("cycle %d: healed after %v", cycle, time.Since(cut).Round(time.Millisecond))
	return out
}

// chaosSlow delays every link of victim (both ways, Raft and node-to-node
// HTTP) for a few seconds, then lifts the delay.
func (c *cluster) chaosSlow(t *testing.T, cycle int, victim *node) {
	t.Helper()
	var others []*node
	for _, o := range c.others(victim) {
		o.raftProxy.SetDelay(chaosSlowDelay, victim.ip)
		o.httpProxy.SetDelay(chaosSlowDelay, victim.ip)
		others = append(others, o)
	}
	victim.raftProxy.SetAllDelay(chaosSlowDelay)
	for _, o := range others {
		victim.httpProxy.SetDelay(chaosSlowDelay, o.ip)
	}
	t.Logf("cycle %d: every link of %s %v slower each way", cycle, victim.id, chaosSlowDelay)
	time.Sleep(3 * chaosHold) // the delay lasts a while: not a wait for a condition
	c.heal()
	c.waitConverged(chaosWait)
}

// matchOwner returns match id's owner and epoch as a running node (other
// than except) sees it, waiting until one answers.
func (c *cluster) matchOwner(except *node, id string) (string, uint64) {
	c.t.Helper()
	var m adminMatch
	checkFor(c.t, chaosWait, func() error {
		var errs []string
		for _, n := range c.live(except) {
			got, err := c.matchOn(n, id)
			if err == nil && got.Owner != "" {
				m = got
				return nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v %+v", n.id, err, got))
		}
		return fmt.Errorf("no node names an owner of %s: %s", id, strings.Join(errs, "; "))
	})
	return m.Owner, m.Epoch
}

// waitBack waits until every player of m is in its seat on the match's
// current owner, welcomed there after since (zero: whenever), with a
// snapshot from it since the welcome, and returns that owner. The owner is
// read afresh at each poll (a match may move again) and must be the same
// on every running node (a node just restarted reports what its log said
// before it died until it has caught up).
func (c *cluster) waitBack(t *testing.T, m *chaosMatch, since time.Time, timeout time.Duration) string {
	t.Helper()
	var owner string
	checkFor(t, timeout, func() error {
		owner = ""
		for _, n := range c.live() {
			got, err := c.matchOn(n, m.id)
			switch {
			case err != nil:
				return err
			case got.Owner == "":
				return fmt.Errorf("%s names no owner of %s", n.id, m.id)
			case owner != "" && got.Owner != owner:
				return fmt.Errorf("nodes disagree on the owner of %s: %s and %s", m.id, owner, got.Owner)
			}
			owner = got.Owner
		}
		if owner == "" {
			return errors.New("no node running")
		}
		for _, p := range m.players {
			if l := p.last(); !l.at.After(since) {
				return fmt.Errorf("%s not welcomed again since %s: %v", p.name, since.Format("15:04:05.000"), p)
			}
		}
		return seated(m.players, owner)
	})
	return owner
}

// owners returns each match's owner now.
func (c *cluster) owners(matches []*chaosMatch) map[string]string {
	out := make(map[string]string, len(matches))
	for _, m := range matches {
		out[m.id], _ = c.matchOwner(nil, m.id)
	}
	return out
}

// seated says why a player of ps is not in its seat on node, with a
// snapshot from node since its Welcome, or nil.
func seated(ps []*player, node string) error {
	for _, p := range ps {
		f, l := p.first(), p.last()
		if l.node != node {
			return fmt.Errorf("not on %s yet: %v", node, p)
		}
		if l.playerID != f.playerID || l.entityID != f.entityID || l.match != f.match || (l != f && !l.resumed) {
			return fmt.Errorf("seat not kept (first %+v, now %+v): %v", f, l, p)
		}
		if _, ok := p.firstFrom(node, l.at); !ok {
			return fmt.Errorf("no snapshot from %s since its welcome: %v", node, p)
		}
	}
	return nil
}

// ownedBy returns the matches n owns now, as the other nodes see it.
func (c *cluster) ownedBy(n *node, matches []*chaosMatch) []*chaosMatch {
	var out []*chaosMatch
	for _, m := range matches {
		if owner, _ := c.matchOwner(nil, m.id); owner == n.id {
			out = append(out, m)
		}
	}
	return out
}

// firstNotFrom is the first snapshot received after t from another node
// than node.
func (p *player) firstNotFrom(node string, after time.Time) (snapRec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.snaps {
		if s.node != node && s.recv.After(after) {
			return s, true
		}
	}
	return snapRec{}, false
}

// lastBefore is the newest snapshot received from node before t.
func (p *player) lastBefore(node string, t time.Time) (snapRec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.snaps) - 1; i >= 0; i-- {
		if s := p.snaps[i]; s.node == node && s.recv.Before(t) {
			return s, true
		}
	}
	return snapRec{}, false
}

// quantile returns the q-th quantile (0..1) of ds by nearest rank, 0 for
// none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// logChaos logs the run's counts and percentiles as Markdown.
func logChaos(t *testing.T, k chaosCounts, cycles, back, players, runs int) {
	perPlayer := map[string][]time.Duration{}
	lost := map[string][]time.Duration{}
	for _, tk := range k.takeovers {
		perPlayer[tk.kind] = append(perPlayer[tk.kind], tk.perPlayer...)
		lost[tk.kind] = append(lost[tk.kind], tk.lost)
	}
	row := func(name string, ds []time.Duration) string {
		if len(ds) == 0 {
			return fmt.Sprintf("| %s | 0 | – | – | – | – |\n", name)
		}
		return fmt.Sprintf("| %s | %d | %d | %d | %d | %d |\n", name, len(ds),
			quantile(ds, .5).Milliseconds(), quantile(ds, .9).Milliseconds(), quantile(ds, .99).Milliseconds(), slices.Max(ds).Milliseconds())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d cycles: %d kills (%d of the leader) and restarts, partitions %d refused / %d silent (%d of the leader), %d slow (%d of the leader); %d leader changes; %d match moves; %d matches lost; %d of %d players back; %d history runs, no overlap unless reported above\n\n",
		cycles, k.kills, k.leaderKills, k.partitions[faultproxy.Refuse], k.partitions[faultproxy.Blackhole], k.leaderPartitions,
		k.slow, k.slowLeader, k.leaderChanges, k.moved, k.lostMatches, back, players, runs)
	b.WriteString("| ms | n | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
	b.WriteString(row("kill → first snapshot from the new owner (per player)", perPlayer["kill"]))
	b.WriteString(row("game time lost per moved match (kill)", lost["kill"]))
	b.WriteString(row("cut → first snapshot from the new owner (per player)", perPlayer["partition"]))
	b.WriteString(row("game time lost per moved match (partition)", lost["partition"]))
	t.Log(b.String())
}
