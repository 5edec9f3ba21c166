package sim

import "time"

// Clock is the drift-free schedule of a room loop: slot n is due at
// start + n·period, computed from n and the tick rate each time, so that a
// late slot never shifts the ones after it and rounding never accumulates.
//
// The room loop owns its Clock (it is not safe for concurrent use) and
// drives a single time.Timer with it:
//
//	timer.Reset(clock.Wait(time.Now()))
//	// ... when the timer fires:
//	if slot, ok := clock.Advance(time.Now()); ok { runTick(slot) }
//
// A slot that starts after the next one is already due is an overrun. When
// the loop is MaxCatchUp or more slots behind (a stall: GC, a paused VM, a
// slow Step), Advance skips to the newest due slot instead of running the
// missed ones back to back; the skipped slots are counted.
type Clock struct {
	start    time.Time
	rate     uint64 // slots per second
	maxLag   uint64
	next     uint64 // the next slot to run
	overruns uint64
	skipped  uint64
}

// NewClock returns a Clock whose slot 1 is due one period after start.
// rate is in slots per second (> 0); maxCatchUp (> 0) is the lag in slots at
// which Advance skips ahead.
func NewClock(start time.Time, rate, maxCatchUp int) *Clock {
	if rate <= 0 {
		rate = 1
	}
	if maxCatchUp <= 0 {
		maxCatchUp = 1
	}
	return &Clock{start: start, rate: uint64(rate), maxLag: uint64(maxCatchUp), next: 1}
}

// Due returns the time at which slot n is due: start + n·(1s/rate), exactly.
func (c *Clock) Due(n uint64) time.Time {
	s := uint64(time.Second)
	return c.start.Add(time.Duration((n/c.rate)*s + (n%c.rate)*s/c.rate))
}

// slotAt returns the newest slot due at now (0 before slot 1 is due).
func (c *Clock) slotAt(now time.Time) uint64 {
	d := now.Sub(c.start)
	if d <= 0 {
		return 0
	}
	s := uint64(time.Second)
	ns := uint64(d)
	// floor(ns·rate/s) without overflowing: whole seconds, then the rest.
	n := (ns/s)*c.rate + (ns%s)*c.rate/s
	// Integer division may land one slot off at exact boundaries; fix up
	// against Due, which is the definition.
	for n > 0 && c.Due(n).After(now) {
		n--
	}
	for !c.Due(n + 1).After(now) {
		n++
	}
	return n
}

// Next returns the next slot Advance will run.
func (c *Clock) Next() uint64 { return c.next }

// Wait returns how long after now the next slot is due; 0 if it is due.
func (c *Clock) Wait(now time.Time) time.Duration {
	d := c.Due(c.next).Sub(now)
	if d < 0 {
		return 0
	}
	return d
}

// Advance is called when the timer fires. It returns the slot to run now,
// or ok false when none is due yet (an early wake-up). It counts an overrun
// when a later slot is already due, and skips ahead when the lag reached the
// catch-up limit.
func (c *Clock) Advance(now time.Time) (slot uint64, ok bool) {
	n := c.next
	if c.Due(n).After(now) {
		return 0, false
	}
	latest := c.slotAt(now)
	if latest > n {
		c.overruns++
		if latest-n >= c.maxLag {
			c.skipped += latest - n
			n = latest
		}
	}
	c.next = n + 1
	return n, true
}

// Overruns returns how many slots started after the next one was due.
func (c *Clock) Overruns() uint64 { return c.overruns }

// Skipped returns how many slots were skipped after stalls.
func (c *Clock) Skipped() uint64 { return c.skipped }
