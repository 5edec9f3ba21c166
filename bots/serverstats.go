package bots

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ServerStats is the node's side of a run, from two scrapes of its
// Prometheus /metrics: one when the measured window opens, one when it
// closes. Counters are differences over the window; gauges are read at its
// end; the tick-time quantile is estimated from the histogram buckets'
// differences (linear within a bucket, as PromQL's histogram_quantile).
type ServerStats struct {
	URL          string  `json:"url"`
	WindowS      float64 `json:"window_s"`
	Sessions     float64 `json:"sessions"`
	Rooms        float64 `json:"rooms"`
	Ticks        uint64  `json:"ticks"`
	TickP50MS    float64 `json:"tick_p50_ms"`
	TickP99MS    float64 `json:"tick_p99_ms"`
	TickMaxMS    float64 `json:"tick_max_ms"` // upper bound of the highest non-empty bucket
	Overruns     float64 `json:"overruns"`
	BytesOut     float64 `json:"bytes_out"`
	BytesOutPerS float64 `json:"bytes_out_per_s"`
	Sent         float64 `json:"snapshots_sent"`
	Dropped      float64 `json:"snapshots_dropped"`
	CPUSeconds   float64 `json:"cpu_s"` // process_cpu_seconds_total over the window
	RSSBytes     float64 `json:"rss_bytes"`
}

// Metric names read from a node, each with fallbacks: the first name
// present wins. They are the names net/ws, sim and game export.
var (
	metricTickSeconds = []string{"ticksync_sim_tick_duration_seconds", "ticksync_tick_duration_seconds", "ticksync_room_tick_duration_seconds"}
	metricOverruns    = []string{"ticksync_sim_tick_overruns_total", "ticksync_tick_overruns_total", "ticksync_room_overruns_total"}
	metricSessions    = []string{"ticksync_ws_sessions", "ticksync_sessions", "ticksync_ws_connections"}
	metricRooms       = []string{"ticksync_game_rooms", "ticksync_sim_rooms", "ticksync_rooms", "ticksync_game_matches"}
	metricBytesOut    = []string{"ticksync_ws_bytes_out_total", "ticksync_ws_sent_bytes_total", "ticksync_bytes_out_total"}
	metricSent        = []string{"ticksync_ws_messages_out_total{kind=snapshot}", "ticksync_ws_snapshots_sent_total", "ticksync_snapshots_sent_total"}
	metricDropped     = []string{"ticksync_ws_snapshots_dropped_total", "ticksync_ws_dropped_total", "ticksync_snapshots_dropped_total"}
	metricCPU         = []string{"process_cpu_seconds_total"}
	metricRSS         = []string{"process_resident_memory_bytes"}
)

// metrics is one scrape: each family's samples summed over label sets (and
// per single label, keyed "name{label=value}"), and histogram buckets
// summed per upper bound.
type metrics struct {
	at      time.Time
	values  map[string]float64             // name → sum over label sets
	buckets map[string]map[float64]float64 // histogram base name → le → cumulative count
}

// parseMetrics reads the Prometheus text exposition format with
// prometheus/common/expfmt and keeps what ServerStats needs: each counter,
// gauge or untyped family summed over its label sets, and each histogram's
// cumulative buckets summed per upper bound (plus _count and _sum).
func parseMetrics(r io.Reader) (*metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	m := &metrics{values: map[string]float64{}, buckets: map[string]map[float64]float64{}}
	for name, f := range families {
		for _, s := range f.GetMetric() {
			v := math.NaN()
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = s.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = s.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := s.GetHistogram()
				m.values[name+"_count"] += float64(h.GetSampleCount())
				m.values[name+"_sum"] += h.GetSampleSum()
				if m.buckets[name] == nil {
					m.buckets[name] = map[float64]float64{}
				}
				inf := false
				for _, b := range h.GetBucket() {
					m.buckets[name][b.GetUpperBound()] += float64(b.GetCumulativeCount())
					inf = inf || math.IsInf(b.GetUpperBound(), 1)
				}
				if !inf {
					m.buckets[name][math.Inf(1)] += float64(h.GetSampleCount())
				}
			case dto.MetricType_SUMMARY:
				m.values[name+"_count"] += float64(s.GetSummary().GetSampleCount())
				m.values[name+"_sum"] += s.GetSummary().GetSampleSum()
			}
			if math.IsNaN(v) {
				continue
			}
			// The sum over label sets, and per single label "name{k=v}".
			m.values[name] += v
			for _, l := range s.GetLabel() {
				m.values[name+"{"+l.GetName()+"="+l.GetValue()+"}"] += v
			}
		}
	}
	return m, nil
}

