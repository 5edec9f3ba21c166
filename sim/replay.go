package sim

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// Errors of Replay.
var (
	// ErrDiverged: the World replayed did not reach the state the log
	// recorded (a state hash, or the entity of a join, differs): the game
	// is not deterministic, or its state was not restored exactly. The
	// World is past the point of divergence: the caller restores it again.
	ErrDiverged = errors.New("replay diverged")
	// ErrBadLog: the log is not a tick log, is cut short, or does not start
	// at the tick after start with a full record. Replayed says how far the
	// replay got; the World is in the state of that tick.
	ErrBadLog = errors.New("bad tick log")
)

// DivergedError says where a replay diverged. It wraps ErrDiverged.
type DivergedError struct {
	Tick   uint32 // the tick whose outcome differs
	Reason string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("%v at tick %d: %s", ErrDiverged, e.Tick, e.Reason)
}

func (e *DivergedError) Unwrap() error { return ErrDiverged }

// SeatEvent is a seat change replayed from the log, with the note the
// recording room's SeatNoteFunc wrote and, for a join of a format 2 log,
// what the player brought. Note and Info's slices alias the log.
type SeatEvent struct {
	Tick   uint32 // applied before this tick's step
	Kind   SeatChange
	Player uint32
	Entity uint32 // Join: the entity World.Join returned
	Note   []byte
	Info   JoinInfo // Join, format 2: the JoinInfo the room joined with
	// Attach of a resume that moved the seat's server event seqs
	// (Room.Resume): the events numbered above seqBase moved up by
	// seqHeld − seqBase. Both 0 for any other.
	seqBase, seqHeld uint32
}

// SeatChange is the kind of a SeatEvent.
type SeatChange uint8

// The seat changes a tick log records.
const (
	SeatJoin   SeatChange = SeatChange(eventJoin)
	SeatLeave  SeatChange = SeatChange(eventLeave)
	SeatAttach SeatChange = SeatChange(eventAttach)
)

// Replayed is the outcome of Replay.
type Replayed struct {
	Tick  uint32 // the newest tick replayed (start when none was)
	Ticks int    // ticks stepped
	Seats []Seat // the seats at Tick, in player order (for WithRestore)
	// Events are the server events the World sent during the replayed
	// ticks, per player in seq order, at most Config.EventQueue per player
	// (the newest), for WithQueuedEvents: the recording room sent them,
	// and which of them its clients received is not logged, so they are
	// sent again (clients drop the seqs they hold).
	Events []QueuedEvent
}

// ReplayOption configures Replay.
type ReplayOption func(*replayer)

// ReplayWith replays with the room configuration cfg: its Codec (needed:
// the state hash is taken of the gamedelta.World the World writes) and its
// EventQueue (the bound of the server events kept per player). Without it:
// no Codec (Replay refuses), DefaultConfig's EventQueue.
func ReplayWith(cfg Config) ReplayOption {
	return func(rp *replayer) { rp.codec, rp.evLimit = cfg.Codec, cfg.EventQueue }
}

