package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/schema"
)

// The Manager is the replication Host: Freeze, Thaw and Tick, structurally
// (game does not import replication), and a Capturer (fresh checkpoints
// before each flush).
var (
	_ replication.Host     = (*game.Manager)(nil)
	_ replication.Capturer = (*game.Manager)(nil)
)

// cluster adapts the replication node to the small interfaces game declares:
// game.Placement (the match directory), game.Checkpointer and game.Lease.
// It also remembers which ownership events the node has applied, so that a
// match the directory places here is told apart from one that closed here.
//
// The node is set once, before the WebSocket server starts and before the
// ownership goroutine runs; until then every method answers "not ready".
type cluster struct {
	self  string
	seats int
	log   zerolog.Logger
	node  atomic.Pointer[replication.Node]
	probe *ownerProbe

	// locateWait bounds how long Locate holds a Hello while a match is
	// between owners; poll is how often it looks again.
	locateWait time.Duration
	poll       time.Duration

	mu       sync.Mutex
	acquired map[string]uint64        // matches adopted here (Acquired handled), by epoch
	admit    map[string]chan struct{} // per game: one Admit at a time on this node
	released chan struct{}            // cap 1: a match left acquired (waitReleased)
}

var (
	_ game.Placement    = (*cluster)(nil)
	_ game.Checkpointer = (*cluster)(nil)
	_ game.Lease        = (*cluster)(nil)
)

// newCluster returns the adapters of node self; listen is its HTTP listen
// address (node-to-node probes leave from its IP).
func newCluster(self, listen string, seats int, log zerolog.Logger) *cluster {
	return &cluster{
		self: self, seats: seats, log: log,
		probe:      newOwnerProbe(listen),
		locateWait: 3 * time.Second,
		poll:       25 * time.Millisecond,
		acquired:   make(map[string]uint64),
		admit:      make(map[string]chan struct{}),
		released:   make(chan struct{}, 1),
	}
}

// errUnavailable is the answer while this node cannot tell where a match
// runs; the client retries (through another node, or later).
func errUnavailable(format string, a ...any) error {
	return &game.JoinError{Code: schema.ErrCodeUnavailable, Message: fmt.Sprintf(format, a...)}
}

// --- game.Lease ---

// Valid implements game.Lease: the node's owner lease is valid and the
// directory still names this node the owner at epoch. Every room calls it
// before each tick: a few atomic loads and one FSM read lock, no allocation.
func (c *cluster) Valid(matchID string, epoch uint64) bool {
	n := c.node.Load()
	if n == nil || !n.LeaseValid() {
		return false
	}
	m, ok := n.Lookup(matchID)
	return ok && m.Owner == c.self && m.Epoch == epoch
}

// --- game.Checkpointer ---

func (c *cluster) Checkpoint(matchID string, epoch uint64, tick uint32, state []byte) {
	if n := c.node.Load(); n != nil {
		n.Checkpointer().Checkpoint(matchID, epoch, tick, state)
	}
}

func (c *cluster) SetPlayers(matchID string, epoch uint64, players int) {
	if n := c.node.Load(); n != nil {
		n.Checkpointer().SetPlayers(matchID, epoch, players)
	}
}

func (c *cluster) Forget(matchID string) {
	if n := c.node.Load(); n != nil {
		n.Checkpointer().Forget(matchID)
	}
}

// --- ownership events ---

func (c *cluster) markAdopted(id string, epoch uint64) {
	c.mu.Lock()
	c.acquired[id] = epoch
	c.mu.Unlock()
}

func (c *cluster) markReleased(id string) {
	c.mu.Lock()
	delete(c.acquired, id)
	c.mu.Unlock()
	select {
	case c.released <- struct{}{}:
	default:
	}
}

// waitReleased returns once no match adopted here is left: the ownership
// goroutine has released (stopped, players redirected) every match that
// left this node. A drain before shutdown waits for it, so that sessions
// are not closed before their redirect is sent.
func (c *cluster) waitReleased(ctx context.Context) error {
	for {
		c.mu.Lock()
		left := len(c.acquired)
		c.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-c.released:
		case <-ctx.Done():
			return fmt.Errorf("%d matches not released: %w", left, ctx.Err())
		}
	}
}

// adopted reports whether the Acquired event of id at epoch was handled
// here (the Manager adopted it, or failed to).
func (c *cluster) adopted(id string, epoch uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.acquired[id]
	return ok && e == epoch
}

