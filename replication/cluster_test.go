package replication

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestClusterFormsAndServes: bootstrap + joins through the node-to-node API
// (the third join goes to a follower, which proxies it to the leader), then
// match placement, checkpoints from followers (forwarded to the leader), a
// stale checkpoint, a planned move with a final checkpoint, a drain, a
// leadership transfer and a removal. (The same operations through the
// operator API are package admin's tests.)
func TestClusterFormsAndServes(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	follower := c[(indexOf(c, leader)+1)%len(c)]

	t.Run("membership", func(t *testing.T) {
		voters := leader.Servers()
		for _, n := range c {
			info, ok := follower.Member(n.ID())
			if !ok || info.State != NodeAlive || info.RaftAddr != n.RaftAddr() || info.API != n.api() || voters[n.ID()] != n.RaftAddr() {
				t.Fatalf("%s as %s sees it: %+v (voters %v)", n.ID(), follower.ID(), info, voters)
			}
		}
		if lid, _ := follower.Leader(); lid != leader.ID() {
			t.Fatalf("follower's leader %q, want %s", lid, leader.ID())
		}
		if _, ok := follower.Member("nobody"); ok {
			t.Fatal("unknown member found")
		}
	})

	t.Run("peer API refuses a wrong token and unknown paths", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, token string
			status              int
			code                string
		}{
			{http.MethodPost, PathRaftHeartbeat, "wrong", 401, "unauthorized"},
			{http.MethodGet, PathRaftReadIndex, "", 401, "unauthorized"},
			{http.MethodGet, "/admin/v1/nope", testToken, 404, "bad_request"},
			{http.MethodPost, PathRaftApply, testToken, 503, "not_leader"}, // a follower applies nothing
		} {
			status, data, err := httpapi.Do(ctxT(t, 5*time.Second), http.DefaultClient, tc.method, follower.api()+tc.path, tc.token, []byte{1}, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			re := remoteError(status, data, tc.path)
			if status != tc.status || re.Code != tc.code {
				t.Errorf("%s %s: %d %+v, want %d %s", tc.method, tc.path, status, re, tc.status, tc.code)
			}
		}
	})

	// Six matches created through a follower spread 2 per node.
	var created []MatchInfo
	t.Run("create matches", func(t *testing.T) {
		for i := range 6 {
			m, err := follower.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: fmt.Sprintf("m%d", i), Game: "arena"})
			if err != nil {
				t.Fatal(err)
			}
			created = append(created, m)
		}
		for _, n := range c {
			if nd, _ := leader.Member(n.ID()); nd.Load != 2 {
				t.Fatalf("%s load %d, want 2", n.ID(), nd.Load)
			}
		}
		// Every owner's game layer hears of its matches.
		testutil.CheckFor(t, 5*time.Second, func() error {
			for _, m := range created {
				if ep := c.byID(m.Owner).owned()[m.ID]; ep != m.Epoch {
					return fmt.Errorf("%s not acquired by %s at %d", m.ID, m.Owner, m.Epoch)
				}
			}
			return nil
		})
	})

	t.Run("checkpoints from followers and a stale one", func(t *testing.T) {
		for _, m := range created {
			owner := c.byID(m.Owner)
			owner.Checkpointer().Checkpoint(m.ID, m.Epoch, 30, []byte("state "+m.ID))
			owner.Checkpointer().SetPlayers(m.ID, m.Epoch, 4)
		}
		for _, n := range c {
			if err := n.Checkpointer().Flush(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			for _, n := range c {
				for _, m := range created {
					cp, ok := n.LatestCheckpoint(m.ID)
					if !ok || cp.Tick != 30 || cp.Epoch != m.Epoch {
						return fmt.Errorf("%s: checkpoint of %s = %+v", n.ID(), m.ID, cp)
					}
					if st, err := cp.State(); err != nil || string(st) != "state "+m.ID {
						return fmt.Errorf("state %q %v", st, err)
					}
				}
			}
			return nil
		})
		m := created[0]
		res, err := follower.Apply(ctxT(t, 5*time.Second), &command.CheckpointBatch{Node: follower.ID(), Items: []command.CheckpointItem{
			{Match: m.ID, Epoch: m.Epoch - 1, Tick: 99, Players: -1, Data: compress(nil, []byte("old owner"))},
		}})
		if err != nil || len(res.Rejected) != 1 || res.Rejected[0].Code != "stale_epoch" {
			t.Fatalf("stale checkpoint: %+v %v", res, err)
		}
		if err := leader.CatchUp(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if cur, _ := leader.Lookup(m.ID); cur.CheckpointTick != 30 || cur.Players != 4 {
			t.Fatalf("after stale checkpoint: %+v", cur)
		}
	})

	t.Run("move with a final checkpoint", func(t *testing.T) {
		m := created[0]
		owner := c.byID(m.Owner)
		target := c[(indexOf(c, owner)+1)%len(c)]
		owner.host.setTick(m.ID, 77)
		handovers := owner.metrics.handovers.Load()
		moved, err := owner.Move(ctxT(t, 10*time.Second), m.ID, target.ID())
		if err != nil {
			t.Fatal(err)
		}
		if n := owner.metrics.handovers.Load() - handovers; n != 1 {
			t.Errorf("the owner counted %d hand-overs, want 1", n)
		}
		if moved.Owner != target.ID() || moved.Epoch <= m.Epoch || moved.CheckpointTick != 77 || moved.CheckpointEpoch != m.Epoch {
			t.Fatalf("moved: %+v", moved)
		}
		if ep, frozen := owner.host.frozen[m.ID]; !frozen || ep != m.Epoch {
			t.Fatalf("owner did not freeze the room: %v", owner.host.frozen)
		}
		if cur, _ := owner.Lookup(m.ID); cur.Owner != target.ID() {
			t.Fatalf("the old owner's own view after Move: %+v", cur)
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			if _, still := owner.owned()[m.ID]; still {
				return errors.New("old owner not told")
			}
			if target.owned()[m.ID] != moved.Epoch {
				return errors.New("new owner not told")
			}
			return nil
		})
		cp, _ := target.LatestCheckpoint(m.ID)
		if st, _ := cp.State(); string(st) != "state of "+m.ID+" at 77" {
			t.Fatalf("final state %q", st)
		}
		// Moving again from the old epoch is refused.
		if _, err := owner.Apply(ctxT(t, 5*time.Second), &command.AssignMatch{ID: m.ID, FromEpoch: m.Epoch, From: owner.ID(), To: owner.ID()}); !errors.Is(err, ErrStaleEpoch) {
			t.Fatalf("stale move: %v", err)
		}
		// Only the owner hands over.
		if _, err := owner.Move(ctxT(t, 5*time.Second), m.ID, owner.ID()); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("move by a non-owner: %v", err)
		}
		created[0] = moved
	})

	t.Run("drain", func(t *testing.T) {
		victim := follower
		if _, err := leader.Drain(ctxT(t, 5*time.Second), victim.ID()); err != nil {
			t.Fatal(err)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if nd, _ := leader.Member(victim.ID()); nd.Load != 0 || nd.State != NodeDraining {
				return fmt.Errorf("drained node %+v", nd)
			}
			if len(victim.owned()) != 0 {
				return fmt.Errorf("game layer still owns %v", victim.owned())
			}
			return nil
		})
		if _, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "x", Game: "arena", Owner: victim.ID()}); !errors.Is(err, ErrNodeNotAlive) {
			t.Fatalf("create on draining node: %v", err)
		}
		if info, err := follower.Undrain(ctxT(t, 5*time.Second), victim.ID()); err != nil || info.State != NodeAlive {
			t.Fatalf("undrain: %+v %v", info, err)
		}
	})

	t.Run("transfer leadership", func(t *testing.T) {
		if err := follower.LeadershipTransfer(ctxT(t, 5*time.Second), follower.ID()); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("transfer on a follower: %v", err)
		}
		if err := leader.LeadershipTransfer(ctxT(t, 5*time.Second), follower.ID()); err != nil {
			t.Fatal(err)
		}
		if nl := c.waitLeader(t, 5*time.Second); nl != follower {
			t.Fatalf("leader %s, want %s", nl.ID(), follower.ID())
		}
		c.waitConverged(t, 5*time.Second)
	})

	t.Run("join with a wrong token fails fast", func(t *testing.T) {
		start := time.Now()
		wrong := Config{RaftAddr: "127.0.0.1:0", AdminToken: "wrong"}
		err := joinCluster(ctxT(t, 5*time.Second), newPeerClient(&wrong), testLogger(t), leader.api(),
			JoinRequest{ID: "x", RaftAddr: "127.0.0.1:1", Advertise: "ws://127.0.0.1:2/ws"})
		var re *RemoteError
		if !errors.As(err, &re) || !errors.Is(err, ErrUnauthorized) || time.Since(start) > time.Second {
			t.Fatalf("join with wrong token: %v after %v", err, time.Since(start))
		}
	})

	t.Run("remove a node", func(t *testing.T) {
		leader := c.waitLeader(t, 5*time.Second)
		victim := c[(indexOf(c, leader)+1)%len(c)]
		lost := ownedBy(leader.Matches(), victim.ID())
		if len(lost) == 0 {
			m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "on-victim", Game: "arena", Owner: victim.ID()})
			if err != nil {
				t.Fatal(err)
			}
			lost = []MatchInfo{m}
		}
		start := time.Now()
		if err := leader.RemoveServer(ctxT(t, 5*time.Second), victim.ID()); err != nil {
			t.Fatal(err)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if _, ok := leader.Servers()[victim.ID()]; ok {
				return errors.New("still a raft server")
			}
			if _, ok := leader.Member(victim.ID()); ok {
				return errors.New("still in the fsm")
			}
			for _, m := range lost {
				if cur, _ := leader.Lookup(m.ID); cur.Owner == victim.ID() || cur.Epoch <= m.Epoch {
					return fmt.Errorf("%s not moved: %+v", m.ID, cur)
				}
			}
			if victim.LeaseValid() {
				return errors.New("removed node still holds a lease")
			}
			return nil
		})
		t.Logf("removed node's matches moved and node deleted after %v", time.Since(start))
	})
}