func (m *metrics) value(names []string) (float64, bool) {
	for _, n := range names {
		if v, ok := m.values[n]; ok {
			return v, true
		}
	}
	return 0, false
}

func (m *metrics) histogram(names []string) (string, map[float64]float64) {
	for _, n := range names {
		if b, ok := m.buckets[n]; ok {
			return n, b
		}
	}
	return "", nil
}

// bucket is one histogram bucket: cumulative count up to an upper bound.
type bucket struct{ le, count float64 }

// deltaBuckets returns end - start per bound, sorted by bound.
func deltaBuckets(start, end map[float64]float64) []bucket {
	out := make([]bucket, 0, len(end))
	for le, c := range end {
		out = append(out, bucket{le, c - start[le]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// bucketQuantile estimates the q quantile (0..1) of cumulative buckets, as
// PromQL's histogram_quantile does. It returns NaN without observations.
func bucketQuantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return prevLE // the highest finite bound
			}
			if b.count == prevCount {
				return b.le
			}
			return prevLE + (b.le-prevLE)*(rank-prevCount)/(b.count-prevCount)
		}
		prevLE, prevCount = b.le, b.count
	}
	return prevLE
}

// maxBucket returns the upper bound of the highest bucket that gained
// observations (the last finite bound if only +Inf did).
func maxBucket(bs []bucket) float64 {
	prev, prevLE := 0.0, 0.0
	best := 0.0
	for _, b := range bs {
		if b.count > prev {
			if math.IsInf(b.le, 1) {
				best = prevLE
			} else {
				best = b.le
			}
		}
		prev = b.count
		if !math.IsInf(b.le, 1) {
			prevLE = b.le
		}
	}
	return best
}

// serverStats computes the window's ServerStats from two scrapes.
func serverStats(url string, start, end *metrics) *ServerStats {
	s := &ServerStats{URL: url, WindowS: end.at.Sub(start.at).Seconds()}
	diff := func(names []string) float64 {
		a, _ := start.value(names)
		b, _ := end.value(names)
		return b - a
	}
	s.Sessions, _ = end.value(metricSessions)
	s.Rooms, _ = end.value(metricRooms)
	s.RSSBytes, _ = end.value(metricRSS)
	s.Overruns = diff(metricOverruns)
	s.BytesOut = diff(metricBytesOut)
	s.Sent = diff(metricSent)
	s.Dropped = diff(metricDropped)
	s.CPUSeconds = diff(metricCPU)
	if s.WindowS > 0 {
		s.BytesOutPerS = s.BytesOut / s.WindowS
	}
	if name, endB := end.histogram(metricTickSeconds); name != "" {
		bs := deltaBuckets(start.buckets[name], endB)
		if len(bs) > 0 {
			s.Ticks = uint64(bs[len(bs)-1].count)
		}
		if v := bucketQuantile(0.50, bs); !math.IsNaN(v) {
			s.TickP50MS = v * 1000
		}
		if v := bucketQuantile(0.99, bs); !math.IsNaN(v) {
			s.TickP99MS = v * 1000
		}
		s.TickMaxMS = maxBucket(bs) * 1000
	}
	return s
}

// scrape fetches and parses one /metrics page, with token as the bearer
// token when it is not empty.
func scrape(ctx context.Context, client *http.Client, url, token string) (*metrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("server stats: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("server stats: %s: %s: give the node's admin token (-server-stats-token or TICKSYNC_ADMIN_TOKEN), or scrape its -metrics-addr", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server stats: %s: %s", url, resp.Status)
	}
	m, err := parseMetrics(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("server stats: %w", err)
	}
	m.at = time.Now()
	return m, nil
}
