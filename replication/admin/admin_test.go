package admin

import (
	"context"
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
		_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "x"})
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "x", Game: "arena", Node: "nobody"})
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
		_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "m0", Game: "other"})
		wantError(t, err, http.StatusConflict, "match_exists", replication.ErrMatchExists)
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
			if err != nil || len(ms) != 7 {
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
		if err != nil || info.State != replication.NodeAlive {
			t.Fatalf("undrain: %+v %v", info, err)
		}
		_, err = leader.client.Undrain(ctxT(t, 5*time.Second), victim.ID()) // the leader has applied the first
		wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
		_, err = follower.client.Drain(ctxT(t, 5*time.Second), "nobody")
		wantError(t, err, http.StatusNotFound, "node_not_found", replication.ErrNodeNotFound)
	})

	t.Run("transfer leadership through a follower", func(t *testing.T) {
		res, err := follower.client.TransferLeader(ctxT(t, 5*time.Second), follower.ID())
		if err != nil || res.ElapsedMS < 0 {
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