// runOwnership is the ownership goroutine: it turns the node's Acquired and
// Released events into Adopt and Release, in order, until ctx ends.
func (c *cluster) runOwnership(ctx context.Context, n *replication.Node, games *game.Manager) {
	events := n.Ownership()
	for {
		var ev replication.OwnershipEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		}
		id := ev.Match.ID
		switch ev.Kind {
		case replication.Acquired:
			req := game.AdoptRequest{MatchID: id, Game: ev.Match.Game, Seed: ev.Match.Seed, Epoch: ev.Epoch}
			if cp, ok := n.LatestCheckpoint(id); ok {
				st, err := cp.State()
				if err != nil {
					c.log.Error().Err(err).Str(keyMatch, id).Msg("latest checkpoint unreadable: starting the match fresh")
				} else {
					req.State, req.Tick = st, cp.Tick
				}
			}
			if err := games.Adopt(ctx, req); err != nil && ctx.Err() == nil {
				c.log.Error().Err(err).Str(keyMatch, id).Uint64(keyEpoch, ev.Epoch).Msg("cannot adopt match")
			}
			c.markAdopted(id, ev.Epoch)
		case replication.Released:
			url := ""
			if !ev.Ended && ev.Match.Owner != "" {
				if o, ok := n.Member(ev.Match.Owner); ok {
					url = o.Advertise
				}
			}
			games.Release(id, url)
			c.markReleased(id)
		}
	}
}

// --- game.Placement ---

// Locate implements game.Placement. It answers from the local FSM once this
// node holds its lease (a node without one may have a stale view): owned
// here and not adopted yet → local; owned by a live node that answers its
// readiness probe → a redirect there; unknown → not found. While the match
// is orphaned, its owner is dead or unreachable (failover pending), or this
// node has no lease, it looks again every poll, for at most locateWait,
// then answers unavailable (the client retries).
func (c *cluster) Locate(ctx context.Context, matchID string) (bool, error) {
	deadline := time.Now().Add(c.locateWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-250*time.Millisecond).Before(deadline) {
		deadline = dl.Add(-250 * time.Millisecond)
	}
	why := "no node"
	caughtUp := false
	for {
		n := c.node.Load()
		switch {
		case n == nil:
			why = "this node is starting"
		case !n.LeaseValid():
			why = "this node is not in contact with the cluster"
		default:
			m, ok := n.Lookup(matchID)
			if !ok && !caughtUp {
				// A match created a moment ago (the player was redirected
				// here by a node that has applied the entry already) may
				// not be applied here yet: catch up with the leader once
				// before answering "not found".
				caughtUp = true
				c.catchUp(ctx, n)
				m, ok = n.Lookup(matchID)
			}
			if !ok {
				return false, nil
			}
			local, settled, err := c.route(ctx, n, m)
			if settled {
				return local, err
			}
			why = err.Error()
		}
		if !sleepUntil(ctx, c.poll, deadline) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, errUnavailable("match %s: %s; retry", matchID, why)
		}
	}
}

// route decides where m runs: settled with Locate's answer (local, err),
// or not settled now, err saying why.
func (c *cluster) route(ctx context.Context, n *replication.Node, m replication.MatchInfo) (local, settled bool, err error) {
	switch {
	case m.Owner == "":
		return false, false, errors.New("no live node owns it")
	case m.Owner == c.self:
		if c.adopted(m.ID, m.Epoch) {
			return false, true, nil // it ran here and closed (or failed to start)
		}
		return true, true, nil // placed here; the Acquired event is on its way
	}
	o, ok := n.Member(m.Owner)
	if !ok || o.State == replication.NodeDead {
		return false, false, fmt.Errorf("its owner %s is gone", m.Owner)
	}
	if !c.probe.ready(ctx, o.API) {
		return false, false, fmt.Errorf("its owner %s does not answer (failover pending)", m.Owner)
	}
	return false, true, &game.RedirectError{URL: o.Advertise, MatchID: m.ID}
}

// Admit implements game.Placement: matchmaking found no open match here.
// It sends the player to the oldest running match of game that has a free
// seat by the directory's count on another live node, or waits for a match
// the directory just placed here; otherwise it creates one through Raft on
// the least-loaded live node (epoch = the Raft index) and answers its id
// when that is this node, or a redirect to its owner. One Admit per game
// runs at a time on this node, so a burst of players fills one new match
// instead of opening one each.
func (c *cluster) Admit(ctx context.Context, gameName string) (string, error) {
	n := c.node.Load()
	if n == nil || !n.LeaseValid() {
		return "", errUnavailable("this node is not in contact with the cluster; retry")
	}
	release, err := c.lockAdmit(ctx, gameName)
	if err != nil {
		return "", err
	}
	defer release()
	// A follower applies committed entries a few tens of milliseconds after
	// the leader: catch up first, so that a match another node created a
	// moment ago is seen here instead of being created twice.
	c.catchUp(ctx, n)

	matches := n.Matches()
	slices.SortFunc(matches, func(a, b replication.MatchInfo) int { return cmp.Compare(a.Created, b.Created) })
	for _, m := range matches {
		if m.Game != gameName || m.Status != replication.MatchRunning || m.Owner == "" {
			continue
		}
		if m.Owner == c.self {
			if !c.adopted(m.ID, m.Epoch) {
				return m.ID, nil // placed here, not adopted yet: the Manager waits for it
			}
			continue // running here (the Manager found it full) or closed
		}
		if m.Players >= c.seats {
			continue
		}
		if o, ok := n.Member(m.Owner); ok && o.State == replication.NodeAlive && c.probe.ready(ctx, o.API) {
			return "", &game.RedirectError{URL: o.Advertise, MatchID: m.ID}
		}
	}

	mi, err := n.CreateMatch(ctx, command.CreateMatch{ID: replication.NewMatchID(), Game: gameName})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", errUnavailable("cannot create a match now: %v", err)
	}
	// Our FSM applies the entry shortly after the leader: wait for it, so
	// that the next Admit here sees this match.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_ = n.WaitApplied(wctx, mi.Created)
	cancel()
	c.log.Info().Str(keyMatch, mi.ID).Str(keyOwner, mi.Owner).Uint64(keyEpoch, mi.Epoch).Msg("match created")
	if mi.Owner == c.self {
		return mi.ID, nil
	}
	o, ok := n.Member(mi.Owner)
	if !ok {
		return "", errUnavailable("match %s placed on %s, which is not known here yet; retry", mi.ID, mi.Owner)
	}
	return "", &game.RedirectError{URL: o.Advertise, MatchID: mi.ID}
}