// Replay steps w, restored from a checkpoint taken at tick start with the
// given seats, through the records of log after start: for each tick the
// seat changes (World.Join or InfoJoiner.JoinWith with the logged
// JoinInfo, World.Leave), the client events (EventHandler) and the inputs
// the recording room applied, then World.Step, then the state hash (of the
// gamedelta.World its WriteState fills) is compared with the recorded one. skip is the number of seat changes of
// the record start+1 that the checkpoint already holds (changes logged
// after tick start, before the capture). Records up to start are skipped;
// the first replayed must be start+1 and full. onSeat, if not nil, sees
// every seat change applied (for the caller's own seat data). A World that
// is an OutboxUser is handed a replay Outbox first: the events it sends are
// numbered on from the seats' OutSeq and returned in Replayed.Events;
// Outbox.End is ignored (the log goes on only if the match did).
//
// It returns how far it got. On ErrDiverged the World is past the point of
// divergence and must be restored again; on ErrBadLog it is in the state of
// Replayed.Tick (every tick up to it replayed and checked). Call it before
// the World's room starts (it is the caller's goroutine's).
func Replay(w World, start uint32, skip int, seats []Seat, log []byte, onSeat func(SeatEvent), opts ...ReplayOption) (Replayed, error) {
	rp := replayer{w: w, tick: start, evLimit: DefaultConfig().EventQueue}
	for _, o := range opts {
		o(&rp)
	}
	rp.sw, _ = w.(StateWriter)
	rp.joiner, _ = w.(InfoJoiner)
	rp.handler, _ = w.(EventHandler)
	if rp.evLimit < 1 {
		rp.evLimit = DefaultConfig().EventQueue
	}
	for _, s := range seats {
		rp.players = append(rp.players, replayPlayer{Seat: s})
	}
	slices.SortFunc(rp.players, func(a, b replayPlayer) int { return cmp.Compare(a.Player, b.Player) })
	for i := range rp.players {
		rp.players[i].out.seq = rp.players[i].OutSeq
	}
	switch {
	case rp.sw == nil:
		return rp.result(), errors.New("replay: the world is not a StateWriter")
	case rp.codec == nil:
		return rp.result(), errors.New("replay: the world needs its Codec (ReplayWith)")
	}
	rp.gw = gamedelta.NewWorld(rp.codec)
	if ou, ok := w.(OutboxUser); ok {
		ou.SetOutbox(replayOutbox{&rp})
	}
	d := logDecoder{b: log}
	for !d.done() {
		rec, err := d.next()
		if err != nil {
			return rp.result(), err
		}
		if rec.tick <= start {
			continue
		}
		if rec.tick != rp.tick+1 {
			return rp.result(), fmt.Errorf("%w: tick %d after %d", ErrBadLog, rec.tick, rp.tick)
		}
		if rp.ticks == 0 && !rec.full {
			return rp.result(), fmt.Errorf("%w: the record of tick %d after the checkpoint is not full", ErrBadLog, rec.tick)
		}
		n := 0
		if rp.ticks == 0 {
			n = skip
		}
		if err := rp.apply(&rec, n, onSeat); err != nil {
			return rp.result(), err
		}
	}
	return rp.result(), nil
}

type replayPlayer struct {
	Seat
	last schema.Input
	out  outQueue
}

type replayer struct {
	w       World
	sw      StateWriter
	joiner  InfoJoiner
	handler EventHandler
	codec   *gamedelta.Codec
	evLimit int
	gw      *gamedelta.World
	tick    uint32
	ticks   int
	players []replayPlayer // sorted by id
	inputs  []PlayerInput
	// joining is the player whose JoinWith runs (not yet in players);
	// evTick the tick of the record being replayed.
	joining *replayPlayer
	evTick  uint32
}

func (rp *replayer) result() Replayed {
	out := Replayed{Tick: rp.tick, Ticks: rp.ticks, Seats: make([]Seat, len(rp.players))}
	for i, p := range rp.players {
		out.Seats[i] = p.Seat
		out.Seats[i].OutSeq = p.out.seq
		for j := range p.out.n {
			ev := p.out.ring[(p.out.head+j)%len(p.out.ring)]
			out.Events = append(out.Events, QueuedEvent{Player: p.Player, Event: ev})
		}
	}
	return out
}

func (rp *replayer) find(player uint32) (int, bool) {
	return slices.BinarySearchFunc(rp.players, player, func(p replayPlayer, id uint32) int { return cmp.Compare(p.Player, id) })
}

// replayOutbox is the Outbox of a World being replayed: its events are
// queued as the recording room queued them (same seats, same seqs).
type replayOutbox struct{ rp *replayer }

func (o replayOutbox) Send(player uint32, event []byte) {
	rp := o.rp
	if at, ok := rp.find(player); ok {
		rp.players[at].out.push(rp.evTick, event, rp.evLimit)
	} else if rp.joining != nil && rp.joining.Player == player {
		rp.joining.out.push(rp.evTick, event, rp.evLimit)
	}
}

func (o replayOutbox) Broadcast(event []byte) {
	rp := o.rp
	for i := range rp.players {
		rp.players[i].out.push(rp.evTick, event, rp.evLimit)
	}
	if rp.joining != nil {
		rp.joining.out.push(rp.evTick, event, rp.evLimit)
	}
}

func (replayOutbox) End(string) {}

// join joins ev's player as the recording room did.
func (rp *replayer) join(ev *SeatEvent, at int) (uint32, error) {
	if rp.joiner == nil {
		return rp.w.Join(ev.Player)
	}
	rp.joining = &replayPlayer{Seat: Seat{Player: ev.Player}}
	j := ev.Info
	j.Player = ev.Player
	ent, err := rp.joiner.JoinWith(j)
	p := rp.joining
	rp.joining = nil
	if err == nil {
		p.Entity = ent
		rp.players = slices.Insert(rp.players, at, *p)
	}
	return ent, err
}

