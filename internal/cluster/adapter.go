package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	_ game.Checkpointer    = (*replication.Checkpointer)(nil)
	_ game.TickLogger      = (*replication.TickLogger)(nil)
)

// Adapter adapts this node's replica of the directory to the small
// interfaces game declares: game.Placement (the match directory),
// game.Checkpointer, game.Lease and (through TickLog) game.TickLogger. It
// also remembers which ownership
// events RunOwnership has handled, so that a match the directory places
// here is told apart from one that closed here.
//
// The Manager is built with the Adapter before Raft exists: until Attach,
// every method answers "not ready" (Valid false, Locate and Admit
// unavailable, checkpoints dropped). Attach once, before players are let
// in and before RunOwnership runs.
type Adapter struct {
	cfg   Config
	log   zerolog.Logger
	probe *ownerProbe
	rep   atomic.Pointer[attached]

	mu       sync.Mutex
	acquired map[string]uint64        // matches adopted here (Acquired handled), by epoch
	released chan struct{}            // cap 1: a match left acquired (WaitReleased)
	admit    map[string]chan struct{} // per game: one Admit at a time on this node
}

type attached struct {
	r  Replica
	cp game.Checkpointer
	tl game.TickLogger // nil: no tick log
}

var (
	_ game.Placement    = (*Adapter)(nil)
	_ game.Checkpointer = (*Adapter)(nil)
	_ game.Lease        = (*Adapter)(nil)
)

// catchUpWait bounds the catch-up with the leader before Locate answers
// "not found" and before Admit looks for a match; createdWait bounds
// Admit's wait for its own CreateMatch entry to be applied here.
const (
	catchUpWait = 500 * time.Millisecond
	createdWait = 2 * time.Second
)

// New validates cfg and returns an Adapter with no replica attached yet.
func New(cfg Config) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	return &Adapter{
		cfg:      cfg,
		log:      cfg.Logger.With().Str(keyComponent, "cluster").Logger(),
		probe:    newOwnerProbe(cfg.Listen, cfg.ProbeTimeout, cfg.ProbeTTL),
		acquired: make(map[string]uint64),
		released: make(chan struct{}, 1),
		admit:    make(map[string]chan struct{}),
	}, nil
}

// Attach plugs in this node's replica, the checkpointer the rooms'
// checkpoints go to (replication.Node.Checkpointer) and the tick logger
// their tick logs go to (replication.Node.TickLogger; nil: none). Call it
// once.
func (a *Adapter) Attach(r Replica, cp game.Checkpointer, tl game.TickLogger) {
	a.rep.Store(&attached{r: r, cp: cp, tl: tl})
}

// TickLog returns the game.TickLogger the Manager hands its rooms' tick
// logs to (game.Config.TickLog): the attached replica's tick logger;
// records are dropped until Attach. (A type of its own: its Forget is not
// the Checkpointer's.)
func (a *Adapter) TickLog() game.TickLogger { return tickLog{a} }

type tickLog struct{ a *Adapter }

// Append implements game.TickLogger (room goroutine; must not block).
func (t tickLog) Append(matchID string, epoch uint64, tick uint32, rec []byte) {
	if at := t.a.rep.Load(); at != nil && at.tl != nil {
		at.tl.Append(matchID, epoch, tick, rec)
	}
}

// Forget implements game.TickLogger.
func (t tickLog) Forget(matchID string) {
	if at := t.a.rep.Load(); at != nil && at.tl != nil {
		at.tl.Forget(matchID)
	}
}

// replica returns the attached replica, or nil.
func (a *Adapter) replica() Replica {
	if at := a.rep.Load(); at != nil {
		return at.r
	}
	return nil
}

// errUnavailable is the answer while this node cannot tell where a match
// runs; the client retries (through another node, or later).
func errUnavailable(format string, args ...any) error {
	return &game.JoinError{Code: schema.ErrCodeUnavailable, Message: fmt.Sprintf(format, args...)}
}

// --- game.Lease ---

// Valid implements game.Lease: the node's owner lease is valid and the
// directory still names this node the owner at epoch. Every room calls it
// before each tick: a few atomic loads and one FSM read lock, no
// allocation.
func (a *Adapter) Valid(matchID string, epoch uint64) bool {
	r := a.replica()
	if r == nil || !r.LeaseValid() {
		return false
	}
	m, ok := r.Lookup(matchID)
	return ok && m.Owner == a.cfg.NodeID && m.Epoch == epoch
}

