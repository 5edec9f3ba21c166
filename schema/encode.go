package schema

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/fb"
)

// Encoder builds outgoing messages. It reuses one flatbuffers.Builder, so the
// bytes returned by a method alias the builder: they stay valid only until the
// next call on the same Encoder. An Encoder is not safe for concurrent use.
type Encoder struct {
	b    *flatbuffers.Builder
	offs []flatbuffers.UOffsetT // Snapshot: the Event tables, reused
}

// NewEncoder returns an Encoder whose builder starts with size bytes.
func NewEncoder(size int) *Encoder {
	if size <= 0 {
		size = 256
	}
	return &Encoder{b: flatbuffers.NewBuilder(size)}
}

func (e *Encoder) str(s string) flatbuffers.UOffsetT {
	if s == "" {
		return 0
	}
	return e.b.CreateString(s)
}

// bytes writes a byte vector, or nothing (0) for an empty one: FlatBuffers
// omits an absent vector, which costs nothing on the wire.
func (e *Encoder) bytes(v []byte) flatbuffers.UOffsetT {
	if len(v) == 0 {
		return 0
	}
	return e.b.CreateByteVector(v)
}

func (e *Encoder) finishServer(kind fb.ServerBody, body flatbuffers.UOffsetT) []byte {
	b := e.b
	fb.ServerMessageStart(b)
	fb.ServerMessageAddBodyType(b, kind)
	fb.ServerMessageAddBody(b, body)
	root := fb.ServerMessageEnd(b)
	b.FinishWithFileIdentifier(root, []byte(FileIdentifier))
	return b.FinishedBytes()
}

func (e *Encoder) finishClient(kind fb.ClientBody, body flatbuffers.UOffsetT) []byte {
	b := e.b
	fb.ClientMessageStart(b)
	fb.ClientMessageAddBodyType(b, kind)
	fb.ClientMessageAddBody(b, body)
	root := fb.ClientMessageEnd(b)
	b.FinishWithFileIdentifier(root, []byte(FileIdentifier))
	return b.FinishedBytes()
}

// Welcome encodes a Welcome.
func (e *Encoder) Welcome(w *Welcome) []byte {
	b := e.b
	b.Reset()
	sid, rt, node, match := e.str(w.SessionID), e.str(w.ResumeToken), e.str(w.NodeID), e.str(w.MatchID)
	game, hash := e.str(w.Game), e.str(w.SchemaHash)
	fb.WelcomeStart(b)
	if sid != 0 {
		fb.WelcomeAddSessionId(b, sid)
	}
	if rt != 0 {
		fb.WelcomeAddResumeToken(b, rt)
	}
	fb.WelcomeAddPlayerId(b, w.PlayerID)
	fb.WelcomeAddEntityId(b, w.EntityID)
	fb.WelcomeAddTickRate(b, w.TickRate)
	fb.WelcomeAddServerTick(b, w.ServerTick)
	if node != 0 {
		fb.WelcomeAddNodeId(b, node)
	}
	if match != 0 {
		fb.WelcomeAddMatchId(b, match)
	}
	if game != 0 {
		fb.WelcomeAddGame(b, game)
	}
	if hash != 0 {
		fb.WelcomeAddSchemaHash(b, hash)
	}
	fb.WelcomeAddEventSeq(b, w.EventSeq) // omitted when 0
	return e.finishServer(fb.ServerBodyWelcome, fb.WelcomeEnd(b))
}

// Snapshot encodes a Snapshot. It also returns the offset in the returned
// bytes of the little-endian uint32 last_input_seq, so that one encoding can
// be shared by every client with the same baseline and each copy patched with
// PatchLastInputSeq.
//
// Empty slices and zero values are omitted (a snapshot of a world that did
// not change since the baseline, with no pending events, has no State and
// no Events). Once the Encoder's buffers have grown to the largest
// snapshot, encoding allocates nothing.
func (e *Encoder) Snapshot(s *Snapshot) (msg []byte, seqOffset int) {
	b := e.b
	b.Reset()
	state := e.bytes(s.State)
	events := e.events(s.Events)
	fb.SnapshotStart(b)
	fb.SnapshotAddServerTimeMs(b, s.ServerTimeMS)
	fb.SnapshotAddTick(b, s.Tick)
	fb.SnapshotAddBaselineTick(b, s.BaselineTick)
	// last_input_seq is written even when 0 (the generated adder skips
	// defaults), so that it always has a place to patch.
	b.PrependUint32(s.LastInputSeq)
	seqPos := b.Offset()
	b.Slot(snapshotSlotLastInputSeq)
	if state != 0 {
		fb.SnapshotAddState(b, state)
	}
	if events != 0 {
		fb.SnapshotAddEvents(b, events)
	}
	fb.SnapshotAddEventSeq(b, s.EventSeq) // omitted when 0
	msg = e.finishServer(fb.ServerBodySnapshot, fb.SnapshotEnd(b))
	// Builder offsets count from the end of the buffer.
	return msg, len(msg) - int(seqPos)
}

