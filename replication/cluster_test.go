package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
)

// adminCall sends one admin API request and decodes the JSON answer.
func adminCall(t testing.TB, method, url, token string, body, out any) (int, errorBody) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb errorBody
	if resp.StatusCode/100 != 2 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: HTTP %d with a non-JSON body %q", method, url, resp.StatusCode, data)
		}
		return resp.StatusCode, eb
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode, eb
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestClusterFormsAndServes: bootstrap + joins through the admin API (the
// third join goes to a follower, which forwards it), then the admin API,
// match placement, checkpoints from followers, a stale checkpoint, a planned
// move with a final checkpoint, and a drain.
func TestClusterFormsAndServes(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.waitLeader(t, 10*time.Second)
	follower := c.up()[0]
	if follower == leader {
		follower = c.up()[1]
	}

	t.Run("admin nodes", func(t *testing.T) {
		var nodes []AdminNode
		if st, eb := adminCall(t, "GET", follower.api()+"/admin/v1/nodes", testToken, nil, &nodes); st != 200 {
			t.Fatalf("nodes: %d %+v", st, eb)
		}
		leaders := 0
		for _, nd := range nodes {
			if nd.State != NodeAlive || !nd.Voter || nd.RaftAddr == "" || nd.Advertise == "" {
				t.Fatalf("node %+v", nd)
			}
			if nd.Leader {
				leaders++
				if nd.ID != leader.ID() {
					t.Fatalf("leader %s, want %s", nd.ID, leader.ID())
				}
			}
		}
		if len(nodes) != 3 || leaders != 1 {
			t.Fatalf("nodes %+v", nodes)
		}
		if st, eb := adminCall(t, "GET", follower.api()+"/admin/v1/nodes", "wrong", nil, nil); st != 401 || eb.Code != "unauthorized" {
			t.Fatalf("bad token: %d %+v", st, eb)
		}
		if st, eb := adminCall(t, "GET", follower.api()+"/admin/v1/nope", testToken, nil, nil); st != 404 || eb.Error == "" {
			t.Fatalf("unknown path: %d %+v", st, eb)
		}
	})

	// Six matches created through a follower's admin API spread 2 per node.
	var created []AdminMatch
	t.Run("create matches", func(t *testing.T) {
		for i := range 6 {
			var m AdminMatch
			st, eb := adminCall(t, "POST", follower.api()+"/admin/v1/matches", testToken,
				CreateMatchRequest{ID: fmt.Sprintf("m%d", i), Game: "arena"}, &m)
			if st != 201 {
				t.Fatalf("create: %d %+v", st, eb)
			}
			created = append(created, m)
		}
		for _, n := range c {
			if nd, _ := leader.fsm.Node(n.ID()); nd.Load != 2 {
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
		var am AdminMatch
		adminCall(t, "GET", leader.api()+"/admin/v1/matches/"+m.ID, testToken, nil, &am)
		if am.CheckpointTick != 30 || am.Players != 4 {
			t.Fatalf("after stale checkpoint: %+v", am)
		}
	})

	t.Run("move with a final checkpoint via a non-owner", func(t *testing.T) {
		m := created[0]
		owner := c.byID(m.Owner)
		var target, via *testNode
		for _, n := range c {
			if n != owner && target == nil {
				target = n
			} else if n != owner {
				via = n
			}
		}
		owner.host.setTick(m.ID, 77)
		var moved AdminMatch
		st, eb := adminCall(t, "POST", via.api()+"/admin/v1/matches/"+m.ID+"/move", testToken, MoveRequest{Node: target.ID()}, &moved)
		if st != 200 {
			t.Fatalf("move: %d %+v", st, eb)
		}
		if moved.Owner != target.ID() || moved.Epoch <= m.Epoch || moved.CheckpointTick != 77 || moved.CheckpointEpoch != m.Epoch {
			t.Fatalf("moved: %+v", moved)
		}
		if ep, frozen := owner.host.frozen[m.ID]; !frozen || ep != m.Epoch {
			t.Fatalf("owner did not freeze the room: %v", owner.host.frozen)
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
		created[0] = moved
	})

	t.Run("drain", func(t *testing.T) {
		victim := follower
		var info NodeInfo
		if st, eb := adminCall(t, "POST", leader.api()+"/admin/v1/nodes/"+victim.ID()+"/drain", testToken, nil, &info); st != 200 {
			t.Fatalf("drain: %d %+v", st, eb)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if nd, _ := leader.fsm.Node(victim.ID()); nd.Load != 0 || nd.State != NodeDraining {
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
		if st, eb := adminCall(t, "POST", follower.api()+"/admin/v1/nodes/"+victim.ID()+"/undrain", testToken, nil, &info); st != 200 || info.State != NodeAlive {
			t.Fatalf("undrain: %d %+v %+v", st, eb, info)
		}
	})

	t.Run("transfer leadership", func(t *testing.T) {
		var out map[string]any
		if st, eb := adminCall(t, "POST", follower.api()+"/admin/v1/transfer-leader", testToken, TransferRequest{Node: follower.ID()}, &out); st != 200 {
			t.Fatalf("transfer: %d %+v", st, eb)
		}
		nl := c.waitLeader(t, 5*time.Second)
		if nl != follower {
			t.Fatalf("leader %s, want %s", nl.ID(), follower.ID())
		}
		c.waitConverged(t, 5*time.Second)
	})

	t.Run("join with a wrong token fails fast", func(t *testing.T) {
		start := time.Now()
		err := JoinCluster(ctxT(t, 5*time.Second), leader.api(), "wrong", JoinRequest{ID: "x", RaftAddr: "127.0.0.1:1", Advertise: "ws://127.0.0.1:2/ws"})
		var re *RemoteError
		if !errors.As(err, &re) || !errors.Is(err, ErrUnauthorized) || time.Since(start) > time.Second {
			t.Fatalf("join with wrong token: %v after %v", err, time.Since(start))
		}
	})

	t.Run("remove a node", func(t *testing.T) {
		leader := c.waitLeader(t, 5*time.Second)
		var victim, via *testNode
		for _, n := range c {
			switch {
			case n == leader:
			case victim == nil:
				victim = n
			default:
				via = n
			}
		}
		lost := ownedBy(leader.Matches(), victim.ID())
		if len(lost) == 0 {
			m, err := leader.CreateMatch(ctxT(t, 5*time.Second), command.CreateMatch{ID: "on-victim", Game: "arena", Owner: victim.ID()})
			if err != nil {
				t.Fatal(err)
			}
			lost = []MatchInfo{m}
		}
		start := time.Now()
		if st, eb := adminCall(t, "POST", via.api()+"/admin/v1/nodes/"+victim.ID()+"/remove", testToken, nil, nil); st != 202 {
			t.Fatalf("remove: %d %+v", st, eb)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if _, ok := leader.Servers()[victim.ID()]; ok {
				return errors.New("still a raft server")
			}
			if _, ok := leader.fsm.Node(victim.ID()); ok {
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
		if st, eb := adminCall(t, "POST", via.api()+"/admin/v1/nodes/nobody/remove", testToken, nil, nil); st != 404 || eb.Code != "node_not_found" {
			t.Fatalf("remove unknown: %d %+v", st, eb)
		}
	})
}
