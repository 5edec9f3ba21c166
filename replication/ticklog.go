package replication

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/replication/command"
)

// TickLogger ships what this node's rooms applied, tick by tick, into Raft.
// Rooms call Append from their own goroutines after every tick: the record
// is copied onto the match's pending run (ticks From..To) and the call
// returns at once. Every TickLogInterval the tick logger goroutine takes
// every pending run and applies one TickLogBatch entry per MaxBatchBytes
// (on the leader directly, elsewhere forwarded to it), the next only once
// the previous has committed, so runs reach the FSM in tick order. A batch
// that fails is put back in front of what arrived meanwhile and goes with
// the next flush; the FSM's refusals (stale epoch, log full, overlap) are
// counted, not retried.
//
// The FSM keeps, per match, the log since its newest checkpoint
// (ticklog_fsm.go); a node that adopts the match after a failover restores
// the checkpoint and replays the log (Node.TickLog), so that a crash loses
// about one TickLogInterval plus one commit of game time instead of up to a
// CheckpointInterval.
type TickLogger struct {
	n *Node

	mu      sync.Mutex
	pending map[string]*logRun
	free    []*logRun // runs whose buffers Append reuses

	flushMu sync.Mutex // one flush at a time

	batches, items, rejected, failures, dropped atomic.Uint64
	records, bytes                              atomic.Uint64
	applyMaxNanos                               atomic.Int64

	latMu sync.Mutex
	lat   [1024]time.Duration // the last applies' latencies, a ring
	latN  int
}

// logRun is one match's pending ticks: the records of From..To.
type logRun struct {
	epoch    uint64
	from, to uint32
	data     []byte
}

func newTickLogger(n *Node) *TickLogger {
	return &TickLogger{n: n, pending: make(map[string]*logRun)}
}

// Append records the record of tick of matchID, owned at epoch (room
// goroutine, after every tick; package sim's record). It copies rec and
// never blocks on I/O; once the runs' buffers have grown it allocates
// nothing (they are recycled after each flush). A record that does not
// follow the pending run (another epoch, a tick that is not the next)
// starts a new run; a run over MaxTickLogBytes (Raft has been unreachable
// for a while) is dropped and counted: the FSM then holds a gap, which the
// next checkpoint covers.
func (l *TickLogger) Append(matchID string, epoch uint64, tick uint32, rec []byte) {
	l.mu.Lock()
	r := l.pending[matchID]
	switch {
	case r == nil:
		if k := len(l.free); k > 0 {
			r, l.free = l.free[k-1], l.free[:k-1]
		} else {
			r = &logRun{}
		}
		l.pending[matchID] = r
		r.epoch, r.from, r.data = epoch, tick, r.data[:0]
	case r.epoch != epoch || tick != r.to+1 || len(r.data)+len(rec) > MaxTickLogBytes:
		if len(r.data)+len(rec) > MaxTickLogBytes {
			l.dropped.Add(1)
		}
		r.epoch, r.from, r.data = epoch, tick, r.data[:0]
	}
	r.to = tick
	r.data = append(r.data, rec...)
	l.mu.Unlock()
}

// Forget drops what is pending for matchID (its room stopped or moved).
func (l *TickLogger) Forget(matchID string) {
	l.mu.Lock()
	if r := l.pending[matchID]; r != nil {
		delete(l.pending, matchID)
		l.free = append(l.free, r)
	}
	l.mu.Unlock()
}

// run is the tick logger goroutine.
func (l *TickLogger) run(ctx context.Context) {
	t := time.NewTicker(l.n.cfg.TickLogInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, max(4*l.n.cfg.CheckpointInterval, 2*time.Second))
		err := l.Flush(fctx)
		cancel()
		if msg := errString(err); msg != lastErr && ctx.Err() == nil {
			if err != nil {
				l.n.log.Warn().Err(err).Msg("tick log batch failed; keeping the ticks for the next one")
			}
			lastErr = msg
		}
	}
}

// Flush applies everything pending now, in match id order, one entry per
// MaxBatchBytes, each after the previous committed. After a failure the
// remaining runs are put back unsent, so that each match's ticks still
// reach the FSM in order. Safe from any goroutine.
func (l *TickLogger) Flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	taken := l.pending
	l.pending = make(map[string]*logRun, len(taken))
	l.mu.Unlock()
	if len(taken) == 0 {
		return nil
	}
	ids := sortedKeys(taken)
	var firstErr error
	var chunk []command.TickLogItem
	var runs []*logRun
	var done []*logRun // applied (or refused by the FSM): recycled
	size := 0
	send := func() {
		if len(chunk) == 0 {
			return
		}
		if err := l.apply(ctx, chunk); err != nil {
			firstErr = err
			l.requeue(chunk, runs)
		} else {
			done = append(done, runs...)
		}
		chunk, runs, size = nil, nil, 0
	}
	for _, id := range ids {
		r := taken[id]
		if firstErr == nil && size+len(r.data) > l.n.cfg.MaxBatchBytes && len(chunk) > 0 {
			send()
		}
		it := command.TickLogItem{Match: id, Epoch: r.epoch, From: r.from, To: r.to, Data: r.data}
		if firstErr != nil {
			l.requeue([]command.TickLogItem{it}, []*logRun{r})
			continue
		}
		chunk = append(chunk, it)
		runs = append(runs, r)
		size += len(r.data) + len(id) + 24
	}
	send()
	l.mu.Lock()
	l.free = append(l.free, done...)
	l.mu.Unlock()
	return firstErr
}

