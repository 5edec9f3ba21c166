package bots

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
)

// Log keys.
const (
	logKeyBot   = "bot"
	logKeyMatch = "match"
	logKeyErr   = "error"
	logKeyRooms = "rooms"
)

// dialWorkers bounds the dials in flight during the ramp.
const dialWorkers = 64

// Swarm runs Config.Bots bots against a cluster and measures what they see.
// Create it with New and call Run once.
type Swarm struct {
	cfg      Config
	log      zerolog.Logger
	progress io.Writer
	tls      *tls.Config
	start    time.Time // the swarm clock's zero

	bots  []*bot
	col   *collector
	colMu sync.Mutex // guards col: the reporter and Run's window edges

	tickRate  atomic.Int32 // inputs per second per bot; from cfg or the first Welcome
	rateKnown chan struct{}
	rateOnce  sync.Once
	stopping  atomic.Bool // Run is closing the bots: their errors are not counted
	// move: the game's input has movement axes (wander and chase steer);
	// nil: random inputs. chase: where its entities keep their positions,
	// set for chasing bots only. Both set by lookupGame before the ramp.
	move  *moveLayout
	chase *chaseLayout

	roomsMu sync.Mutex
	rooms   map[string]int // match id → bots seated there (first Welcome)
}

// New validates cfg and allocates the bots. progress receives the progress
// lines (nil: none); log receives swarm events (never one line per message).
func New(cfg Config, progress io.Writer, log zerolog.Logger) (*Swarm, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Swarm{
		cfg:       cfg,
		log:       log,
		progress:  progress,
		rateKnown: make(chan struct{}),
		rooms:     map[string]int{},
	}
	if cfg.Insecure {
		s.tls = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // -insecure: self-signed test certificates
	}
	if cfg.TickRate > 0 {
		s.setTickRate(cfg.TickRate)
	}
	nshards := 4 * runtime.GOMAXPROCS(0)
	s.col = newCollector(nshards)
	s.bots = make([]*bot, cfg.Bots)
	for i := range s.bots {
		b := &bot{id: i, sw: s, shard: s.col.shards[i%nshards]}
		b.wander = newWanderer(cfg.Seed, i)
		b.steer.Store(uint64(steerStill))
		s.bots[i] = b
	}
	return s, nil
}

// now is the swarm clock in ns, always > 0.
func (s *Swarm) now() int64 { return int64(time.Since(s.start)) + 1 }

func (s *Swarm) setTickRate(r int) {
	s.rateOnce.Do(func() {
		s.tickRate.Store(int32(r))
		close(s.rateKnown)
	})
}

// welcomed is called on a bot's client goroutine for every Welcome.
func (s *Swarm) welcomed(b *bot, w *schema.Welcome) {
	if w.TickRate > 0 {
		s.setTickRate(int(w.TickRate))
	}
}

// Run starts the bots, ramps them, measures the window and closes them,
// then returns the report. It returns early, with the report so far, when
// ctx ends. An error means the run could not be measured at all.
func (s *Swarm) Run(ctx context.Context) (*Report, error) {
	if !s.start.IsZero() {
		return nil, errors.New("swarm: Run called twice")
	}
	s.start = time.Now()
	if err := s.lookupGame(ctx); err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	// The ramp and its dialers: they end when every bot has been dialled
	// (or given up), or with runCtx.
	rampDone := make(chan struct{})
	jobs := make(chan *bot)
	var dialers sync.WaitGroup
	for range min(dialWorkers, s.cfg.Bots) {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for j := range jobs {
				s.join(runCtx, j)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.ramp(runCtx, jobs)
		close(jobs)
		dialers.Wait()
		close(rampDone)
	}()

	// The input schedulers: one per shard of bots, started once the tick
	// rate is known; they end with runCtx.
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-s.rateKnown:
		case <-runCtx.Done():
			return
		}
		s.startSchedulers(runCtx, &wg)
	}()

	// The progress reporter ends with runCtx.
	if s.progress != nil && s.cfg.ProgressInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.report(runCtx)
		}()
	}

	rep, err := s.measure(runCtx, rampDone)
	// Close the bots: Stop all (close frames), then wait for each client's
	// goroutine, bounded.
	s.stopping.Store(true)
	cancel()
	s.closeBots(5 * time.Second)
	wg.Wait()
	if rep != nil {
		s.roomStats(rep)
	}
	return rep, err
}