// --- game.Checkpointer ---

// Checkpoint implements game.Checkpointer (room goroutine; must not block).
func (a *Adapter) Checkpoint(matchID string, epoch uint64, tick uint32, state []byte) {
	if at := a.rep.Load(); at != nil {
		at.cp.Checkpoint(matchID, epoch, tick, state)
	}
}

// SetPlayers implements game.Checkpointer.
func (a *Adapter) SetPlayers(matchID string, epoch uint64, players int) {
	if at := a.rep.Load(); at != nil {
		at.cp.SetPlayers(matchID, epoch, players)
	}
}

// Forget implements game.Checkpointer.
func (a *Adapter) Forget(matchID string) {
	if at := a.rep.Load(); at != nil {
		at.cp.Forget(matchID)
	}
}

// --- game.Placement ---

// Locate implements game.Placement. It answers from the local FSM once this
// node holds its lease (a node without one may have a stale view): owned
// here and not adopted yet → local; owned by a live node that answers its
// readiness probe → a redirect there; unknown → not found. While the match
// is orphaned, its owner is dead or unreachable (failover pending), or this
// node has no lease, it looks again every Poll, for at most LocateWait,
// then answers unavailable (the client retries).
func (a *Adapter) Locate(ctx context.Context, matchID string) (bool, error) {
	deadline := time.Now().Add(a.cfg.LocateWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-250*time.Millisecond).Before(deadline) {
		deadline = dl.Add(-250 * time.Millisecond)
	}
	why := "no node"
	caughtUp := false
	for {
		r := a.replica()
		switch {
		case r == nil:
			why = "this node is starting"
		case !r.LeaseValid():
			why = "this node is not in contact with the cluster"
		default:
			m, ok := r.Lookup(matchID)
			if !ok && !caughtUp {
				// A match created a moment ago (the player was redirected
				// here by a node that has applied the entry already) may
				// not be applied here yet: catch up with the leader once
				// before answering "not found".
				caughtUp = true
				a.catchUp(ctx, r)
				m, ok = r.Lookup(matchID)
			}
			if !ok {
				return false, nil
			}
			local, settled, err := a.route(ctx, r, m)
			if settled {
				return local, err
			}
			why = err.Error()
		}
		if !sleepUntil(ctx, a.cfg.Poll, deadline) {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, errUnavailable("match %s: %s; retry", matchID, why)
		}
	}
}

// route decides where m runs: settled with Locate's answer (local, err),
// or not settled now, err saying why.
func (a *Adapter) route(ctx context.Context, r Replica, m replication.MatchInfo) (local, settled bool, err error) {
	switch {
	case m.Owner == "":
		return false, false, errors.New("no live node owns it")
	case m.Owner == a.cfg.NodeID:
		if a.adopted(m.ID, m.Epoch) {
			return false, true, nil // it ran here and closed (or failed to start)
		}
		return true, true, nil // placed here; the Acquired event is on its way
	}
	o, ok := r.Member(m.Owner)
	if !ok || o.State == replication.NodeDead {
		return false, false, fmt.Errorf("its owner %s is gone", m.Owner)
	}
	if !a.probe.ready(ctx, r, o) {
		return false, false, fmt.Errorf("its owner %s does not answer (failover pending)", m.Owner)
	}
	return false, true, &game.RedirectError{URL: o.Advertise, MatchID: m.ID}
}

