package tsclient_test

// The envelope both ways (test/messages.test.ts is the other half):
//
//   - go_messages.json: server messages with the generic fields
//     (Welcome.game/schema_hash/event_seq, Snapshot.state/events/event_seq),
//     built with the flatc-generated Go code of schema/ticksync.fbs
//     (schema/fb) and schema.Encoder, each passing
//     schema.VerifyServerMessage; the TypeScript test decodes them.
//   - ts_messages.json: the TypeScript encoder's client messages (Hello with
//     a join payload and the schema hash, Input with game data and
//     event_ack, Event, Leave, Ping): they pass schema.VerifyClientMessage,
//     read back through the generated accessors, and their game bytes
//     through the cards schema.

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
	"github.com/ticksync/ticksync/schema/gameschema"
)

func loadFile(t *testing.T, name string) *gameschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(gameschemaTestdata, name))
	if err != nil {
		t.Fatal(err)
	}
	s, err := gameschema.Load(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func serverMessage(b *flatbuffers.Builder, kind fb.ServerBody, body flatbuffers.UOffsetT) []byte {
	fb.ServerMessageStart(b)
	fb.ServerMessageAddBodyType(b, kind)
	fb.ServerMessageAddBody(b, body)
	b.FinishWithFileIdentifier(fb.ServerMessageEnd(b), []byte(schema.FileIdentifier))
	return b.FinishedBytes()
}

func welcomeMessage(b *flatbuffers.Builder, hash string) []byte {
	b.Reset()
	sid, rt, node, match := b.CreateString("s-1"), b.CreateString("rt-1"), b.CreateString("n1"), b.CreateString("m1")
	game, h := b.CreateString("cards"), b.CreateString(hash)
	fb.WelcomeStart(b)
	fb.WelcomeAddSessionId(b, sid)
	fb.WelcomeAddResumeToken(b, rt)
	fb.WelcomeAddPlayerId(b, 7)
	fb.WelcomeAddEntityId(b, 9)
	fb.WelcomeAddTickRate(b, 30)
	fb.WelcomeAddServerTick(b, 100)
	fb.WelcomeAddNodeId(b, node)
	fb.WelcomeAddMatchId(b, match)
	fb.WelcomeAddGame(b, game)
	fb.WelcomeAddSchemaHash(b, h)
	fb.WelcomeAddEventSeq(b, 12)
	return serverMessage(b, fb.ServerBodyWelcome, fb.WelcomeEnd(b))
}

func snapshotMessage(b *flatbuffers.Builder) []byte {
	b.Reset()
	events := []struct {
		seq, tick uint32
		data      []byte
	}{{3, 104, []byte{9, 8, 7}}, {4, 105, []byte{6}}}
	offs := make([]flatbuffers.UOffsetT, len(events))
	for i, e := range events {
		data := b.CreateByteVector(e.data)
		fb.EventStart(b)
		fb.EventAddSeq(b, e.seq)
		fb.EventAddTick(b, e.tick)
		fb.EventAddData(b, data)
		offs[i] = fb.EventEnd(b)
	}
	fb.SnapshotStartEventsVector(b, len(offs))
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	evs := b.EndVector(len(offs))
	state := b.CreateByteVector([]byte{1, 2, 3, 4, 5})
	fb.SnapshotStart(b)
	fb.SnapshotAddTick(b, 105)
	fb.SnapshotAddBaselineTick(b, 100)
	fb.SnapshotAddLastInputSeq(b, 44)
	fb.SnapshotAddServerTimeMs(b, 1733356800123)
	fb.SnapshotAddState(b, state)
	fb.SnapshotAddEvents(b, evs)
	fb.SnapshotAddEventSeq(b, 2)
	return serverMessage(b, fb.ServerBodySnapshot, fb.SnapshotEnd(b))
}

func serverMessages(t *testing.T) map[string]string {
	t.Helper()
	h := loadFile(t, "cards.bfbs").HashString()
	b := flatbuffers.NewBuilder(256)
	e := schema.NewEncoder(256)
	out := map[string]string{}
	put := func(name string, m []byte) {
		if err := schema.VerifyServerMessage(m); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		out[name] = hex.EncodeToString(m) // before the builder's next message reuses m
	}
	put("welcome", welcomeMessage(b, h))
	put("snapshot", snapshotMessage(b))
	put("redirect", e.Redirect("ws://n2:7350/ws", "m1"))
	put("error", e.Error(schema.ErrCodeSchemaMismatch, "schema mismatch: the match speaks cards "+h))
	put("pong", e.Pong(111, 222))
	return out
}

// TestGoMessagesCurrent checks go_messages.json is what Go writes today;
// -update rewrites it.
func TestGoMessagesCurrent(t *testing.T) {
	checkCurrent(t, "go_messages.json", serverMessages(t))
}

// TestTypeScriptMessages reads the client messages the TypeScript encoder
// wrote.
func TestTypeScriptMessages(t *testing.T) {
	msgs := readJSON[map[string]string](t, "ts_messages.json")
	cards := loadFile(t, "cards.bfbs")
	body := func(name string, want fb.ClientBody) flatbuffers.Table {
		t.Helper()
		b, err := hex.DecodeString(msgs[name])
		if err != nil {
			t.Fatal(err)
		}
		// The envelope's verifier learns the Event member with the generic
		// path; the generated accessors read it until then.
		if want != fb.ClientBodyEvent {
			if err := schema.VerifyClientMessage(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		m := fb.GetRootAsClientMessage(b, 0)
		var tab flatbuffers.Table
		if m.BodyType() != want || !m.Body(&tab) {
			t.Fatalf("%s: body type %v, want %v", name, m.BodyType(), want)
		}
		return tab
	}
	var v gameschema.Values
	idx := func(name string) int { return v.Table.Field(name).Index }

	tab := body("hello", fb.ClientBodyHello)
	var h fb.Hello
	h.Init(tab.Bytes, tab.Pos)
	if string(h.Token()) != "tok" || string(h.MatchId()) != "m1" || string(h.ResumeToken()) != "rt-1" || h.LastTick() != 77 ||
		string(h.Name()) != "ann" || string(h.Game()) != "cards" || string(h.SchemaHash()) != cards.HashString() || h.EventAck() != 6 {
		t.Errorf("hello: token %q match %q resume %q last %d name %q game %q hash %q event_ack %d", h.Token(), h.MatchId(), h.ResumeToken(),
			h.LastTick(), h.Name(), h.Game(), h.SchemaHash(), h.EventAck())
	}
	if err := cards.DecodeJoin(h.JoinBytes(), &v); err != nil {
		t.Errorf("hello.join: %v", err)
	} else if v.Text(idx("name")) != "ann" || v.Int(idx("seat_pref")) != 2 || len(v.Bytes(idx("avatar"))) != 0 {
		t.Errorf("hello.join: %v", apiValues(&v))
	}

	tab = body("input", fb.ClientBodyInput)
	var in fb.Input
	in.Init(tab.Bytes, tab.Pos)
	if in.Seq() != 5 || in.TargetTick() != 101 || in.AckTick() != 100 || in.EventAck() != 3 {
		t.Errorf("input: seq %d target %d ack %d event_ack %d", in.Seq(), in.TargetTick(), in.AckTick(), in.EventAck())
	}
	if err := cards.DecodeInput(in.DataBytes(), &v); err != nil {
		t.Errorf("input.data: %v", err)
	} else if v.Float(idx("pointer.x")) != 1.5 || v.Float(idx("pointer.y")) != -2 || v.Float(idx("pointer.z")) != 0.25 ||
		v.Int(idx("hover")) != 7 || !v.Bool(idx("grab")) {
		t.Errorf("input.data: %v", apiValues(&v))
	}

	tab = body("event", fb.ClientBodyEvent)
	var ev fb.Event
	ev.Init(tab.Bytes, tab.Pos)
	if ev.Seq() != 2 || ev.Tick() != 0 {
		t.Errorf("event: seq %d tick %d", ev.Seq(), ev.Tick())
	}
	if tb, err := cards.DecodeEvent(ev.DataBytes(), &v); err != nil {
		t.Errorf("event.data: %v", err)
	} else if tb.Name != "cards.PlayCard" || v.Int(idx("suit")) != 2 || v.Int(idx("rank")) != 12 {
		t.Errorf("event.data: %s %v", tb.Name, apiValues(&v))
	}

	body("leave", fb.ClientBodyLeave)
	tab = body("ping", fb.ClientBodyPing)
	var p fb.Ping
	p.Init(tab.Bytes, tab.Pos)
	if p.ClientTime() != 1733356800123456 {
		t.Errorf("ping: client_time %d", p.ClientTime())
	}
}
