package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// TestOperatorAPI drives every endpoint through Client on a 3-node
// cluster, mostly through a follower (which proxies what must run on the
// leader or the owner), and checks the typed errors.
func TestOperatorAPI(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.waitLeader(t)
	follower := c.other(leader)

	t.Run("status and nodes", func(t *testing.T) {
		st, err := leader.client.Status(ctxT(t, 5*time.Second))
		if err != nil || st.ID != leader.ID() || st.Leader != leader.ID() || st.RaftState != "Leader" || st.Nodes != 3 || !st.LeaseValid {
			t.Fatalf("status: %+v %v", st, err)
		}
		nodes, err := follower.client.Nodes(ctxT(t, 5*time.Second))
		if err != nil || len(nodes) != 3 {
			t.Fatalf("nodes: %+v %v", nodes, err)
		}
		leaders := 0
		for _, nd := range nodes {
			if nd.State != replication.NodeAlive || !nd.Voter || nd.RaftAddr == "" || nd.Advertise == "" || nd.API != c.byID(nd.ID).api {
				t.Fatalf("node %+v", nd)
			}
			if nd.Leader {
				leaders++
				if nd.ID != leader.ID() {
					t.Fatalf("leader %s, want %s", nd.ID, leader.ID())
				}
			}
		}
		if leaders != 1 {
			t.Fatalf("%d leaders in %+v", leaders, nodes)
		}
	})

	t.Run("authentication and unknown paths", func(t *testing.T) {
		wrong := *follower.client
		wrong.Token = "wrong"
		_, err := wrong.Nodes(ctxT(t, 5*time.Second))
		wantError(t, err, http.StatusUnauthorized, "unauthorized", replication.ErrUnauthorized)
		var out any
		err = follower.client.call(ctxT(t, 5*time.Second), http.MethodGet, "/admin/v1/nope", nil, &out)
		wantError(t, err, http.StatusNotFound, "bad_request", replication.ErrBadRequest)
		// A node without a token serves nothing.
		srv, err := New(Config{Node: follower.Node})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/v1/status", nil))
		if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "disabled") {
			t.Fatalf("no token: %d %s", rec.Code, rec.Body)
		}
		if _, err := New(Config{}); err == nil {
			t.Fatal("a server without a node")
		}
	})

	var created []Match
	t.Run("create matches through a follower", func(t *testing.T) {
		for i := range 6 {
			m, err := follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: fmt.Sprintf("m%d", i), Game: "arena"})
			if err != nil || m.ID != fmt.Sprintf("m%d", i) || m.Owner == "" || m.Epoch == 0 || m.Status != replication.MatchRunning {
				t.Fatalf("create: %+v %v", m, err)
			}
			created = append(created, m)
		}
		for _, n := range c {
			if nd, _ := leader.Member(n.ID()); nd.Load != 2 {
				t.Fatalf("%s load %d, want 2", n.ID(), nd.Load)
			}
		}
		m, err := follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{Game: "arena", Seed: 9})
		if err != nil || len(m.ID) != 16 || m.Seed != 9 {
			t.Fatalf("create with a random id: %+v %v", m, err)
		}
		_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "x", Game: "arena", Node: "nobody"})
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
		// An unknown game creates nothing.
		_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "chess1", Game: "chess"})
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		if want := "unknown game chess (registered: arena)"; !strings.Contains(err.Error(), want) {
			t.Fatalf("unknown game: %q, want it to say %q", err, want)
		}
		if _, ok := leader.Lookup("chess1"); ok {
			t.Fatal("a match of an unknown game was created")
		}
		// No game: the only one registered. The answer shows the match
		// on the node that answered.
		m, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "solo"})
		if err != nil || m.Game != "arena" {
			t.Fatalf("create without a game: %+v %v", m, err)
		}
		if got, ok := follower.Lookup("solo"); !ok || got.Owner != m.Owner {
			t.Fatalf("the answering node does not show it: %+v %v", got, ok)
		}
	})

	t.Run("matches carry ticks where they run", func(t *testing.T) {
		for _, m := range created {
			c.byID(m.Owner).host.setTick(m.ID, 100+uint32(m.Epoch))
		}
		for _, n := range c {
			if err := n.CatchUp(ctxT(t, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			ms, err := n.client.Matches(ctxT(t, 5*time.Second))
			if err != nil || len(ms) != 8 {
				t.Fatalf("%s: %d matches, %v", n.ID(), len(ms), err)
			}
			for _, m := range ms {
				local := m.Owner == n.ID() && strings.HasPrefix(m.ID, "m")
				if (m.Tick != nil) != local || (local && *m.Tick != 100+uint32(m.Epoch)) {
					t.Fatalf("%s lists %s (owner %s) with tick %v", n.ID(), m.ID, m.Owner, m.Tick)
				}
			}
		}
		m, err := follower.client.Match(ctxT(t, 5*time.Second), created[1].ID)
		if err != nil || m.ID != created[1].ID || m.Epoch != created[1].Epoch {
			t.Fatalf("match: %+v %v", m, err)
		}
		_, err = follower.client.Match(ctxT(t, 5*time.Second), "nope")
		wantError(t, err, http.StatusNotFound, "match_not_found", replication.ErrMatchNotFound)
	})

	t.Run("a match's players from any node", func(t *testing.T) {
		m := created[1]
		owner := c.byID(m.Owner)
		owner.host.seat(m.ID, 1, "ann")
		owner.host.seat(m.ID, 2, "bob")
		for _, n := range c {
			d, err := n.client.Match(ctxT(t, 5*time.Second), m.ID)
			if err != nil || d.Live == nil || d.Live.Node != owner.ID() || d.Live.Tick != 100+uint32(m.Epoch) ||
				len(d.Live.Players) != 2 || d.Live.Players[0].Name != "ann" || d.Live.Players[1].Entity != 102 || d.LiveError != "" {
				t.Fatalf("via %s: %+v %+v %v", n.ID(), d, d.Live, err)
			}
			// The row's tick stays the answering node's own: null where the room does not run.
			if (d.Tick != nil) != (n == owner) {
				t.Fatalf("via %s: row tick %v", n.ID(), d.Tick)
			}
		}
		// A match its owner does not run (yet): the row, and why there is no live view.
		d, err := follower.client.Match(ctxT(t, 5*time.Second), "solo")
		if err != nil || d.Live != nil || !strings.Contains(d.LiveError, "does not run it yet") {
			t.Fatalf("not running: %+v %v", d, err)
		}
	})

	t.Run("kick through a node that is not the owner", func(t *testing.T) {
		m := created[1]
		via := c.other(c.byID(m.Owner))
		d, err := via.client.Kick(ctxT(t, 5*time.Second), m.ID, 1)
		if err != nil || d.Live == nil || len(d.Live.Players) != 1 || d.Live.Players[0].ID != 2 {
			t.Fatalf("kick: %+v %v", d, err)
		}
		_, err = via.client.Kick(ctxT(t, 5*time.Second), m.ID, 1)
		wantError(t, err, http.StatusNotFound, "player_not_found", replication.ErrPlayerNotFound)
		_, err = via.client.Kick(ctxT(t, 5*time.Second), m.ID, 0)
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		_, err = via.client.Kick(ctxT(t, 5*time.Second), "nope", 2)
		wantError(t, err, http.StatusNotFound, "match_not_found", replication.ErrMatchNotFound)
	})

	t.Run("end a match through a follower", func(t *testing.T) {
		m := created[2]
		res, err := follower.client.EndMatch(ctxT(t, 5*time.Second), m.ID)
		if err != nil || res.Ended != m.ID || res.Owner != m.Owner || res.Game != "arena" {
			t.Fatalf("end: %+v %v", res, err)
		}
		// The answering node has applied it: the next read there says so.
		_, err = follower.client.Match(ctxT(t, 5*time.Second), m.ID)
		wantError(t, err, http.StatusNotFound, "match_not_found", replication.ErrMatchNotFound)
		_, err = follower.client.EndMatch(ctxT(t, 5*time.Second), m.ID)
		wantError(t, err, http.StatusNotFound, "match_not_found", replication.ErrMatchNotFound)
	})

	t.Run("status numbers are JSON numbers", func(t *testing.T) {
		status, data, err := httpapi.Do(ctxT(t, 5*time.Second), http.DefaultClient, http.MethodGet, follower.api+"/admin/v1/status", testToken, nil, "", nil)
		var st map[string]any
		if err != nil || status != http.StatusOK || json.Unmarshal(data, &st) != nil {
			t.Fatalf("status: %d %s %v", status, data, err)
		}
		for _, k := range []string{"term", "applied_index", "commit_index", "last_contact_ms", "lease_remaining_ms", "nodes"} {
			if v, ok := st[k].(float64); !ok || (k != "last_contact_ms" && k != "lease_remaining_ms" && v <= 0) {
				t.Errorf("%s: %#v", k, st[k])
			}
		}
	})

	t.Run("move through a node that is not the owner", func(t *testing.T) {
		m := created[0]
		owner := c.byID(m.Owner)
		target := c.other(owner)
		via := c.other(owner, target)
		owner.host.setTick(m.ID, 77)
		moved, err := via.client.Move(ctxT(t, 10*time.Second), m.ID, target.ID())
		if err != nil {
			t.Fatal(err)
		}
		if moved.Owner != target.ID() || moved.Epoch <= m.Epoch || moved.CheckpointTick != 77 || moved.CheckpointEpoch != m.Epoch {
			t.Fatalf("moved: %+v", moved)
		}
		if ep, frozen := owner.host.frozenAt(m.ID); !frozen || ep != m.Epoch {
			t.Fatalf("owner did not freeze the room (%d %v)", ep, frozen)
		}
		testutil.CheckFor(t, 5*time.Second, func() error {
			cp, _ := target.LatestCheckpoint(m.ID)
			if st, _ := cp.State(); string(st) != "state of "+m.ID+" at 77" {
				return fmt.Errorf("final state on the new owner %q", st)
			}
			return nil
		})
		_, err = via.client.Move(ctxT(t, 5*time.Second), "nope", target.ID())
		wantError(t, err, http.StatusNotFound, "match_not_found", replication.ErrMatchNotFound)
		_, err = via.client.Move(ctxT(t, 5*time.Second), m.ID, "")
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		testutil.CheckFor(t, 5*time.Second, func() error { // the owner applies the move too
			if cur, _ := owner.Lookup(m.ID); cur.Owner != target.ID() {
				return fmt.Errorf("%s still sees %+v", owner.ID(), cur)
			}
			return nil
		})
		_, err = owner.client.Move(ctxT(t, 5*time.Second), m.ID, "nobody") // proxied to the new owner
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
	})

	t.Run("drain and undrain", func(t *testing.T) {
		victim := follower
		info, err := leader.client.Drain(ctxT(t, 5*time.Second), victim.ID())
		if err != nil || info.ID != victim.ID() || info.State != replication.NodeDraining {
			t.Fatalf("drain: %+v %v", info, err)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if nd, _ := leader.Member(victim.ID()); nd.Load != 0 {
				return fmt.Errorf("drained node %+v", nd)
			}
			return nil
		})
		info, err = follower.client.Undrain(ctxT(t, 5*time.Second), victim.ID())
		if err != nil || info.State != replication.NodeAlive || !info.Voter {
			t.Fatalf("undrain: %+v %v", info, err)
		}
		// What the node answered with, it reads right after.
		nodes, err := follower.client.Nodes(ctxT(t, 5*time.Second))
		for _, nd := range nodes {
			if nd.ID == victim.ID() && nd.State != replication.NodeAlive {
				t.Fatalf("after undrain: %+v %v", nd, err)
			}
		}
		other := c.other(leader, follower)
		info, err = other.client.Drain(ctxT(t, 5*time.Second), victim.ID())
		if err != nil || info.State != replication.NodeDraining {
			t.Fatalf("drain again: %+v %v", info, err)
		}
		info, err = follower.client.Undrain(ctxT(t, 5*time.Second), victim.ID()) // drained through another node a moment ago
		if err != nil || info.State != replication.NodeAlive {
			t.Fatalf("undrain right after a drain elsewhere: %+v %v", info, err)
		}
		_, err = leader.client.Undrain(ctxT(t, 5*time.Second), victim.ID()) // the leader has applied the first
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		_, err = follower.client.Drain(ctxT(t, 5*time.Second), "nobody")
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
	})

	t.Run("transfer leadership through a follower", func(t *testing.T) {
		res, err := follower.client.TransferLeader(ctxT(t, 5*time.Second), follower.ID())
		if err != nil || res.ElapsedMS < 0 || res.Leader != follower.ID() {
			t.Fatalf("transfer: %+v %v", res, err)
		}
		if nl := c.waitLeader(t); nl != follower {
			t.Fatalf("leader %s, want %s", nl.ID(), follower.ID())
		}
		c.waitConverged(t)
		leader = follower
	})

	t.Run("a request is proxied once", func(t *testing.T) {
		f := c.other(leader)
		status, data, err := httpapi.Do(ctxT(t, 5*time.Second), http.DefaultClient, http.MethodPost, f.api+"/admin/v1/transfer-leader",
			testToken, nil, "", http.Header{httpapi.HeaderForwarded: {"elsewhere"}})
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(string(data), "forwarded once") {
			t.Fatalf("proxied request on a follower: %d %s %v", status, data, err)
		}
	})

	t.Run("remove a node through a follower", func(t *testing.T) {
		victim := c.other(leader)
		via := c.other(leader, victim)
		res, err := via.client.RemoveNode(ctxT(t, 5*time.Second), victim.ID())
		if err != nil || res.Removed != victim.ID() || res.Note == "" {
			t.Fatalf("remove: %+v %v", res, err)
		}
		testutil.CheckFor(t, 10*time.Second, func() error {
			if _, ok := leader.Servers()[victim.ID()]; ok {
				return errors.New("still a raft server")
			}
			if _, ok := leader.Member(victim.ID()); ok {
				return errors.New("still in the fsm")
			}
			return nil
		})
		_, err = via.client.RemoveNode(ctxT(t, 5*time.Second), "nobody")
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
	})
}

