package cluster

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
)

// TestAdmitMatchKey: Admit's choice holds the matchmaking key across the
// cluster. A player goes to the oldest match of its game and key with a
// free seat on another node, never to one of another key however old or
// empty; a record without a key is a match of the empty key; a match of
// the key placed here and not adopted yet is waited for, one of another
// key is not; with none fitting, a match of that key is created, its
// record carrying the key.
func TestAdmitMatchKey(t *testing.T) {
	var ok atomic.Int32
	ok.Store(http.StatusOK)
	api := readyServer(t, &ok)
	setup := func(t *testing.T) (*fakeFSM, *Adapter) {
		f := newFakeFSM()
		f.addNode("n1", "", replication.NodeAlive)
		f.addNode("n2", api, replication.NodeAlive)
		f.placeOn = "n1"
		f.put(replication.MatchInfo{ID: "legacy", Owner: "n2"}) // an earlier version's record: no key
		f.put(replication.MatchInfo{ID: "two", Owner: "n2", Key: "mode=2"})
		f.put(replication.MatchInfo{ID: "one-full", Owner: "n2", Key: "mode=1", Players: 4})
		f.put(replication.MatchInfo{ID: "one", Owner: "n2", Key: "mode=1", Players: 3})
		f.put(replication.MatchInfo{ID: "one-newer", Owner: "n2", Key: "mode=1"})
		return f, newAdapter(t, "n1", newFakeReplica(f), nil)
	}
	ctx := context.Background()

	t.Run("same key elsewhere: redirect to the oldest with room", func(t *testing.T) {
		f, a := setup(t)
		_, err := a.Admit(ctx, toyName, "mode=1")
		wantRedirect(t, err, "n2", "one")
		_, err = a.Admit(ctx, toyName, "mode=2")
		wantRedirect(t, err, "n2", "two")
		if n := f.creates.Load(); n != 0 {
			t.Fatalf("%d matches created", n)
		}
	})
	t.Run("no key: the records without one", func(t *testing.T) {
		_, a := setup(t)
		_, err := a.Admit(ctx, toyName, "")
		wantRedirect(t, err, "n2", "legacy")
	})
	t.Run("another key only: a match of this key is created", func(t *testing.T) {
		f, a := setup(t)
		id, err := a.Admit(ctx, toyName, "mode=3")
		if err != nil || id == "" {
			t.Fatalf("%q %v", id, err)
		}
		f.mu.Lock()
		m := f.matches[id]
		f.mu.Unlock()
		if m.Key != "mode=3" || m.Owner != "n1" || f.creates.Load() != 1 {
			t.Fatalf("created %+v (%d creates)", m, f.creates.Load())
		}
		// The next player of that key finds it (placed here, not adopted).
		if again, err := a.Admit(ctx, toyName, "mode=3"); again != id || err != nil {
			t.Fatalf("second mode=3 admit: %q %v, want %q", again, err, id)
		}
	})
	t.Run("placed here with another key: not that one", func(t *testing.T) {
		f, a := setup(t)
		f.put(replication.MatchInfo{ID: "mine-two", Owner: "n1", Key: "mode=2"})
		_, err := a.Admit(ctx, toyName, "mode=2")
		wantRedirect(t, err, "n2", "two") // older than mine-two
		id, err := a.Admit(ctx, toyName, "mode=0")
		if err != nil || id == "" || id == "mine-two" {
			t.Fatalf("mode=0: %q %v", id, err)
		}
	})
}

// recordingGames records the adoptions RunOwnership asks for.
type recordingGames struct {
	mu    sync.Mutex
	adopt []game.AdoptRequest
}

func (g *recordingGames) Adopt(_ context.Context, req game.AdoptRequest) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.adopt = append(g.adopt, req)
	return nil
}
func (g *recordingGames) Release(string, string) bool { return true }
func (g *recordingGames) End(string) bool             { return true }

func (g *recordingGames) adopted() []game.AdoptRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]game.AdoptRequest(nil), g.adopt...)
}

// TestAdoptCarriesMatchKey: the node that acquires a match (created here,
// handed over, failed over) adopts it with the key its record carries, so
// that its matchmaking keeps the match's key.
func TestAdoptCarriesMatchKey(t *testing.T) {
	f := newFakeFSM()
	f.addNode("n1", "", replication.NodeAlive)
	r := newFakeReplica(f)
	a := newAdapter(t, "n1", r, nil)
	games := &recordingGames{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.RunOwnership(ctx, r, games) }()
	t.Cleanup(func() { cancel(); <-done })

	keyed := f.put(replication.MatchInfo{ID: "k", Owner: "n1", Key: `mode=1 map="dust"`})
	plain := f.put(replication.MatchInfo{ID: "p", Owner: "n1"})
	r.events <- replication.OwnershipEvent{Kind: replication.Acquired, Epoch: keyed.Epoch, Match: keyed}
	r.events <- replication.OwnershipEvent{Kind: replication.Acquired, Epoch: plain.Epoch, Match: plain}
	testutil.CheckTrue(t, 5*time.Second, func() bool { return len(games.adopted()) == 2 })
	got := games.adopted()
	if got[0].MatchID != "k" || got[0].Key != `mode=1 map="dust"` || got[1].MatchID != "p" || got[1].Key != "" {
		t.Fatalf("adoptions %+v", got)
	}
}
