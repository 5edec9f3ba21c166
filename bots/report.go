package bots

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Percentiles summarises a latency histogram in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

// percentilesMS reads a histogram of microseconds as milliseconds.
func percentilesMS(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Count: h.TotalCount(),
		Mean:  h.Mean() / 1000,
		P50:   ms(h.ValueAtQuantile(50)),
		P95:   ms(h.ValueAtQuantile(95)),
		P99:   ms(h.ValueAtQuantile(99)),
		P999:  ms(h.ValueAtQuantile(99.9)),
		Max:   ms(h.Max()),
	}
}

// BotCounts is the "bots" section of a Report.
type BotCounts struct {
	Target    int `json:"target"`
	Connected int `json:"connected"` // bots that received a Welcome at least once
	Failed    int `json:"failed"`    // bots that never joined
	AtEnd     int `json:"at_end"`    // bots holding a seat when the run ended
}

// SnapshotCounts is the "snapshots" section of a Report (measured window).
type SnapshotCounts struct {
	Full  uint64 `json:"full"`
	Delta uint64 `json:"delta"`
	Gaps  uint64 `json:"gaps"` // ticks skipped between consecutive snapshots (dropped)
	Total uint64 `json:"total"`
	// NoBaseline counts snapshots refused because their baseline had left
	// the bot's World ring (Config.WorldRing); each also shows as a gap.
	NoBaseline    uint64  `json:"no_baseline"`
	PerBotPerS    float64 `json:"per_bot_per_s"`
	MeanBytes     float64 `json:"mean_bytes"` // mean payload size of a snapshot message
	ExpectedPerS  float64 `json:"expected_per_bot_per_s"`
	DeliveredFrac float64 `json:"delivered_fraction"` // per_bot_per_s / expected
}

// RoomCounts says how the bots spread over matches (first joins).
type RoomCounts struct {
	Count   int    `json:"count"`
	MinBots int    `json:"min_bots"`
	MaxBots int    `json:"max_bots"`
	Note    string `json:"note,omitempty"` // when rooms do not hold PerRoom bots
}

// InputCounts is the "inputs" section of a Report (measured window).
type InputCounts struct {
	Sent       uint64  `json:"sent"`
	PerBotPerS float64 `json:"per_bot_per_s"`
}

// GameCounts is the "game" section of a Report, for a game whose schema
// declares events (client or server): it counts them. A game without
// events (the arena) has none. Event counts cover the measured window.
type GameCounts struct {
	Name       string `json:"name"`
	Schema     string `json:"schema"`      // the schema's namespace
	SchemaHash string `json:"schema_hash"` // hex sha256
	// EventsSent are the client events the bots sent (each once; the
	// re-sends after reconnects are EventsResent); EventsReceived the
	// server events delivered to them (each seq once; the node's repeats
	// of unacknowledged events are EventsDuplicate).
	EventsSent         uint64  `json:"events_sent"`
	EventsReceived     uint64  `json:"events_received"`
	EventsResent       uint64  `json:"events_resent"`
	EventsDuplicate    uint64  `json:"events_duplicate"`
	SentPerBotPerS     float64 `json:"events_sent_per_bot_per_s"`
	ReceivedPerBotPerS float64 `json:"events_received_per_bot_per_s"`
}

// CPUUsage is the swarm process's own cost over the measured window.
type CPUUsage struct {
	UserS         float64 `json:"user_s"`
	SystemS       float64 `json:"system_s"`
	Cores         float64 `json:"cores"`           // (user+system) / window seconds
	PerBotPct     float64 `json:"per_bot_pct"`     // of one core
	USPerSnapshot float64 `json:"us_per_snapshot"` // CPU µs per snapshot received
	RSSBytes      int64   `json:"rss_bytes"`
	HeapBytes     uint64  `json:"heap_bytes"`
	StackBytes    uint64  `json:"stack_bytes"`
	BytesPerBot   float64 `json:"bytes_per_bot"` // RSS / bots connected
	Goroutines    int     `json:"goroutines"`
}

