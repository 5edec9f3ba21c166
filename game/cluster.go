package game

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// This file is the Manager's side of the cluster: the directory (Raft, in
// replication) assigns matches to this node and takes them away; the
// node's ownership loop (internal/cluster) turns those events into Adopt
// and Release. Freeze, Thaw and Tick make the Manager a replication.Host
// (structurally: game does not import replication).

// ErrNotRunning: the match has no room on this node (never adopted, already
// released or closed), or runs at another epoch.
var ErrNotRunning = errors.New("match not running here")

// Adopt starts running a match the cluster assigned to this node: from
// req.State (a checkpoint) with its tick, seats, guest counter and seed,
// or fresh (empty State) from req.Seed, then replayed through req.Log (the
// tick log past the checkpoint) to the last tick replicated. A replay that
// diverges (the game is not deterministic) is counted
// (ticksync_game_replay_diverged_total) and logged, and the match starts
// from the checkpoint alone. Restored seats wait ResumeGrace for
// their players, who resume into their own seat and entity with the resume
// token any node of the cluster issued. The match's matchmaking key is
// req.Key, the directory's: matchmaking seats a player in it only with
// an equal key, on every node that runs it in turn. Joins waiting for the
// match (Placement.Locate or Admit said it is coming here) are woken.
//
// Adopting a match already running at req.Epoch does nothing; a room of an
// older epoch still here is stopped first. Called by the node's ownership
// goroutine on an Acquired event.
func (m *Manager) Adopt(ctx context.Context, req AdoptRequest) error {
	if req.MatchID == "" {
		return errors.New("adopt: empty match id")
	}
	if !m.games.Has(req.Game) {
		return fmt.Errorf("adopt %s: %w %q", req.MatchID, ErrUnknownGame, req.Game)
	}
	sp := matchSpec{id: req.MatchID, game: req.Game, seed: int64(req.Seed), epoch: req.Epoch, log: req.Log}
	if len(req.State) > 0 {
		ck, err := decodeCheckpoint(req.State)
		if err != nil {
			return fmt.Errorf("adopt %s: %w", req.MatchID, err)
		}
		if ck.Game != req.Game {
			return fmt.Errorf("adopt %s: %w: a checkpoint of %q for a match of %q", req.MatchID, ErrBadCheckpoint, ck.Game, req.Game)
		}
		if req.Tick != 0 && ck.Tick != req.Tick {
			return fmt.Errorf("adopt %s: %w: tick %d inside, %d outside", req.MatchID, ErrBadCheckpoint, ck.Tick, req.Tick)
		}
		sp.restore = ck
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return &JoinError{Code: schema.ErrCodeShuttingDown, Message: "node is shutting down"}
	}
	old := m.matches[req.MatchID]
	if old != nil && old.epoch == req.Epoch {
		m.mu.Unlock()
		return nil
	}
	if old != nil {
		m.removeLocked(old)
	}
	m.mu.Unlock()
	if old != nil {
		old.log.Warn().Uint64(keyEpoch, old.epoch).Uint64(keyNewEpoch, req.Epoch).Msg("adopted again at a new epoch: stopping the old room")
		m.stopMatch(ctx, old, "")
	}

	mt, err := m.newMatch(sp)
	if err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	mt.key = req.Key // not registered yet: nobody else reads it
	m.mu.Lock()
	if m.closed || m.matches[req.MatchID] != nil {
		m.mu.Unlock()
		mt.close()
		_ = mt.room.Stop(ctx)
		return fmt.Errorf("adopt %s: lost a race with shutdown or another adoption", req.MatchID)
	}
	m.registerLocked(mt)
	m.mu.Unlock()
	mt.mu.Lock()
	mt.playersChanged()
	mt.mu.Unlock()
	ev := mt.log.Info().Uint64(keyEpoch, req.Epoch)
	if req.Key != "" {
		ev = ev.Str(keyMatchKey, req.Key)
	}
	switch {
	case sp.restore != nil:
		// tick: where the room resumes (the checkpoint's, plus the ticks
		// replayed from the tick log).
		ev.Uint32(keyTick, mt.adoptTick).Uint32(keyFromTick, sp.restore.Tick).Int(keyReplayed, mt.replayed).
			Int(keyPlayers, int(mt.taken.Load())).Msg("match adopted from a checkpoint")
	case mt.replayed > 0:
		ev.Uint32(keyTick, mt.adoptTick).Int(keyReplayed, mt.replayed).Int(keyPlayers, int(mt.taken.Load())).
			Msg("match adopted fresh and its tick log replayed")
	default:
		ev.Msg("match adopted fresh")
	}
	return nil
}

// Release stops matchID's room at once (this node no longer owns it) and
// sends each connected player a Redirect to redirectURL, where the match
// runs now, closing with 4011; with an empty redirectURL (no owner yet, or
// the match ended) they are kicked with unavailable and reconnect through
// any node. Seats are not freed in the game: the new owner has them. It
// reports whether the match was running here. Called by the node's ownership
// goroutine on a Released event.
func (m *Manager) Release(matchID, redirectURL string) bool {
	m.mu.Lock()
	mt := m.matches[matchID]
	if mt != nil {
		m.removeLocked(mt)
	}
	m.mu.Unlock()
	if mt == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	n := m.stopMatch(ctx, mt, redirectURL)
	mt.log.Info().Str(keyURL, redirectURL).Int(keyPlayers, n).Msg("match released")
	return true
}

