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

// oldOwner plays a match of two players on a recorded room: player 1's
// client receives server events 1..6, of which only 1..4 are in the tick
// log the cluster holds (replicated, after the checkpoint ckpt).
func oldOwner(t *testing.T) (a *failoverEvents, ckpt capture, replicated []byte) {
	t.Helper()
	a = newFailoverEvents(t)
	for _, id := range []uint32{1, 2} {
		c := newCardsClient(t, a.r.cfg.Codec, id)
		a.clients[id] = c
		joinCards(t, a.r, id, c.conn)
	}
	a.step()
	ckpt = (&recordedCards{r: a.r}).capture(t) // tick 1: player 1's out seq 3
	a.push(t, 1, "echo:a")                     // tick 2: 4 "a"
	a.step()
	replicated = bytes.Clone(a.log) // ticks 1 and 2
	a.push(t, 1, "burst:2")         // tick 3: 5, 6, lost with the old owner
	a.step()
	want := []string{"hello p1", "joined p1", "joined p2", "a", "burst 1", "burst 2"}
	if got := texts(a.clients[1].events); !slices.Equal(got, want) {
		t.Fatalf("player 1 got %q from the old owner, want %q", got, want)
	}
	return a, ckpt, replicated
}

// adopt builds the room of a new owner as game does: the World restored
// from the checkpoint c, the log after it replayed, the seats restored, the
// replayed server events queued again. It records its own tick log, and
// its capture at the start (the checkpoint it would take).
func adopt(t *testing.T, cfg Config, c capture, log []byte, evSeq map[uint32]uint32) (*failoverEvents, capture) {
	t.Helper()
	g := newCardsGame(cfg.Codec)
	if err := g.UnmarshalState(c.state); err != nil {
		t.Fatal(err)
	}
	rp, err := Replay(g, c.tick, c.skip, c.seats, log, nil, ReplayWith(cfg))
	if err != nil {
		t.Fatal(err)
	}
	f := &failoverEvents{clients: map[uint32]*cardsClient{}, evSeq: evSeq, g: g}
	f.r, err = NewRoom("cards", cfg, g, nil, WithRestore(rp.Tick, rp.Seats), WithQueuedEvents(rp.Events),
		WithRecord(func(_ uint32, rec []byte) { f.log = append(f.log, rec...) }, nil))
	if err != nil {
		t.Fatal(err)
	}
	return f, (&recordedCards{r: f.r}).capture(t)
}

