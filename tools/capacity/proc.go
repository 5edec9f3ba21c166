package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux this runs on).
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident set, and
// of the whole machine's busy CPU time.
type procSample struct {
	at      time.Time
	cpu     time.Duration // utime + stime
	rss     int64
	machine time.Duration // all CPUs, time not idle (/proc/stat); 0: unknown
}

// machineBusy reads the CPU time all CPUs spent not idle (user, nice,
// system, irq, softirq, steal) from the first line of /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// readProc reads /proc/PID/stat.
func readProc(pid int) (procSample, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procSample{}, err
	}
	now := time.Now()
	// The command name (field 2) may hold spaces: parse after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime 15, rss 24.
	if len(f) < 22 {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	rss, err3 := strconv.ParseInt(f[21], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procSample{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return procSample{
		at:  now,
		cpu: time.Duration(ut+st) * time.Second / clockTicks,
		rss: rss * int64(os.Getpagesize()),
	}, nil
}

// sampler reads a process's /proc/PID/stat every interval until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []procSample
	stop    chan struct{}
	done    chan struct{}
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if p, err := readProc(pid); err == nil {
				p.machine, _ = machineBusy()
				s.mu.Lock()
				s.samples = append(s.samples, p)
				s.mu.Unlock()
			}
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

func (s *sampler) Stop() {
	close(s.stop)
	<-s.done
}

// window returns the CPU time used between from and to (the samples nearest
// inside the window), the wall time between those samples, the largest RSS
// seen, and the busy CPU time of the whole machine over the same samples.
func (s *sampler) window(from, to time.Time) (cpu, wall time.Duration, maxRSS int64, machine time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, last *procSample
	for i := range s.samples {
		p := &s.samples[i]
		if p.at.Before(from) || p.at.After(to) {
			continue
		}
		if first == nil {
			first = p
		}
		last = p
		maxRSS = max(maxRSS, p.rss)
	}
	if first == nil || last == first {
		return 0, 0, maxRSS, 0
	}
	if first.machine > 0 && last.machine > 0 {
		machine = last.machine - first.machine
	}
	return last.cpu - first.cpu, last.at.Sub(first.at), maxRSS, machine
}

// waitQuiet waits until the machine has been nearly idle (less than
// maxBusy of one core in use, all processes together) for quietFor, at most
// timeout; it reports how long it waited and whether it found quiet.
// Nothing of the benchmark runs while it waits, so what it sees is other
// processes' load.
func waitQuiet(ctx context.Context, maxBusy float64, quietFor, timeout time.Duration) (time.Duration, bool) {
	const every = 250 * time.Millisecond
	start := time.Now()
	prev, err := machineBusy()
	if err != nil {
		return 0, false
	}
	prevAt, quietSince := time.Now(), time.Now()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return time.Since(start), false
		}
		cur, err := machineBusy()
		if err != nil {
			return time.Since(start), false
		}
		now := time.Now()
		if busy := 100 * (cur - prev).Seconds() / now.Sub(prevAt).Seconds(); busy > maxBusy {
			quietSince = now
		}
		prev, prevAt = cur, now
		if now.Sub(quietSince) >= quietFor {
			return now.Sub(start), true
		}
		if now.Sub(start) >= timeout {
			return now.Sub(start), false
		}
	}
}

// freeAddr returns a free loopback TCP address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// command builds an exec.Cmd, under taskset when cpu >= 0.
func command(ctx context.Context, cpu int, name string, args ...string) *exec.Cmd {
	if cpu >= 0 {
		args = append([]string{"-c", strconv.Itoa(cpu), name}, args...)
		name = "taskset"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second // then SIGKILL
	return cmd
}

// stopProcess sends SIGTERM and waits up to grace before SIGKILL.
func stopProcess(cmd *exec.Cmd, grace time.Duration) error {
	if cmd.Process == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		_ = cmd.Process.Kill()
		return <-done
	}
}

// waitHTTP polls url until it answers 200, at most timeout.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", url, ctx.Err(), last)
		}
	}
}
