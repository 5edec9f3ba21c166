package ticksync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/sim"
)

// registerGauges exports the node's view of the cluster (Start, once the
// Manager exists).
func (n *Node) registerGauges(reg prometheus.Registerer) {
	node := prometheus.Labels{"node": n.cfg.NodeID}
	gauge := func(subsystem, name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: subsystem, Name: name, Help: help, ConstLabels: node,
		}, f))
	}
	gauge("game", "matches", "Matches running on this node.", func() float64 { return float64(len(n.manager.Matches())) })
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
	gauge("cluster", "checkpoint_bytes_out", "Compressed checkpoint bytes sent to Raft since start.", func() float64 {
		if r := n.rnode.Load(); r != nil {
			return float64(r.Checkpointer().Stats().BytesOut)
		}
		return 0
	})
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
