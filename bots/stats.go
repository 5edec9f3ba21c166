package bots

import (
	"sync"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// Histogram geometry: values in microseconds, 1 µs .. 60 s, 3 significant
// digits (about 140 KB per histogram).
const (
	histMinUS = 1
	histMaxUS = 60_000_000
	histSig   = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinUS, histMaxUS, histSig)
}

// recordClamped records v (µs), clamped into the histogram's range.
func recordClamped(h *hdrhistogram.Histogram, v int64) {
	if v < histMinUS {
		v = histMinUS
	} else if v > histMaxUS {
		v = histMaxUS
	}
	_ = h.RecordValue(v) // in range by construction
}

// ErrorKind classifies what went wrong for a bot. The report counts errors
// by kind name.
type ErrorKind uint8

// Error kinds. Server Error messages count as "server_" + the code's name.
const (
	ErrDial         ErrorKind = iota // could not connect (network, timeout)
	ErrHTTP                          // the upgrade was refused with an HTTP status
	ErrDisconnect                    // an established connection was lost
	ErrSlowConsumer                  // the server closed us as a slow consumer (4010)
	ErrClosedPolicy                  // closed for a protocol or policy violation (1003, 1007, 1008, 1009)
	ErrSend                          // sending an input failed
	ErrDecode                        // a server message did not verify, decode or apply
	ErrGaveUp                        // the client stopped reconnecting (its seat is lost)
	ErrRedirects                     // too many Redirect hops
	ErrStalled                       // no snapshot within the stall timeout: the bot dropped the connection
	ErrEvent                         // a client event was refused (the queue of unacknowledged events is full)
	errServerBase                    // + schema.ErrorCode: an Error message from the server
)

const numServerCodes = 18 // schema.ErrCodeUnknown .. schema.ErrCodeEventFlood

const numErrorKinds = errServerBase + numServerCodes

var errorKindNames = [numErrorKinds]string{
	ErrDial:           "dial",
	ErrHTTP:           "http_refused",
	ErrDisconnect:     "disconnect",
	ErrSlowConsumer:   "slow_consumer",
	ErrClosedPolicy:   "closed_policy",
	ErrSend:           "send",
	ErrDecode:         "decode",
	ErrGaveUp:         "gave_up",
	ErrRedirects:      "too_many_redirects",
	ErrStalled:        "stalled",
	ErrEvent:          "event_refused",
	errServerBase + 0: "server_unknown",
	errServerBase + 1: "server_bad_request",
	errServerBase + 2: "server_unauthorized",
	errServerBase + 3: "server_match_not_found",
	errServerBase + 4: "server_match_full",
	errServerBase + 5: "server_resume_refused",
	errServerBase + 6: "server_replaced",
	errServerBase + 7: "server_unavailable",
	errServerBase + 8: "server_shutting_down",
	errServerBase + 9: "server_node_full",
	// 10 and 11 are not error codes (their close codes 4010 and 4011
	// mean slow consumer and redirect).
	errServerBase + 10: "server_unknown",
	errServerBase + 11: "server_unknown",
	errServerBase + 12: "server_rate_limited",
	errServerBase + 13: "server_kicked",
	errServerBase + 14: "server_match_ended",
	errServerBase + 15: "server_join_refused",
	errServerBase + 16: "server_schema_mismatch",
	errServerBase + 17: "server_too_many_events",
}

// serverErrorKind is the kind of an Error message with code c.
func serverErrorKind(c schema.ErrorCode) ErrorKind {
	if int(c) >= numServerCodes || c == 10 || c == 11 {
		c = schema.ErrCodeUnknown
	}
	return errServerBase + ErrorKind(c)
}

func (k ErrorKind) String() string {
	if k < numErrorKinds {
		return errorKindNames[k]
	}
	return "unknown"
}

// counters are one bot's own running totals (the client keeps the byte and
// snapshot counts: client.Stats). Each field has one writer (the bot's
// client goroutine, the input scheduler or the dialer), so the atomic adds
// never contend; the reporter sums them with atomic loads.
type counters struct {
	inputs     atomic.Uint64
	noBaseline atomic.Uint64 // snapshots refused: baseline gone from the World ring
	connected  atomic.Bool   // currently holds a seat
	everJoined atomic.Bool   // received a Welcome at least once
	failed     atomic.Bool   // gave up before ever joining
	connNanos  atomic.Int64  // total time spent connected, closed intervals
	connSince  atomic.Int64  // start of the open connected interval (0: none)
	errs       [numErrorKinds]atomic.Uint64
}

// totals is the sum of every bot's counters and client stats at one instant.
type totals struct {
	inputs, bytesUp, snapshots, full, delta, gaps, bytesDown, reconnects uint64
	noBaseline, stalls                                                   uint64
	eventsOut, eventsIn, eventsResent, eventsDup                         uint64
	connected, joined, failed                                            int
	connNanos                                                            int64 // bot-nanoseconds connected
	errs                                                                 [numErrorKinds]uint64
}

