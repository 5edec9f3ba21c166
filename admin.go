package ticksync

import (
	"errors"
	"fmt"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
)

// adminGames is the node's game.Manager as the admin API sees it
// (admin.Games): game and replication know nothing of each other, so the
// node converts between their types and errors here.
type adminGames struct{ m *game.Manager }

var _ admin.Games = adminGames{}

// GameNames implements admin.Games.
func (g adminGames) GameNames() []string { return g.m.GameNames() }

// Live implements admin.Games: the Manager's Detail, with durations in
// milliseconds and the input times as ages.
func (g adminGames) Live(matchID string) (admin.Live, bool) {
	d, ok := g.m.Detail(matchID)
	if !ok {
		return admin.Live{}, false
	}
	now := time.Now()
	l := admin.Live{
		Tick: d.Tick, TickRate: d.TickRate, Seats: d.Seats, Connected: d.Connected,
		TickP99MS: ms(d.TickP99), TickMaxMS: ms(d.TickMax), BytesPerSec: d.BytesPerSec, SnapshotBytes: d.SnapshotBytes,
		Frozen: d.Frozen, Paused: d.Paused, Players: make([]admin.Player, 0, len(d.Players)),
	}
	for _, p := range d.Players {
		ap := admin.Player{ID: p.ID, Name: p.Name, Entity: p.Entity, Connected: p.Connected}
		if p.RTT > 0 {
			rtt := ms(p.RTT)
			ap.RTTMS = &rtt
		}
		if !p.LastInput.IsZero() {
			age := max(now.Sub(p.LastInput).Milliseconds(), 0)
			ap.LastInputMS = &age
		}
		l.Players = append(l.Players, ap)
	}
	return l, true
}

// Kick implements admin.Games.
func (g adminGames) Kick(matchID string, player uint32) error {
	err := g.m.Kick(matchID, player)
	switch {
	case errors.Is(err, game.ErrNoSuchPlayer):
		return fmt.Errorf("%w: player %d is not in match %s", replication.ErrPlayerNotFound, player, matchID)
	case errors.Is(err, game.ErrNotRunning):
		return fmt.Errorf("%w: %s is not running on this node", replication.ErrMatchNotFound, matchID)
	}
	return err
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
