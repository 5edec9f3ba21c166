package game

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/sim"
)

// This file measures a match for its operators (Manager.Detail): the tick
// time of its recent ticks, the snapshot bytes it sends per second, and
// each player's round-trip time and input age. The room goroutine writes
// (through the sim.Metrics the match hands its room), connections' read
// goroutines write their players' samples, and the admin API reads; all
// through atomics, so the room never waits for a reader.

// tickWindow is how many recent ticks the tick-time percentiles cover
// (8.5 s at 30 Hz).
const tickWindow = 256

// sentRing is how many recent ticks remember when their snapshots went
// out, for the round-trip time of the inputs that acknowledge them (4 s at
// 30 Hz; an ack older than that is not sampled).
const sentRing = 128

// rttWeight is the weight of a new round-trip sample in the smoothed value
// (1/8, as TCP's SRTT).
const rttWeight = 8

// matchStats are the operator's measurements of one match.
type matchStats struct {
	// Written by the room goroutine only.
	durs    [tickWindow]atomic.Int64 // ns of the last ticks, a ring
	ndurs   atomic.Uint64            // ticks measured
	sentAt  [sentRing]atomic.Int64   // unix ns when tick's snapshots were handed out
	sentFor [sentRing]atomic.Uint32  // the tick each sentAt slot is for (0 while written)
	winFrom time.Time                // start of the current bytes-per-second window
	winSum  int                      // bytes in that window so far
	rate    atomic.Uint64            // float64 bits: bytes per second of the last full window
	rateAt  atomic.Int64             // unix ns when rate was published
}

// metrics returns the sim.Metrics of mt's room: next (the node's, may be
// nil) with mt's own measurements added.
func (st *matchStats) metrics(mt *Match, next sim.Metrics) sim.Metrics {
	if next == nil {
		next = sim.NopMetrics{}
	}
	return &statsMetrics{Metrics: next, st: st, mt: mt}
}

// statsMetrics feeds a match's matchStats from its room's metrics calls
// (room goroutine), then passes them on.
type statsMetrics struct {
	sim.Metrics
	st *matchStats
	mt *Match
}

func (s *statsMetrics) TickDuration(d time.Duration) {
	st := s.st
	n := st.ndurs.Load()
	st.durs[n%tickWindow].Store(int64(d))
	st.ndurs.Store(n + 1)
	s.Metrics.TickDuration(d)
}

// Snapshots is called right after the room handed this tick's snapshots to
// the connections: that is when the tick was sent.
func (s *statsMetrics) Snapshots(encodes, n, bytes int) {
	st := s.st
	now := time.Now()
	tick := s.mt.room.Tick() // the tick just stepped (room goroutine)
	i := tick % sentRing
	st.sentFor[i].Store(0)
	st.sentAt[i].Store(now.UnixNano())
	st.sentFor[i].Store(tick)
	if st.winFrom.IsZero() {
		st.winFrom = now
	}
	st.winSum += bytes
	if el := now.Sub(st.winFrom); el >= time.Second {
		st.rate.Store(math.Float64bits(float64(st.winSum) / el.Seconds()))
		st.rateAt.Store(now.UnixNano())
		st.winFrom, st.winSum = now, 0
	}
	s.Metrics.Snapshots(encodes, n, bytes)
}

// sentTime returns when tick's snapshots were handed out, if still known.
func (st *matchStats) sentTime(tick uint32) (time.Time, bool) {
	if tick == 0 {
		return time.Time{}, false
	}
	i := tick % sentRing
	if st.sentFor[i].Load() != tick {
		return time.Time{}, false
	}
	at := st.sentAt[i].Load()
	if st.sentFor[i].Load() != tick { // rewritten meanwhile
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// tickTimes returns the 99th percentile and the maximum of the recent
// tick times (zero before the first tick).
func (st *matchStats) tickTimes() (p99, maxd time.Duration) {
	n := min(st.ndurs.Load(), tickWindow)
	if n == 0 {
		return 0, 0
	}
	ds := make([]int64, n)
	for i := range ds {
		ds[i] = st.durs[i].Load()
	}
	slices.Sort(ds)
	return time.Duration(ds[(len(ds)*99-1)/100]), time.Duration(ds[len(ds)-1])
}

// bytesPerSec returns the snapshot bytes per second of the last full
// second; 0 once that second is more than two seconds old (the room stopped
// sending: paused, frozen or without players).
func (st *matchStats) bytesPerSec(now time.Time) float64 {
	at := st.rateAt.Load()
	if at == 0 || now.Sub(time.Unix(0, at)) > 2*time.Second {
		return 0
	}
	return math.Float64frombits(st.rate.Load())
}

// playerStats are one seat's measurements, written by its connection's
// read goroutine (Seat.Input) and read by the admin API.
type playerStats struct {
	lastInput atomic.Int64  // unix ns of the newest input; 0: none yet
	acked     atomic.Uint32 // the newest ack sampled for the round trip
	rtt       atomic.Int64  // smoothed round trip in ns; 0: no sample yet
}

// input records one input of the seat: its arrival, and a round-trip
// sample when it acknowledges a tick not sampled before. The sample runs
// from the moment the room handed that tick's snapshot to the connection
// to the arrival of the first input that acknowledges it, so it includes
// the client's wait for its next input (at most one of its input
// intervals).
func (ps *playerStats) input(st *matchStats, ack uint32, now time.Time) {
	ps.lastInput.Store(now.UnixNano())
	if ack <= ps.acked.Load() {
		return
	}
	ps.acked.Store(ack)
	sent, ok := st.sentTime(ack)
	if !ok {
		return
	}
	sample := int64(now.Sub(sent))
	if sample < 0 {
		return
	}
	old := ps.rtt.Load()
	if old == 0 {
		ps.rtt.Store(sample)
		return
	}
	ps.rtt.Store(old + (sample-old)/rttWeight)
}
