package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// snapshotter turns the World's state after each step into snapshots:
//
//   - stateSnaps, the generic path: a StateWriter's gamedelta.World,
//     recorded and encoded per client by a gamedelta.Encoder (views,
//     owner-only fields, shared encodings) into Snapshot.State, with each
//     player's server events.
//
// Every method runs on the loop goroutine.
type snapshotter interface {
	// capture stores the World's state of tick, just stepped.
	capture(tick uint32)
	// hash is the tick log's state hash of the state captured last.
	hash() uint32
	// broadcast sends every attached player its snapshot of tick.
	broadcast(tick uint32, nowMS uint64) (encodes, sent, bytes int)
	// seat prepares a player that was seated (joined or restored).
	seat(p *player)
	// attach prepares a player given a new connection that holds the
	// snapshot of tick ack (0: none).
	attach(p *player, ack uint32)
}

// newSnapshotter checks which path w takes and returns its snapshotter.
func newSnapshotter(r *Room, w World) (snapshotter, error) {
	sw, isS := w.(StateWriter)
	switch {
	case isS:
		if r.cfg.Codec == nil {
			return nil, errors.New("a StateWriter world without Config.Codec")
		}
		return newStateSnaps(r, sw)
	}
	return nil, errors.New("the world is not a StateWriter")
}

// stateSnaps is the generic path (StateWriter).
type stateSnaps struct {
	r      *Room
	w      StateWriter
	viewer Viewer           // nil: every player sees everything
	world  *gamedelta.World // the world recorded last (the encoder's)
	enc    *gamedelta.Encoder
	env    *schema.Encoder
	snap   schema.Snapshot
	evs    []schema.Event // one player's pending events, reused
}

func newStateSnaps(r *Room, w StateWriter) (*stateSnaps, error) {
	enc, err := gamedelta.NewEncoder(r.cfg.Codec, gamedelta.EncoderConfig{History: r.cfg.History})
	if err != nil {
		return nil, fmt.Errorf("state encoder: %w", err)
	}
	g := &stateSnaps{
		r:     r,
		w:     w,
		world: gamedelta.NewWorld(r.cfg.Codec),
		enc:   enc,
		env:   schema.NewEncoder(r.cfg.EntityHint*16 + 256),
		evs:   make([]schema.Event, 0, r.cfg.EventQueue),
	}
	g.viewer, _ = r.world.(Viewer)
	return g, nil
}

// capture has the World write its state and records it. A world the
// encoder refuses (ids repeated, a value that does not fit its field) is a
// bug of the game: the room crashes, as on a panic of Step.
// The World writes into the encoder's next world, which Record then takes
// without a copy; it stays readable (hash) until the next capture.
func (g *stateSnaps) capture(tick uint32) {
	w := g.enc.NextWorld()
	g.w.WriteState(w)
	if err := g.enc.Record(tick, w); err != nil {
		panic(fmt.Sprintf("sim: the state written at tick %d: %v", tick, err))
	}
	g.world = w
}

func (g *stateSnaps) hash() uint32 { return hashState(g.world) }

func (g *stateSnaps) seat(p *player) {
	if p.client == nil {
		p.client = g.enc.NewClient(p.id)
	}
}

// attach keeps the client's baselines when its new connection holds the
// newest tick it acknowledged (or a newer one it was sent); otherwise its
// next snapshot is full.
func (g *stateSnaps) attach(p *player, ack uint32) {
	g.seat(p)
	if ack == 0 || ack < p.client.Acked() {
		p.client.Reset()
		return
	}
	p.client.Ack(ack)
}