// Report is the outcome of a Swarm run. Counters and latencies cover the
// measured window (after Ramp and Warmup, for Duration); Bots, Reconnects,
// StallReconnects, Resume and Errors cover the whole run. StallReconnects
// counts the connections the bots dropped because no snapshot came within
// Config.StallTimeout (each then resumed like any drop, and counted in
// Reconnects when it did).
type Report struct {
	URLs                []string          `json:"urls"`
	Behavior            Behavior          `json:"behavior"`
	PerRoom             int               `json:"per_room"`
	TickRate            int               `json:"tick_rate"`
	Bots                BotCounts         `json:"bots"`
	DurationS           float64           `json:"duration_s"` // measured window
	RunS                float64           `json:"run_s"`      // whole run, ramp included
	BotSeconds          float64           `json:"bot_seconds"`
	RTT                 Percentiles       `json:"rtt_ms"`
	SnapshotGap         Percentiles       `json:"snapshot_gap_ms"`
	BytesDownPerBotPerS float64           `json:"bytes_down_per_bot_per_s"`
	BytesUpPerBotPerS   float64           `json:"bytes_up_per_bot_per_s"`
	Snapshots           SnapshotCounts    `json:"snapshots"`
	Inputs              InputCounts       `json:"inputs"`
	Game                *GameCounts       `json:"game,omitempty"`
	Rooms               RoomCounts        `json:"rooms"`
	Reconnects          uint64            `json:"reconnects"`
	StallReconnects     uint64            `json:"stall_reconnects"`
	Resume              Percentiles       `json:"resume_ms"`
	Errors              map[string]uint64 `json:"errors"`
	ErrorCount          uint64            `json:"error_count"`
	ErrorRate           float64           `json:"error_rate"` // errors / inputs sent, whole run
	MaxErrorRate        float64           `json:"max_error_rate"`
	CPU                 CPUUsage          `json:"bot_cpu"`
	Server              *ServerStats      `json:"server,omitempty"`
	ServerStatsError    string            `json:"server_stats_error,omitempty"`
}

// OK reports whether the run was clean: every bot connected and the error
// rate stayed within MaxErrorRate.
func (r *Report) OK() bool {
	return r.Bots.Failed == 0 && r.Bots.Connected == r.Bots.Target && r.ErrorRate <= r.MaxErrorRate
}

// Verdict explains OK in one line.
func (r *Report) Verdict() string {
	var why []string
	if r.Bots.Failed > 0 || r.Bots.Connected < r.Bots.Target {
		why = append(why, fmt.Sprintf("%d of %d bots failed to connect", r.Bots.Target-r.Bots.Connected, r.Bots.Target))
	}
	if r.ErrorRate > r.MaxErrorRate {
		why = append(why, fmt.Sprintf("error rate %.4f over %.4f", r.ErrorRate, r.MaxErrorRate))
	}
	if len(why) == 0 {
		return "ok"
	}
	return "FAIL: " + strings.Join(why, "; ")
}

