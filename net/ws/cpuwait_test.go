package ws

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// cpuWait tells a latency assertion how long the machine kept the node's
// process from running when it wanted to run, so that a test judges the
// node, not its neighbours. Linux counts, per thread, the time spent
// runnable but waiting for a CPU (run_delay, the second field of
// /proc/self/task/*/schedstat). Time the node's goroutines wait for one of
// the node's own Ps (the node busy with its own work) is not in it: that
// counts against the node. On a shared 2-core machine other processes hold
// a busy process off the CPU for 100 ms and more at a time (a load average
// of 10 to 20 is common; the tests' flood runs in a process of its own, as
// an attacker's client would).
// A sample (a read of every thread's schedstat) costs about 0.3 ms with
// twenty threads: every 10 ms, 3% of a core.
const cpuWaitEvery = 10 * time.Millisecond

type cpuWait struct {
	mu      sync.Mutex
	samples []cpuSample
}

type cpuSample struct {
	at    time.Time
	delay time.Duration // summed over the process's threads
}

// startCPUWait samples this process's run_delay every cpuWaitEvery until
// the test ends. It fails the test where schedstat is missing (the flood
// tests need Linux, as the loopback addresses 127.0.0.x do).
func startCPUWait(t *testing.T) *cpuWait {
	t.Helper()
	w := &cpuWait{}
	if _, ok := runDelay(); !ok {
		t.Fatal("no /proc/self/task/*/schedstat: the flood test needs Linux with schedstats")
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(cpuWaitEvery)
		defer tick.Stop()
		for {
			if d, ok := runDelay(); ok {
				w.mu.Lock()
				w.samples = append(w.samples, cpuSample{at: time.Now(), delay: d})
				w.mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return w
}

// waited returns how long this process's threads together waited for a
// CPU between a and b, interpolating between the samples around each end,
// or false when that stretch was not sampled.
func (w *cpuWait) waited(a, b time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	da, okA := w.at(a)
	db, okB := w.at(b)
	return db - da, okA && okB
}

// at estimates the summed run_delay at t from the samples on either side
// (mu held).
func (w *cpuWait) at(t time.Time) (time.Duration, bool) {
	for i := 1; i < len(w.samples); i++ {
		s0, s1 := w.samples[i-1], w.samples[i]
		if s0.at.After(t) || s1.at.Before(t) {
			continue
		}
		span := s1.at.Sub(s0.at)
		if span <= 0 {
			return s1.delay, true
		}
		frac := float64(t.Sub(s0.at)) / float64(span)
		return s0.delay + time.Duration(frac*float64(s1.delay-s0.delay)), true
	}
	return 0, false
}

// runDelay sums run_delay over this process's threads.
func runDelay() (time.Duration, bool) {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return 0, false
	}
	var sum time.Duration
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the thread exited
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			return 0, false
		}
		ns, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return 0, false
		}
		sum += time.Duration(ns)
	}
	return sum, true
}

// judged returns the part of gap [a, b] the node is answerable for: the gap
// less the time the machine held the node's Ps off the CPU meanwhile (the
// threads' summed wait shared among the Ps), and never less than period.
func (w *cpuWait) judged(a, b time.Time, period time.Duration) time.Duration {
	gap := b.Sub(a)
	if d, ok := w.waited(a, b); ok {
		gap -= d / time.Duration(runtime.GOMAXPROCS(0))
	}
	return max(gap, period)
}