// broadcast encodes the state of tick for every attached player through
// its view (one gamedelta encoding per distinct baseline and view, shared
// by the encoder) and sends it in an envelope with the player's pending
// events and newest applied client event seq. Players with no pending
// event, the same encoding and the same event seq share one envelope,
// patched with each one's last input seq.
func (g *stateSnaps) broadcast(tick uint32, nowMS uint64) (encodes, sent, bytes int) {
	list := g.r.list
	for _, p := range list {
		p.sent = p.conn == nil
		if p.sent {
			continue
		}
		var v *gamedelta.View
		if g.viewer != nil {
			p.view.Key, p.view.All, p.view.IDs = 0, false, p.view.IDs[:0]
			g.viewer.View(p.id, &p.view)
			v = &p.view
		}
		p.client.Ack(p.ack)
		e, err := g.enc.Encode(p.client, v)
		if err != nil {
			panic(fmt.Sprintf("sim: the view of player %d at tick %d: %v", p.id, tick, err))
		}
		p.enc = e
	}
	s := &g.snap
	s.Tick, s.ServerTimeMS = tick, nowMS
	for i, p := range list {
		if p.sent {
			continue
		}
		g.evs = p.out.appendTo(g.evs[:0])
		s.BaselineTick, s.State, s.Events, s.EventSeq, s.LastInputSeq = p.enc.Baseline, p.enc.Data, g.evs, p.inSeq, 0
		msg, off := g.env.Snapshot(s)
		encodes++
		if len(g.evs) > 0 {
			// Its own envelope: the events are this player's.
			schema.PatchLastInputSeq(msg, off, p.lastSeq)
			p.conn.SendSnapshot(msg)
			p.sent = true
			sent++
			bytes += len(msg)
			continue
		}
		for _, q := range list[i:] {
			if q.sent || q.enc.Encoding != p.enc.Encoding || q.inSeq != p.inSeq || q.out.n > 0 {
				continue
			}
			schema.PatchLastInputSeq(msg, off, q.lastSeq)
			q.conn.SendSnapshot(msg)
			q.sent = true
			sent++
			bytes += len(msg)
		}
	}
	s.State, s.Events = nil, nil
	return encodes, sent, bytes
}

// hashState is the tick log's state hash of a generic World: a 32-bit
// digest of every entity's id, owner, kind and field values, in the order
// WriteState added them.
//
// Each entity is a stream of 64-bit words: id | owner<<32, kind, then each
// field's value (a FieldBytes field: its length, then its bytes in
// little-endian words, the last one zero-padded); in a kind whose fields
// are all ints of at most 32 bits (gamedelta.Codec.Ints32), two values
// share a word, the first in the low half. Word j of an entity goes
// to lane j mod 4 of four lanes, each updated as h = (h ^ word) · k, a
// bijection of h for any word, so that any one difference changes its
// lane; the lanes are folded and finalized at the end. Four independent
// chains with one multiplication per word: the hash costs a fraction of
// the encoding it sits beside.
func hashState(w *gamedelta.World) uint32 {
	c := w.Codec()
	n := w.Len()
	h0, h1, h2, h3 := uint64(n)*hashK1, uint64(hashK2), uint64(hashK1^hashK2), uint64(n)^hashK2
	const k = hashK1
	lastKind, ints, ints32 := -1, false, false
	for i := range n {
		kind := w.Kind(i)
		h0 = (h0 ^ (uint64(w.ID(i)) | uint64(w.Owner(i))<<32)) * k
		h1 = (h1 ^ uint64(kind)) * k
		if kind != lastKind { // entities come in runs of a kind
			lastKind, ints, ints32 = kind, c.IntsOnly(kind), c.Ints32(kind)
		}
		if !ints {
			l := lanes{h: [4]uint64{h0, h1, h2, h3}, j: 2}
			l.fields(w, i, kind)
			h0, h1, h2, h3 = l.h[0], l.h[1], l.h[2], l.h[3]
			continue
		}
		v := w.Ints(i)
		if ints32 {
			for ; len(v) >= 8; v = v[8:] {
				h2 = (h2 ^ pack32(v, 0)) * k
				h3 = (h3 ^ pack32(v, 2)) * k
				h0 = (h0 ^ pack32(v, 4)) * k
				h1 = (h1 ^ pack32(v, 6)) * k
			}
			if len(v) > 0 {
				h2 = (h2 ^ pack32(v, 0)) * k
			}
			if len(v) > 2 {
				h3 = (h3 ^ pack32(v, 2)) * k
			}
			if len(v) > 4 {
				h0 = (h0 ^ pack32(v, 4)) * k
			}
			if len(v) > 6 {
				h1 = (h1 ^ pack32(v, 6)) * k
			}
			continue
		}
		for ; len(v) >= 4; v = v[4:] {
			h2 = (h2 ^ uint64(v[0])) * k
			h3 = (h3 ^ uint64(v[1])) * k
			h0 = (h0 ^ uint64(v[2])) * k
			h1 = (h1 ^ uint64(v[3])) * k
		}
		switch len(v) {
		case 3:
			h0 = (h0 ^ uint64(v[2])) * k
			fallthrough
		case 2:
			h3 = (h3 ^ uint64(v[1])) * k
			fallthrough
		case 1:
			h2 = (h2 ^ uint64(v[0])) * k
		}
	}
	h := hasher{h: ((h0*hashK2+h1)*hashK2+h2)*hashK2 + h3}
	return h.sum()
}