// requeue puts runs that failed to apply back in front of what their
// matches appended meanwhile (same epoch, contiguous); otherwise the newer
// run stands and the failed ticks never reach the FSM (a gap the next
// checkpoint covers).
func (l *TickLogger) requeue(items []command.TickLogItem, runs []*logRun) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, it := range items {
		failed := runs[i]
		r := l.pending[it.Match]
		switch {
		case r == nil:
			l.pending[it.Match] = failed
			continue
		case r.epoch == it.Epoch && r.from == it.To+1 && len(it.Data)+len(r.data) <= MaxTickLogBytes:
			failed.data = append(failed.data, r.data...)
			failed.to = r.to
			l.pending[it.Match] = failed
			l.free = append(l.free, r)
			continue
		}
		l.dropped.Add(1)
		l.free = append(l.free, failed)
	}
}

func (l *TickLogger) apply(ctx context.Context, items []command.TickLogItem) error {
	start := time.Now()
	res, err := l.n.Apply(ctx, &command.TickLogBatch{Node: l.n.cfg.NodeID, Items: slices.Clip(items)})
	d := time.Since(start)
	if err != nil {
		l.failures.Add(1)
		return err
	}
	bytes := 0
	for i := range items {
		bytes += len(items[i].Data)
		l.records.Add(uint64(items[i].To - items[i].From + 1))
	}
	l.batches.Add(1)
	l.items.Add(uint64(res.Accepted))
	l.rejected.Add(uint64(len(res.Rejected)))
	l.bytes.Add(uint64(bytes))
	for {
		cur := l.applyMaxNanos.Load()
		if int64(d) <= cur || l.applyMaxNanos.CompareAndSwap(cur, int64(d)) {
			break
		}
	}
	l.latMu.Lock()
	l.lat[l.latN%len(l.lat)] = d
	l.latN++
	l.latMu.Unlock()
	if m, ok := l.n.metrics.(TickLogMetrics); ok {
		m.TickLogApplied(d, len(items), bytes)
	}
	return nil
}

// TickLogMetrics is implemented by a Config.Metrics that also measures the
// tick logger: TickLogApplied is called once per TickLogBatch committed,
// with its apply latency (as ApplyDuration measures it), its items and
// bytes, on the tick logger's goroutine.
type TickLogMetrics interface {
	TickLogApplied(d time.Duration, items, bytes int)
}

// TickLogStats are the tick logger's counters since Start.
type TickLogStats struct {
	Batches  uint64 `json:"batches"`  // entries applied
	Items    uint64 `json:"items"`    // runs the FSM accepted (one per match per batch)
	Rejected uint64 `json:"rejected"` // runs refused (stale epoch, log full, overlap, unknown match)
	Failures uint64 `json:"failures"` // batches that failed to apply (their ticks retried)
	Dropped  uint64 `json:"dropped"`  // runs dropped before reaching Raft (over the bound, or a failed retry overtaken)
	Records  uint64 `json:"records"`  // ticks shipped
	Bytes    uint64 `json:"bytes"`    // record bytes shipped
	// Apply latencies over the last 1,024 batches, and the max since Start.
	ApplyP50 time.Duration `json:"apply_p50_ns"`
	ApplyP99 time.Duration `json:"apply_p99_ns"`
	ApplyMax time.Duration `json:"apply_max_ns"`
}

// Stats returns the counters. Safe from any goroutine.
func (l *TickLogger) Stats() TickLogStats {
	s := TickLogStats{
		Batches: l.batches.Load(), Items: l.items.Load(), Rejected: l.rejected.Load(),
		Failures: l.failures.Load(), Dropped: l.dropped.Load(), Records: l.records.Load(),
		Bytes: l.bytes.Load(), ApplyMax: time.Duration(l.applyMaxNanos.Load()),
	}
	l.latMu.Lock()
	lat := slices.Clone(l.lat[:min(l.latN, len(l.lat))])
	l.latMu.Unlock()
	if len(lat) > 0 {
		slices.Sort(lat)
		s.ApplyP50 = lat[(len(lat)-1)*50/100]
		s.ApplyP99 = lat[(len(lat)-1)*99/100]
	}
	return s
}
