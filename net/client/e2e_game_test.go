package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/internal/gametesting"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// tableView is what one player of the card table sees, copied out on the
// client goroutine: its events and the table's entities it cares about.
type tableView struct {
	client.NopHandler
	s      *gameschema.Schema
	vals   gameschema.Values
	mu     sync.Mutex
	seqs   []uint32
	texts  []string
	player uint32
	// From the newest State: per player id, score, secret_bid and hand.
	scores map[uint32]int64
	bids   map[uint32]int64
	hands  map[uint32][]byte
}

func newTableView(s *gameschema.Schema) *tableView {
	return &tableView{s: s, scores: map[uint32]int64{}, bids: map[uint32]int64{}, hands: map[uint32][]byte{}}
}

func (v *tableView) OnWelcome(_ *client.Client, w *schema.Welcome, _ bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.player = w.PlayerID
}

func (v *tableView) OnEvent(_ *client.Client, ev *schema.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	text := "?"
	if _, err := v.s.DecodeServerEvent(ev.Data, &v.vals); err == nil {
		text = v.vals.Text(0)
	}
	v.seqs = append(v.seqs, ev.Seq)
	v.texts = append(v.texts, text)
}

func (v *tableView) OnSnapshot(c *client.Client, _ *schema.Snapshot, _ *client.World) {
	w := c.World()
	if w == nil {
		return
	}
	p := v.s.Entities[0] // cards.Player
	score, bid, hand := p.Field("score").Index, p.Field("secret_bid").Index, p.Field("hand").Index
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range w.Len() {
		if v.s.Entities[w.Kind(i)] != p {
			continue
		}
		o := w.Owner(i)
		v.scores[o], v.bids[o], v.hands[o] = w.Int(i, score), w.Int(i, bid), bytes.Clone(w.Bytes(i, hand))
	}
}

// texts returns the event texts so far.
func (v *tableView) eventTexts() ([]uint32, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seqs), slices.Clone(v.texts)
}

func buildTable(t *testing.T, tb *gameschema.Table, build func(*flatbuffers.Builder, *gameschema.Values) flatbuffers.UOffsetT, set func(v *gameschema.Values)) []byte {
	t.Helper()
	var v gameschema.Values
	v.Reset(tb)
	v.SetDefaults()
	set(&v)
	b := flatbuffers.NewBuilder(64)
	b.Finish(build(b, &v))
	return bytes.Clone(b.FinishedBytes())
}

