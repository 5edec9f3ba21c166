package main

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	o, err := parseOptions([]string{"-steps", "10, 20", "-pin", "-measure", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.steps) != 2 || o.steps[1] != 20 || !o.pin || o.measure != 2*time.Second || o.perRoom != 8 || o.tickRate != 30 {
		t.Errorf("options = %+v", o)
	}
	for _, bad := range [][]string{{"-steps", "0"}, {"-steps", "x"}, {"-per-room", "0"}, {"-tick-rate", "999"}, {"-behavior", "fly"}, {"-measure", "0s"}} {
		if _, err := parseOptions(bad, io.Discard); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "-")) {
			t.Errorf("parseOptions(%v) = %v, want an error naming %s", bad, err, bad[0])
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.rss <= 0 || p.cpu < 0 {
		t.Errorf("sample = %+v", p)
	}
}

func TestSamplerWindow(t *testing.T) {
	s := &sampler{}
	t0 := time.Now()
	for i := range 5 {
		s.samples = append(s.samples, procSample{at: t0.Add(time.Duration(i) * time.Second), cpu: time.Duration(i) * 500 * time.Millisecond, rss: int64(i)})
	}
	for i := range s.samples {
		s.samples[i].machine = time.Duration(i) * 1500 * time.Millisecond
	}
	cpu, wall, rss, machine := s.window(t0.Add(500*time.Millisecond), t0.Add(3500*time.Millisecond))
	if cpu != time.Second || wall != 2*time.Second || rss != 3 || machine != 3*time.Second {
		t.Errorf("window = %v cpu over %v wall, rss %d, machine %v; want 1s over 2s, 3, 3s", cpu, wall, rss, machine)
	}
	if m, err := machineBusy(); err != nil || m <= 0 {
		t.Errorf("machineBusy() = %v, %v", m, err)
	}
}

func TestRowAndBudget(t *testing.T) {
	b := &bench{o: options{tickRate: 30, rttBudget: 100 * time.Millisecond, measure: 10 * time.Second, maxLate: 0.001}}
	ok := &side{TickP99MS: 1, RTTP99MS: 40, Verdict: "ok"}
	if why := b.broke(ok); why != "" {
		t.Errorf("broke(ok) = %q", why)
	}
	// A few late room ticks out of many: within -max-late.
	fewLate := &side{TickP99MS: 1, RTTP99MS: 40, Verdict: "ok", Overruns: 5, Ticks: 50000, LateFraction: 0.0001}
	if why := b.broke(fewLate); why != "" {
		t.Errorf("broke(5 of 50000 late) = %q", why)
	}
	strict := &bench{o: b.o}
	strict.o.maxLate = 0
	if why := strict.broke(fewLate); !strings.Contains(why, "overruns") {
		t.Errorf("-max-late 0: broke(5 late) = %q, want overruns", why)
	}
	bad := &side{TickP99MS: 9, Overruns: 2, Ticks: 300, LateFraction: 2.0 / 300, RTTP99MS: 150, Verdict: "ok"}
	why := b.broke(bad)
	for _, s := range []string{"p99 tick", "overruns", "p99 rtt"} {
		if !strings.Contains(why, s) {
			t.Errorf("broke = %q, want %q", why, s)
		}
	}
	if r := row(step{Bots: 250, Server: ok, Floor: ok, Ratio: 1.1}); !strings.HasPrefix(r, "    250") || !strings.Contains(r, "1.10") {
		t.Errorf("row = %q", r)
	}
	if r := row(step{Bots: 1500, Floor: ok}); !strings.Contains(r, " - ") {
		t.Errorf("floor-only row = %q", r)
	}
}