// resume gives player a new client on f holding what old holds, and
// resumes its seat with its newest server event.
func (f *failoverEvents) resume(t *testing.T, player uint32, old *cardsClient) *cardsClient {
	t.Helper()
	c := newCardsClient(t, f.r.cfg.Codec, player)
	c.events = old.events
	f.clients[player] = c
	if err := f.r.resume(player, c.conn, 0, uint32(len(old.events))); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFailoverEventsNotReused: the old owner sent a client server events
// 1..6 of which only 1..4 reached the tick log; the new owner, rebuilt from
// the checkpoint and the log, numbers its next events from 5. A resume
// carrying the client's newest (Hello.event_ack) moves them past 6: the
// event the new owner sent the detached seat before the resume, and the
// one after, both reach the client, with seqs 7 and 8. A replay of the new
// owner's log numbers them the same.
func TestFailoverEventsNotReused(t *testing.T) {
	a, ckpt, replicated := oldOwner(t)
	b, bStart := adopt(t, a.r.cfg, ckpt, replicated, a.evSeq)
	if s := bStart.seats[0]; s.OutSeq != 4 || !s.Unsettled || s.OutBase != 4 {
		t.Fatalf("player 1 restored as %+v, want out seq 4, unsettled from 4", s)
	}
	// Player 2 resumes first and broadcasts: player 1, still detached,
	// gets the new owner's event numbered 5, a seq its client holds.
	c2 := b.resume(t, 2, a.clients[2])
	b.push(t, 2, "all:early")
	b.step()
	// Player 1 resumes holding 1..6, then asks for one more.
	c1 := b.resume(t, 1, a.clients[1])
	b.push(t, 1, "echo:late")
	b.step()
	b.step()
	want1 := []string{"hello p1", "joined p1", "joined p2", "a", "burst 1", "burst 2", "early", "late"}
	if got := texts(c1.events); !slices.Equal(got, want1) {
		t.Fatalf("player 1 got %q, want %q (the new owner's events reused seqs it held)", got, want1)
	}
	if want2 := []string{"hello p2", "joined p2", "early"}; !slices.Equal(texts(c2.events), want2) {
		t.Fatalf("player 2 got %q, want %q", texts(c2.events), want2)
	}
	if got := seqs(c1.last.Events); !slices.Equal(got, []uint32{7, 8}) {
		t.Fatalf("player 1's last snapshot carries events %v, want [7 8] (the ones it held are dropped)", got)
	}

	// The moved seqs are in the new owner's log: a replay from its start
	// numbers them as it did.
	end := (&recordedCards{r: b.r}).capture(t)
	w := newCardsGame(a.r.cfg.Codec)
	if err := w.UnmarshalState(bStart.state); err != nil {
		t.Fatal(err)
	}
	got, err := Replay(w, bStart.tick, 0, bStart.seats, b.log, nil, ReplayWith(a.r.cfg))
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

// TestSecondFailoverBeforeResume: the new owner sends player 1 an event
// (numbered 5, a seq the client holds from the first owner) and fails
// before player 1 resumed there; the third owner, from the second's
// checkpoint (the seat unsettled from 4) and log, queues that event again
// and moves it past the client's newest on its resume: nothing lost.
func TestSecondFailoverBeforeResume(t *testing.T) {
	a, ckpt, replicated := oldOwner(t)
	b, bStart := adopt(t, a.r.cfg, ckpt, replicated, a.evSeq)
	c2 := b.resume(t, 2, a.clients[2])
	b.push(t, 2, "all:early")
	b.step() // player 1's 5 "early"; its client never resumes on b

	c, _ := adopt(t, a.r.cfg, bStart, b.log, b.evSeq)
	c.resume(t, 2, c2)
	c1 := c.resume(t, 1, a.clients[1])
	c.push(t, 1, "echo:late")
	c.step()
	want := []string{"hello p1", "joined p1", "joined p2", "a", "burst 1", "burst 2", "early", "late"}
	if got := texts(c1.events); !slices.Equal(got, want) {
		t.Fatalf("player 1 got %q, want %q", got, want)
	}
	if got := seqs(c1.last.Events); !slices.Equal(got, []uint32{7, 8}) {
		t.Fatalf("player 1's last snapshot carries events %v, want [7 8]", got)
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

// TestResumeClaimCannotNearWrap: a client claiming a held seq near the end
// of the seq space is ignored beyond acknowledging: the seat's numbering
// stays where it was, far from a wrap.
func TestResumeClaimCannotNearWrap(t *testing.T) {
	f := newFailoverEvents(t)
	c := newCardsClient(t, f.r.cfg.Codec, 1)
	f.clients[1] = c
	joinCards(t, f.r, 1, c.conn)
	f.push(t, 1, "burst:3")
	f.step() // 1 hello, 2 joined, 3..5 burst
	if err := f.r.detach(1); err != nil {
		t.Fatal(err)
	}
	delete(f.clients, 1)
	if err := f.r.resume(1, &fakeConn{}, 0, 0xfffffffe); err != nil {
		t.Fatal(err)
	}
	p := f.r.byID[1]
	if p.out.seq != 5 {
		t.Fatalf("seq %d after a resume claiming 0xfffffffe, want 5", p.out.seq)
	}
	f.push(t, 1, "echo:x")
	f.step()
	if got := seqs(p.out.appendTo(nil)); len(got) == 0 || got[len(got)-1] != 6 {
		t.Fatalf("queued %v after the claim, want the new event as 6", got)
	}
}