// events writes the Event tables of evs and the vector of them (0 when evs
// is empty). The tables' offsets go through e.offs, reused across calls.
func (e *Encoder) events(evs []Event) flatbuffers.UOffsetT {
	if len(evs) == 0 {
		return 0
	}
	e.offs = e.offs[:0]
	for i := range evs {
		e.offs = append(e.offs, e.event(&evs[i]))
	}
	b := e.b
	fb.SnapshotStartEventsVector(b, len(e.offs))
	for i := len(e.offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(e.offs[i])
	}
	return b.EndVector(len(e.offs))
}

// event writes one Event table and returns its offset.
func (e *Encoder) event(ev *Event) flatbuffers.UOffsetT {
	b := e.b
	data := e.bytes(ev.Data)
	fb.EventStart(b)
	fb.EventAddSeq(b, ev.Seq)
	fb.EventAddTick(b, ev.Tick)
	if data != 0 {
		fb.EventAddData(b, data)
	}
	return fb.EventEnd(b)
}

// snapshotSlotLastInputSeq is the field index of Snapshot.last_input_seq.
const snapshotSlotLastInputSeq = 2

// PatchLastInputSeq writes seq into a snapshot encoded by Encoder.Snapshot at
// the offset it returned.
func PatchLastInputSeq(msg []byte, seqOffset int, seq uint32) {
	flatbuffers.WriteUint32(msg[seqOffset:], seq)
}

// Redirect encodes a Redirect.
func (e *Encoder) Redirect(url, matchID string) []byte {
	b := e.b
	b.Reset()
	u, m := e.str(url), e.str(matchID)
	fb.RedirectStart(b)
	if u != 0 {
		fb.RedirectAddUrl(b, u)
	}
	if m != 0 {
		fb.RedirectAddMatchId(b, m)
	}
	return e.finishServer(fb.ServerBodyRedirect, fb.RedirectEnd(b))
}

// Error encodes an Error.
func (e *Encoder) Error(code ErrorCode, message string) []byte {
	b := e.b
	b.Reset()
	m := e.str(message)
	fb.ErrorStart(b)
	fb.ErrorAddCode(b, uint16(code))
	if m != 0 {
		fb.ErrorAddMessage(b, m)
	}
	return e.finishServer(fb.ServerBodyError, fb.ErrorEnd(b))
}

// Pong encodes a Pong.
func (e *Encoder) Pong(clientTime, serverTimeMS uint64) []byte {
	b := e.b
	b.Reset()
	fb.PongStart(b)
	fb.PongAddClientTime(b, clientTime)
	fb.PongAddServerTimeMs(b, serverTimeMS)
	return e.finishServer(fb.ServerBodyPong, fb.PongEnd(b))
}

// Hello encodes a Hello (client side).
func (e *Encoder) Hello(h *Hello) []byte {
	b := e.b
	b.Reset()
	tok, match, rt, name, game := e.str(h.Token), e.str(h.MatchID), e.str(h.ResumeToken), e.str(h.Name), e.str(h.Game)
	join, hash := e.bytes(h.Join), e.str(h.SchemaHash)
	fb.HelloStart(b)
	if tok != 0 {
		fb.HelloAddToken(b, tok)
	}
	if match != 0 {
		fb.HelloAddMatchId(b, match)
	}
	if rt != 0 {
		fb.HelloAddResumeToken(b, rt)
	}
	fb.HelloAddLastTick(b, h.LastTick)
	if name != 0 {
		fb.HelloAddName(b, name)
	}
	if game != 0 {
		fb.HelloAddGame(b, game)
	}
	if join != 0 {
		fb.HelloAddJoin(b, join)
	}
	if hash != 0 {
		fb.HelloAddSchemaHash(b, hash)
	}
	fb.HelloAddEventAck(b, h.EventAck)
	return e.finishClient(fb.ClientBodyHello, fb.HelloEnd(b))
}

// Input encodes an Input (client side). Data and EventAck are omitted when
// empty.
func (e *Encoder) Input(in *Input) []byte {
	b := e.b
	b.Reset()
	data := e.bytes(in.Data)
	fb.InputStart(b)
	if data != 0 {
		fb.InputAddData(b, data)
	}
	fb.InputAddEventAck(b, in.EventAck) // omitted when 0
	fb.InputAddSeq(b, in.Seq)
	fb.InputAddTargetTick(b, in.TargetTick)
	fb.InputAddAckTick(b, in.AckTick)
	return e.finishClient(fb.ClientBodyInput, fb.InputEnd(b))
}

// Event encodes a client Event (client side): one game event, whose Data
// is a buffer of the game's client events wrapper. The server refuses an
// Event without Data or with Seq 0.
func (e *Encoder) Event(ev *Event) []byte {
	e.b.Reset()
	return e.finishClient(fb.ClientBodyEvent, e.event(ev))
}

// Leave encodes a Leave (client side).
func (e *Encoder) Leave() []byte {
	b := e.b
	b.Reset()
	fb.LeaveStart(b)
	return e.finishClient(fb.ClientBodyLeave, fb.LeaveEnd(b))
}

// Ping encodes a Ping (client side).
func (e *Encoder) Ping(clientTime uint64) []byte {
	b := e.b
	b.Reset()
	fb.PingStart(b)
	fb.PingAddClientTime(b, clientTime)
	return e.finishClient(fb.ClientBodyPing, fb.PingEnd(b))
}
