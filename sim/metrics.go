package sim

import "time"

// Metrics receives a room's measurements. The node wires a Prometheus
// implementation; the default is NopMetrics. Labels (room, game, node) are
// bound by the implementation when it is created, not passed per call.
//
// All methods except InputDropped are called on the room goroutine, once per
// tick at most, with counts summed during the tick. InputDropped is called
// on a connection's read goroutine, so an implementation must be safe for
// concurrent use. Methods must not block.
type Metrics interface {
	// TickDuration is the time one tick took: drain, step, record, encode
	// and hand the snapshots to the connections.
	TickDuration(d time.Duration)
	// Overrun: a tick started after the next one was already due.
	Overrun()
	// TicksSkipped: the loop fell MaxCatchUp or more ticks behind and
	// skipped n ticks of its schedule.
	TicksSkipped(n int)
	// InputDropped: a player's input queue was full and its oldest input
	// was dropped.
	InputDropped()
	// InputsDiscarded: n inputs were received but never applied this tick
	// (stale or duplicate seq, jitter buffer overflow, catch-up skips).
	InputsDiscarded(n int)
	// Snapshots: this tick encoded encodes distinct snapshots (one per
	// distinct baseline) and sent n snapshots totalling bytes bytes.
	Snapshots(encodes, n, bytes int)
	// Saturation is the fraction (0..1) of the last second that the loop
	// spent working rather than waiting.
	Saturation(busy float64)
}

// NopMetrics discards every measurement.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

func (NopMetrics) TickDuration(time.Duration) {}
func (NopMetrics) Overrun()                   {}
func (NopMetrics) TicksSkipped(int)           {}
func (NopMetrics) InputDropped()              {}
func (NopMetrics) InputsDiscarded(int)        {}
func (NopMetrics) Snapshots(int, int, int)    {}
func (NopMetrics) Saturation(float64)         {}

// saturation measures the fraction of wall time a loop spends working, in
// windows of about one second (after hashicorp/raft's saturation metric).
// Owned by the room goroutine.
type saturation struct {
	window time.Duration
	start  time.Time // start of the current window
	busy   time.Duration
}

func newSaturation(now time.Time, window time.Duration) saturation {
	return saturation{window: window, start: now}
}

// work records a busy interval [from, to). It returns the saturation of the
// window and true when a window closed.
func (s *saturation) work(from, to time.Time) (float64, bool) {
	s.busy += to.Sub(from)
	elapsed := to.Sub(s.start)
	if elapsed < s.window {
		return 0, false
	}
	f := float64(s.busy) / float64(elapsed)
	if f > 1 {
		f = 1
	}
	s.start, s.busy = to, 0
	return f, true
}