// catchUp waits (best effort, at most catchUpWait) until this node's FSM
// has applied what the cluster had committed when asked.
func (c *cluster) catchUp(ctx context.Context, n *replication.Node) {
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	_ = n.CatchUp(ctx)
}

// catchUpWait bounds catchUp.
const catchUpWait = 500 * time.Millisecond

// lockAdmit takes the per-game Admit lock, honouring ctx.
func (c *cluster) lockAdmit(ctx context.Context, gameName string) (func(), error) {
	c.mu.Lock()
	ch := c.admit[gameName]
	if ch == nil {
		ch = make(chan struct{}, 1)
		c.admit[gameName] = ch
	}
	c.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// End implements game.Placement: the match closed here; end it in Raft at
// its epoch.
func (c *cluster) End(ctx context.Context, matchID string, epoch uint64) error {
	n := c.node.Load()
	if n == nil {
		return errors.New("replication not started")
	}
	err := n.EndMatch(ctx, matchID, epoch)
	if errors.Is(err, replication.ErrStaleEpoch) {
		return nil // it moved meanwhile: not ours to end
	}
	return err
}

// --- owner probe ---

// ownerProbe tells whether a node answers GET /readyz with 200 (it serves
// and holds its lease), with answers cached for a short while, so that
// Locate and Admit do not redirect players to a node that died a moment ago
// and whose failover is still pending.
type ownerProbe struct {
	http *http.Client
	ttl  time.Duration

	mu    sync.Mutex
	cache map[string]*probeEntry
}

type probeEntry struct {
	ok   bool
	at   time.Time
	busy chan struct{} // non-nil while a probe is in flight; closed when done
}

// newOwnerProbe returns a probe whose dials leave from local (this node's
// listen address) when it is a specific IP, like replication's node-to-node
// calls, so that a fault-injecting proxy can tell the nodes apart.
func newOwnerProbe(local string) *ownerProbe {
	d := &net.Dialer{Timeout: 300 * time.Millisecond}
	if host, _, err := net.SplitHostPort(local); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dd := *d
		if src, ok := dd.LocalAddr.(*net.TCPAddr); ok && !sameScope(src.IP, addr) {
			dd.LocalAddr = nil // e.g. a loopback source for a peer on the network
		}
		return dd.DialContext(ctx, network, addr)
	}
	return &ownerProbe{
		http: &http.Client{
			Timeout:   300 * time.Millisecond,
			Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second},
		},
		ttl:   250 * time.Millisecond,
		cache: make(map[string]*probeEntry),
	}
}

// sameScope reports whether a dial from src to addr (host:port) can bind
// src: an IP destination of the same family and the same loopback-ness.
func sameScope(src net.IP, addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	dst := net.ParseIP(host)
	return dst != nil && (dst.To4() == nil) == (src.To4() == nil) && dst.IsLoopback() == src.IsLoopback()
}

// ready probes api (the node's API base URL), or returns a recent answer.
// Concurrent callers for the same node share one probe.
func (p *ownerProbe) ready(ctx context.Context, api string) bool {
	p.mu.Lock()
	e := p.cache[api]
	if e == nil {
		e = &probeEntry{}
		p.cache[api] = e
	}
	if e.busy == nil && time.Since(e.at) < p.ttl {
		ok := e.ok
		p.mu.Unlock()
		return ok
	}
	if busy := e.busy; busy != nil {
		p.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return false
		}
		p.mu.Lock()
		ok := e.ok
		p.mu.Unlock()
		return ok
	}
	e.busy = make(chan struct{})
	p.mu.Unlock()

	ok := p.get(ctx, api)

	p.mu.Lock()
	e.ok, e.at = ok, time.Now()
	close(e.busy)
	e.busy = nil
	p.mu.Unlock()
	return ok
}

func (p *ownerProbe) get(ctx context.Context, api string) bool {
	// The answer is shared: one joiner giving up must not cache a failure.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, api+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// sleepUntil waits d (cut at deadline); false if the deadline passed or
// ctx ended.
func sleepUntil(ctx context.Context, d time.Duration, deadline time.Time) bool {
	left := time.Until(deadline)
	if left <= 0 {
		return false
	}
	t := time.NewTimer(min(d, left))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
