package ticksync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/sim"
)

// Metrics of the node. Every ticksync_ series carries the node's id as the
// constant label "node"; docs/METRICS.md lists them all (a test keeps it
// true).

// registerGauges exports the node's view of its matches and of the cluster
// (Start, once the Manager exists).
func (n *Node) registerGauges(reg prometheus.Registerer) {
	node := prometheus.Labels{"node": n.cfg.NodeID}
	gauge := func(subsystem, name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: subsystem, Name: name, Help: help, ConstLabels: node,
		}, f))
	}
	gauge("game", "matches", "Matches running on this node, all games (sum of ticksync_game_rooms).", func() float64 { return float64(len(n.manager.Matches())) })
	reg.MustRegister(newGameCollector(n.cfg.NodeID, n.games, n.manager))
	gauge("cluster", "lease_valid", "1 while this node holds its owner lease (its rooms may tick).", func() float64 {
		if r := n.rnode.Load(); r != nil && r.LeaseValid() {
			return 1
		}
		return 0
	})
	gauge("cluster", "leader", "1 while this node is the Raft leader.", func() float64 {
		if r := n.rnode.Load(); r != nil && r.IsLeader() {
			return 1
		}
		return 0
	})
	// Deprecated: a counter exported as a gauge. Kept for one release so
	// that dashboards can move to ticksync_checkpoint_bytes_total.
	gauge("cluster", "checkpoint_bytes_out", "Deprecated, removed in the next release: use ticksync_checkpoint_bytes_total. Compressed checkpoint bytes sent to Raft since start.", func() float64 {
		return float64(n.checkpointStats().BytesOut)
	})
}

// tickLogStats are the tick logger's counters (zero before Start).
func (n *Node) tickLogStats() replication.TickLogStats {
	if r := n.rnode.Load(); r != nil {
		return r.TickLogger().Stats()
	}
	return replication.TickLogStats{}
}

// checkpointStats are the checkpointer's counters (zero before Start).
func (n *Node) checkpointStats() replication.CheckpointStats {
	if r := n.rnode.Load(); r != nil {
		return r.Checkpointer().Stats()
	}
	return replication.CheckpointStats{}
}

// gameCollector exports rooms and players per game at scrape time, from
// the Manager's listing: every registered game has its series, 0 when it
// has no match here.
type gameCollector struct {
	games                     *game.Registry
	manager                   *game.Manager
	rooms, players, connected *prometheus.Desc
}

func newGameCollector(nodeID string, games *game.Registry, m *game.Manager) *gameCollector {
	node := prometheus.Labels{"node": nodeID}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("ticksync", "game", name), help, []string{"game"}, node)
	}
	return &gameCollector{
		games:     games,
		manager:   m,
		rooms:     desc("rooms", "Rooms (matches) running on this node, by game."),
		players:   desc("players", "Seats taken in this node's rooms, by game, players within their resume grace included."),
		connected: desc("players_connected", "Players with a live connection to this node's rooms, by game."),
	}
}

func (c *gameCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rooms
	ch <- c.players
	ch <- c.connected
}

func (c *gameCollector) Collect(ch chan<- prometheus.Metric) {
	type counts struct{ rooms, players, connected int }
	by := map[string]*counts{}
	for _, g := range c.games.Names() {
		by[g] = &counts{}
	}
	for _, m := range c.manager.Matches() {
		k := by[m.Game]
		if k == nil {
			k = &counts{}
			by[m.Game] = k
		}
		k.rooms++
		k.players += m.Players
		k.connected += m.Connected
	}
	for g, k := range by {
		ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(k.rooms), g)
		ch <- prometheus.MustNewConstMetric(c.players, prometheus.GaugeValue, float64(k.players), g)
		ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, float64(k.connected), g)
	}
}

// clusterMetrics is the Prometheus implementation of replication.Metrics
// (and of replication.TickLogMetrics), with the checkpointer's and the
// tick logger's counters beside it.
type clusterMetrics struct {
	apply     prometheus.Histogram
	failovers prometheus.Counter
	dead      prometheus.Counter
	handovers prometheus.Counter
	tickApply prometheus.Histogram
}