// add adds one bot: its counters and its client's stats (cs; zero without a
// client). now is the swarm clock, closing open connected intervals.
func (t *totals) add(c *counters, cs *client.Stats, now int64) {
	t.inputs += c.inputs.Load()
	t.noBaseline += c.noBaseline.Load()
	if cs != nil {
		t.bytesUp += cs.BytesOut
		t.full += cs.SnapshotsFull
		t.delta += cs.SnapshotsDelta
		t.snapshots += cs.SnapshotsFull + cs.SnapshotsDelta
		t.gaps += cs.TickGaps
		t.bytesDown += cs.BytesIn
		t.reconnects += cs.Reconnects
		t.stalls += cs.Stalls
		t.eventsOut += cs.EventsOut
		t.eventsIn += cs.EventsIn
		t.eventsResent += cs.EventsResent
		t.eventsDup += cs.EventsDuplicate
	}
	if c.connected.Load() {
		t.connected++
	}
	if c.everJoined.Load() {
		t.joined++
	}
	if c.failed.Load() {
		t.failed++
	}
	t.connNanos += c.connNanos.Load()
	if s := c.connSince.Load(); s > 0 && now > s {
		t.connNanos += now - s
	}
	for i := range t.errs {
		t.errs[i] += c.errs[i].Load()
	}
}

// sub returns t - base, field by field (gauges keep t's value).
func (t totals) sub(base totals) totals {
	r := t
	r.inputs -= base.inputs
	r.noBaseline -= base.noBaseline
	r.bytesUp -= base.bytesUp
	r.snapshots -= base.snapshots
	r.full -= base.full
	r.delta -= base.delta
	r.gaps -= base.gaps
	r.bytesDown -= base.bytesDown
	r.reconnects -= base.reconnects
	r.stalls -= base.stalls
	r.eventsOut -= base.eventsOut
	r.eventsIn -= base.eventsIn
	r.eventsResent -= base.eventsResent
	r.eventsDup -= base.eventsDup
	r.connNanos -= base.connNanos
	for i := range r.errs {
		r.errs[i] -= base.errs[i]
	}
	return r
}

func (t *totals) errors() uint64 {
	var n uint64
	for _, e := range t.errs {
		n += e
	}
	return n
}

// shard holds the histograms that a subset of the bots records into. Bots
// record from their read goroutines under the shard's mutex (a few tens of
// ns, rarely contended: bots are spread over 4×GOMAXPROCS shards); the
// reporter drains a shard into its own histograms once per interval.
type shard struct {
	mu     sync.Mutex
	rtt    *hdrhistogram.Histogram // µs, input sent → first snapshot acking it
	gap    *hdrhistogram.Histogram // µs, between consecutive snapshots
	resume *hdrhistogram.Histogram // µs, connection lost → first snapshot after
	_      [64]byte                // keep neighbouring shards' locks apart
}

func newShard() *shard {
	return &shard{rtt: newHist(), gap: newHist(), resume: newHist()}
}

// recordSnapshot records the RTT samples and the inter-arrival gap that one
// snapshot produced (gapUS < 0: none), under one lock.
func (s *shard) recordSnapshot(rttUS []int64, gapUS int64) {
	s.mu.Lock()
	for _, v := range rttUS {
		recordClamped(s.rtt, v)
	}
	if gapUS >= 0 {
		recordClamped(s.gap, gapUS)
	}
	s.mu.Unlock()
}

func (s *shard) recordResume(us int64) {
	s.mu.Lock()
	recordClamped(s.resume, us)
	s.mu.Unlock()
}

// drain merges the shard's histograms into dst and resets them.
func (s *shard) drain(rtt, gap, resume *hdrhistogram.Histogram) {
	s.mu.Lock()
	if s.rtt.TotalCount() > 0 {
		rtt.Merge(s.rtt)
		s.rtt.Reset()
	}
	if s.gap.TotalCount() > 0 {
		gap.Merge(s.gap)
		s.gap.Reset()
	}
	if s.resume.TotalCount() > 0 {
		resume.Merge(s.resume)
		s.resume.Reset()
	}
	s.mu.Unlock()
}

// collector owns the shards and the merged histograms. Only the reporter
// goroutine calls its methods (except the shards' record methods).
type collector struct {
	shards []*shard
	// Merged by collect: the current interval (progress line) and the
	// measured window (report). resume is kept for the whole run.
	ivRTT, ivGap, ivResume *hdrhistogram.Histogram
	winRTT, winGap         *hdrhistogram.Histogram
	allResume              *hdrhistogram.Histogram
	inWindow               bool // between openWindow and closeWindow
}

func newCollector(nshards int) *collector {
	c := &collector{
		ivRTT: newHist(), ivGap: newHist(), ivResume: newHist(),
		winRTT: newHist(), winGap: newHist(), allResume: newHist(),
	}
	for range nshards {
		c.shards = append(c.shards, newShard())
	}
	return c
}

// collect drains every shard into the interval histograms (reset first)
// and, while the window is open, adds them to the window's.
func (c *collector) collect() {
	c.ivRTT.Reset()
	c.ivGap.Reset()
	c.ivResume.Reset()
	for _, s := range c.shards {
		s.drain(c.ivRTT, c.ivGap, c.ivResume)
	}
	if c.inWindow {
		c.winRTT.Merge(c.ivRTT)
		c.winGap.Merge(c.ivGap)
	}
	c.allResume.Merge(c.ivResume)
}

// openWindow drains the shards and discards what the window histograms
// held (ramp and warm-up): samples from here on count.
func (c *collector) openWindow() {
	c.collect()
	c.winRTT.Reset()
	c.winGap.Reset()
	c.inWindow = true
}

// closeWindow drains the shards into the window one last time and closes it.
func (c *collector) closeWindow() {
	c.collect()
	c.inWindow = false
}
