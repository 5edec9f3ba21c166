package schema

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/fb"
)

// DecodeClientMessage verifies buf as a ClientMessage and decodes it into m.
// An error wraps ErrMalformed (structure) or ErrOutOfRange (values). Decoding
// an Input or an Event allocates nothing.
//
// m is overwritten: fields other than the one Kind names are zeroed. On
// error m is left zeroed with Kind ClientNone. Strings are copied; the game
// bytes (Hello.Join, Input.Data, Event.Data) alias buf, so the caller copies
// them before buf is reused (gws pools read buffers). Their capacity is
// clipped to their length: appending to them never writes into buf.
func DecodeClientMessage(buf []byte, m *ClientMessage) error {
	*m = ClientMessage{}
	kind, at, err := verifyClient(buf)
	if err != nil {
		return err
	}
	pos := flatbuffers.UOffsetT(at)
	m.Kind = kind
	switch kind {
	case ClientHello:
		var h fb.Hello
		h.Init(buf, pos)
		m.Hello = Hello{
			Token:       string(h.Token()),
			MatchID:     string(h.MatchId()),
			ResumeToken: string(h.ResumeToken()),
			LastTick:    h.LastTick(),
			Name:        string(h.Name()),
			Game:        string(h.Game()),
			Join:        clip(h.JoinBytes()),
			SchemaHash:  string(h.SchemaHash()),
			EventAck:    h.EventAck(),
		}
	case ClientInput:
		var in fb.Input
		in.Init(buf, pos)
		m.Input = Input{
			Seq:        in.Seq(),
			TargetTick: in.TargetTick(),
			AckTick:    in.AckTick(),
			Data:       clip(in.DataBytes()),
			EventAck:   in.EventAck(),
		}
	case ClientEvent:
		var ev fb.Event
		ev.Init(buf, pos)
		m.Event = decodeEvent(&ev)
	case ClientPing:
		var p fb.Ping
		p.Init(buf, pos)
		m.ClientTime = p.ClientTime()
	}
	return nil
}

// DecodeServerMessage verifies buf as a ServerMessage and decodes it into m,
// reusing the capacity of m.Snapshot.Events: a client that keeps one
// ServerMessage decodes snapshots without allocating once it has grown.
//
// m is overwritten: fields other than the one Kind names are zeroed, except
// that m.Snapshot.Events keeps its capacity (length 0). Strings are copied
// out of buf; the game bytes (Snapshot.State and each
// Snapshot.Events[i].Data) alias buf, clipped to their length, so the
// caller applies or copies them before buf is reused. An error wraps
// ErrMalformed or ErrOutOfRange; m is then left zeroed with Kind ServerNone.
func DecodeServerMessage(buf []byte, m *ServerMessage) error {
	events := m.Snapshot.Events[:0]
	*m = ServerMessage{}
	m.Snapshot.Events = events
	kind, at, err := verifyServer(buf)
	if err != nil {
		return err
	}
	pos := flatbuffers.UOffsetT(at)
	m.Kind = kind
	switch kind {
	case ServerWelcome:
		var w fb.Welcome
		w.Init(buf, pos)
		m.Welcome = Welcome{
			SessionID:   string(w.SessionId()),
			ResumeToken: string(w.ResumeToken()),
			PlayerID:    w.PlayerId(),
			EntityID:    w.EntityId(),
			TickRate:    w.TickRate(),
			ServerTick:  w.ServerTick(),
			NodeID:      string(w.NodeId()),
			MatchID:     string(w.MatchId()),
			Game:        string(w.Game()),
			SchemaHash:  string(w.SchemaHash()),
			EventSeq:    w.EventSeq(),
		}
	case ServerSnapshot:
		decodeSnapshot(buf, pos, &m.Snapshot)
	case ServerRedirect:
		var r fb.Redirect
		r.Init(buf, pos)
		m.Redirect = Redirect{URL: string(r.Url()), MatchID: string(r.MatchId())}
	case ServerError:
		var e fb.Error
		e.Init(buf, pos)
		m.Error = ErrorMsg{Code: ErrorCode(e.Code()), Message: string(e.Message())}
	case ServerPong:
		var p fb.Pong
		p.Init(buf, pos)
		m.ClientTime, m.ServerTime = p.ClientTime(), p.ServerTimeMs()
	}
	return nil
}

// decodeSnapshot reads a verified Snapshot table at pos into s, reusing the
// capacity of s.Events (emptied).
func decodeSnapshot(buf []byte, pos flatbuffers.UOffsetT, s *Snapshot) {
	var t fb.Snapshot
	t.Init(buf, pos)
	s.Tick = t.Tick()
	s.BaselineTick = t.BaselineTick()
	s.LastInputSeq = t.LastInputSeq()
	s.ServerTimeMS = t.ServerTimeMs()
	s.EventSeq = t.EventSeq()
	s.State = clip(t.StateBytes())
	if n := t.EventsLength(); n > 0 {
		s.Events = growEvents(s.Events, n)
		var ev fb.Event
		for j := range s.Events {
			t.Events(&ev, j)
			s.Events[j] = decodeEvent(&ev)
		}
	}
}

// decodeEvent reads a verified Event table; Data aliases its buffer.
func decodeEvent(ev *fb.Event) Event {
	return Event{Seq: ev.Seq(), Tick: ev.Tick(), Data: clip(ev.DataBytes())}
}

// clip returns b with its capacity cut to its length (nil stays nil), so
// that appending to bytes aliasing a message buffer copies instead of
// overwriting the buffer.
func clip(b []byte) []byte { return b[:len(b):len(b)] }

// growEvents returns s[:n], reallocating only when s's capacity is short.
func growEvents(s []Event, n int) []Event {
	if cap(s) < n {
		return make([]Event, n)
	}
	return s[:n]
}