var (
	_ replication.Metrics        = (*clusterMetrics)(nil)
	_ replication.TickLogMetrics = (*clusterMetrics)(nil)
)

func newClusterMetrics(reg prometheus.Registerer, nodeID string, checkpoints func() replication.CheckpointStats, ticklog func() replication.TickLogStats) (*clusterMetrics, error) {
	node := prometheus.Labels{"node": nodeID}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "ticksync", Name: name, Help: help, ConstLabels: node})
	}
	m := &clusterMetrics{
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ticksync", Subsystem: "raft", Name: "apply_seconds", ConstLabels: node,
			Help: "Time from a Raft apply on this node (checkpoints, matches, membership) to the FSM's result: " +
				"commit and apply on the leader, plus the forward to the leader on a follower and any retry across a leader change.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms .. 4.1 s
		}),
		failovers: counter("failovers_total", "Matches reassigned from nodes this node, as the leader, declared dead."),
		dead:      counter("nodes_declared_dead_total", "Nodes this node, as the leader, declared dead after -failover-after without a heartbeat."),
		handovers: counter("handovers_total", "Planned moves of a match from this node to another (move, drain, shutdown), each with a final checkpoint."),
		tickApply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "ticksync", Subsystem: "ticklog", Name: "apply_seconds", ConstLabels: node,
			Help: "Time from a tick log batch's Raft apply on this node to the FSM's result (as ticksync_raft_apply_seconds, for tick log batches only): " +
				"with the batch period, what a failover loses of game time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 1.5, 16), // 1 ms .. 438 ms
		}),
	}
	tickCounter := func(name, help string, v func(replication.TickLogStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ticksync", Subsystem: "ticklog", Name: name, Help: help, ConstLabels: node},
			func() float64 { return float64(v(ticklog())) })
	}
	bytes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: "ticksync", Name: "checkpoint_bytes_total", ConstLabels: node,
		Help: "Compressed checkpoint bytes this node sent to Raft (a batch that failed is sent again and counted again).",
	}, func() float64 { return float64(checkpoints().BytesOut) })
	for _, c := range []prometheus.Collector{m.apply, m.failovers, m.dead, m.handovers, bytes, m.tickApply,
		tickCounter("bytes_total", "Tick log bytes (the rooms' records) this node sent to Raft.", func(s replication.TickLogStats) uint64 { return s.Bytes }),
		tickCounter("ticks_total", "Room ticks whose records this node sent to Raft.", func(s replication.TickLogStats) uint64 { return s.Records }),
		tickCounter("batches_total", "Tick log batches (Raft entries) this node applied.", func(s replication.TickLogStats) uint64 { return s.Batches }),
		tickCounter("rejected_total", "Runs of ticks the FSM refused (stale epoch: the match moved; log_full: no checkpoint for too long; overlap).", func(s replication.TickLogStats) uint64 { return s.Rejected }),
		tickCounter("dropped_total", "Runs of ticks dropped before reaching Raft (Raft unreachable past the bound): a gap the next checkpoint covers.", func(s replication.TickLogStats) uint64 { return s.Dropped }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *clusterMetrics) ApplyDuration(d time.Duration) { m.apply.Observe(d.Seconds()) }
func (m *clusterMetrics) Failover(matches int) {
	m.dead.Inc()
	m.failovers.Add(float64(matches))
}
func (m *clusterMetrics) Handover() { m.handovers.Inc() }
func (m *clusterMetrics) TickLogApplied(d time.Duration, _, _ int) {
	m.tickApply.Observe(d.Seconds())
}

// roomMetrics is the Prometheus implementation of sim.Metrics that
// game.Config.RoomMetrics hands to each room. Series are per game, not per
// match: matches come and go, and a label per match would leave a trail of
// dead series. Each room gets its own value with the game label bound once.
type roomMetrics struct {
	tick       *prometheus.HistogramVec
	overruns   *prometheus.CounterVec
	skipped    *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	discarded  *prometheus.CounterVec
	encodes    *prometheus.CounterVec
	snapshots  *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	saturation *prometheus.HistogramVec
}

func newRoomMetrics(reg prometheus.Registerer, nodeID string) (*roomMetrics, error) {
	node := prometheus.Labels{"node": nodeID}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "ticksync", Subsystem: "sim", Name: name, Help: help, ConstLabels: node}, []string{"game"})
	}
	m := &roomMetrics{
		tick: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ticksync", Subsystem: "sim", Name: "tick_duration_seconds", ConstLabels: node,
			Help:    "Time one room tick took: drain, step, record, encode, send.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 14), // 25 µs .. 205 ms
		}, []string{"game"}),
		overruns:  counter("tick_overruns_total", "Ticks that started after the next one was due."),
		skipped:   counter("ticks_skipped_total", "Ticks skipped by a loop that fell too far behind."),
		dropped:   counter("inputs_dropped_total", "Inputs dropped by a full per-player input queue."),
		discarded: counter("inputs_discarded_total", "Inputs received but never applied (stale, duplicate, overflow)."),
		encodes:   counter("snapshot_encodes_total", "Distinct snapshot encodings (one per baseline per tick)."),
		snapshots: counter("snapshots_total", "Snapshots handed to connections."),
		bytes:     counter("snapshot_bytes_total", "Bytes of snapshots handed to connections."),
		saturation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "ticksync", Subsystem: "sim", Name: "saturation", ConstLabels: node,
			Help:    "Fraction of each second a room loop spent working (one sample per room per second).",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1},
		}, []string{"game"}),
	}
	for _, c := range []prometheus.Collector{m.tick, m.overruns, m.skipped, m.dropped, m.discarded, m.encodes, m.snapshots, m.bytes, m.saturation} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// initGames creates every series of each game at 0, so that a game's