// TestClientErrors: answers that are not the API's JSON, and unreachable
// nodes.
func TestClientErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
		}
		switch r.URL.EscapedPath() {
		case "/admin/v1/status":
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		case "/admin/v1/nodes":
			_, _ = w.Write([]byte("not json"))
		case "/admin/v1/matches/a%2Fb":
			_, _ = w.Write([]byte(`{"id":"a/b"}`))
		default:
			httpapi.WriteError(w, http.StatusServiceUnavailable, "no_leader", "no raft leader known")
		}
	}))
	defer srv.Close()
	cl, err := NewClient(srv.URL+"/admin/v1", "tok")
	if err != nil || cl.BaseURL != srv.URL {
		t.Fatalf("client %+v %v", cl, err)
	}
	ctx := ctxT(t, 5*time.Second)
	_, err = cl.Status(ctx)
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || ae.Code != "" || errors.Unwrap(err) != nil {
		t.Fatalf("HTML error page: %v", err)
	}
	if _, err := cl.Nodes(ctx); err == nil || errors.As(err, &ae) {
		t.Fatalf("non-JSON answer: %v", err)
	}
	if m, err := cl.Match(ctx, "a/b"); err != nil || m.ID != "a/b" {
		t.Fatalf("escaped id: %+v %v", m, err)
	}
	_, err = cl.TransferLeader(ctx, "")
	wantError(t, err, http.StatusServiceUnavailable, "no_leader", replication.ErrNoLeader)
	if !strings.Contains(err.Error(), "no raft leader known") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("message %q", err)
	}

	srv.Close()
	if _, err := cl.Status(ctx); err == nil || errors.As(err, &ae) {
		t.Fatalf("unreachable node: %v", err)
	}
	if _, err := NewClient("ftp://x", ""); err == nil {
		t.Fatal("ftp accepted")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cl.Status(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
