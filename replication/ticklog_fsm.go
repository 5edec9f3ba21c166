package replication

import (
	"github.com/ticksync/ticksync/replication/command"
)

// The FSM's tick logs. Per match, the FSM keeps what its owner's room
// applied since the newest checkpoint, as the segments the owner sent
// (TickLogBatch items), so that a new owner restores the checkpoint and
// replays the log to the last tick replicated. A segment is opaque here
// (package sim's records); the FSM only orders, fences and trims them by
// tick:
//
//   - an item is refused unless its epoch is the match's (stale_epoch), like
//     a checkpoint;
//   - an item the checkpoint already covers (To ≤ checkpoint tick), or a
//     retry of one stored (same epoch, To ≤ the newest tick), is accepted
//     and changes nothing;
//   - the first item of a new owner that does not continue the log (it
//     restored an older state: no replay, or a replay that diverged) drops
//     the segments of older epochs;
//   - any other overlap is refused (overlap), and so is an item past the
//     bounds (log_full: MaxTickLogBytes or MaxTickLogSegments per match),
//     which keeps the segments that continue the checkpoint;
//   - a checkpoint trims the segments it covers, and every segment of an
//     older epoch than its own.
//
// A gap (an item that does not start where the last ended) is stored: it
// becomes useful once a checkpoint covers the missing ticks. TickLog hands
// out only the run of contiguous segments that continues a given tick.

// Bounds of one match's tick log in the FSM. At 30 Hz with 8 players a
// tick takes ~100 bytes, so a checkpoint every 500 ms leaves ~2 KB; the
// bounds only matter when checkpoints stop arriving (a state that cannot
// be marshalled, a Raft that refuses them), and keep the FSM and its
// snapshots small then: 128 KiB × 500 matches is 64 MiB at most.
const (
	MaxTickLogBytes    = 128 << 10
	MaxTickLogSegments = 256
)

// Rejection codes of tick log items (besides stale_epoch and
// match_not_found).
const (
	rejectOverlap  = "overlap"
	rejectLogFull  = "log_full"
	rejectBadRange = "bad_range"
)

// logSeg is one stored tick log item. data is immutable once stored.
type logSeg struct {
	epoch    uint64
	from, to uint32
	data     []byte
}

// TickLog is the part of a match's tick log that continues a checkpoint:
// records of the ticks From..To (From may be at or before the checkpoint's
// tick: the replay skips those). Data is a copy, safe to keep.
type TickLog struct {
	Match    string
	From, To uint32
	Data     []byte
}

func (f *fsm) tickLogBatch(c *command.TickLogBatch) *Result {
	res := &Result{}
	reject := func(it *command.TickLogItem, code string) {
		res.Rejected = append(res.Rejected, Rejection{it.Match, it.Epoch, code})
	}
	for i := range c.Items {
		it := &c.Items[i]
		m, ok := f.matches[it.Match]
		switch {
		case !ok:
			reject(it, ErrorCode(ErrMatchNotFound))
		case it.Epoch != m.Epoch:
			reject(it, ErrorCode(ErrStaleEpoch))
		case it.To < it.From || len(it.Data) == 0:
			reject(it, rejectBadRange)
		default:
			if code := m.appendLog(it); code != "" {
				reject(it, code)
			} else {
				res.Accepted++
			}
		}
	}
	return res
}

// appendLog stores it (whose epoch the caller checked) and returns "" or a
// rejection code.
func (m *matchRec) appendLog(it *command.TickLogItem) string {
	if m.ckpt != nil && it.To <= m.CheckpointTick {
		return "" // covered by the checkpoint
	}
	if n := len(m.tlog); n > 0 {
		last := &m.tlog[n-1]
		switch {
		case it.From > last.to:
			// continues the log (or leaves a gap)
		case it.Epoch == last.epoch && it.To <= last.to:
			return "" // a retry of an item stored
		case it.Epoch > last.epoch:
			// A new owner that did not continue the log: the older
			// owners' segments are another history.
			m.dropLogBefore(it.Epoch)
			if k := len(m.tlog); k > 0 && it.From <= m.tlog[k-1].to {
				return rejectOverlap
			}
		default:
			return rejectOverlap
		}
	}
	if m.tlogBytes+len(it.Data) > MaxTickLogBytes || len(m.tlog) >= MaxTickLogSegments {
		return rejectLogFull
	}
	// Appending writes past the length a snapshot's copy sees: never into
	// what it reads.
	m.tlog = append(m.tlog, logSeg{epoch: it.Epoch, from: it.From, to: it.To, data: it.Data})
	m.tlogBytes += len(it.Data)
	return ""
}

// trimLog drops the segments a checkpoint of epoch at tick covers, and
// those of older epochs.
func (m *matchRec) trimLog(epoch uint64, tick uint32) {
	m.dropLogBefore(epoch)
	i := 0
	for i < len(m.tlog) && m.tlog[i].to <= tick {
		m.tlogBytes -= len(m.tlog[i].data)
		i++
	}
	m.tlog = m.tlog[i:] // a snapshot's copy keeps its own view
	if len(m.tlog) == 0 {
		m.tlog = nil
	}
}

// dropLogBefore drops the segments of epochs older than epoch. The slice
// is copied, never changed in place: a snapshot may be reading it.
func (m *matchRec) dropLogBefore(epoch uint64) {
	if len(m.tlog) == 0 || m.tlog[0].epoch >= epoch {
		return // epochs only grow along the log
	}
	var kept []logSeg
	for _, s := range m.tlog {
		if s.epoch >= epoch {
			kept = append(kept, s)
		} else {
			m.tlogBytes -= len(s.data)
		}
	}
	m.tlog = kept
}

// TickLog returns the contiguous run of match id's tick log that continues
// tick after (the tick of the checkpoint the caller restores, 0 for a
// fresh match): its first segment starts at or before after+1 and ends past
// it. ok is false when there is none.
func (f *fsm) TickLog(id string, after uint32) (TickLog, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.matches[id]
	if !ok {
		return TickLog{}, false
	}
	out := TickLog{Match: id}
	for _, s := range m.tlog {
		switch {
		case s.to <= after:
			continue
		case len(out.Data) == 0:
			if s.from > after+1 {
				return TickLog{}, false // a gap right after the checkpoint
			}
			out.From = s.from
		case s.from != out.To+1:
			return out, true // a gap: the run ends
		}
		out.Data = append(out.Data, s.data...)
		out.To = s.to
	}
	return out, len(out.Data) > 0
}

// tickLogSize returns the segments and bytes of match id's tick log.
func (f *fsm) tickLogSize(id string) (segments, bytes int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if m, ok := f.matches[id]; ok {
		return len(m.tlog), m.tlogBytes
	}
	return 0, 0
}
