package systemtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// welcomeRec is one Welcome a player received.
type welcomeRec struct {
	at       time.Time
	node     string
	match    string
	playerID uint32
	entityID uint32
	resumed  bool
}

// snapRec is one snapshot a player applied: which node sent it (from the
// connection's Welcome), its tick, the server's clock when it was encoded
// (Snapshot.server_time_ms) and when it arrived here.
type snapRec struct {
	node   string
	match  string
	tick   uint32
	server time.Time
	recv   time.Time
}

// player is a net/client player that records what it sees. Its Handler
// methods run on the client's goroutine; the test reads under mu.
type player struct {
	client.NopHandler
	name string
	c    *client.Client

	mu       sync.Mutex
	welcomes []welcomeRec
	snaps    []snapRec
	drops    []time.Time
	errs     []string
}

func (p *player) OnWelcome(_ *client.Client, w *schema.Welcome, resumed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.welcomes = append(p.welcomes, welcomeRec{
		at: time.Now(), node: strings.Clone(w.NodeID), match: strings.Clone(w.MatchID),
		playerID: w.PlayerID, entityID: w.EntityID, resumed: resumed,
	})
}

func (p *player) OnSnapshot(_ *client.Client, s *schema.Snapshot, _ *client.World) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var node, match string
	if n := len(p.welcomes); n > 0 {
		node, match = p.welcomes[n-1].node, p.welcomes[n-1].match
	}
	p.snaps = append(p.snaps, snapRec{node: node, match: match, tick: s.Tick, server: time.UnixMilli(int64(s.ServerTimeMS)), recv: now})
}

func (p *player) OnDisconnect(_ *client.Client, _ error, _ bool) {
	p.mu.Lock()
	p.drops = append(p.drops, time.Now())
	p.mu.Unlock()
}

func (p *player) OnError(_ *client.Client, err error) {
	p.mu.Lock()
	if len(p.errs) < 20 {
		p.errs = append(p.errs, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
	p.mu.Unlock()
}

// first is the player's first Welcome; last its newest.
func (p *player) first() welcomeRec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.welcomes[0]
}

func (p *player) last() welcomeRec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.welcomes[len(p.welcomes)-1]
}

// snapshots returns a copy of the snapshot records.
func (p *player) snapshots() []snapRec {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]snapRec(nil), p.snaps...)
}

// lastFrom is the newest snapshot received from node.
func (p *player) lastFrom(node string) (snapRec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.snaps) - 1; i >= 0; i-- {
		if p.snaps[i].node == node {
			return p.snaps[i], true
		}
	}
	return snapRec{}, false
}

// firstFrom is the first snapshot received from node after t.
func (p *player) firstFrom(node string, after time.Time) (snapRec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.snaps {
		if s.node == node && s.recv.After(after) {
			return s, true
		}
	}
	return snapRec{}, false
}

// countFrom counts the snapshots received from node after t.
func (p *player) countFrom(node string, after time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.snaps {
		if s.node == node && s.recv.After(after) {
			n++
		}
	}
	return n
}

func (p *player) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d welcomes", p.name, len(p.welcomes))
	for _, w := range p.welcomes {
		fmt.Fprintf(&b, " [%s %s/%s player %d entity %d resumed %v]", w.at.Format("15:04:05.000"), w.node, w.match, w.playerID, w.entityID, w.resumed)
	}
	fmt.Fprintf(&b, "; %d snapshots", len(p.snaps))
	if n := len(p.snaps); n > 0 {
		s := p.snaps[n-1]
		fmt.Fprintf(&b, " (last: %s tick %d at %s)", s.node, s.tick, s.recv.Format("15:04:05.000"))
	}
	fmt.Fprintf(&b, "; %d drops; errors %v", len(p.drops), p.errs)
	if p.c != nil {
		st := p.c.Stats()
		fmt.Fprintf(&b, "; dials %d redirects %d reconnects %d; in %d msgs %d B, full %d delta %d stale %d apply errors %d", st.Dials, st.Redirects, st.Reconnects, st.MessagesIn, st.BytesIn, st.SnapshotsFull, st.SnapshotsDelta, st.SnapshotsStale, st.ApplyErrors)
	}
	return b.String()
}

