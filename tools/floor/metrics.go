package floor

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics exports the floor's measurements under the names a ticksync node
// uses (the node's room metrics, net/ws's counters), so that the bots'
// -server-stats scrapes both at the same instants and reads them with the
// same code: tick time, overruns, sessions, snapshots and bytes out, and
// the process's CPU and RSS.
type metrics struct {
	reg      *prometheus.Registry
	tick     prometheus.Observer
	overruns prometheus.Counter
	skipped  prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	node := prometheus.Labels{"node": "floor"}
	game := prometheus.Labels{"node": "floor", "game": "floor"}
	tick := prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "ticksync", Subsystem: "sim", Name: "tick_duration_seconds", ConstLabels: game,
		Help:    "Time one floor tick took: encode the frame and hand it to the writers.",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 14), // as the node's: 25 µs .. 205 ms
	})
	overruns := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "ticksync", Subsystem: "sim", Name: "tick_overruns_total", ConstLabels: game,
		Help: "Ticks that started after the next one was due (sim.Clock, as the node's rooms).",
	})
	skipped := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "ticksync", Subsystem: "sim", Name: "ticks_skipped_total", ConstLabels: game,
		Help: "Ticks skipped by a loop that fell too far behind.",
	})
	counter := func(name, help string, extra prometheus.Labels, f func() float64) prometheus.Collector {
		l := prometheus.Labels{"node": "floor"}
		for k, v := range extra {
			l[k] = v
		}
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ticksync", Subsystem: "ws", Name: name, Help: help, ConstLabels: l,
		}, f)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		tick, overruns, skipped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: "ws", Name: "sessions", ConstLabels: node,
			Help: "Connected clients.",
		}, func() float64 { return float64(s.clients.Load()) }),
		counter("messages_out_total", "Frames written, by kind.", prometheus.Labels{"kind": "snapshot"},
			func() float64 { return float64(s.delivered.Load()) }),
		counter("bytes_out_total", "Frame payload bytes written.", nil,
			func() float64 { return float64(s.bytesOut.Load()) }),
		counter("messages_in_total", "Client messages received.", nil,
			func() float64 { return float64(s.inputs.Load()) }),
		counter("snapshots_dropped_total", "Frames replaced before their writer took them (latest wins), per client.", nil,
			func() float64 { return float64(s.dropped.Load()) }),
	)
	return &metrics{reg: reg, tick: tick, overruns: overruns, skipped: skipped}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
