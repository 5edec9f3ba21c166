package replication

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/replication/command"
)

// Checkpointer batches room checkpoints into Raft. Rooms call Checkpoint
// (and SetPlayers) from their own goroutines; the call copies the state into
// a per-match pending slot (latest wins) and returns at once. Every
// CheckpointInterval the checkpointer goroutine first asks the Host for a
// fresh capture of every room (when it implements Capturer; waiting at most
// captureWait), then takes the pending slots, compresses each state (zstd)
// and applies one CheckpointBatch entry per MaxBatchBytes — on the leader
// directly, elsewhere forwarded to it. The FSM accepts an item only at the
// match's current epoch; rejections are counted (the ownership watcher tells
// the room it lost the match).
type Checkpointer struct {
	n *Node

	mu      sync.Mutex
	pending map[string]*pendingItem
	free    []*pendingItem

	flushMu sync.Mutex // one flush at a time

	batches, items, rejected, failures atomic.Uint64
	bytesIn, bytesOut                  atomic.Uint64
	captures, captureMissed            atomic.Uint64
	applyNanos, applyMaxNanos          atomic.Int64

	onApply func(d time.Duration, items int) // tests: per-batch latency
}

type pendingItem struct {
	epoch    uint64
	tick     uint32
	players  int32 // -1: unchanged
	hasState bool
	state    []byte
}

func newCheckpointer(n *Node) *Checkpointer {
	return &Checkpointer{n: n, pending: make(map[string]*pendingItem)}
}

// slot returns the pending item of matchID at epoch (lock held).
func (c *Checkpointer) slot(matchID string, epoch uint64) *pendingItem {
	p := c.pending[matchID]
	if p == nil {
		if k := len(c.free); k > 0 {
			p, c.free = c.free[k-1], c.free[:k-1]
		} else {
			p = &pendingItem{}
		}
		p.players, p.hasState, p.state = -1, false, p.state[:0]
		c.pending[matchID] = p
	}
	if p.epoch != epoch {
		p.players, p.hasState = -1, false
	}
	p.epoch = epoch
	return p
}

// Checkpoint records the state of matchID at tick, owned at epoch. It copies
// state and never blocks on I/O. Safe from any goroutine.
func (c *Checkpointer) Checkpoint(matchID string, epoch uint64, tick uint32, state []byte) {
	c.mu.Lock()
	p := c.slot(matchID, epoch)
	p.tick, p.hasState = tick, true
	p.state = append(p.state[:0], state...)
	c.mu.Unlock()
}

// SetPlayers records matchID's player count; it rides with the next batch.
func (c *Checkpointer) SetPlayers(matchID string, epoch uint64, players int) {
	c.mu.Lock()
	c.slot(matchID, epoch).players = int32(max(players, 0))
	c.mu.Unlock()
}

// Forget drops anything pending for matchID (the room stopped or moved).
func (c *Checkpointer) Forget(matchID string) {
	c.mu.Lock()
	if p := c.pending[matchID]; p != nil {
		delete(c.pending, matchID)
		c.free = append(c.free, p)
	}
	c.mu.Unlock()
}

// run is the checkpointer goroutine.
func (c *Checkpointer) run(ctx context.Context) {
	t := time.NewTicker(c.n.cfg.CheckpointInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.capture(ctx)
		fctx, cancel := context.WithTimeout(ctx, max(4*c.n.cfg.CheckpointInterval, 2*time.Second))
		err := c.Flush(fctx)
		cancel()
		if msg := errString(err); msg != lastErr && ctx.Err() == nil {
			if err != nil {
				c.n.log.Warn().Err(err).Msg("checkpoint batch failed; keeping the latest states for the next one")
			}
			lastErr = msg
		}
	}
}

// captureWait bounds how long a flush waits for the rooms' fresh captures:
// a room answers between two ticks (33 ms at 30 Hz); a late one's capture
// goes with the next flush, and until then its previous checkpoint stands.
func (c *Checkpointer) captureWait() time.Duration {
	return min(max(c.n.cfg.CheckpointInterval/5, 5*time.Millisecond), 100*time.Millisecond)
}

// capture asks the Host, if it is a Capturer, for a checkpoint of every
// room now (checkpointer goroutine, before each periodic flush).
func (c *Checkpointer) capture(ctx context.Context) {
	h, ok := c.n.cfg.Host.(Capturer)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, c.captureWait())
	missed := h.CaptureCheckpoints(cctx)
	cancel()
	c.captures.Add(1)
	c.captureMissed.Add(uint64(max(missed, 0)))
}