// joinPlayers seats n players in match id, dialling the cluster's URLs
// (first's first). They reconnect and resume by themselves (net/client's
// defaults), and are closed when t ends.
func joinPlayers(t *testing.T, c *cluster, id string, n int, first *node) []*player {
	t.Helper()
	return joinPlayersWith(t, c, id, n, first, nil)
}

// joinPlayersWith is joinPlayers with a change to each client's config.
func joinPlayersWith(t *testing.T, c *cluster, id string, n int, first *node, change func(*client.Config)) []*player {
	t.Helper()
	var out []*player
	for i := range n {
		p := &player{name: fmt.Sprintf("%s/p%d", id, i+1)}
		cfg := client.DefaultConfig()
		cfg.URLs = c.urls(first)
		cfg.MatchID = id
		cfg.Name = fmt.Sprintf("p%d", i+1)
		cfg.Handler = p
		if change != nil {
			change(&cfg)
		}
		cl, err := dial(t, cfg)
		if err != nil {
			t.Fatalf("%s: dial: %v", p.name, err)
		}
		p.c = cl
		t.Cleanup(func() { _ = cl.Close() })
		// Dial returns once seated; the Handler's OnWelcome may run a moment
		// later on the client's goroutine.
		checkFor(t, 2*time.Second, func() error {
			p.mu.Lock()
			defer p.mu.Unlock()
			if len(p.welcomes) == 0 {
				return fmt.Errorf("%s: no OnWelcome after Dial returned", p.name)
			}
			return nil
		})
		if w := p.first(); w.match != id || w.playerID == 0 || w.entityID == 0 {
			t.Fatalf("%s: welcome %+v", p.name, w)
		}
		out = append(out, p)
	}
	return out
}

// dial connects a client. Its context lives until the test ends (Dial's
// context bounds the client's whole life); the dial itself gets 10 s.
func dial(t *testing.T, cfg client.Config) (*client.Client, error) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	timer := time.AfterFunc(10*time.Second, cancel)
	cl, err := client.Dial(ctx, cfg)
	if err != nil || !timer.Stop() {
		cancel()
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
	return cl, nil
}

// startInputs sends one input per tick for every player until t ends (the
// pump stops before the players are closed: register it after them).
// Errors while a player is between connections are expected and ignored.
func startInputs(t *testing.T, rate int, players ...[]*player) {
	var all []*player
	for _, ps := range players {
		all = append(all, ps...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(time.Second / time.Duration(rate))
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			for j, p := range all {
				// Each player walks a square, so that positions change.
				dir := int8(100)
				if (i/30+j)%2 == 1 {
					dir = -100
				}
				_ = p.c.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: dir, MoveY: -dir, Aim: uint16(i * 64)})})
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitPlaying waits until every player has received at least n snapshots
// from node since t0.
func waitPlaying(t *testing.T, ps []*player, node string, since time.Time, n int, timeout time.Duration) {
	t.Helper()
	checkFor(t, timeout, func() error {
		for _, p := range ps {
			if got := p.countFrom(node, since); got < n {
				return fmt.Errorf("%d snapshots from %s, want %d: %v", got, node, n, p)
			}
		}
		return nil
	})
}

// waitResumed waits until every player's newest Welcome comes from node,
// as a resume of its first seat (same player and entity), and it has a
// snapshot from node since.
func waitResumed(t *testing.T, ps []*player, node string, timeout time.Duration) {
	t.Helper()
	checkFor(t, timeout, func() error {
		for _, p := range ps {
			f, l := p.first(), p.last()
			if l.node != node {
				return fmt.Errorf("not on %s yet: %v", node, p)
			}
			if !l.resumed || l.playerID != f.playerID || l.entityID != f.entityID || l.match != f.match {
				return fmt.Errorf("seat not resumed (first %+v, now %+v): %v", f, l, p)
			}
			if _, ok := p.firstFrom(node, l.at); !ok {
				return fmt.Errorf("no snapshot from %s since the resume: %v", node, p)
			}
		}
		return nil
	})
}
