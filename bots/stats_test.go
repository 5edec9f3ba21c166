package bots

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ticksync/ticksync/net/client"
)

func TestPercentilesFromKnownInputs(t *testing.T) {
	c := newCollector(3)
	// 1..1000 ms, spread over the shards: p50 = 500 ms, p99 = 990 ms.
	for i := int64(1); i <= 1000; i++ {
		c.shards[i%3].recordSnapshot([]int64{i * 1000}, i*100)
	}
	c.inWindow = true
	c.collect()
	rtt := percentilesMS(c.winRTT)
	check := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.001+0.001 { // 3 significant digits
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if rtt.Count != 1000 {
		t.Fatalf("count = %d, want 1000", rtt.Count)
	}
	check("p50", rtt.P50, 500)
	check("p95", rtt.P95, 950)
	check("p99", rtt.P99, 990)
	check("max", rtt.Max, 1000)
	check("mean", rtt.Mean, 500.5)
	gap := percentilesMS(c.winGap)
	check("gap p50", gap.P50, 50)
	check("gap max", gap.Max, 100)

	// Shards were drained: a second collect adds nothing, and the window
	// keeps what it had.
	c.collect()
	if n := c.winRTT.TotalCount(); n != 1000 {
		t.Errorf("window count after empty collect = %d, want 1000", n)
	}
	if n := c.ivRTT.TotalCount(); n != 0 {
		t.Errorf("interval count after empty collect = %d, want 0", n)
	}
	// Opening the window drops the ramp's samples; closing it keeps what
	// was recorded since.
	c.shards[1].recordSnapshot([]int64{7000}, -1)
	c.openWindow()
	c.shards[0].recordSnapshot([]int64{2000}, -1)
	c.closeWindow()
	c.shards[0].recordSnapshot([]int64{9000}, -1)
	c.collect()
	if got := percentilesMS(c.winRTT); got.Count != 1 || got.P99 != 2 {
		t.Errorf("after openWindow: %+v, want one 2 ms sample", got)
	}
	if got := percentilesMS(c.winGap); got.Count != 0 {
		t.Errorf("gap -1 was recorded: %+v", got)
	}
}

func TestRecordClamped(t *testing.T) {
	c := newCollector(1)
	c.openWindow()
	c.shards[0].recordSnapshot([]int64{-5, 0, histMaxUS * 10}, -1)
	c.collect()
	if n := c.winRTT.TotalCount(); n != 3 {
		t.Fatalf("count = %d, want 3 (out-of-range values clamped)", n)
	}
	if max := c.winRTT.Max(); max < histMaxUS*0.999 {
		t.Errorf("max = %d, want about %d", max, histMaxUS)
	}
}

func TestTotalsSumAndWindow(t *testing.T) {
	var a, b counters
	a.inputs.Add(10)
	cs := client.Stats{SnapshotsFull: 1, SnapshotsDelta: 29, BytesIn: 3000}
	a.errs[ErrSend].Add(2)
	a.everJoined.Store(true)
	a.connected.Store(true)
	a.connSince.Store(100)
	b.inputs.Add(5)
	b.failed.Store(true)
	b.connNanos.Store(50)
	var base totals
	base.add(&a, &cs, 150)
	base.add(&b, nil, 150)
	if base.inputs != 15 || base.snapshots != 30 || base.joined != 1 || base.failed != 1 || base.connected != 1 {
		t.Fatalf("totals = %+v", base)
	}
	if base.connNanos != 50+50 {
		t.Errorf("connNanos = %d, want 100", base.connNanos)
	}
	a.inputs.Add(7)
	var end totals
	cs.SnapshotsDelta += 3
	end.add(&a, &cs, 200)
	end.add(&b, nil, 200)
	w := end.sub(base)
	if w.inputs != 7 || w.connNanos != 50 || w.errors() != 0 || w.snapshots != 3 || w.bytesDown != 0 {
		t.Errorf("window = %+v", w)
	}
	if end.errors() != 2 {
		t.Errorf("errors = %d, want 2", end.errors())
	}
}

func TestReportJSONFields(t *testing.T) {
	r := &Report{
		Bots:         BotCounts{Target: 2, Connected: 2},
		DurationS:    3,
		RTT:          Percentiles{P50: 1, P95: 2, P99: 3, Max: 4},
		Errors:       map[string]uint64{"send": 1},
		MaxErrorRate: 0.01,
		Server:       &ServerStats{TickP99MS: 1.5},
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"bots":                     {"target", "connected", "failed"},
		"duration_s":               nil,
		"rtt_ms":                   {"p50", "p95", "p99", "max"},
		"snapshot_gap_ms":          {"p50", "p95", "p99", "max"},
		"bytes_down_per_bot_per_s": nil,
		"bytes_up_per_bot_per_s":   nil,
		"snapshots":                {"full", "delta", "gaps"},
		"reconnects":               nil,
		"stall_reconnects":         nil,
		"resume_ms":                {"p50", "p99", "max"},
		"errors":                   {"send"},
		"bot_cpu":                  {"per_bot_pct", "us_per_snapshot", "rss_bytes"},
		"server":                   {"tick_p99_ms", "overruns", "sessions", "bytes_out"},
	}
	for k, sub := range want {
		v, ok := m[k]
		if !ok {
			t.Errorf("report JSON lacks %q", k)
			continue
		}
		if len(sub) == 0 {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%q is %T, want an object", k, v)
			continue
		}
		for _, s := range sub {
			if _, ok := obj[s]; !ok {
				t.Errorf("%q lacks %q", k, s)
			}
		}
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"input→ack rtt", "snapshot gap", "verdict", "ok"} {
		if !strings.Contains(sb.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, sb.String())
		}
	}
}

func TestReportVerdict(t *testing.T) {
	r := Report{Bots: BotCounts{Target: 3, Connected: 3}, MaxErrorRate: 0.01}
	if !r.OK() {
		t.Errorf("clean run not OK: %s", r.Verdict())
	}
	r.Bots.Connected, r.Bots.Failed = 2, 1
	if r.OK() || !strings.Contains(r.Verdict(), "1 of 3 bots failed") {
		t.Errorf("failed bot: OK=%v %q", r.OK(), r.Verdict())
	}
	r = Report{Bots: BotCounts{Target: 3, Connected: 3}, ErrorRate: 0.02, MaxErrorRate: 0.01}
	if r.OK() || !strings.Contains(r.Verdict(), "error rate") {
		t.Errorf("error rate: OK=%v %q", r.OK(), r.Verdict())
	}
}
