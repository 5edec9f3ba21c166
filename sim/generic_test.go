package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// newCardsRoom returns a room of the cards game driven by the test (no
// loop); views: with per-player views (viewCards).
func newCardsRoom(t testing.TB, views bool, edit func(*Config), opts ...Option) (*Room, *cardsGame) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Codec = mustCodec(t)
	if edit != nil {
		edit(&cfg)
	}
	g := newCardsGame(cfg.Codec)
	var w World = g
	if views {
		w = viewCards{g}
	}
	r, err := NewRoom("cards", cfg, w, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r, g
}

func joinCards(t testing.TB, r *Room, id uint32, c Conn) {
	t.Helper()
	if _, err := r.join(id, c, &JoinInfo{Player: id, Name: fmt.Sprintf("p%d", id)}); err != nil {
		t.Fatal(err)
	}
}

// cardsClient is one player's client: it decodes every snapshot its
// connection got with the verifying decoder, applies the state with a
// gamedelta.Receiver, and keeps the server events (each seq once, in
// order).
type cardsClient struct {
	t      testing.TB
	player uint32
	conn   *fakeConn
	rx     *gamedelta.Receiver
	read   int // messages of conn consumed
	world  *gamedelta.World
	last   schema.Snapshot // the newest snapshot (Events copied)
	events []schema.Event  // every server event received, by seq
	msg    schema.ServerMessage
	fulls  int // snapshots without a baseline
}

func newCardsClient(t testing.TB, c *gamedelta.Codec, player uint32) *cardsClient {
	t.Helper()
	rx, err := gamedelta.NewReceiver(c, gamedelta.DefaultReceiverConfig(player))
	if err != nil {
		t.Fatal(err)
	}
	return &cardsClient{t: t, player: player, conn: &fakeConn{}, rx: rx}
}

// poll applies the snapshots received since the last poll and returns how
// many there were.
func (c *cardsClient) poll() int {
	c.t.Helper()
	c.conn.mu.Lock()
	msgs := c.conn.msgs[c.read:]
	c.read = len(c.conn.msgs)
	c.conn.mu.Unlock()
	for _, b := range msgs {
		if err := schema.DecodeServerMessage(b, &c.msg); err != nil {
			c.t.Fatalf("player %d: decode: %v", c.player, err)
		}
		s := &c.msg.Snapshot
		if c.msg.Kind != schema.ServerSnapshot {
			c.t.Fatalf("player %d: message kind %v", c.player, c.msg.Kind)
		}
		w, err := c.rx.Apply(s.Tick, s.BaselineTick, s.State)
		if err != nil {
			c.t.Fatalf("player %d: apply snapshot %d against %d: %v", c.player, s.Tick, s.BaselineTick, err)
		}
		if s.BaselineTick == 0 {
			c.fulls++
		}
		c.world = w
		c.last = *s
		c.last.Events = nil
		for i, ev := range s.Events {
			if i > 0 && ev.Seq != s.Events[i-1].Seq+1 {
				c.t.Fatalf("player %d: events %d then %d", c.player, s.Events[i-1].Seq, ev.Seq)
			}
			ev.Data = bytes.Clone(ev.Data)
			c.last.Events = append(c.last.Events, ev)
			if n := uint32(len(c.events)); ev.Seq == n+1 {
				c.events = append(c.events, ev)
			} else if ev.Seq > n+1 {
				c.t.Fatalf("player %d: event %d after %d: a gap", c.player, ev.Seq, n)
			}
		}
	}
	return len(msgs)
}

// input returns an input acknowledging what the client holds.
func (c *cardsClient) input(seq uint32, data []byte) *schema.Input {
	return &schema.Input{Seq: seq, AckTick: c.rx.Newest(), EventAck: uint32(len(c.events)), Data: data}
}

// texts returns the data of events as strings.
func texts(evs []schema.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Data))
	}
	return out
}

