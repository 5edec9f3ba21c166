package bots

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// httpClient scrapes the server's /metrics.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// report is the progress reporter's goroutine: every ProgressInterval it
// drains the shards' histograms, sums the counters and writes one line.
func (s *Swarm) report(ctx context.Context) {
	t := time.NewTicker(s.cfg.ProgressInterval)
	defer t.Stop()
	prev, prevAt := s.sum(), time.Now()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		s.colMu.Lock()
		s.col.collect()
		p99 := float64(s.col.ivRTT.ValueAtQuantile(99)) / 1000
		inWin := s.col.inWindow
		s.colMu.Unlock()
		cur, at := s.sum(), time.Now()
		dt := at.Sub(prevAt).Seconds()
		p := progress{
			elapsed:    at.Sub(s.start),
			connected:  cur.connected,
			target:     s.cfg.Bots,
			inputsPerS: float64(cur.inputs-prev.inputs) / dt,
			snapsPerS:  float64(cur.snapshots-prev.snapshots) / dt,
			p99RTTms:   p99,
			errors:     cur.errors(),
			reconnects: cur.reconnects,
			stalls:     cur.stalls,
			inWindow:   inWin,
		}
		fmt.Fprintln(s.progress, p.String())
		prev, prevAt = cur, at
	}
}

// buildReport turns the totals of the whole run (all) and of the window (w,
// over window seconds) into a Report.
func (s *Swarm) buildReport(all, w totals, window float64, cpu rusage) *Report {
	rate := int(s.tickRate.Load())
	r := &Report{
		URLs:            s.cfg.URLs,
		Behavior:        s.cfg.Behavior,
		PerRoom:         s.cfg.PerRoom,
		TickRate:        rate,
		Bots:            BotCounts{Target: s.cfg.Bots, Connected: all.joined, Failed: s.cfg.Bots - all.joined, AtEnd: all.connected},
		DurationS:       window,
		RunS:            time.Since(s.start).Seconds(),
		BotSeconds:      float64(w.connNanos) / 1e9,
		Reconnects:      all.reconnects,
		StallReconnects: all.stalls,
		Errors:          map[string]uint64{},
		ErrorCount:      all.errors(),
		MaxErrorRate:    s.cfg.MaxErrorRate,
	}
	s.colMu.Lock()
	r.RTT = percentilesMS(s.col.winRTT)
	r.SnapshotGap = percentilesMS(s.col.winGap)
	r.Resume = percentilesMS(s.col.allResume)
	s.colMu.Unlock()
	for k, n := range all.errs {
		if n > 0 {
			r.Errors[ErrorKind(k).String()] = n
		}
	}
	if all.inputs > 0 {
		r.ErrorRate = float64(r.ErrorCount) / float64(all.inputs)
	} else if r.ErrorCount > 0 {
		r.ErrorRate = 1
	}
	r.Snapshots = SnapshotCounts{Full: w.full, Delta: w.delta, Gaps: w.gaps, Total: w.snapshots, NoBaseline: w.noBaseline, ExpectedPerS: float64(rate)}
	r.Inputs = InputCounts{Sent: w.inputs}
	if bs := r.BotSeconds; bs > 0 {
		r.BytesDownPerBotPerS = float64(w.bytesDown) / bs
		r.BytesUpPerBotPerS = float64(w.bytesUp) / bs
		r.Snapshots.PerBotPerS = float64(w.snapshots) / bs
		r.Inputs.PerBotPerS = float64(w.inputs) / bs
		if rate > 0 {
			r.Snapshots.DeliveredFrac = r.Snapshots.PerBotPerS / float64(rate)
		}
	}
	if sch := s.cfg.Schema; sch != nil && hasEvents(sch) {
		r.Game = &GameCounts{
			Name: s.cfg.Game, Schema: sch.Name, SchemaHash: sch.HashString(),
			EventsSent: w.eventsOut, EventsReceived: w.eventsIn, EventsResent: w.eventsResent, EventsDuplicate: w.eventsDup,
		}
		if bs := r.BotSeconds; bs > 0 {
			r.Game.SentPerBotPerS = float64(w.eventsOut) / bs
			r.Game.ReceivedPerBotPerS = float64(w.eventsIn) / bs
		}
	}
	if w.snapshots > 0 {
		// Client messages down are almost all snapshots in the window.
		r.Snapshots.MeanBytes = float64(w.bytesDown) / float64(w.snapshots)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.CPU = CPUUsage{
		UserS:      cpu.user.Seconds(),
		SystemS:    cpu.sys.Seconds(),
		RSSBytes:   rssBytes(),
		HeapBytes:  ms.HeapInuse,
		StackBytes: ms.StackInuse,
		Goroutines: runtime.NumGoroutine(),
	}
	if window > 0 {
		r.CPU.Cores = (r.CPU.UserS + r.CPU.SystemS) / window
		if all.connected > 0 {
			r.CPU.PerBotPct = 100 * r.CPU.Cores / float64(all.connected)
		}
	}
	if w.snapshots > 0 {
		r.CPU.USPerSnapshot = (r.CPU.UserS + r.CPU.SystemS) * 1e6 / float64(w.snapshots)
	}
	if all.joined > 0 {
		r.CPU.BytesPerBot = float64(r.CPU.RSSBytes) / float64(all.joined)
	}
	return r
}

// roomStats adds how the bots spread over matches.
func (s *Swarm) roomStats(r *Report) {
	s.roomsMu.Lock()
	defer s.roomsMu.Unlock()
	if len(s.rooms) == 0 {
		return
	}
	sizes := make([]int, 0, len(s.rooms))
	for _, n := range s.rooms {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	r.Rooms = RoomCounts{Count: len(sizes), MinBots: sizes[0], MaxBots: sizes[len(sizes)-1]}
	if r.Rooms.MaxBots != s.cfg.PerRoom {
		r.Rooms.Note = fmt.Sprintf("matchmaking filled rooms to %d bots, not -per-room %d: the game's seat count decides", r.Rooms.MaxBots, s.cfg.PerRoom)
		s.log.Warn().Int(logKeyRooms, len(sizes)).Msg(r.Rooms.Note)
	}
}

// rusage is the process's CPU time.
type rusage struct{ user, sys time.Duration }

func (a rusage) sub(b rusage) rusage { return rusage{a.user - b.user, a.sys - b.sys} }

func getRusage() rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return rusage{}
	}
	return rusage{
		user: time.Duration(ru.Utime.Nano()),
		sys:  time.Duration(ru.Stime.Nano()),
	}
}

// rssBytes reads the process's resident set from /proc/self/statm (0 where
// there is no /proc).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