// series exist (and rate() works) before its first room ticks.
func (m *roomMetrics) initGames(games []string) {
	for _, g := range games {
		m.forRoom("", g)
	}
}

// forRoom returns the sim.Metrics of one match (game.Config.RoomMetrics).
func (m *roomMetrics) forRoom(_ string, game string) sim.Metrics {
	return &gameRoomMetrics{
		tick:       m.tick.WithLabelValues(game),
		overruns:   m.overruns.WithLabelValues(game),
		skipped:    m.skipped.WithLabelValues(game),
		dropped:    m.dropped.WithLabelValues(game),
		discarded:  m.discarded.WithLabelValues(game),
		encodes:    m.encodes.WithLabelValues(game),
		snapshots:  m.snapshots.WithLabelValues(game),
		bytes:      m.bytes.WithLabelValues(game),
		saturation: m.saturation.WithLabelValues(game),
	}
}

// gameRoomMetrics has its labels bound; every method is one atomic update.
type gameRoomMetrics struct {
	tick, saturation                                                 prometheus.Observer
	overruns, skipped, dropped, discarded, encodes, snapshots, bytes prometheus.Counter
}

var _ sim.Metrics = (*gameRoomMetrics)(nil)

func (g *gameRoomMetrics) TickDuration(d time.Duration) { g.tick.Observe(d.Seconds()) }
func (g *gameRoomMetrics) Overrun()                     { g.overruns.Inc() }
func (g *gameRoomMetrics) TicksSkipped(n int)           { g.skipped.Add(float64(n)) }
func (g *gameRoomMetrics) InputDropped()                { g.dropped.Inc() }
func (g *gameRoomMetrics) InputsDiscarded(n int) {
	if n > 0 {
		g.discarded.Add(float64(n))
	}
}
func (g *gameRoomMetrics) Snapshots(encodes, n, bytes int) {
	g.encodes.Add(float64(encodes))
	g.snapshots.Add(float64(n))
	g.bytes.Add(float64(bytes))
}
func (g *gameRoomMetrics) Saturation(busy float64) { g.saturation.Observe(busy) }
