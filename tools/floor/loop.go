package floor

import (
	"time"

	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// tick is the tick goroutine. It keeps the schedule of a node's room loop
// (sim.Clock: slot n due at start + n·period, an overrun when a slot starts
// after the next one is due, a skip ahead after MaxCatchUp late slots) and
// at each slot encodes the frame and hands a copy to every writer, latest
// wins, as a room hands snapshots to its sessions: a writer still busy
// with an older frame loses the one it had not started (dropped, seen by
// the bots as tick gaps), and the tick never waits for I/O.
func (s *Server) tick() {
	enc := schema.NewEncoder(s.cfg.FrameSize + 256)
	st := newState(s.ents)
	now := time.Now()
	clock := sim.NewClock(now, s.cfg.TickRate, sim.DefaultConfig().MaxCatchUp)
	timer := time.NewTimer(clock.Wait(now))
	defer timer.Stop()
	var overruns, skipped uint64
	for n := uint32(1); ; {
		select {
		case <-timer.C:
		case <-s.done:
			return
		}
		t0 := time.Now()
		if _, ok := clock.Advance(t0); ok {
			if d := clock.Overruns() - overruns; d > 0 {
				overruns += d
				s.late.Add(d)
				s.m.overruns.Add(float64(d))
			}
			if d := clock.Skipped() - skipped; d > 0 {
				skipped += d
				s.skipped.Add(d)
				s.m.skipped.Add(float64(d))
			}
			s.handOff(enc, st, n)
			n++
			s.m.tick.Observe(time.Since(t0).Seconds())
		}
		timer.Reset(clock.Wait(time.Now()))
	}
}

// state is the floor's game: n arena NPCs that all move along x, sent in
// full every tick (the arena's own schema and codec, so that arena clients
// apply the frames as they apply a node's).
type state struct {
	world *gamedelta.World
	delta gamedelta.Delta
	snap  schema.Snapshot
}

func newState(n int) *state {
	st := &state{world: gamedelta.NewWorld(arena.Codec())}
	for i := range n {
		e := st.world.Add(uint32(i+1), arena.KindNPC, 0)
		st.world.SetInt(e, arena.FieldX, int64(i*160%(arena.MaxPos+1)))
		st.world.SetInt(e, arena.FieldY, int64(i*80%(arena.MaxPos+1)))
		st.world.SetInt(e, arena.FieldHP, arena.MaxHP)
	}
	return st
}

// step moves every NPC and encodes the full state into st.snap.State.
func (st *state) step() {
	w := st.world
	for i := range w.Len() {
		w.SetInt(i, arena.FieldX, (w.Int(i, arena.FieldX)+16)%(arena.MaxPos+1))
	}
	st.snap.State = st.delta.Append(st.snap.State[:0], nil, nil, w, nil, 0, 0)
}

// handOff encodes tick n's frame and hands each writer its own copy.
func (s *Server) handOff(enc *schema.Encoder, st *state, n uint32) {
	st.step()
	snap := &st.snap
	snap.Tick = n
	snap.ServerTimeMS = uint64(time.Now().UnixMilli())
	frame, off := enc.Snapshot(snap)
	s.frameLen.Store(int64(len(frame)))
	s.ticks.Add(1)
	for _, w := range s.writers {
		w.mu.Lock()
		if w.has {
			s.dropped.Add(uint64(len(w.conns)))
		}
		w.pending = append(w.pending[:0], frame...)
		w.off, w.has = off, true
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// write is a writer goroutine: on each wake it takes the pending frame and
// writes it to each of its clients, patched with that client's last input
// seq.
func (s *Server) write(w *writer) {
	for {
		select {
		case <-w.wake:
		case <-s.done:
			return
		}
		w.mu.Lock()
		if !w.has {
			w.mu.Unlock()
			continue
		}
		w.frame, w.pending = w.pending, w.frame[:0]
		off, conns := w.off, w.conns
		w.has = false
		w.mu.Unlock()
		var ok, bad uint64
		for _, c := range conns {
			if c.closed.Load() {
				continue
			}
			schema.PatchLastInputSeq(w.frame, off, c.lastSeq.Load())
			if now := time.Now(); now.Sub(c.writeDL) > s.cfg.WriteTimeout/4 {
				c.writeDL = now
				_ = c.ws.SetWriteDeadline(now.Add(s.cfg.WriteTimeout))
			}
			if err := c.ws.WriteMessage(gws.OpcodeBinary, w.frame); err != nil {
				bad++
				continue
			}
			ok++
		}
		s.delivered.Add(ok)
		s.bytesOut.Add(ok * uint64(len(w.frame)))
		s.werrs.Add(bad)
	}
}

// add puts a joined client in a writer's shard, round robin by player id.
func (s *Server) add(c *conn, id uint32) {
	best := s.writers[int(id)%len(s.writers)]
	best.mu.Lock()
	best.conns = append(best.conns[:len(best.conns):len(best.conns)], c)
	best.mu.Unlock()
	s.clients.Add(1)
}

// remove takes a closed client out of its shard.
func (s *Server) remove(c *conn) {
	for _, w := range s.writers {
		w.mu.Lock()
		for i, x := range w.conns {
			if x == c {
				next := make([]*conn, 0, len(w.conns)-1)
				next = append(append(next, w.conns[:i]...), w.conns[i+1:]...)
				w.conns = next
				w.mu.Unlock()
				s.clients.Add(-1)
				return
			}
		}
		w.mu.Unlock()
	}
}

// gws events; each connection's are called on its read goroutine.

// OnOpen implements gws.Event.
func (s *Server) OnOpen(*gws.Conn) {}

// OnClose implements gws.Event.
func (s *Server) OnClose(ws *gws.Conn, _ error) {
	c := connOf(ws)
	if c == nil {
		return
	}
	c.closed.Store(true)
	if c.joined {
		s.remove(c)
	}
}

// OnPing implements gws.Event.
func (s *Server) OnPing(ws *gws.Conn, _ []byte) {}

// OnPong implements gws.Event.
func (s *Server) OnPong(*gws.Conn, []byte) {}

// OnMessage implements gws.Event: the first message must be a Hello, then
// inputs (verified and counted; their seq is echoed in the frames).
func (s *Server) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	c := connOf(ws)
	if c == nil || m.Opcode != gws.OpcodeBinary {
		_ = ws.WriteClose(1003, nil)
		return
	}
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if err := schema.DecodeClientMessage(m.Bytes(), &c.msg); err != nil {
		s.bad.Add(1)
		_ = ws.WriteClose(1007, nil)
		return
	}
	switch c.msg.Kind {
	case schema.ClientHello:
		if c.joined {
			return
		}
		c.joined = true
		id := s.nextID.Add(1)
		enc := schema.NewEncoder(128)
		_ = ws.WriteMessage(gws.OpcodeBinary, enc.Welcome(&schema.Welcome{
			SessionID: "floor", PlayerID: id, EntityID: 1, TickRate: uint16(s.cfg.TickRate),
			ServerTick: uint32(s.ticks.Load()), NodeID: "floor", MatchID: "floor",
			Game: arena.Name, SchemaHash: arena.Schema().HashString(),
		}))
		s.add(c, id)
	case schema.ClientInput:
		s.inputs.Add(1)
		c.lastSeq.Store(c.msg.Input.Seq)
	case schema.ClientLeave:
		_ = ws.WriteClose(1000, nil)
	}
}

func connOf(ws *gws.Conn) *conn {
	v, ok := ws.Session().Load("c")
	if !ok {
		return nil
	}
	c, _ := v.(*conn)
	return c
}
