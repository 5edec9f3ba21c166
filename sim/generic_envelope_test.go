package sim

import (
	"slices"
	"testing"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// These tests read what the envelope carries for the generic path
// (Snapshot.State, Events, EventSeq), as a client decodes it.

// TestGenericSnapshotsAreTheView: every player's client, applying its
// snapshots (full, then deltas against its acks, or always full when it
// never acks), holds exactly the game's world as its view shows it: the
// entities it sees, the owner-only fields of its own only. Cards face down
// in another hand never reach it, until they are turned up.
func TestGenericSnapshotsAreTheView(t *testing.T) {
	r, g := newCardsRoom(t, true, nil)
	vc := viewCards{g}
	clients := map[uint32]*cardsClient{}
	join := func(id uint32) {
		clients[id] = newCardsClient(t, r.cfg.Codec, id)
		joinCards(t, r, id, clients[id].conn)
	}
	for id := uint32(1); id <= 3; id++ {
		join(id)
	}
	for tick := uint32(1); tick <= 60; tick++ {
		switch tick {
		case 10:
			r.PushEvent(1, schema.Event{Seq: 1, Data: []byte("flip")})
		case 20:
			if err := r.leave(2); err != nil {
				t.Fatal(err)
			}
			delete(clients, 2)
		case 25:
			join(4)
		}
		for id, c := range clients {
			in := c.input(tick, []byte{byte(int8(id) - 2), byte(tick % 5)})
			if id == 3 {
				in.AckTick = 0 // never acknowledges: always full
			}
			r.PushInput(id, in)
		}
		r.step(time.Now())
		for id, c := range clients {
			if c.poll() != 1 {
				t.Fatalf("tick %d: player %d got no snapshot", tick, id)
			}
			want := vc.seenBy(id)
			if !gamedelta.Equal(c.world, want) {
				t.Fatalf("tick %d: player %d holds\n%v\nwant\n%v", tick, id, c.world, want)
			}
			for i := range c.world.Len() {
				if e := c.world.ID(i); e >= cardID0 && !g.sees(id, e) {
					t.Fatalf("tick %d: player %d got hidden card %d", tick, id, e)
				}
			}
		}
	}
	if c := clients[1]; c.fulls != 1 {
		t.Fatalf("player 1 got %d full snapshots, want 1 (then deltas)", c.fulls)
	}
	if c := clients[3]; c.fulls != 60 {
		t.Fatalf("player 3 (no acks) got %d full snapshots of 60", c.fulls)
	}
	// Player 1's card was turned up: everyone sees it.
	held := cardID0 + uint32(2) // the first face-down card, dealt to player 1
	if g.Cards[2].Holder != 1 || !g.Cards[2].FaceUp || clients[4].world.Find(held) < 0 {
		t.Fatalf("card %d: %+v; player 4 sees it: %v", held, g.Cards[2], clients[4].world.Find(held) >= 0)
	}
}

// TestGenericEventsBothWays: client events reach the game once each, in
// seq order, whatever order and repeats they arrive in; the newest applied
// seq travels in every snapshot. Server events are numbered per seat from
// 1 and repeated in every snapshot until acknowledged, survive a
// reattach, and a reattached client's re-sent events are not applied
// twice.
func TestGenericEventsBothWays(t *testing.T) {
	r, g := newCardsRoom(t, true, nil)
	c1 := newCardsClient(t, r.cfg.Codec, 1)
	c2 := newCardsClient(t, r.cfg.Codec, 2)
	joinCards(t, r, 1, c1.conn)
	joinCards(t, r, 2, c2.conn)
	push := func(player, seq uint32, data string) {
		t.Helper()
		if !r.PushEvent(player, schema.Event{Seq: seq, Data: []byte(data)}) {
			t.Fatalf("event %d of player %d refused", seq, player)
		}
	}
	push(1, 1, "echo:a")
	push(1, 2, "all:b")
	push(1, 4, "echo:d") // overtakes 3
	push(1, 3, "echo:c")
	push(1, 2, "all:b") // a repeat
	r.step(time.Now())
	c1.poll()
	c2.poll()
	if want := []string{"p1:echo:a", "p1:all:b", "p1:echo:c", "p1:echo:d"}; !slices.Equal(g.Heard, want) {
		t.Fatalf("the game heard %q, want %q", g.Heard, want)
	}
	if c1.last.EventSeq != 4 || r.EventSeq(1) != 4 || r.EventSeq(2) != 0 {
		t.Fatalf("event seq: snapshot %d, room %d (player 2: %d), want 4 (0)", c1.last.EventSeq, r.EventSeq(1), r.EventSeq(2))
	}
	want1 := []string{"hello p1", "joined p1", "joined p2", "a", "b", "c", "d"}
	if got := texts(c1.last.Events); !slices.Equal(got, want1) || c1.last.Events[0].Seq != 1 || c1.last.Events[0].Tick != 1 {
		t.Fatalf("player 1's snapshot events %q (%+v), want %q from seq 1", got, c1.last.Events[0], want1)
	}
	if got := texts(c2.last.Events); !slices.Equal(got, []string{"hello p2", "joined p2", "b"}) {
		t.Fatalf("player 2's snapshot events %q", got)
	}
	if st := r.Stats(); st.EventsIn != 4 || st.EventsDiscarded != 1 {
		t.Fatalf("events in %d, discarded %d; want 4, 1", st.EventsIn, st.EventsDiscarded)
	}

	// Not acknowledged: sent again. Acknowledged up to 6: 7 remains.
	r.step(time.Now())
	c1.poll()
	if len(c1.last.Events) != 7 {
		t.Fatalf("unacknowledged events not repeated: %d", len(c1.last.Events))
	}
	in := c1.input(1, nil)
	in.EventAck = 6
	r.PushInput(1, in)
	r.step(time.Now())
	c1.poll()
	if len(c1.last.Events) != 1 || c1.last.Events[0].Seq != 7 {
		t.Fatalf("after an ack of 6, events %+v, want seq 7 alone", c1.last.Events)
	}

	// Player 1 drops; player 2 broadcasts meanwhile. Its new connection
	// gets 7 (never acknowledged) and 8, and re-sends events 3 and 4
	// with a new one.
	if err := r.detach(1); err != nil {
		t.Fatal(err)
	}
	push(2, 1, "all:x")
	r.step(time.Now())
	r.step(time.Now())
	old := c1.conn
	c1.conn = &fakeConn{}
	c1.read = 0
	if err := r.attach(1, c1.conn, c1.rx.Newest()); err != nil {
		t.Fatal(err)
	}
	if r.EventSeq(1) != 4 {
		t.Fatalf("EventSeq for the Welcome: %d, want 4", r.EventSeq(1))
	}
	push(1, 3, "echo:c")
	push(1, 4, "echo:d")
	push(1, 5, "echo:e")
	r.step(time.Now())
	c1.poll()
	if got := texts(c1.last.Events); !slices.Equal(got, []string{"d", "x", "e"}) || c1.last.Events[0].Seq != 7 {
		t.Fatalf("after the reattach, events %q (first %+v), want d, x, e from seq 7", got, c1.last.Events[0])
	}
	if n := len(g.Heard); n != 6 || g.Heard[5] != "p1:echo:e" || c1.last.EventSeq != 5 {
		t.Fatalf("heard %q, event seq %d: want echo:e applied once after the reattach", g.Heard, c1.last.EventSeq)
	}
	if got := texts(c1.events); !slices.Equal(got, []string{"hello p1", "joined p1", "joined p2", "a", "b", "c", "d", "x", "e"}) {
		t.Fatalf("the client received %q", got)
	}
	if old.count() == 0 || old.overflowed() != 0 {
		t.Fatal("the first connection got nothing, or an overflow")
	}
	// Player 2 has nothing pending once it acknowledged.
	c2.poll()
	r.PushInput(2, c2.input(1, nil))
	r.step(time.Now())
	c2.poll()
	if len(c2.last.Events) != 0 || c2.last.EventSeq != 1 {
		t.Fatalf("player 2 after its ack: events %+v, event seq %d", c2.last.Events, c2.last.EventSeq)
	}
}

// TestGenericEventOverflowCloses: a client that does not acknowledge its
// server events past Config.EventQueue is told to close (once per
// connection); the queue keeps the newest.
func TestGenericEventOverflowCloses(t *testing.T) {
	r, _ := newCardsRoom(t, false, func(c *Config) { c.EventQueue = 4 })
	c := newCardsClient(t, r.cfg.Codec, 1)
	joinCards(t, r, 1, c.conn) // hello, joined: 2 events
	r.PushEvent(1, schema.Event{Seq: 1, Data: []byte("burst:5")})
	r.step(time.Now())
	if n := c.conn.overflowed(); n != 1 {
		t.Fatalf("Overflow called %d times, want 1", n)
	}
	if st := r.Stats(); st.EventOverflows != 3 {
		t.Fatalf("overflowed events %d, want 3", st.EventOverflows)
	}
	if len(c.conn.msgs) != 1 {
		t.Fatalf("%d snapshots", len(c.conn.msgs))
	}
	var m schema.ServerMessage
	if err := schema.DecodeServerMessage(c.conn.msgs[0], &m); err != nil {
		t.Fatal(err)
	}
	if evs := m.Snapshot.Events; len(evs) != 4 || evs[0].Seq != 4 || string(evs[3].Data) != "burst 5" {
		t.Fatalf("events after the overflow %+v, want seqs 4..7", evs)
	}
	// A new connection is told again if it does not keep up either.
	c2 := &fakeConn{}
	if err := r.attach(1, c2, 0); err != nil {
		t.Fatal(err)
	}
	r.PushEvent(1, schema.Event{Seq: 2, Data: []byte("burst:1")})
	r.step(time.Now())
	if c2.overflowed() != 1 || c.conn.overflowed() != 1 {
		t.Fatalf("overflows: new connection %d, old %d; want 1, 1", c2.overflowed(), c.conn.overflowed())
	}
}
