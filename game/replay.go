package game

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/sim"
)

// This file is the match's side of the tick log (cluster mode): every room
// logs what it applies (sim.WithRecord) to the Config.TickLog, and a node
// adopting a match after a failover replays the log the cluster holds past
// the checkpoint (Manager.Adopt), so that the match resumes at the last
// tick replicated instead of at the checkpoint.
//
// Each join, leave and resume in the log carries a note (seatNote): the
// seat's newest resume token and the guest counter, so that players who
// joined or resumed after the checkpoint keep their seat, token and ids on
// the new owner.

// seatNoteBytes is the size of a note: token nonce u64, token issued-at
// i64, next guest u32 (little-endian).
const seatNoteBytes = 20

// seatNote is the room's sim.SeatNoteFunc (room goroutine). It also counts
// the seat changes logged since the last record, for the checkpoints.
func (m *Match) seatNote(dst []byte, player uint32) []byte {
	m.changes++
	t := m.seatTokens()[player]
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, t.Nonce)
	dst = le.AppendUint64(dst, uint64(t.Issued))
	return le.AppendUint32(dst, m.guests.Load())
}

// onRecord is the room's sim.RecordFunc (room goroutine, every tick): the
// TickLogger copies the record.
func (m *Match) onRecord(tick uint32, rec []byte) {
	m.changes = 0
	m.mgr.cfg.TickLog.Append(m.id, m.epoch, tick, rec)
}

// restored is where a match starts on a node that adopts it: the state
// the game holds, its tick and seats (with their tokens) and the guest
// counter.
type restored struct {
	tick      uint32
	seats     []sim.Seat
	tokens    []seatToken // tokens[i] is seats[i]'s
	nextGuest uint32
	replayed  int // ticks replayed past the checkpoint
	// events are the server events the game sent during the replayed
	// ticks (sim.Replayed.Events): the room queues them again with their
	// seqs (sim.WithQueuedEvents), since which of them the clients got is
	// not logged; clients drop the seqs they hold.
	events []sim.QueuedEvent
}

// replay steps g, restored from ck (nil: fresh at tick 0), through log,
// as a room of cfg would (a game with a schema: its codec and event queue).
// It returns where the match stands afterwards. A replay that diverges
// (the game is not deterministic) returns ErrReplayDiverged: g is past the
// checkpoint and must be made again. A log cut short or that does not
// continue the checkpoint ends the replay where it stops being usable.
func replay(g Game, ck *checkpoint, log []byte, cfg sim.Config) (restored, error) {
	rs := restored{}
	toks := map[uint32]seatToken{}
	var skip int
	if ck != nil {
		rs.tick, rs.nextGuest = ck.Tick, ck.NextGuest
		rs.seats = ck.Seats
		skip = int(ck.Changes)
		for i, s := range ck.Seats {
			toks[s.Player] = ck.Tokens[i]
		}
	}
	guests := rs.nextGuest
	rp, err := sim.Replay(g, rs.tick, skip, rs.seats, log, func(ev sim.SeatEvent) {
		if len(ev.Note) != seatNoteBytes {
			return
		}
		le := binary.LittleEndian
		guests = max(guests, le.Uint32(ev.Note[16:]))
		if ev.Kind == sim.SeatLeave {
			delete(toks, ev.Player)
			return
		}
		toks[ev.Player] = seatToken{Nonce: le.Uint64(ev.Note), Issued: int64(le.Uint64(ev.Note[8:]))}
	}, sim.ReplayWith(cfg))
	if errors.Is(err, sim.ErrDiverged) {
		return rs, fmt.Errorf("%w: %w", ErrReplayDiverged, err)
	}
	rs.tick, rs.seats, rs.replayed, rs.nextGuest = rp.Tick, rp.Seats, rp.Ticks, guests
	rs.events = rp.Events
	rs.tokens = make([]seatToken, len(rs.seats))
	for i, s := range rs.seats {
		rs.tokens[i] = toks[s.Player]
	}
	return rs, err // nil, or ErrBadLog with the usable part replayed
}

// ErrReplayDiverged: a match's game did not replay its tick log to the
// states its old owner recorded (Manager.Adopt then restores the
// checkpoint alone).
var ErrReplayDiverged = errors.New("tick log replay diverged")

// replayStats counts the adoptions that replayed a tick log, by outcome.
type replayStats struct {
	replays  prometheus.Counter // replays that reached the log's end (or its usable part)
	diverged prometheus.Counter // replays that diverged: the checkpoint alone was restored
	ticks    prometheus.Counter // ticks replayed
}

func newReplayStats(r prometheus.Registerer, nodeID string) (*replayStats, error) {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "ticksync", Subsystem: "game", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"node": nodeID},
		})
	}
	s := &replayStats{
		replays: counter("replays_total", "Matches adopted here (after a failover) whose tick log was replayed past their checkpoint."),
		diverged: counter("replay_diverged_total",
			"Tick log replays that diverged from the states the old owner recorded (a game that is not deterministic): the match restarted from its checkpoint."),
		ticks: counter("replayed_ticks_total", "Ticks replayed from tick logs when adopting matches (game time a failover did not lose)."),
	}
	if r == nil {
		return s, nil
	}
	for _, c := range []prometheus.Collector{s.replays, s.diverged, s.ticks} {
		if err := r.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}