// TestEndToEndGameWithSchema: two players of the card table on a real
// node. The schema comes from the node; the join payload, inputs and
// events travel; each player sees the state (its own owner-only fields,
// not the other's), its bids answered once each in order, across a cut
// and a resume; a client of another schema and a refused join get the
// node's errors.
func TestEndToEndGameWithSchema(t *testing.T) {
	url := gametesting.StartNode(t)
	ctx := context.Background()
	s, err := client.FetchSchema(ctx, url, gametesting.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := client.GameCodec(s)
	if err != nil {
		t.Fatal(err)
	}
	join := func(name string) []byte {
		return buildTable(t, s.Join, s.Join.Build, func(v *gameschema.Values) { v.SetBytes(s.Join.Field("name").Index, []byte(name)) })
	}
	input := buildTable(t, s.Input, s.Input.Build, func(v *gameschema.Values) { v.SetInt(s.Input.Field("hover").Index, 2) })
	bidT := s.ClientEvents.Tables[1] // cards.Bid
	bid := func(amount int64) []byte {
		return buildTable(t, bidT, s.ClientEvents.Build, func(v *gameschema.Values) { v.SetInt(bidT.Field("amount").Index, amount) })
	}
	dialPlayer := func(name string) (*client.Client, *tableView, error) {
		v := newTableView(s)
		cfg := client.DefaultConfig()
		cfg.URLs = []string{url}
		cfg.Game = gametesting.Name
		cfg.Schema, cfg.Codec = s, codec
		cfg.JoinPayload = join(name)
		cfg.BackoffMin = 20 * time.Millisecond
		cfg.Handler = v
		c, err := client.Dial(ctx, cfg)
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return c, v, err
	}
	c, v, err := dialPlayer("ada")
	if err != nil {
		t.Fatal(err)
	}
	c2, v2, err := dialPlayer("bo")
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Welcome(); w.Game != gametesting.Name || w.SchemaHash != s.HashString() || w.MatchID != c2.Welcome().MatchID {
		t.Fatalf("welcomes %+v and %+v", w, c2.Welcome())
	}
	me, other := c.Welcome().PlayerID, c2.Welcome().PlayerID

	// Inputs at 30 Hz while each bids: c 1..5, c2 1..3.
	bids := func(c *client.Client, from, to int64) {
		t.Helper()
		for a := from; a <= to; a++ {
			if _, err := c.SendEvent(bid(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
	bids(c, 1, 5)
	bids(c2, 1, 3)
	play := func(d time.Duration) {
		t.Helper()
		tk := time.NewTicker(time.Second / 30)
		defer tk.Stop()
		for end := time.Now().Add(d); time.Now().Before(end); <-tk.C {
			for _, cl := range []*client.Client{c, c2} {
				if err := cl.SendInput(schema.Input{TargetTick: cl.AckTick() + 1, Data: input}); err != nil && !errors.Is(err, client.ErrNotConnected) {
					t.Fatalf("%v: the client ended: %v", err, cl.Err())
				}
			}
		}
	}
	play(500 * time.Millisecond)
	answered := func(v *tableView, n int) error {
		seqs, texts := v.eventTexts()
		var got []string
		for i, s := range seqs {
			if s != uint32(i+1) {
				return fmt.Errorf("event seqs %v", seqs)
			}
			if strings.HasPrefix(texts[i], "bid ") {
				got = append(got, texts[i])
			}
		}
		for i, g := range got {
			if g != fmt.Sprintf("bid %d", i+1) {
				return fmt.Errorf("bids answered %v", got)
			}
		}
		if len(got) != n {
			return fmt.Errorf("%d of %d bids answered: %v", len(got), n, got)
		}
		return nil
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if err := answered(v, 5); err != nil {
			return err
		}
		if err := answered(v2, 3); err != nil {
			return err
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		switch {
		case v.scores[me] <= 0 || v.scores[other] <= 0:
			return fmt.Errorf("scores %v: the inputs' hover did not count", v.scores)
		case v.bids[me] != 5 || len(v.hands[me]) != 1:
			return fmt.Errorf("own owner-only fields: bid %d hand %v", v.bids[me], v.hands[me])
		case v.bids[other] != 0 || len(v.hands[other]) != 0:
			return fmt.Errorf("the other's owner-only fields seen: bid %d hand %v", v.bids[other], v.hands[other])
		}
		return nil
	})
	if c.PendingEvents() != 0 {
		t.Fatalf("%d client events not acknowledged", c.PendingEvents())
	}

	// A cut and a resume: more bids, each answered once; the broadcasts
	// go on in order.
	client.CutForTest(c)
	bids(c, 6, 8)
	testutil.CheckTrue(t, 5*time.Second, func() bool { return c.Stats().Resumes == 1 })
	play(500 * time.Millisecond)
	testutil.CheckFor(t, 5*time.Second, func() error { return answered(v, 8) })
	_, texts := v.eventTexts()
	ticks := 0
	for _, x := range texts {
		if strings.HasPrefix(x, "tick ") {
			ticks++
		}
	}
	st := c.Stats()
	if ticks == 0 || st.ApplyErrors != 0 || st.SnapshotsDelta == 0 || st.EventsOut != 8 || st.EventsDropped != 0 {
		t.Fatalf("%d tick broadcasts; stats %+v", ticks, st)
	}
	t.Logf("card table: %d events in (%d repeats dropped), %d out (%d re-sent); %d full, %d delta snapshots, %d B in, %d B out; resume %v",
		st.EventsIn, st.EventsDuplicate, st.EventsOut, st.EventsResent, st.SnapshotsFull, st.SnapshotsDelta, st.BytesIn, st.BytesOut, st.LastResume)

	// A refused join carries the game's reason.
	_, _, err = dialPlayer("refuse-me")
	var se *client.ServerError
	if !errors.As(err, &se) || se.Code != schema.ErrCodeJoinRefused || se.Message != gametesting.RefuseReason {
		t.Fatalf("refused join: %v", err)
	}

	// A client of another schema is refused, naming the match's.
	other2, err := gameschema.Load(gametesting.ReadBFBS(t, "arena.bfbs"))
	if err != nil {
		t.Fatal(err)
	}
	otherCodec, err := client.GameCodec(other2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := client.DefaultConfig()
	cfg.URLs, cfg.Game = []string{url}, gametesting.Name
	cfg.Schema, cfg.Codec = other2, otherCodec
	_, err = client.Dial(ctx, cfg)
	if !errors.As(err, &se) || se.Code != schema.ErrCodeSchemaMismatch || !strings.Contains(se.Message, s.HashString()) {
		t.Fatalf("another schema: %v", err)
	}
}
