package sim

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// failoverEvents is a cards room that recorded its tick log, with the
// client of each player.
type failoverEvents struct {
	r       *Room
	g       *cardsGame
	log     []byte
	clients map[uint32]*cardsClient
	evSeq   map[uint32]uint32 // client event seqs sent, per player
}

func newFailoverEvents(t *testing.T, opts ...Option) *failoverEvents {
	t.Helper()
	f := &failoverEvents{clients: map[uint32]*cardsClient{}, evSeq: map[uint32]uint32{}}
	rec := WithRecord(func(_ uint32, b []byte) { f.log = append(f.log, b...) }, nil)
	f.r, f.g = newCardsRoom(t, false, nil, append(opts, rec)...)
	return f
}

// push sends a client event of player.
func (f *failoverEvents) push(t *testing.T, player uint32, data string) {
	t.Helper()
	f.evSeq[player]++
	if !f.r.PushEvent(player, schema.Event{Seq: f.evSeq[player], Data: []byte(data)}) {
		t.Fatalf("event %q of player %d refused", data, player)
	}
}

// step steps the room and lets every client read its snapshots.
func (f *failoverEvents) step() {
	f.r.step(time.Now())
	for _, c := range f.clients {
		c.poll()
	}
}

// TestFailoverEventsNotReused: the old owner sent a client server events
// 1..6 of which only 1..4 reached the tick log; the new owner, rebuilt from
// the checkpoint and the log, numbers its next events from 4. A resume
// carrying the client's newest (Hello.event_ack) moves them past 6: the
// event the new owner sent the detached seat before the resume, and the
// one after, both reach the client, with seqs 7 and 8. A replay of the new
// owner's log numbers them the same.
func TestFailoverEventsNotReused(t *testing.T) {
	a := newFailoverEvents(t)
	for _, id := range []uint32{1, 2} {
		c := newCardsClient(t, a.r.cfg.Codec, id)
		a.clients[id] = c
		joinCards(t, a.r, id, c.conn)
	}
	a.step()
	ckpt := (&recordedCards{r: a.r}).capture(t) // tick 1: player 1's out seq 3
	a.push(t, 1, "echo:a")                      // tick 2: 4 "a"
	a.step()
	replicated := bytes.Clone(a.log) // the log the cluster holds: ticks 1 and 2
	a.push(t, 1, "burst:2")          // tick 3: 5, 6, lost with the old owner
	a.step()
	c1, c2 := a.clients[1], a.clients[2]
	want1 := []string{"hello p1", "joined p1", "joined p2", "a", "burst 1", "burst 2"}
	if got := texts(c1.events); !slices.Equal(got, want1) {
		t.Fatalf("player 1 got %q from the old owner, want %q", got, want1)
	}

	// Failover: the new owner restores the checkpoint and replays the log.
	g := newCardsGame(a.r.cfg.Codec)
	if err := g.UnmarshalState(ckpt.state); err != nil {
		t.Fatal(err)
	}
	rp, err := Replay(g, ckpt.tick, ckpt.skip, ckpt.seats, replicated, nil, ReplayWith(a.r.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if rp.Tick != 2 || rp.Seats[0].OutSeq != 4 {
		t.Fatalf("replayed to tick %d, seats %+v; want tick 2, player 1's out seq 4", rp.Tick, rp.Seats)
	}
	b := &failoverEvents{clients: map[uint32]*cardsClient{}, evSeq: a.evSeq, g: g}
	b.r, err = NewRoom("cards", a.r.cfg, g, nil, WithRestore(rp.Tick, rp.Seats), WithQueuedEvents(rp.Events),
		WithRecord(func(_ uint32, rec []byte) { b.log = append(b.log, rec...) }, nil))
	if err != nil {
		t.Fatal(err)
	}
	restored := slices.Clone(rp.Seats)

	// Player 2 resumes first and broadcasts: player 1, still detached,
	// gets the new owner's event numbered 5, a seq its client holds.
	nc2 := newCardsClient(t, a.r.cfg.Codec, 2)
	nc2.events = c2.events
	b.clients[2] = nc2
	if err := b.r.resume(2, nc2.conn, 0, uint32(len(c2.events))); err != nil {
		t.Fatal(err)
	}
	b.push(t, 2, "all:early")
	b.step()
	// Player 1 resumes holding 1..6, then asks for one more.
	nc1 := newCardsClient(t, a.r.cfg.Codec, 1)
	nc1.events = c1.events
	b.clients[1] = nc1
	if err := b.r.resume(1, nc1.conn, 0, uint32(len(c1.events))); err != nil {
		t.Fatal(err)
	}
	b.push(t, 1, "echo:late")
	b.step()
	b.step()
	want1 = append(want1, "early", "late")
	if got := texts(nc1.events); !slices.Equal(got, want1) {
		t.Fatalf("player 1 got %q, want %q (the new owner's events reused seqs it held)", got, want1)
	}
	if want2 := []string{"hello p2", "joined p2", "early"}; !slices.Equal(texts(nc2.events), want2) {
		t.Fatalf("player 2 got %q, want %q", texts(nc2.events), want2)
	}
	if got := seqs(nc1.last.Events); !slices.Equal(got, []uint32{7, 8}) {
		t.Fatalf("player 1's last snapshot carries events %v, want [7 8] (the ones it held are dropped)", got)
	}

	// The moved seqs are in the new owner's log: a replay from where it
	// started numbers them as it did.
	end := (&recordedCards{r: b.r}).capture(t)
	w := newCardsGame(a.r.cfg.Codec)
	if err := w.UnmarshalState(ckpt.state); err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(w, ckpt.tick, ckpt.skip, ckpt.seats, replicated, nil, ReplayWith(a.r.cfg)); err != nil {
		t.Fatal(err)
	}
	got, err := Replay(w, rp.Tick, 0, restored, b.log, nil, ReplayWith(a.r.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Seats, end.seats) {
		t.Fatalf("replayed seats %+v, the room had %+v", got.Seats, end.seats)
	}
	var queued []QueuedEvent
	for _, p := range b.r.list {
		for _, ev := range p.out.appendTo(nil) {
			queued = append(queued, QueuedEvent{Player: p.id, Event: ev})
		}
	}
	if !equalQueued(got.Events, queued) {
		t.Fatalf("replay queued %v, the room holds %v", queuedSeqs(got.Events), queuedSeqs(queued))
	}
}

// TestResumeEventAckSameOwner: a resume on the node that sent the events
// drops those the client holds from the queue and numbers on as before; a
// client claiming more than was sent moves the seqs past its claim.
func TestResumeEventAckSameOwner(t *testing.T) {
	f := newFailoverEvents(t)
	c := newCardsClient(t, f.r.cfg.Codec, 1)
	f.clients[1] = c
	joinCards(t, f.r, 1, c.conn)
	f.push(t, 1, "burst:3")
	f.step() // 1 hello, 2 joined, 3..5 burst
	if err := f.r.detach(1); err != nil {
		t.Fatal(err)
	}
	if err := f.r.resume(1, c.conn, 0, 4); err != nil {
		t.Fatal(err)
	}
	p := f.r.byID[1]
	if got := seqs(p.out.appendTo(nil)); !slices.Equal(got, []uint32{5}) || p.out.seq != 5 {
		t.Fatalf("queued %v, seq %d after a resume holding 4; want [5], 5", got, p.out.seq)
	}
	delete(f.clients, 1) // a broken client: it never got 6..9
	if err := f.r.resume(1, &fakeConn{}, 0, 9); err != nil {
		t.Fatal(err)
	}
	f.push(t, 1, "echo:x")
	f.step()
	if got := seqs(p.out.appendTo(nil)); !slices.Equal(got, []uint32{10}) {
		t.Fatalf("queued %v after a resume claiming 9, want [10]", got)
	}
}

func seqs(evs []schema.Event) []uint32 {
	var out []uint32
	for _, ev := range evs {
		out = append(out, ev.Seq)
	}
	return out
}

func queuedSeqs(evs []QueuedEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("p%d:%d:%s", ev.Player, ev.Event.Seq, ev.Event.Data))
	}
	return out
}