// apply replays one decoded record, its first skip seat changes excepted.
func (rp *replayer) apply(rec *logRecord, skip int, onSeat func(SeatEvent)) error {
	diverged := func(format string, a ...any) error {
		return &DivergedError{Tick: rec.tick, Reason: fmt.Sprintf(format, a...)}
	}
	rp.evTick = rec.tick
	for i := range rec.events {
		ev := &rec.events[i]
		if i < skip {
			continue
		}
		at, seated := rp.find(ev.Player)
		switch ev.Kind {
		case SeatJoin:
			if seated {
				return diverged("join of player %d, already seated", ev.Player)
			}
			ent, err := rp.join(ev, at)
			if err != nil {
				return diverged("join of player %d: %v", ev.Player, err)
			}
			if ent != ev.Entity {
				return diverged("join of player %d gave entity %d, the log says %d", ev.Player, ent, ev.Entity)
			}
			if rp.joiner == nil {
				rp.players = slices.Insert(rp.players, at, replayPlayer{Seat: Seat{Player: ev.Player, Entity: ent}})
			}
		case SeatLeave:
			if !seated {
				return diverged("leave of player %d, not seated", ev.Player)
			}
			rp.w.Leave(ev.Player)
			rp.players = slices.Delete(rp.players, at, at+1)
		case SeatAttach:
			if !seated {
				return diverged("attach of player %d, not seated", ev.Player)
			}
			p := &rp.players[at]
			if ev.seqHeld > 0 {
				p.out.settle(ev.seqBase, ev.seqHeld)
			}
			p.Unsettled, p.OutBase = false, 0
		}
		if onSeat != nil {
			onSeat(*ev)
		}
	}
	for _, ce := range rec.cevents {
		at, seated := rp.find(ce.player)
		if !seated {
			return diverged("client event of player %d, not seated", ce.player)
		}
		p := &rp.players[at]
		if ce.seq <= p.InSeq {
			return diverged("client event %d of player %d, after %d", ce.seq, ce.player, p.InSeq)
		}
		p.InSeq = ce.seq
		if rp.handler != nil {
			rp.handler.Event(ce.player, ce.data)
		}
	}
	for _, in := range rec.inputs {
		at, seated := rp.find(in.Player)
		if !seated {
			return diverged("input of player %d, not seated", in.Player)
		}
		p := &rp.players[at]
		data := p.last.Data
		p.last = in.Input
		if in.same {
			p.last.Data = data
		}
		p.LastSeq = max(p.LastSeq, in.Input.Seq)
	}
	rp.inputs = rp.inputs[:0]
	for _, p := range rp.players {
		rp.inputs = append(rp.inputs, PlayerInput{Player: p.Player, Input: p.last})
	}
	rp.w.Step(rec.tick, rp.inputs)
	if h := rp.hash(rec.axes); h != rec.hash {
		return diverged("state hash %08x, the log says %08x", h, rec.hash)
	}
	rp.tick = rec.tick
	rp.ticks++
	return nil
}

// hash is the state hash of the World after a step, as the room takes it:
// of the world sorted by id (the room hashes what its encoder recorded),
// or for a format 2 record (v2) hashStateV2 of the world in the order
// WriteState wrote it, as the rooms of that format did.
func (rp *replayer) hash(v2 bool) uint32 {
	rp.gw.Reset()
	rp.sw.WriteState(rp.gw)
	if v2 {
		return hashStateV2(rp.gw)
	}
	rp.gw.Sort()
	return hashState(rp.gw)
}

// logInput is one decoded input. same: its data is that of the player's
// previous logged input (format 3's data field 0), and Input.Data is nil.
type logInput struct {
	PlayerInput
	same bool
}

// logRecord is one decoded record; its slices are reused by the decoder.
type logRecord struct {
	tick    uint32
	full    bool
	axes    bool // format 2: inputs carry the old arena's four fields, and the hash is hashStateV2
	events  []SeatEvent
	cevents []clientEvent
	inputs  []logInput
	hash    uint32
}

// clientEvent is a logged client event; data aliases the log.
type clientEvent struct {
	player, seq uint32
	data        []byte
}

// logDecoder reads records one by one; every length is checked against
// what is left, and it never panics.
type logDecoder struct {
	b   []byte
	p   int
	rec logRecord
	err error
}

func (d *logDecoder) done() bool { return d.p >= len(d.b) }

func (d *logDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrBadLog, what, d.p)
	}
}

