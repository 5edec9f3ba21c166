package bots

import (
	"context"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// startSchedulers starts one input scheduler per shard of bots. Each sends
// its bots' inputs once per tick from a single goroutine (client.SendInput
// may run while the client's goroutine reads), so the swarm costs one
// goroutine per bot (the client's) plus a handful. The shards' ticks are
// spread over the tick period so that the inputs do not all leave at once.
func (s *Swarm) startSchedulers(ctx context.Context, wg *sync.WaitGroup) {
	rate := int(s.tickRate.Load())
	period := time.Second / time.Duration(rate)
	n := len(s.col.shards)
	for k := range n {
		var mine []*bot
		for i := k; i < len(s.bots); i += n {
			mine = append(mine, s.bots[i])
		}
		if len(mine) == 0 {
			continue
		}
		phase := period * time.Duration(k) / time.Duration(n)
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("bots", "scheduler", "shard", strconv.Itoa(k)), func(ctx context.Context) {
			defer wg.Done()
			s.schedule(ctx, mine, period, phase)
		})
	}
}

// schedule is one scheduler goroutine: every period (after phase) it asks
// each bot for its input. A late round is not repeated: the ticker drops
// ticks it could not deliver, as a client drops frames.
func (s *Swarm) schedule(ctx context.Context, bots []*bot, period, phase time.Duration) {
	if !sleepCtx(ctx, phase) {
		return
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		now := s.now()
		for _, b := range bots {
			b.tick(now)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}
