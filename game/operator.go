package game

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// This file is what operators see of and do to the matches running on this
// node (the admin API, through the node): a match's players and
// measurements (Detail), removing a player (Kick), and stopping a match the
// cluster ended (End).

// ErrNoSuchPlayer: the match has no seat for that player.
var ErrNoSuchPlayer = errors.New("no such player in the match")

// PlayerInfo is one seat of a running match, as an operator sees it.
type PlayerInfo struct {
	ID     uint32
	Name   string // from the player's newest Hello ("" if it sent none)
	Entity uint32 // the seat's entity in the game
	// Connected: a connection holds the seat. Otherwise the seat waits for
	// the player to resume (for at most Config.ResumeGrace).
	Connected bool
	// RTT is the smoothed round trip: from the moment the room hands a
	// snapshot to the connection to the arrival of the player's first
	// input that acknowledges it (so it includes the client's wait for its
	// next input, at most one input interval). 0: no sample yet.
	RTT time.Duration
	// LastInput is when the player's newest input arrived (zero: none since
	// this node runs the match).
	LastInput time.Time
}

// MatchDetail is a running match with its players and measurements.
type MatchDetail struct {
	MatchInfo
	TickRate int
	// TickP99 and TickMax are the 99th percentile and the maximum time one
	// tick took over the last 256 ticks.
	TickP99, TickMax time.Duration
	// BytesPerSec is the snapshot bytes the room sent over the last full
	// second; SnapshotBytes is the total since this node runs the match.
	BytesPerSec   float64
	SnapshotBytes uint64
	Frozen        bool // held for a hand-over
	Paused        bool // not ticking: this node's lease lapsed
	Players       []PlayerInfo
}

// Detail returns matchID's players and measurements, if it runs here. Safe
// from any goroutine.
func (m *Manager) Detail(matchID string) (MatchDetail, bool) {
	mt := m.lookup(matchID)
	if mt == nil {
		return MatchDetail{}, false
	}
	now := time.Now()
	d := MatchDetail{MatchInfo: mt.Info(), TickRate: m.cfg.TickRate}
	d.TickP99, d.TickMax = mt.stats.tickTimes()
	d.BytesPerSec = mt.stats.bytesPerSec(now)
	rs := mt.room.Stats()
	d.SnapshotBytes, d.Frozen, d.Paused = rs.SnapshotBytes, rs.Frozen, rs.Paused
	mt.mu.Lock()
	for _, s := range mt.seats {
		p := PlayerInfo{ID: s.player, Name: s.name, Entity: s.entity, Connected: s.conn != nil,
			RTT: time.Duration(s.stats.rtt.Load())}
		if at := s.stats.lastInput.Load(); at != 0 {
			p.LastInput = time.Unix(0, at)
		}
		d.Players = append(d.Players, p)
	}
	mt.mu.Unlock()
	slices.SortFunc(d.Players, func(a, b PlayerInfo) int { return int(a.ID) - int(b.ID) })
	return d, true
}

// Kick frees player's seat in matchID (running here) at once, as if the
// player had left, and closes its connection, if any, with Error
// ErrCodeKicked (close 4013): a client stops and does not reconnect. Its
// resume token is refused from then on. A kicked player may join again
// like any other. It returns ErrNotRunning or ErrNoSuchPlayer (wrapped).
func (m *Manager) Kick(matchID string, player uint32) error {
	mt := m.lookup(matchID)
	if mt == nil {
		return fmt.Errorf("%w: %s", ErrNotRunning, matchID)
	}
	mt.mu.Lock()
	s := mt.seats[player]
	if mt.closed || s == nil {
		mt.mu.Unlock()
		return fmt.Errorf("%w: player %d in match %s", ErrNoSuchPlayer, player, matchID)
	}
	conn := s.conn
	mt.free(s, "kicked", false)
	mt.mu.Unlock()
	if conn != nil {
		conn.Kick(schema.ErrCodeKicked, "kicked by an operator")
	}
	mt.log.Info().Uint32(keyPlayer, player).Msg("player kicked")
	return nil
}

// End stops matchID's room at once because the cluster ended the match (an
// operator's end-match), and closes its players' connections with Error
// ErrCodeMatchEnded (close 4014): clients stop and do not reconnect. The
// directory is not told (it ended the match already). It reports whether
// the match ran here. Called by the node's ownership goroutine when the
// match it ran was ended.
func (m *Manager) End(matchID string) bool {
	m.mu.Lock()
	mt := m.matches[matchID]
	if mt != nil {
		m.removeLocked(mt)
	}
	m.mu.Unlock()
	if mt == nil {
		return false
	}
	n := m.stopEnded(mt, "match ended by an operator")
	if c := m.cfg.Checkpoints; c != nil {
		c.Forget(mt.id)
	}
	mt.log.Info().Int(keyPlayers, n).Msg("match ended")
	return true
}

// gameEnded ends mt because its game called Outbox.End: as an operator's
// End does (clients get ErrCodeMatchEnded), and the directory is told
// (Placement.End), so that no node adopts the match again. A match
// released, ended or shut down meanwhile is left alone. Not on mt's room
// goroutine: it stops the room.
func (m *Manager) gameEnded(mt *Match, reason string) {
	m.mu.Lock()
	ours := m.matches[mt.id] == mt
	if ours {
		m.removeLocked(mt)
	}
	m.mu.Unlock()
	if !ours {
		return
	}
	n := m.stopEnded(mt, "match ended by the game: "+reason)
	m.end(mt)
	mt.log.Info().Str(keyReason, reason).Int(keyPlayers, n).Msg("match ended by the game")
}

// stopEnded closes mt (removed from the table), stops its room and kicks
// its connections with ErrCodeMatchEnded, logging why; it returns how many
// were kicked.
func (m *Manager) stopEnded(mt *Match, why string) int {
	conns := mt.close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := mt.room.Stop(ctx); err != nil {
		mt.log.Warn().Err(err).Msg("stop room")
	}
	for _, c := range conns {
		c.Kick(schema.ErrCodeMatchEnded, why)
	}
	return len(conns)
}

// GameNames returns the games registered on this node, sorted.
func (m *Manager) GameNames() []string { return m.games.Names() }

// named records name as the player's name in the seat just handed out
// (Join). An empty name keeps the one the seat had.
func named(s Seat, name string) {
	h, ok := s.(*seatHandle)
	if !ok || name == "" {
		return
	}
	h.m.mu.Lock()
	if h.s.gen.Load() == h.gen {
		h.s.name = name
	}
	h.m.mu.Unlock()
}