func (d *logDecoder) uvarint(what string, limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.p:])
	if n <= 0 || v > limit {
		d.fail(what)
		return 0
	}
	d.p += n
	return v
}

func (d *logDecoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.p:])
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.p += n
	return v
}

func (d *logDecoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.p >= len(d.b) {
		d.fail(what)
		return 0
	}
	d.p++
	return d.b[d.p-1]
}

func (d *logDecoder) bytes(what string, n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.p) {
		d.fail(what)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.b[d.p : d.p+int(n) : d.p+int(n)]
	d.p += int(n)
	return b
}

// lenBytes reads a uvarint length and that many bytes.
func (d *logDecoder) lenBytes(what, whatLen string) []byte {
	return d.bytes(what, d.uvarint(whatLen, maxU32))
}

const maxU32 = 1<<32 - 1

// next decodes the next record.
func (d *logDecoder) next() (logRecord, error) {
	r := &d.rec
	r.tick = uint32(d.uvarint("tick", maxU32))
	flags := d.byte("flags")
	r.full = flags&flagFull != 0
	switch flags &^ flagFull {
	case flagV2 | flagV3:
		r.axes = false
	case flagV2:
		r.axes = true
	case 0:
		d.fail("a format 1 record (the old arena's, no longer replayed)")
	default:
		d.fail("flags")
	}
	// Every event and input takes at least 3 bytes: counts beyond what is
	// left are refused before anything is allocated.
	left := uint64(len(d.b) - d.p)
	ne := d.uvarint("event count", left/3)
	r.events = r.events[:0]
	for range ne {
		if d.err != nil {
			break
		}
		ev := SeatEvent{Tick: r.tick, Kind: SeatChange(d.byte("event kind"))}
		if ev.Kind < SeatJoin || ev.Kind > SeatChange(eventAttachSeq) {
			d.fail("event kind")
		}
		ev.Player = uint32(d.uvarint("player", maxU32))
		switch ev.Kind {
		case SeatJoin:
			ev.Entity = uint32(d.uvarint("entity", maxU32))
		case SeatChange(eventAttachSeq):
			ev.Kind = SeatAttach
			ev.seqBase = uint32(d.uvarint("event seq base", maxU32))
			ev.seqHeld = uint32(d.uvarint("event seq held", maxU32))
		}
		ev.Note = d.bytes("note", d.uvarint("note length", maxU32))
		if ev.Kind == SeatJoin {
			ev.Info.Player = ev.Player
			ev.Info.Name = string(d.lenBytes("name", "name length"))
			ev.Info.Payload = d.lenBytes("payload", "payload length")
			ev.Info.Claims = d.lenBytes("claims", "claims length")
		}
		r.events = append(r.events, ev)
	}
	r.cevents = r.cevents[:0]
	left = uint64(len(d.b) - d.p)
	nc := d.uvarint("client event count", left/3)
	for range nc {
		if d.err != nil {
			break
		}
		var ce clientEvent
		ce.player = uint32(d.uvarint("player", maxU32))
		ce.seq = uint32(d.uvarint("seq", maxU32))
		ce.data = d.lenBytes("event data", "event data length")
		r.cevents = append(r.cevents, ce)
	}
	left = uint64(len(d.b) - d.p)
	ni := d.uvarint("input count", left/3)
	r.inputs = r.inputs[:0]
	for range ni {
		if d.err != nil {
			break
		}
		var in logInput
		in.Player = uint32(d.uvarint("player", maxU32))
		in.Input.Seq = uint32(d.uvarint("seq", maxU32))
		in.Input.TargetTick = uint32(int64(r.tick) + d.varint("target tick"))
		in.Input.AckTick = uint32(int64(r.tick) + d.varint("ack tick"))
		if r.axes { // format 2: move x, move y, aim, buttons, unused
			d.byte("move x")
			d.byte("move y")
			d.uvarint("aim", 1<<16-1)
			d.byte("buttons")
		}
		if r.axes {
			in.Input.Data = d.lenBytes("input data", "input data length")
		} else if n := d.uvarint("input data length", maxU32+1); n > 0 {
			in.Input.Data = d.bytes("input data", n-1)
		} else if r.full {
			d.fail("input data of a full record said the same as before")
		} else {
			in.same = true
		}
		r.inputs = append(r.inputs, in)
	}
	if h := d.bytes("hash", 4); h != nil {
		r.hash = binary.LittleEndian.Uint32(h)
	}
	if d.err != nil {
		return logRecord{}, d.err
	}
	return *r, nil
}