// pack32 is the word of values v[i] and v[i+1] (0 when v has no i+1), each
// of at most 32 bits.
func pack32(v []int64, i int) uint64 {
	w := uint64(uint32(v[i]))
	if i+1 < len(v) {
		w |= uint64(v[i+1]) << 32
	}
	return w
}

// lanes is hashState's word stream for an entity with FieldBytes fields:
// word j of the entity goes to lane j mod 4.
type lanes struct {
	h [4]uint64
	j int
}

func (l *lanes) put(w uint64) {
	l.h[l.j&3] = (l.h[l.j&3] ^ w) * hashK1
	l.j++
}

// fields puts every field of entity i of w, of kind k.
func (l *lanes) fields(w *gamedelta.World, i, k int) {
	c := w.Codec()
	for f := range c.NumFields(k) {
		if c.FieldType(k, f) != gamedelta.FieldBytes {
			l.put(uint64(w.Int(i, f)))
			continue
		}
		b := w.Bytes(i, f)
		l.put(uint64(len(b)))
		for ; len(b) >= 8; b = b[8:] {
			l.put(binary.LittleEndian.Uint64(b))
		}
		if len(b) > 0 {
			var t [8]byte
			copy(t[:], b)
			l.put(binary.LittleEndian.Uint64(t[:]))
		}
	}
}

// hashStateV2 is the state hash of format 2 tick logs (written by the
// version before format 3): one mixer over every entity's id, owner, kind
// and field values, in the order WriteState added them. A node replays an
// older node's format 2 log with it, so that a failover across an upgrade
// finds the same hashes.
func hashStateV2(w *gamedelta.World) uint32 {
	c := w.Codec()
	h := hasher{h: uint64(w.Len()) * hashK1}
	mix := func(x uint64) {
		h.h ^= bits.RotateLeft64(x*hashK2, 31) * hashK1
		h.h = bits.RotateLeft64(h.h, 27)*5 + 0x52dce729
	}
	for i := range w.Len() {
		k := w.Kind(i)
		mix(uint64(w.ID(i)) | uint64(w.Owner(i))<<32)
		mix(uint64(k))
		for f := range c.NumFields(k) {
			if c.FieldType(k, f) != gamedelta.FieldBytes {
				mix(uint64(w.Int(i, f)))
				continue
			}
			b := w.Bytes(i, f)
			mix(uint64(len(b)))
			for ; len(b) >= 8; b = b[8:] {
				mix(binary.LittleEndian.Uint64(b))
			}
			var t [8]byte
			copy(t[:], b)
			mix(binary.LittleEndian.Uint64(t[:]))
		}
	}
	return h.sum()
}

// hasher holds hashState's lanes folded into one word; sum finishes it.
type hasher struct{ h uint64 }

const hashK1, hashK2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f

func (h *hasher) sum() uint32 {
	x := h.h
	x ^= x >> 33
	x *= hashK2
	x ^= x >> 29
	return uint32(x) ^ uint32(x>>32)
}