// stopMatch closes mt (already out of the table), stops its room, forgets
// its pending checkpoint and redirects (or, with no url, kicks) its
// connections. It returns how many there were.
func (m *Manager) stopMatch(ctx context.Context, mt *Match, url string) int {
	conns := mt.close()
	if err := mt.room.Stop(ctx); err != nil {
		mt.log.Warn().Err(err).Msg("stop room")
	}
	if c := m.cfg.Checkpoints; c != nil {
		c.Forget(mt.id)
	}
	if l := m.cfg.TickLog; l != nil {
		l.Forget(mt.id)
	}
	for _, c := range conns {
		if url != "" {
			c.Redirect(url, mt.id)
		} else {
			c.Kick(schema.ErrCodeUnavailable, "match moved; reconnect")
		}
	}
	return len(conns)
}

// running returns matchID's match if it runs here at epoch.
func (m *Manager) running(matchID string, epoch uint64) (*Match, error) {
	mt := m.lookup(matchID)
	if mt == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotRunning, matchID)
	}
	if mt.epoch != epoch {
		return nil, fmt.Errorf("%w: %s runs at epoch %d, not %d", ErrNotRunning, matchID, mt.epoch, epoch)
	}
	return mt, nil
}

// Freeze stops matchID's room (owned here at epoch) from ticking, sending
// and checkpointing, and returns its tick and a checkpoint of it for a
// planned hand-over (replication.Host). The room stays frozen until Thaw or
// Release. A match not running here is an error (ErrNotRunning): the
// hand-over is retried.
func (m *Manager) Freeze(ctx context.Context, matchID string, epoch uint64) (uint32, []byte, error) {
	mt, err := m.running(matchID, epoch)
	if err != nil {
		return 0, nil, err
	}
	if _, err := mt.room.Freeze(ctx); err != nil {
		return 0, nil, fmt.Errorf("freeze %s: %w", matchID, err)
	}
	var tick uint32
	var state []byte
	err = mt.room.Capture(ctx, func(t uint32, st []byte, seats []sim.Seat) {
		tick = t
		state = appendCheckpoint(nil, t, mt.changes, mt.seed, mt.guests.Load(), mt.game, seats, mt.seatTokens(), st)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("freeze %s: %w", matchID, err)
	}
	if c := m.cfg.Checkpoints; c != nil {
		c.Forget(matchID) // the hand-over carries a newer one
	}
	mt.log.Info().Uint32(keyTick, tick).Msg("match frozen for a hand-over")
	return tick, state, nil
}

// Thaw resumes a room frozen by Freeze (the hand-over was refused and the
// match is still ours at epoch).
func (m *Manager) Thaw(matchID string, epoch uint64) {
	mt, err := m.running(matchID, epoch)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := mt.room.Thaw(ctx); err != nil {
		mt.log.Warn().Err(err).Msg("thaw")
		return
	}
	mt.log.Info().Msg("match thawed: hand-over refused")
}

// Tick returns the current tick of matchID's room, if it runs here.
func (m *Manager) Tick(matchID string) (uint32, bool) {
	mt := m.lookup(matchID)
	if mt == nil {
		return 0, false
	}
	return mt.room.Tick(), true
}

// DisconnectAll kicks every live connection of every match with code and
// reason; the seats stay for their resume grace. The node calls it when it
// has been out of touch with the cluster for longer than failover takes:
// its matches have most likely moved, and its players should reconnect
// through another node. It returns how many connections were kicked.
func (m *Manager) DisconnectAll(code schema.ErrorCode, reason string) int {
	m.mu.Lock()
	list := append([]*Match(nil), m.order...)
	m.mu.Unlock()
	n := 0
	for _, mt := range list {
		for _, c := range mt.liveConns() {
			c.Kick(code, reason)
			n++
		}
	}
	return n
}

// CaptureCheckpoints makes every room that runs here, neither frozen nor
// paused, hand the Checkpointer a checkpoint of its state now (taken on the
// room goroutine between two ticks, like the periodic ones), and returns once
// all have or ctx ends, with the number that had not answered by then; their
// checkpoints still reach the Checkpointer when the rooms get to them. The
// Checkpointer calls it just before each flush (replication.Capturer), so
// that the state Raft gets is at most one flush interval old when a node
// dies.
func (m *Manager) CaptureCheckpoints(ctx context.Context) (missed int) {
	if m.cfg.Checkpoints == nil {
		return 0
	}
	m.mu.Lock()
	list := slices.Clone(m.order)
	m.mu.Unlock()
	var pending atomic.Int32
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, mt := range list {
		if mt.room.Frozen() || mt.room.Paused() {
			continue
		}
		pending.Add(1)
		// One goroutine per room: each waits for its room's next gap between
		// ticks (≤ one tick) or its stop; none outlives its room.
		wg.Go(func() {
			defer pending.Add(-1)
			_ = mt.room.Capture(ctx, func(t uint32, st []byte, seats []sim.Seat) {
				if mt.room.Frozen() || mt.room.Paused() { // changed since: no checkpoint
					return
				}
				mt.onCheckpoint(t, st, seats)
			})
		})
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return 0
	case <-ctx.Done():
		return int(pending.Load())
	}
}

// finalCheckpoint hands the Checkpointer one last checkpoint of mt before
// its room stops (Shutdown). A frozen room (mid hand-over) is skipped.
func (m *Manager) finalCheckpoint(ctx context.Context, mt *Match) {
	if m.cfg.Checkpoints == nil || mt.room.Frozen() {
		return
	}
	err := mt.room.Capture(ctx, func(t uint32, st []byte, seats []sim.Seat) {
		mt.onCheckpoint(t, st, seats)
	})
	if err != nil && !errors.Is(err, sim.ErrStopped) {
		mt.log.Warn().Err(err).Msg("final checkpoint")
	}
}