// measure waits for the ramp and the warm-up, opens the window, waits
// Duration and builds the report.
func (s *Swarm) measure(ctx context.Context, rampDone <-chan struct{}) (*Report, error) {
	// The ramp is over when every bot was dialled and Ramp has passed.
	if !sleepCtx(ctx, s.cfg.Ramp) {
		return s.finish(ctx, nil, totals{}, time.Now(), rusage{})
	}
	select {
	case <-rampDone:
	case <-ctx.Done():
		return s.finish(ctx, nil, totals{}, time.Now(), rusage{})
	}
	if !sleepCtx(ctx, s.cfg.Warmup) {
		return s.finish(ctx, nil, totals{}, time.Now(), rusage{})
	}
	var serverStart *metrics
	var serverErr error
	if s.cfg.ServerStatsURL != "" {
		serverStart, serverErr = scrape(ctx, httpClient, s.cfg.ServerStatsURL, s.cfg.ServerStatsToken)
	}
	s.colMu.Lock()
	s.col.openWindow()
	s.colMu.Unlock()
	base := s.sum()
	openedAt := time.Now()
	cpu0 := getRusage()
	sleepCtx(ctx, s.cfg.Duration)
	rep, err := s.finish(ctx, &base, base, openedAt, cpu0)
	if rep != nil && s.cfg.ServerStatsURL != "" {
		if serverErr == nil {
			var serverEnd *metrics
			serverEnd, serverErr = scrape(context.WithoutCancel(ctx), httpClient, s.cfg.ServerStatsURL, s.cfg.ServerStatsToken)
			if serverErr == nil {
				rep.Server = serverStats(s.cfg.ServerStatsURL, serverStart, serverEnd)
			}
		}
		if serverErr != nil {
			rep.ServerStatsError = serverErr.Error()
		}
	}
	return rep, err
}

// finish closes the window (base nil: it never opened) and builds the report.
func (s *Swarm) finish(ctx context.Context, base *totals, b totals, openedAt time.Time, cpu0 rusage) (*Report, error) {
	s.colMu.Lock()
	s.col.closeWindow()
	s.colMu.Unlock()
	end := s.sum()
	cpu1 := getRusage()
	closedAt := time.Now()
	var w totals
	window := 0.0
	if base != nil {
		w = end.sub(b)
		window = closedAt.Sub(openedAt).Seconds()
	}
	r := s.buildReport(end, w, window, cpu1.sub(cpu0))
	if base == nil && ctx.Err() != nil {
		return r, fmt.Errorf("swarm: stopped before the window opened: %w", context.Cause(ctx))
	}
	return r, nil
}

// sum adds up every bot's counters and client stats.
func (s *Swarm) sum() totals {
	var t totals
	now := s.now()
	for _, b := range s.bots {
		if c := b.client.Load(); c != nil {
			cs := c.Stats()
			t.add(&b.cnt, &cs, now)
		} else {
			t.add(&b.cnt, nil, now)
		}
	}
	return t
}

// closeBots stops every client (a close frame each, written by a few
// goroutines so that a stalled peer cannot hold the others), then waits for
// the clients' goroutines; timeout bounds it all.
func (s *Swarm) closeBots(timeout time.Duration) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := make(chan *client.Client)
	var wg sync.WaitGroup
	for range min(dialWorkers, len(s.bots)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				c.Stop()
			}
		}()
	}
	stopped := true
	for _, b := range s.bots {
		c := b.client.Load()
		if c == nil {
			continue
		}
		select {
		case next <- c:
		case <-deadline.C:
			stopped = false
		}
		if !stopped {
			break
		}
	}
	close(next)
	if !stopped {
		s.log.Warn().Msg("bots did not close in time")
		return // the stoppers end when their Stop calls return
	}
	wg.Wait()
	for _, b := range s.bots {
		if c := b.client.Load(); c != nil {
			select {
			case <-c.Done():
			case <-deadline.C:
				s.log.Warn().Msg("bots did not close in time")
				return
			}
		}
	}
}

// sleepCtx waits d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// botName is the Hello name of bot i.
func botName(i int) string { return "bot-" + strconv.Itoa(i) }
