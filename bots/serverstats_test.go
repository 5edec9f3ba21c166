package bots

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const metricsPage1 = `# HELP ticksync_sim_tick_duration_seconds Tick time.
# TYPE ticksync_sim_tick_duration_seconds histogram
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.001"} 50
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.002"} 90
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.005"} 100
ticksync_sim_tick_duration_seconds_bucket{room="a",le="+Inf"} 100
ticksync_sim_tick_duration_seconds_sum{room="a"} 0.1
ticksync_sim_tick_duration_seconds_count{room="a"} 100
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.001"} 50
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.002"} 90
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.005"} 100
ticksync_sim_tick_duration_seconds_bucket{room="b",le="+Inf"} 100
ticksync_sim_tick_duration_seconds_sum{room="b"} 0.1
ticksync_sim_tick_duration_seconds_count{room="b"} 100
# TYPE ticksync_sim_tick_overruns_total counter
ticksync_sim_tick_overruns_total{room="a"} 1
ticksync_sim_tick_overruns_total{room="b"} 2
# TYPE ticksync_ws_sessions gauge
ticksync_ws_sessions 16
# TYPE ticksync_ws_bytes_out_total counter
ticksync_ws_bytes_out_total 1000
# TYPE ticksync_ws_messages_out_total counter
ticksync_ws_messages_out_total{kind="snapshot",node="n1"} 100
ticksync_ws_messages_out_total{kind="control",node="n1"} 7
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.5
`

// metricsPage2 is page 1 two seconds later: 100 more ticks per room, all in
// the 2..5 ms bucket except one over 5 ms.
const metricsPage2 = `# TYPE ticksync_sim_tick_duration_seconds histogram
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.001"} 50
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.002"} 90
ticksync_sim_tick_duration_seconds_bucket{room="a",le="0.005"} 200
ticksync_sim_tick_duration_seconds_bucket{room="a",le="+Inf"} 200
ticksync_sim_tick_duration_seconds_sum{room="a"} 0.5
ticksync_sim_tick_duration_seconds_count{room="a"} 200
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.001"} 50
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.002"} 90
ticksync_sim_tick_duration_seconds_bucket{room="b",le="0.005"} 199
ticksync_sim_tick_duration_seconds_bucket{room="b",le="+Inf"} 200
ticksync_sim_tick_duration_seconds_sum{room="b"} 0.5
ticksync_sim_tick_duration_seconds_count{room="b"} 200
# TYPE ticksync_sim_tick_overruns_total counter
ticksync_sim_tick_overruns_total{room="a"} 1
ticksync_sim_tick_overruns_total{room="b"} 5
# TYPE ticksync_ws_sessions gauge
ticksync_ws_sessions 14
# TYPE ticksync_ws_bytes_out_total counter
ticksync_ws_bytes_out_total 5000
# TYPE ticksync_ws_messages_out_total counter
ticksync_ws_messages_out_total{kind="snapshot",node="n1"} 500
ticksync_ws_messages_out_total{kind="control",node="n1"} 9
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 2.0
`

func TestServerStatsFromTwoScrapes(t *testing.T) {
	a, err := parseMetrics(strings.NewReader(metricsPage1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := parseMetrics(strings.NewReader(metricsPage2))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.at, b.at = now, now.Add(2*time.Second)
	s := serverStats("http://x/metrics", a, b)
	if s.Ticks != 200 {
		t.Errorf("ticks = %d, want 200", s.Ticks)
	}
	// 199 of 200 window ticks in (2, 5] ms, one over: p50 interpolates to
	// 2 + 3·(100/199) ms; p99 (rank 198) to 2 + 3·(198/199) ms.
	if want := 2 + 3*100.0/199; math.Abs(s.TickP50MS-want) > 1e-6 {
		t.Errorf("p50 = %v ms, want %v", s.TickP50MS, want)
	}
	if want := 2 + 3*198.0/199; math.Abs(s.TickP99MS-want) > 1e-6 {
		t.Errorf("p99 = %v ms, want %v", s.TickP99MS, want)
	}
	if s.TickMaxMS != 5 {
		t.Errorf("max = %v ms, want 5 (highest finite bound)", s.TickMaxMS)
	}
	if s.Overruns != 3 || s.Sessions != 14 || s.BytesOut != 4000 || s.BytesOutPerS != 2000 {
		t.Errorf("stats = %+v", s)
	}
	if s.Sent != 400 {
		t.Errorf("snapshots sent = %v, want 400 (kind=snapshot only)", s.Sent)
	}
	if math.Abs(s.CPUSeconds-0.5) > 1e-9 {
		t.Errorf("cpu = %v, want 0.5", s.CPUSeconds)
	}
}

func TestBucketQuantileEmpty(t *testing.T) {
	if v := bucketQuantile(0.99, nil); !math.IsNaN(v) {
		t.Errorf("empty = %v, want NaN", v)
	}
	if v := bucketQuantile(0.99, []bucket{{1, 0}, {math.Inf(1), 0}}); !math.IsNaN(v) {
		t.Errorf("no observations = %v, want NaN", v)
	}
}

// TestScrapeSendsTheToken: the scrape sends the bearer token; without it a
// node's 401 becomes an error that says what to give.
func TestScrapeSendsTheToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, metricsPage1)
	}))
	defer srv.Close()
	m, err := scrape(context.Background(), srv.Client(), srv.URL+"/metrics", "s3cret")
	if err != nil || m.values["ticksync_ws_sessions"] == 0 {
		t.Fatalf("with the token: %v %v", m, err)
	}
	if _, err := scrape(context.Background(), srv.Client(), srv.URL+"/metrics", ""); err == nil || !strings.Contains(err.Error(), "-server-stats-token") {
		t.Fatalf("without the token: %v", err)
	}
}
