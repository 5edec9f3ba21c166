package game

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/internal/ratelimit"
	"github.com/ticksync/ticksync/schema"
)

// The refusals of the admission limits (Config.MaxPlayers, MaxRooms,
// MaxMatchesPerIP). Their Message is for the log; the client gets the
// code's fixed text.
var (
	errMaxPlayers = &JoinError{Code: schema.ErrCodeNodeFull, Message: "node full: max players seated"}
	errMaxRooms   = &JoinError{Code: schema.ErrCodeNodeFull, Message: "node full: max matches running"}
	errMatchRate  = &JoinError{Code: schema.ErrCodeRateLimited, Message: "too many matches created from this address"}
)

// admission is the Manager's side of the node's admission limits and their
// counters. seated is the number of seats held on this node (live or
// waiting for a resume), maintained by Match as seats are taken and freed;
// every field is safe from any goroutine.
type admission struct {
	maxPlayers int64
	maxRooms   int
	matchRate  *ratelimit.Keyed // nil: no per-address cap

	seated atomic.Int64

	refusedPlayers, refusedRooms, refusedRate atomic.Uint64
}

// init sets the limits from cfg (before any use).
func (a *admission) init(cfg Config) {
	a.maxPlayers, a.maxRooms = int64(cfg.MaxPlayers), cfg.MaxRooms
	if n := cfg.MaxMatchesPerIP; n > 0 {
		a.matchRate = ratelimit.NewKeyed(float64(n)/60, float64(n))
	}
}

// full reports whether the node holds MaxPlayers seats already.
func (a *admission) full() bool {
	return a.maxPlayers > 0 && a.seated.Load() >= a.maxPlayers
}

// reserveSeat counts one more seat unless that would pass MaxPlayers; a
// refusal is counted.
func (a *admission) reserveSeat() bool {
	for {
		n := a.seated.Load()
		if a.maxPlayers > 0 && n >= a.maxPlayers {
			a.refusedPlayers.Add(1)
			return false
		}
		if a.seated.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// releaseSeats uncounts n seats (freed, or their match closed).
func (a *admission) releaseSeats(n int) { a.seated.Add(-int64(n)) }

// roomFor refuses (and counts) one more match when rooms already run.
func (a *admission) roomFor(rooms int) error {
	if a.maxRooms > 0 && rooms >= a.maxRooms {
		a.refusedRooms.Add(1)
		return errMaxRooms
	}
	return nil
}

// mayCreate refuses (and counts) a match a guest from addr would create
// over its address's budget.
func (a *admission) mayCreate(req *JoinRequest) error {
	if a.matchRate == nil || req.PlayerID != 0 || !req.Addr.IsValid() {
		return nil
	}
	if !a.matchRate.Allow(req.Addr, time.Now()) {
		a.refusedRate.Add(1)
		return errMatchRate
	}
	return nil
}

// register exposes the counters to r (nil: not exported).
func (a *admission) register(r prometheus.Registerer, nodeID string) error {
	if r == nil {
		return nil
	}
	refusals := func(reason string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ticksync", Subsystem: "game", Name: "join_refusals_total",
			Help:        "Hellos refused by an admission limit, by reason (max_players, max_rooms: Error node full; matches_per_ip: Error rate limited).",
			ConstLabels: prometheus.Labels{"node": nodeID, "reason": reason},
		}, func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		refusals("max_players", &a.refusedPlayers),
		refusals("max_rooms", &a.refusedRooms),
		refusals("matches_per_ip", &a.refusedRate),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: "game", Name: "players_seated",
			Help:        "Seats held on this node, live or waiting for a resume (what -max-players caps).",
			ConstLabels: prometheus.Labels{"node": nodeID},
		}, func() float64 { return float64(a.seated.Load()) }),
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Stats is a snapshot of the Manager's counts.
type Stats struct {
	Matches int // matches running here
	Players int // seats held here, live or waiting for a resume
	// Refusals by the admission limits since NewManager.
	RefusedMaxPlayers, RefusedMaxRooms, RefusedMatchesPerIP uint64
}

// Stats returns the manager's counts. Safe from any goroutine.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	n := len(m.matches)
	m.mu.Unlock()
	a := &m.adm
	return Stats{
		Matches:             n,
		Players:             int(a.seated.Load()),
		RefusedMaxPlayers:   a.refusedPlayers.Load(),
		RefusedMaxRooms:     a.refusedRooms.Load(),
		RefusedMatchesPerIP: a.refusedRate.Load(),
	}
}