// WriteJSON writes the report to path as indented JSON.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	lat := func(name string, q Percentiles) {
		p("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d", name, q.P50, q.P95, q.P99, q.P999, q.Max, q.Count)
	}
	p("ticksync-bots report\t")
	p("urls\t%s", strings.Join(r.URLs, ","))
	p("behavior / per room / tick rate\t%s / %d / %d Hz", r.Behavior, r.PerRoom, r.TickRate)
	if g := r.Game; g != nil {
		p("game\t%s (schema %s %.12s…)", g.Name, g.Schema, g.SchemaHash)
	}
	p("bots\t%d connected, %d failed, %d target, %d at end", r.Bots.Connected, r.Bots.Failed, r.Bots.Target, r.Bots.AtEnd)
	p("rooms\t%d (%d..%d bots each)", r.Rooms.Count, r.Rooms.MinBots, r.Rooms.MaxBots)
	if r.Rooms.Note != "" {
		p("\t%s", r.Rooms.Note)
	}
	p("window\t%.1f s measured (%.1f s run, %.0f bot-seconds)", r.DurationS, r.RunS, r.BotSeconds)
	p("\t")
	p("latency (ms)\tp50\tp95\tp99\tp99.9\tmax\tcount")
	lat("input→ack rtt", r.RTT)
	lat("snapshot gap", r.SnapshotGap)
	lat("resume", r.Resume)
	p("\t")
	p("bytes down / bot / s\t%.0f", r.BytesDownPerBotPerS)
	p("bytes up / bot / s\t%.0f", r.BytesUpPerBotPerS)
	p("snapshots\t%d full, %d delta, %d ticks missed (gaps), %d without baseline; %.1f / bot / s of %.0f expected; mean %.0f B",
		r.Snapshots.Full, r.Snapshots.Delta, r.Snapshots.Gaps, r.Snapshots.NoBaseline, r.Snapshots.PerBotPerS, r.Snapshots.ExpectedPerS, r.Snapshots.MeanBytes)
	p("inputs\t%d sent, %.1f / bot / s", r.Inputs.Sent, r.Inputs.PerBotPerS)
	if g := r.Game; g != nil {
		p("client events\t%d sent, %.2f / bot / s, %d re-sent after reconnects", g.EventsSent, g.SentPerBotPerS, g.EventsResent)
		p("server events\t%d received, %.2f / bot / s, %d repeats dropped", g.EventsReceived, g.ReceivedPerBotPerS, g.EventsDuplicate)
	}
	p("reconnects\t%d (%d after a stall: no snapshot for the stall timeout)", r.Reconnects, r.StallReconnects)
	p("errors\t%d (rate %.4f, max %.4f)%s", r.ErrorCount, r.ErrorRate, r.MaxErrorRate, formatErrors(r.Errors))
	p("bot cpu\t%.2f cores, %.3f%% of a core per bot, %.1f µs per snapshot", r.CPU.Cores, r.CPU.PerBotPct, r.CPU.USPerSnapshot)
	p("bot memory\t%.1f MiB RSS, %.0f B per bot, %d goroutines", float64(r.CPU.RSSBytes)/(1<<20), r.CPU.BytesPerBot, r.CPU.Goroutines)
	if s := r.Server; s != nil {
		p("\t")
		p("server (%s)\t", s.URL)
		p("sessions\t%.0f", s.Sessions)
		p("tick time p99 / max\t%.2f ms / %.2f ms (%d ticks)", s.TickP99MS, s.TickMaxMS, s.Ticks)
		p("overruns\t%.0f", s.Overruns)
		p("bytes out / s\t%.0f", s.BytesOutPerS)
		p("snapshots dropped\t%.0f", s.Dropped)
	} else if r.ServerStatsError != "" {
		p("server stats\t%s", r.ServerStatsError)
	}
	p("verdict\t%s", r.Verdict())
	return tw.Flush()
}

func formatErrors(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(":")
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	return b.String()
}

// progress is one progress line's figures.
type progress struct {
	elapsed    time.Duration
	connected  int
	target     int
	inputsPerS float64
	snapsPerS  float64
	p99RTTms   float64
	errors     uint64
	reconnects uint64
	stalls     uint64
	inWindow   bool
}

func (p progress) String() string {
	phase := "ramp"
	if p.inWindow {
		phase = "window"
	}
	return fmt.Sprintf("%6.1fs %-6s bots %d/%d  inputs/s %.0f  snapshots/s %.0f  p99 rtt %.1f ms  errors %d  reconnects %d  stalls %d",
		p.elapsed.Seconds(), phase, p.connected, p.target, p.inputsPerS, p.snapsPerS, p.p99RTTms, p.errors, p.reconnects, p.stalls)
}
