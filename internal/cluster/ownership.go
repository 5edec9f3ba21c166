package cluster

import (
	"context"
	"fmt"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/replication"
)

// RunOwnership is the ownership loop: it turns r's Acquired and Released
// events into games.Adopt and games.Release, in order, until ctx ends. The
// node runs it on one goroutine of its own, after Attach and before the
// replica starts. Acquired restores the match from its latest checkpoint
// (fresh when there is none or it cannot be read); Released redirects the
// match's players to its new owner, or kicks them (they reconnect through
// any node) when it has no owner yet, or tells them the match ended. The
// tick log that continues the checkpoint, if the FSM holds one, goes with
// the adoption: the Manager replays it, and the match resumes at the last
// tick its old owner replicated.
func (a *Adapter) RunOwnership(ctx context.Context, r Replica, games Games) {
	events := r.Ownership()
	for {
		var ev replication.OwnershipEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		}
		switch ev.Kind {
		case replication.Acquired:
			a.acquire(ctx, r, games, ev)
		case replication.Released:
			a.release(r, games, ev)
		}
	}
}

func (a *Adapter) acquire(ctx context.Context, r Replica, games Games, ev replication.OwnershipEvent) {
	id := ev.Match.ID
	req := game.AdoptRequest{MatchID: id, Game: ev.Match.Game, Key: ev.Match.Key, Seed: ev.Match.Seed, Epoch: ev.Epoch}
	if cp, ok := r.LatestCheckpoint(id); ok {
		st, err := cp.State()
		if err != nil {
			a.log.Error().Err(err).Str(keyMatch, id).Msg("latest checkpoint unreadable: starting the match fresh")
		} else {
			req.State, req.Tick = st, cp.Tick
		}
	}
	// Read after the checkpoint: the old owner's epoch is fenced by now, so
	// nothing of it arrives in between; a checkpoint of ours cannot either.
	if lg, ok := r.TickLog(id, req.Tick); ok {
		req.Log = lg.Data
	}
	if err := games.Adopt(ctx, req); err != nil && ctx.Err() == nil {
		a.log.Error().Err(err).Str(keyMatch, id).Uint64(keyEpoch, ev.Epoch).Msg("cannot adopt match")
	}
	a.markAdopted(id, ev.Epoch)
}

func (a *Adapter) release(r Replica, games Games, ev replication.OwnershipEvent) {
	id := ev.Match.ID
	if ev.Ended {
		// Ended through the directory (an operator): the players are told
		// so, and stop. A match that closed here by itself is gone already.
		games.End(id)
		a.markReleased(id)
		return
	}
	url := ""
	if ev.Match.Owner != "" {
		if o, ok := r.Member(ev.Match.Owner); ok {
			url = o.Advertise
		}
	}
	games.Release(id, url)
	// Marked only after Release has run: WaitReleased then means the
	// players were redirected.
	a.markReleased(id)
}

func (a *Adapter) markAdopted(id string, epoch uint64) {
	a.mu.Lock()
	a.acquired[id] = epoch
	a.mu.Unlock()
}

func (a *Adapter) markReleased(id string) {
	a.mu.Lock()
	delete(a.acquired, id)
	a.mu.Unlock()
	select {
	case a.released <- struct{}{}:
	default:
	}
}

// WaitReleased returns once no match adopted here is left: the ownership
// loop has released (stopped, players redirected) every match that left
// this node, or ctx ends. A drain before shutdown waits for it, so that
// sessions are not closed before their redirect is sent.
func (a *Adapter) WaitReleased(ctx context.Context) error {
	for {
		a.mu.Lock()
		left := len(a.acquired)
		a.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-a.released:
		case <-ctx.Done():
			return fmt.Errorf("%d matches not released: %w", left, ctx.Err())
		}
	}
}

// adopted reports whether the Acquired event of id at epoch was handled
// here (the Manager adopted it, or failed to).
func (a *Adapter) adopted(id string, epoch uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.acquired[id]
	return ok && e == epoch
}