// TestGenericEventFloodSparesNeighbours: a player whose event queue is
// full is refused (its connection then closes it), and its neighbours'
// events all go through.
func TestGenericEventFloodSparesNeighbours(t *testing.T) {
	r, g := newCardsRoom(t, false, func(c *Config) { c.ClientEventQueue = 8 })
	joinCards(t, r, 1, &fakeConn{})
	joinCards(t, r, 2, &fakeConn{})
	refused := 0
	for seq := uint32(1); seq <= 100; seq++ {
		if !r.PushEvent(1, schema.Event{Seq: seq, Data: []byte("flood")}) {
			refused++
		}
		if seq <= 8 && !r.PushEvent(2, schema.Event{Seq: seq, Data: []byte("calm")}) {
			t.Fatalf("player 2's event %d refused", seq)
		}
	}
	if refused != 92 {
		t.Fatalf("%d of player 1's events refused, want 92", refused)
	}
	r.step(time.Now())
	calm := 0
	for _, h := range g.Heard {
		if h == "p2:calm" {
			calm++
		}
	}
	if calm != 8 || len(g.Heard) != 16 || r.EventSeq(2) != 8 {
		t.Fatalf("heard %d of player 2's 8 events (%d in all), event seq %d", calm, len(g.Heard), r.EventSeq(2))
	}
	// Not seated: dropped, not refused.
	if !r.PushEvent(9, schema.Event{Seq: 1}) || r.Stats().EventsDiscarded != 1 {
		t.Fatalf("an event of a player not seated: %+v", r.Stats())
	}
}

// TestGenericEndStopsRoom: Outbox.End stops the running room after its
// tick; Err says why, with the game's reason.
func TestGenericEndStopsRoom(t *testing.T) {
	r, _ := newCardsRoom(t, false, func(c *Config) { c.TickRate = 100 })
	r.Start()
	defer func() { _ = r.Stop(context.Background()) }()
	c := newCardsClient(t, r.cfg.Codec, 1)
	if _, err := r.JoinWith(ctxT(t), JoinInfo{Player: 1, Name: "p1"}, c.conn); err != nil {
		t.Fatal(err)
	}
	r.PushEvent(1, schema.Event{Seq: 1, Data: []byte("end:game over")})
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the room did not stop")
	}
	var ended *EndedError
	if err := r.Err(); !errors.As(err, &ended) || !errors.Is(err, ErrEnded) || ended.Reason != "game over" || ended.Tick != r.Tick() {
		t.Fatalf("Err() = %v, want an EndedError after tick %d", err, r.Tick())
	}
	// The snapshot of the ending tick went out.
	c.poll()
	if c.last.Tick != ended.Tick {
		t.Fatalf("last snapshot of tick %d, the room ended after %d", c.last.Tick, ended.Tick)
	}
	if err := r.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// TestGenericJoin: a JoinInfo reaches the game; a refusal comes back as