// Flush applies everything pending now. Items of a batch that failed are put
// back unless a newer one arrived meanwhile. Safe from any goroutine.
func (c *Checkpointer) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	taken := c.pending
	c.pending = make(map[string]*pendingItem, len(taken))
	c.mu.Unlock()
	if len(taken) == 0 {
		return nil
	}
	ids := sortedKeys(taken)
	var firstErr error
	var chunk []command.CheckpointItem
	var chunkIDs []string
	size := 0
	send := func() {
		if len(chunk) == 0 {
			return
		}
		if err := c.apply(ctx, chunk); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			c.requeue(taken, chunkIDs)
		}
		chunk, chunkIDs, size = nil, nil, 0
	}
	for _, id := range ids {
		p := taken[id]
		it := command.CheckpointItem{Match: id, Epoch: p.epoch, Tick: p.tick, Players: p.players}
		if p.hasState {
			it.Data = compress(make([]byte, 0, len(p.state)/2+64), p.state)
			c.bytesIn.Add(uint64(len(p.state)))
			c.bytesOut.Add(uint64(len(it.Data)))
		}
		if size+len(it.Data) > c.n.cfg.MaxBatchBytes && len(chunk) > 0 {
			send()
		}
		chunk = append(chunk, it)
		chunkIDs = append(chunkIDs, id)
		size += len(it.Data) + len(id) + 16
	}
	send()
	c.mu.Lock()
	for _, p := range taken {
		if p != nil {
			c.free = append(c.free, p)
		}
	}
	c.mu.Unlock()
	return firstErr
}

// requeue puts failed items back (taken entries set to nil so they are not
// recycled).
func (c *Checkpointer) requeue(taken map[string]*pendingItem, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if _, newer := c.pending[id]; !newer {
			c.pending[id] = taken[id]
			taken[id] = nil
		}
	}
}

func (c *Checkpointer) apply(ctx context.Context, items []command.CheckpointItem) error {
	start := time.Now()
	res, err := c.n.Apply(ctx, &command.CheckpointBatch{Node: c.n.cfg.NodeID, Items: slices.Clip(items)})
	d := time.Since(start).Nanoseconds()
	if err != nil {
		c.failures.Add(1)
		return err
	}
	if c.onApply != nil {
		c.onApply(time.Duration(d), len(items))
	}
	c.batches.Add(1)
	c.items.Add(uint64(res.Accepted))
	c.rejected.Add(uint64(len(res.Rejected)))
	c.applyNanos.Add(d)
	for {
		cur := c.applyMaxNanos.Load()
		if d <= cur || c.applyMaxNanos.CompareAndSwap(cur, d) {
			break
		}
	}
	return nil
}

// CheckpointStats are the checkpointer's counters since Start.
type CheckpointStats struct {
	Batches   uint64        `json:"batches"`   // entries applied
	Items     uint64        `json:"items"`     // checkpoints accepted
	Rejected  uint64        `json:"rejected"`  // checkpoints refused (stale epoch, unknown match, old tick)
	Failures  uint64        `json:"failures"`  // batches that failed to apply (retried)
	BytesIn   uint64        `json:"bytes_in"`  // uncompressed state bytes
	BytesOut  uint64        `json:"bytes_out"` // compressed bytes sent to Raft
	ApplyMean time.Duration `json:"apply_mean_ns"`
	ApplyMax  time.Duration `json:"apply_max_ns"`
	// Captures counts the capture requests to the Host before flushes;
	// CaptureMissed the rooms that had not answered within the wait.
	Captures      uint64 `json:"captures"`
	CaptureMissed uint64 `json:"capture_missed"`
}

// Stats returns the counters. Safe from any goroutine.
func (c *Checkpointer) Stats() CheckpointStats {
	s := CheckpointStats{
		Batches: c.batches.Load(), Items: c.items.Load(), Rejected: c.rejected.Load(),
		Failures: c.failures.Load(), BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		ApplyMax: time.Duration(c.applyMaxNanos.Load()),
		Captures: c.captures.Load(), CaptureMissed: c.captureMissed.Load(),
	}
	if s.Batches > 0 {
		s.ApplyMean = time.Duration(c.applyNanos.Load() / int64(s.Batches))
	}
	return s
}