// Admit implements game.Placement: matchmaking found no open match of
// gameName and key here. It sends the player to the oldest running match
// of gameName and key that has a free seat by the directory's count (of
// the game's seats: Config.SeatsOf) on another live node, or waits for a
// match of that key the directory just placed here; otherwise it creates
// one of that key through Raft on the least-loaded live node (epoch = the
// Raft index) and answers its id when that is this node, or a redirect to
// its owner. A match of another key is never chosen: the key is part of
// each match's record (replication.MatchInfo.Key; "" for a record written
// before keys were). One Admit per game runs at a time on this node, so a
// burst of players fills one new match instead of opening one each.
func (a *Adapter) Admit(ctx context.Context, gameName, key string) (string, error) {
	r := a.replica()
	if r == nil || !r.LeaseValid() {
		return "", errUnavailable("this node is not in contact with the cluster; retry")
	}
	if len(key) > command.MaxMatchKeyLen {
		return "", &game.JoinError{Code: schema.ErrCodeBadRequest, Message: fmt.Sprintf("matchmaking key of %d bytes: at most %d", len(key), command.MaxMatchKeyLen)}
	}
	release, err := a.lockAdmit(ctx, gameName)
	if err != nil {
		return "", err
	}
	defer release()
	// A follower applies committed entries a few tens of milliseconds after
	// the leader: catch up first, so that a match another node created a
	// moment ago is seen here instead of being created twice.
	a.catchUp(ctx, r)

	m, ok := a.choose(r.Matches(), gameName, key, func(m replication.MatchInfo) bool {
		o, ok := r.Member(m.Owner)
		return ok && o.State == replication.NodeAlive && a.probe.ready(ctx, r, o)
	})
	switch {
	case ok && m.Owner == a.cfg.NodeID:
		return m.ID, nil // placed here, not adopted yet: the Manager waits for it
	case ok:
		o, _ := r.Member(m.Owner)
		return "", &game.RedirectError{URL: o.Advertise, MatchID: m.ID}
	}

	mi, err := r.CreateMatch(ctx, command.CreateMatch{ID: replication.NewMatchID(), Game: gameName, Key: key})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", errUnavailable("cannot create a match now: %v", err)
	}
	// Our FSM applies the entry shortly after the leader: wait for it, so
	// that the next Admit here sees this match.
	wctx, cancel := context.WithTimeout(ctx, createdWait)
	_ = r.WaitApplied(wctx, mi.Created)
	cancel()
	ev := a.log.Info().Str(keyMatch, mi.ID).Str(keyOwner, mi.Owner).Uint64(keyEpoch, mi.Epoch)
	if key != "" {
		ev = ev.Str(keyMatchKey, key)
	}
	ev.Msg("match created")
	if mi.Owner == a.cfg.NodeID {
		return mi.ID, nil
	}
	o, ok := r.Member(mi.Owner)
	if !ok {
		return "", errUnavailable("match %s placed on %s, which is not known here yet; retry", mi.ID, mi.Owner)
	}
	return "", &game.RedirectError{URL: o.Advertise, MatchID: mi.ID}
}

// choose picks, among matches (the directory's), the match of gameName and
// key that Admit sends a player to: the oldest (by creation index) running
// one placed here and not adopted yet (the Manager waits for its
// adoption), or owned by another node with a free seat by the directory's
// count for which live says its owner takes players. ok false: none, a
// match is to be created. Matches running here already are skipped (the
// Manager found them full), and so is every match of another game or
// another key.
func (a *Adapter) choose(matches []replication.MatchInfo, gameName, key string, live func(replication.MatchInfo) bool) (replication.MatchInfo, bool) {
	seats := a.cfg.seatsOf(gameName)
	slices.SortFunc(matches, func(x, y replication.MatchInfo) int { return cmp.Compare(x.Created, y.Created) })
	for _, m := range matches {
		if m.Game != gameName || m.Key != key || m.Status != replication.MatchRunning || m.Owner == "" {
			continue
		}
		if m.Owner == a.cfg.NodeID {
			if !a.adopted(m.ID, m.Epoch) {
				return m, true
			}
			continue
		}
		if m.Players < seats && live(m) {
			return m, true
		}
	}
	return replication.MatchInfo{}, false
}

// catchUp waits, best effort and at most catchUpWait, until this node has
// applied what the leader had committed.
func (a *Adapter) catchUp(ctx context.Context, r Replica) {
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	_ = r.CatchUp(ctx)
}

// lockAdmit takes the per-game Admit lock, honouring ctx.
func (a *Adapter) lockAdmit(ctx context.Context, gameName string) (func(), error) {
	a.mu.Lock()
	ch := a.admit[gameName]
	if ch == nil {
		ch = make(chan struct{}, 1)
		a.admit[gameName] = ch
	}
	a.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// End implements game.Placement: the match closed here; end it in Raft at
// its epoch.
func (a *Adapter) End(ctx context.Context, matchID string, epoch uint64) error {
	r := a.replica()
	if r == nil {
		return errors.New("replication not started")
	}
	err := r.EndMatch(ctx, matchID, epoch)
	if errors.Is(err, replication.ErrStaleEpoch) {
		return nil // it moved meanwhile: not ours to end
	}
	return err
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