// the game's RefuseError, seats nobody, and its events go nowhere.
func TestGenericJoin(t *testing.T) {
	r, g := newCardsRoom(t, false, nil)
	r.Start()
	defer func() { _ = r.Stop(context.Background()) }()
	ent, err := r.JoinWith(ctxT(t), JoinInfo{Player: 3, Name: "ann", Payload: []byte{1, 2}, Claims: []byte(`{"sub":"ann"}`)}, &fakeConn{})
	if err != nil || ent != playerID0+3 {
		t.Fatalf("JoinWith: %d, %v", ent, err)
	}
	_, err = r.JoinWith(ctxT(t), JoinInfo{Player: 4, Name: "refuse"}, &fakeConn{})
	var re *RefuseError
	if !errors.As(err, &re) || re.Reason != "no seat for you" {
		t.Fatalf("refused join: %v, want the game's RefuseError", err)
	}
	// Join of an InfoJoiner: JoinWith with the player alone.
	if _, err := r.Join(ctxT(t), 5, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Do(ctxT(t), func(uint32) error {
		if len(g.Players) != 2 || g.Players[0].Name != "ann" || !bytes.Equal(g.Players[0].Avatar, []byte{1, 2}) ||
			g.Players[0].Score != int64(len(`{"sub":"ann"}`)) || g.Players[1].ID != 5 || g.Players[1].Name != "" {
			return fmt.Errorf("players %+v", g.Players)
		}
		if p := r.byID[4]; p != nil {
			return errors.New("the refused player is seated")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestGenericInputData: an input's data is the room's copy (the caller's
// buffer is free once PushInput returns), repeats with a repeated input,
// is dropped when too long, and is cleared on Detach.
func TestGenericInputData(t *testing.T) {
	r, g := newCardsRoom(t, false, func(c *Config) { c.MaxInputBytes = 4 })
	joinCards(t, r, 1, &fakeConn{})
	buf := []byte{5, 0, 0}
	r.PushInput(1, &schema.Input{Seq: 1, Data: buf})
	buf[0] = 100 // the room holds a copy
	r.step(time.Now())
	p := &g.Players[0]
	if p.VX != 5 || p.X != 5 || p.Score != 3 {
		t.Fatalf("after one input: %+v", *p)
	}
	r.step(time.Now()) // repeated, with its data
	if p.X != 10 || p.Score != 6 {
		t.Fatalf("after a repeated input: %+v", *p)
	}
	if r.PushInput(1, &schema.Input{Seq: 2, Data: make([]byte, 5)}) {
		t.Fatal("an input longer than MaxInputBytes was accepted")
	}
	r.step(time.Now())
	if p.Score != 9 || r.Stats().InputsDiscarded != 1 {
		t.Fatalf("the long input reached the game (%+v) or was not counted (%+v)", *p, r.Stats())
	}
	if err := r.detach(1); err != nil {
		t.Fatal(err)
	}
	r.step(time.Now())
	if p.Score != 9 {
		t.Fatalf("a detached player's data repeated: score %d", p.Score)
	}
}

// TestNewRoomChecksThePath: a World is a StateWriter and comes with its
// Codec.
func TestNewRoomChecksThePath(t *testing.T) {
	codec := mustCodec(t)
	withCodec := DefaultConfig()
	withCodec.Codec = codec
	type bare struct{ World }
	g := newCardsGame(codec)
	tests := []struct {
		name string
		cfg  Config
		w    World
		want string
	}{
		{"no state", withCodec, bare{g}, "not a StateWriter"},
		{"state without codec", DefaultConfig(), g, "without Config.Codec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRoom("x", tt.cfg, tt.w, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewRoom: %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := NewRoom("x", withCodec, viewCards{g}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestRecordFormat: every room writes format 3 records.
func TestRecordFormat(t *testing.T) {
	var flags []byte
	rec := WithRecord(func(_ uint32, b []byte) { flags = append(flags, b[1]) }, nil)
	r, _ := newCardsRoom(t, false, nil, rec)
	joinCards(t, r, 1, nil)
	r.step(time.Now())
	r.step(time.Now())
	if want := []byte{flagFull | flagV2 | flagV3, flagV2 | flagV3}; !bytes.Equal(flags, want) {
		t.Fatalf("record flags %v, want %v", flags, want)
	}
}

// TestRecordInputDataOnce: an input's data is logged when it differs from
// the player's previous logged data, and in every full record; an input
// whose seq alone changed logs a data field of 0. The log replays to the
// room's state.
func TestRecordInputDataOnce(t *testing.T) {
	var log []byte
	var recs [][]byte
	rec := WithRecord(func(_ uint32, b []byte) {
		log = append(log, b...)
		recs = append(recs, bytes.Clone(b))
	}, nil)
	r, g := newCardsRoom(t, false, nil, rec)
	joinCards(t, r, 1, nil)
	data := [][]byte{{7, 1, 2}, {7, 1, 2}, {7, 1, 2}, {9}, {9}, nil, nil, {3, 3}}
	for i, d := range data {
		r.PushInput(1, &schema.Input{Seq: uint32(i + 1), Data: bytes.Clone(d)})
		r.step(time.Now())
		if i == 4 {
			if err := r.capture(func(uint32, []byte, []Seat) {}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Tick 6 follows a capture: full, its data written although unchanged.
	wantSame := []bool{false, true, true, false, true, false, true, false}
	for i, b := range recs {
		d := logDecoder{b: b}
		got, err := d.next()
		if err != nil || len(got.inputs) != 1 {
			t.Fatalf("record %d: %d inputs, %v", i+1, len(got.inputs), err)
		}
		in := got.inputs[0]
		if in.same != wantSame[i] || !in.same && !bytes.Equal(in.Input.Data, data[i]) {
			t.Fatalf("record %d: same %v, data %v; want same %v, data %v", i+1, in.same, in.Input.Data, wantSame[i], data[i])
		}
	}
	if n := len(recs[1]); n >= len(recs[0]) {
		t.Fatalf("a record of an unchanged input's data is %d bytes, the first %d", n, len(recs[0]))
	}
	w := newCardsGame(r.cfg.Codec)
	got, err := Replay(w, 0, 0, nil, log, nil, ReplayWith(r.cfg))
	if err != nil || got.Tick != uint32(len(data)) {
		t.Fatalf("replay: tick %d, %v", got.Tick, err)
	}
	want, _ := g.MarshalState(nil)
	if st, _ := w.MarshalState(nil); !bytes.Equal(st, want) {
		t.Fatal("the replayed state differs from the room's")
	}
	// A full record saying "the same data" is refused.
	d := logDecoder{b: recordWithSameData(t, recs[0])}
	if _, err := d.next(); !errors.Is(err, ErrBadLog) {
		t.Fatalf("a full record with data field 0: %v, want ErrBadLog", err)
	}
}

// recordWithSameData rewrites full record b (one input) with the input's
// data field 0.
func recordWithSameData(t *testing.T, b []byte) []byte {
	t.Helper()
	d := logDecoder{b: b}
	rec, err := d.next()
	if err != nil || !rec.full || len(rec.inputs) != 1 {
		t.Fatalf("record: %+v, %v", rec, err)
	}
	n := len(rec.inputs[0].Input.Data)
	// The record ends with: data field (n+1, one byte) | data | hash.
	end := len(b) - 4
	if b[end-n-1] != byte(n+1) {
		t.Fatalf("data field %d, want %d", b[end-n-1], n+1)
	}
	out := append(bytes.Clone(b[:end-n-1]), 0)
	return append(out, b[end:]...)
}

// appendFormat2 re-encodes the records of a format 3 log in format 2, as
// the previous version wrote them: each input with the old arena's four
// fields (here not zero: a replay ignores them), and the state hash of
// that version (hashStateV2), from v2 by tick.
func appendFormat2(t *testing.T, dst, log []byte, v2 map[uint32]uint32) []byte {
	t.Helper()
	d := logDecoder{b: log}
	data := map[uint32][]byte{} // each player's data logged last
	for !d.done() {
		rec, err := d.next()
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range rec.events {
			if ev.Kind == SeatJoin || ev.Kind == SeatLeave {
				delete(data, ev.Player)
			}
		}
		flags := flagV2
		if rec.full {
			flags |= flagFull
		}
		dst = append(binary.AppendUvarint(dst, uint64(rec.tick)), flags)
		dst = binary.AppendUvarint(dst, uint64(len(rec.events)))
		for _, ev := range rec.events {
			// The seat events are the same in both formats (an attach
			// that moved server event seqs, newer than format 2, kept).
			if ev.seqHeld > 0 {
				dst = append(dst, eventAttachSeq)
			} else {
				dst = append(dst, byte(ev.Kind))
			}
			dst = binary.AppendUvarint(dst, uint64(ev.Player))
			if ev.Kind == SeatJoin {
				dst = binary.AppendUvarint(dst, uint64(ev.Entity))
			}
			if ev.seqHeld > 0 {
				dst = binary.AppendUvarint(dst, uint64(ev.seqBase))
				dst = binary.AppendUvarint(dst, uint64(ev.seqHeld))
			}
			dst = appendBytes(dst, ev.Note)
			if ev.Kind == SeatJoin {
				dst = appendBytes(dst, []byte(ev.Info.Name))
				dst = appendBytes(dst, ev.Info.Payload)
				dst = appendBytes(dst, ev.Info.Claims)
			}
		}
		dst = binary.AppendUvarint(dst, uint64(len(rec.cevents)))
		for _, ce := range rec.cevents {
			dst = binary.AppendUvarint(dst, uint64(ce.player))
			dst = binary.AppendUvarint(dst, uint64(ce.seq))
			dst = appendBytes(dst, ce.data)
		}
		dst = binary.AppendUvarint(dst, uint64(len(rec.inputs)))
		for _, in := range rec.inputs {
			dst = binary.AppendUvarint(dst, uint64(in.Player))
			dst = binary.AppendUvarint(dst, uint64(in.Input.Seq))
			dst = binary.AppendVarint(dst, int64(in.Input.TargetTick)-int64(rec.tick))
			dst = binary.AppendVarint(dst, int64(in.Input.AckTick)-int64(rec.tick))
			dst = append(dst, 0x9c, 0x64)           // move x -100, move y 100
			dst = binary.AppendUvarint(dst, 0xbeef) // aim
			dst = append(dst, 0x05)                 // buttons
			if !in.same {
				data[in.Player] = in.Input.Data
			}
			dst = appendBytes(dst, data[in.Player])
		}
		h, ok := v2[rec.tick]
		if !ok {
			t.Fatalf("no format 2 hash of tick %d", rec.tick)
		}
		dst = binary.LittleEndian.AppendUint32(dst, h)
	}
	return dst
}

// TestReplayEarlierFormats: a log of format 2 records (the previous
// version's) replays to the same state as the format 3 log of the same
// ticks; a format 1 record (the old arena's) is refused, nothing replayed.
func TestReplayEarlierFormats(t *testing.T) {
	rc := playCards(t, rand.New(rand.NewPCG(9, 9)), 120)
	end := rc.capture(t)
	old := appendFormat2(t, nil, rc.log, rc.v2)
	if len(old) <= len(rc.log) {
		t.Fatalf("format 2 log of %d bytes, format 3 of %d", len(old), len(rc.log))
	}
	w := newCardsGame(rc.cfg.Codec)
	got, err := Replay(viewCards{w}, 0, 0, nil, old, nil, ReplayWith(rc.cfg))
	if err != nil || got.Tick != end.tick || !slices.Equal(got.Seats, end.seats) {
		t.Fatalf("format 2 replay: tick %d, seats %+v, %v; want %d, %+v", got.Tick, got.Seats, err, end.tick, end.seats)
	}
	if st, _ := w.MarshalState(nil); !bytes.Equal(st, end.state) {
		t.Fatal("format 2 replay: the state differs from the room's")
	}
	// tick 1, full, no events, no inputs, a hash.
	format1 := []byte{1, flagFull, 0, 0, 1, 2, 3, 4}
	got, err = Replay(newCardsGame(rc.cfg.Codec), 0, 0, nil, format1, nil, ReplayWith(rc.cfg))
	if !errors.Is(err, ErrBadLog) || !strings.Contains(err.Error(), "format 1") || got.Ticks != 0 {
		t.Fatalf("format 1 replay: %+v, %v; want ErrBadLog naming format 1", got, err)
	}
}

// recordedCards is a cards room recording its tick log, with the captures
// taken while it ran.
type recordedCards struct {
	r        *Room
	g        *cardsGame
	cfg      Config
	log      []byte
	changes  int
	captures []capture
	v2       map[uint32]uint32 // each tick's hashStateV2 (of the previous version's tick logs)
}

type capture struct {
	tick  uint32
	skip  int
	state []byte
	seats []Seat
}

func (rc *recordedCards) capture(t testing.TB) capture {
	t.Helper()
	var c capture
	if err := rc.r.capture(func(tick uint32, st []byte, seats []Seat) {
		c = capture{tick: tick, skip: rc.changes, state: bytes.Clone(st), seats: slices.Clone(seats)}
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

// playCards drives a recorded cards room at random: joins with names,
// payloads and claims, leaves, detaches, reattaches (some holding more
// server events than sent), inputs with data,
// client events of every kind (some repeated), captures.
func playCards(t testing.TB, rng *rand.Rand, ticks int) *recordedCards {
	t.Helper()
	rc := &recordedCards{v2: map[uint32]uint32{}}
	rec := WithRecord(func(tick uint32, b []byte) {
		rc.log = append(rc.log, b...)
		rc.changes = 0
		w := gamedelta.NewWorld(rc.cfg.Codec)
		rc.g.WriteState(w)
		rc.v2[tick] = hashStateV2(w)
	}, func(dst []byte, player uint32) []byte {
		rc.changes++
		return fmt.Appendf(dst, "p%d", player)
	})
	rc.r, rc.g = newCardsRoom(t, true, func(c *Config) { c.EventQueue = 1024 }, rec)
	rc.cfg = rc.r.cfg
	seats := map[uint32]bool{}
	seq, evSeq := map[uint32]uint32{}, map[uint32]uint32{}
	prevData := map[uint32][]byte{}
	next := uint32(1)
	kinds := []string{"echo:%d", "all:%d", "flip", "burst:2", "say %d"}
	for tick := uint32(1); tick <= uint32(ticks); tick++ {
		for range rng.IntN(3) {
			switch k := rng.IntN(10); {
			case k < 4 && len(seats) < 8:
				info := JoinInfo{Player: next, Name: fmt.Sprintf("n%d", rng.IntN(100)), Payload: []byte{byte(rng.IntN(256))}}
				if rng.IntN(2) == 0 {
					info.Claims = []byte(`{"sub":"x"}`)
				}
				if _, err := rc.r.join(next, &fakeConn{}, &info); err != nil {
					t.Fatal(err)
				}
				seats[next] = true
				next++
			case k < 6 && len(seats) > 0:
				p := pickSeat(rng, seats)
				if err := rc.r.leave(p); err != nil {
					t.Fatal(err)
				}
				delete(seats, p)
			case k < 8 && len(seats) > 0:
				if err := rc.r.detach(pickSeat(rng, seats)); err != nil {
					t.Fatal(err)
				}
			case len(seats) > 0:
				// Now and then a client that holds more server events
				// than this room numbered (a failover lost them): the
				// seat's seqs move past them, and the log says so.
				p := pickSeat(rng, seats)
				var held uint32
				if rng.IntN(3) == 0 {
					held = rc.r.byID[p].out.seq + 1 + uint32(rng.IntN(3))
				}
				if err := rc.r.resume(p, &fakeConn{}, 0, held); err != nil {
					t.Fatal(err)
				}
			}
			if rng.IntN(8) == 0 {
				rc.captures = append(rc.captures, rc.capture(t))
			}
		}
		for p := range seats {
			for range rng.IntN(3) {
				seq[p]++
				data := prevData[p]
				if rng.IntN(2) == 0 { // else the data of its previous input again
					data = make([]byte, rng.IntN(6))
					for i := range data {
						data[i] = byte(rng.Uint32())
					}
					prevData[p] = data
				}
				rc.r.PushInput(p, &schema.Input{Seq: seq[p], AckTick: tick - 1, Data: data})
			}
			if rng.IntN(4) == 0 {
				evSeq[p]++
				k := kinds[rng.IntN(len(kinds))]
				d := k
				if strings.Contains(k, "%d") {
					d = fmt.Sprintf(k, rng.IntN(1000))
				}
				rc.r.PushEvent(p, schema.Event{Seq: evSeq[p], Data: []byte(d)})
				if rng.IntN(3) == 0 { // a resend
					rc.r.PushEvent(p, schema.Event{Seq: evSeq[p], Data: []byte(d)})
				}
			}
		}
		rc.r.step(time.Now())
		if rng.IntN(10) == 0 {
			rc.captures = append(rc.captures, rc.capture(t))
		}
	}
	return rc
}

func pickSeat(rng *rand.Rand, set map[uint32]bool) uint32 {
	ids := make([]uint32, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[rng.IntN(len(ids))]
}

// TestGenericReplayEqualsRecording: a generic room played at random
// (inputs with data, client events, joins with JoinInfo) and restored
// from any of its captures, then replayed through its tick log, reaches
// the state, seats (with their event seqs) and tick the room had, every
// tick's state hash checked; replayed from the start, it queues again the
// very server events the room holds for its players.
func TestGenericReplayEqualsRecording(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0xca4d5))
			rc := playCards(t, rng, 150+rng.IntN(100))
			end := rc.capture(t)
			var queued []QueuedEvent
			for _, p := range rc.r.list {
				for _, ev := range p.out.appendTo(nil) {
					queued = append(queued, QueuedEvent{Player: p.id, Event: ev})
				}
			}
			for _, c := range append([]capture{{}}, rc.captures...) {
				w := newCardsGame(rc.cfg.Codec)
				if c.state != nil {
					if err := w.UnmarshalState(c.state); err != nil {
						t.Fatal(err)
					}
				}
				got, err := Replay(viewCards{w}, c.tick, c.skip, c.seats, rc.log, nil, ReplayWith(rc.cfg))
				if err != nil {
					t.Fatalf("replay from tick %d (skip %d): %v", c.tick, c.skip, err)
				}
				if got.Tick != end.tick || !slices.Equal(got.Seats, end.seats) {
					t.Fatalf("replay from tick %d: tick %d, seats %+v; want %d, %+v", c.tick, got.Tick, got.Seats, end.tick, end.seats)
				}
				if st, _ := w.MarshalState(nil); !bytes.Equal(st, end.state) {
					t.Fatalf("replay from tick %d: state\n%s\nwant\n%s", c.tick, st, end.state)
				}
				if c.state == nil && !equalQueued(got.Events, queued) {
					t.Fatalf("replay from the start queued %d events, the room holds %d", len(got.Events), len(queued))
				}
			}
			// A room restored from the replay carries on the seqs.
			w := newCardsGame(rc.cfg.Codec)
			got, err := Replay(w, 0, 0, nil, rc.log, nil, ReplayWith(rc.cfg))
			if err != nil {
				t.Fatal(err)
			}
			r2, err := NewRoom("restored", rc.cfg, w, nil, WithRestore(got.Tick, got.Seats), WithQueuedEvents(got.Events))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range rc.r.list {
				q := r2.byID[p.id]
				if q == nil {
					t.Fatalf("player %d not restored", p.id)
				}
				if q.out.seq != p.out.seq || q.inSeq != p.inSeq || r2.EventSeq(p.id) != p.inSeq ||
					!equalEvents(q.out.appendTo(nil), p.out.appendTo(nil)) {
					t.Fatalf("player %d restored with out seq %d, in seq %d; the room had %d, %d", p.id, q.out.seq, q.inSeq, p.out.seq, p.inSeq)
				}
			}
		})
	}
}

func equalEvents(a, b []schema.Event) bool {
	return slices.EqualFunc(a, b, func(x, y schema.Event) bool {
		return x.Seq == y.Seq && x.Tick == y.Tick && bytes.Equal(x.Data, y.Data)
	})
}

func equalQueued(a, b []QueuedEvent) bool {
	return slices.EqualFunc(a, b, func(x, y QueuedEvent) bool {
		return x.Player == y.Player && equalEvents([]schema.Event{x.Event}, []schema.Event{y.Event})
	})
}

// TestGenericReplayDetectsDivergence: a replay of a generic game whose
// state differs from the recording is caught by the state hash.
func TestGenericReplayDetectsDivergence(t *testing.T) {
	rc := playCards(t, rand.New(rand.NewPCG(3, 3)), 80)
	w := newCardsGame(rc.cfg.Codec)
	w.Cards[15].Rank = 13 // a card no one holds, different from the start
	_, err := Replay(w, 0, 0, nil, rc.log, nil, ReplayWith(rc.cfg))
	var de *DivergedError
	if !errors.As(err, &de) || de.Tick != 1 {
		t.Fatalf("replay of a different world: %v, want a divergence at tick 1", err)
	}
	if _, err := Replay(newCardsGame(rc.cfg.Codec), 0, 0, nil, rc.log, nil); err == nil {
		t.Fatal("replay of a StateWriter without its Codec succeeded")
	}
}

// genericBench is a cards room of n players driven like the arena's
// benchmark: every player sends an input with data each tick and
// acknowledges the previous tick's snapshot and every server event; the
// tick log is recorded.
type genericBench struct {
	r       *Room
	clients []*schema.Input
	conns   []*benchConn
	tick    uint32
	now     time.Time
}

// benchConn keeps the newest snapshot, as a real connection must (it
// copies).
type benchConn struct {
	buf []byte
	n   int
}

func (c *benchConn) SendSnapshot(msg []byte) { c.buf = append(c.buf[:0], msg...); c.n++ }
func (c *benchConn) Overflow()               {}

func newGenericBench(t testing.TB, players int, views bool) *genericBench {
	t.Helper()
	var logged []byte
	rec := WithRecord(func(_ uint32, b []byte) { logged = append(logged[:0], b...) }, nil)
	r, _ := newCardsRoom(t, views, nil, rec)
	gb := &genericBench{r: r, now: time.Unix(1_700_000_000, 0)}
	for i := range players {
		c := &benchConn{}
		gb.conns = append(gb.conns, c)
		gb.clients = append(gb.clients, &schema.Input{Data: make([]byte, 8)})
		joinCards(t, r, uint32(i+1), c)
	}
	return gb
}

func (gb *genericBench) step() {
	gb.tick++
	for i, in := range gb.clients {
		in.Seq = gb.tick
		in.AckTick = gb.tick - 1
		in.EventAck = gb.r.byID[uint32(i+1)].out.seq // it received every event sent
		in.Data[0] = byte((gb.tick/30 + uint32(i)) % 7)
		in.Data[7] = byte(gb.tick)
		gb.r.PushInput(uint32(i+1), in)
	}
	gb.now = gb.now.Add(time.Second / 30)
	gb.r.step(gb.now)
}

// raceBuild is set under -race (race_test.go).
var raceBuild bool

// TestGenericSteadyStateAllocs: a warm generic tick with 8 players, 8
// views, inputs with data, acks and the tick log allocates nothing.
func TestGenericSteadyStateAllocs(t *testing.T) {
	gb := newGenericBench(t, 8, true)
	for range 200 {
		gb.step()
	}
	want := 0.0
	if raceBuild {
		want = 1000 // counted, but the instrumentation's own allocations are not ours
	}
	if a := testing.AllocsPerRun(200, gb.step); a > want {
		t.Fatalf("%v allocs per generic tick, want %v", a, want)
	}
	if gb.conns[0].n < 400 {
		t.Fatalf("%d snapshots sent", gb.conns[0].n)
	}
}

// BenchmarkRoomTickGeneric is one room tick of the generic path with 8
// players (players=8: every player sees everything; views=8: each its own
// view): drain, step, WriteState, record, tick log, per-player views and
// encodings, envelopes, hand-out.
func BenchmarkRoomTickGeneric(b *testing.B) {
	for _, bc := range []struct {
		name  string
		views bool
	}{{"players=8", false}, {"views=8", true}} {
		b.Run(bc.name, func(b *testing.B) {
			gb := newGenericBench(b, 8, bc.views)
			for range 200 {
				gb.step()
			}
			st0 := gb.r.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			ticks := 0
			for b.Loop() {
				gb.step()
				ticks++
			}
			st1 := gb.r.Stats()
			b.ReportMetric(float64(st1.SnapshotBytes-st0.SnapshotBytes)/float64(st1.Snapshots-st0.Snapshots), "B/snapshot")
			b.ReportMetric(float64(st1.Encodes-st0.Encodes)/float64(ticks), "envelopes/tick")
		})
	}
}

// misfitWorld writes its World's state, then, once bad is set, value v
// (that does not fit) in field f of entity i.
type misfitWorld struct {
	World
	*misfit
}

type misfit struct {
	bad  bool
	i, f int
	v    int64
}

func (m *misfitWorld) WriteState(w *gamedelta.World) {
	m.World.(StateWriter).WriteState(w)
	m.spoil(w)
}

func (m *misfit) spoil(w *gamedelta.World) {
	if m.bad {
		w.SetInt(m.i, m.f, m.v)
	}
}

// misfitCards is misfitWorld for the cards game (every optional interface
// of the game kept).
type misfitCards struct {
	*cardsGame
	*misfit
}

func (m misfitCards) WriteState(w *gamedelta.World) {
	m.cardsGame.WriteState(w)
	m.spoil(w)
}

// TestStateValueOutOfRange: a World that writes a value that does not fit
// its field crashes the room's step (as a panic of Step does), naming the
// field, whether the room records its tick log (the state hash tests the
// values) or not (the encoder does): in a kind of int fields only, and in
// a kind with bytes fields.
func TestStateValueOutOfRange(t *testing.T) {
	codec := mustCodec(t)
	f := newCardsGame(codec).f
	tests := []struct {
		name  string
		cfg   Config
		w     func(*misfit) World
		m     misfit
		field string
	}{
		{"ints only", fakeConfig(), func(m *misfit) World { return &misfitWorld{newFakeWorld(), m} }, misfit{i: 0, f: 1, v: 256}, `"hp"`},
		{"ints only, below", fakeConfig(), func(m *misfit) World { return &misfitWorld{newFakeWorld(), m} }, misfit{i: 0, f: 1, v: -1}, `"hp"`},
		{"with bytes", Config{}, func(m *misfit) World { return misfitCards{newCardsGame(codec), m} }, misfit{i: 1, f: f.seat, v: 1 << 40}, `"seat"`},
	}
	for _, tt := range tests {
		for _, rec := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/record=%v", tt.name, rec), func(t *testing.T) {
				cfg := tt.cfg
				if cfg.Codec == nil {
					cfg = DefaultConfig()
					cfg.Codec = codec
				}
				var opts []Option
				if rec {
					opts = append(opts, WithRecord(func(uint32, []byte) {}, nil))
				}
				m := tt.m
				w := tt.w(&m)
				r, err := NewRoom("misfit", cfg, w, nil, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.join(1, &fakeConn{}, nil); err != nil {
					t.Fatal(err)
				}
				r.step(time.Now())
				m.bad = true
				defer func() {
					msg := fmt.Sprint(recover())
					if !strings.Contains(msg, "does not fit") || !strings.Contains(msg, tt.field) {
						t.Fatalf("the step panicked with %q, want a value of %s that does not fit", msg, tt.field)
					}
				}()
				r.step(time.Now())
			})
		}
	}
}

// TestHashStateV2Golden: hashStateV2 is the state hash the previous
// version's rooms wrote into format 2 tick logs, bit for bit: the value
// below is what that version computed for this world (written out of id
// order, with a bytes field and two kinds).
func TestHashStateV2Golden(t *testing.T) {
	c, err := gamedelta.Compile(gamedelta.Layout{Kinds: []gamedelta.Kind{
		{Name: "a", Fields: []gamedelta.Field{{Name: "x", Bits: 32, Signed: true}, {Name: "s", Type: gamedelta.FieldBytes, MaxLen: 32}}},
		{Name: "b", Fields: []gamedelta.Field{{Name: "y", Bits: 16}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := gamedelta.NewWorld(c)
	i := w.Add(3, 0, 7)
	w.SetInt(i, 0, -12345)
	w.SetBytes(i, 1, []byte("hello, world"))
	i = w.Add(9, 1, 0)
	w.SetInt(i, 0, 65000)
	i = w.Add(5, 0, 0)
	w.SetInt(i, 0, 42)
	if got := hashStateV2(w); got != 0xcec7363b {
		t.Fatalf("hashStateV2 = %08x, want cec7363b", got)
	}
}
