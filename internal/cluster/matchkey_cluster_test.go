package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync"
	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/sim"
)

// This file runs matchmaking on a match key across a real cluster: two
// nodes in this process (Raft, HTTP, WebSocket on loopback), the tag game
// of game/testdata (its join payload's mode is a (match_key) field) and
// real clients (net/client) that follow the nodes' Redirects.

const (
	tagGame    = "tag"
	adminToken = "matchkey-cluster-admin-token"
)

// tagTable is a tag match: it seats anyone and shows nobody (the test
// looks at where players are seated, not at what they see).
type tagTable struct{}

func (tagTable) Join(p uint32) (uint32, error)           { return p, nil }
func (tagTable) Leave(uint32)                            {}
func (tagTable) Step(uint32, []sim.PlayerInput)          {}
func (tagTable) WriteState(*gamedelta.World)             {}
func (tagTable) MarshalState(dst []byte) ([]byte, error) { return dst, nil }
func (tagTable) UnmarshalState([]byte) error             { return nil }

func newTagTable(int64) game.Game { return tagTable{} }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startTagNode starts a node with only the tag game registered; with
// join set, it joins the cluster of the node at that API URL, else it
// forms one. It shuts down when the test ends.
func startTagNode(t *testing.T, id, join string, bfbs []byte, logs *testutil.SyncBuffer) *ticksync.Node {
	t.Helper()
	c := ticksync.DefaultConfig()
	c.NodeID = id
	c.HTTPAddr = "127.0.0.1:0"
	c.RaftAddr = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.AdminToken = adminToken
	c.InsecureCluster = true
	c.Bootstrap = join == ""
	c.Join = join
	c.LogFormat = "json"
	log := c.NewLogger(logs)
	c.Logger = &log
	n, err := ticksync.New(c)
	must(t, err)
	must(t, n.Games().RegisterSpec(game.Spec{Name: tagGame, New: newTagTable, Schema: bfbs}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	must(t, n.Start())
	testutil.CheckFor(t, 20*time.Second, n.Ready)
	return n
}

// tagJoin is a join payload of the tag game with mode.
func tagJoin(s *gameschema.Schema, mode int64) []byte {
	var v gameschema.Values
	j := s.Join
	v.Reset(j)
	v.SetDefaults()
	v.SetInt(j.Field("mode").Index, mode)
	b := flatbuffers.NewBuilder(64)
	b.Finish(j.Build(b, &v))
	return b.FinishedBytes()
}

// TestClusterMatchKey: matchmaking holds the join payload's match key
// across the cluster. A player who joins through a node that runs no
// match of its key is sent to another node's match of the same key; a
// player of another key gets a new match, never that one; and a match
// moved to another node keeps its key there.
func TestClusterMatchKey(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node logs:\n%s", logs)
		}
	})
	bfbs, err := os.ReadFile(filepath.Join("..", "..", "game", "testdata", "tag.bfbs"))
	must(t, err)
	s, err := gameschema.Load(bfbs)
	must(t, err)
	codec, err := client.GameCodec(s)
	must(t, err)

	n1 := startTagNode(t, "n1", "", bfbs, logs)
	n2 := startTagNode(t, "n2", n1.APIURL(), bfbs, logs)
	nodes := map[string]*ticksync.Node{"n1": n1, "n2": n2}
	other := func(id string) *ticksync.Node {
		if id == "n1" {
			return n2
		}
		return n1
	}
	opsOf := func(n *ticksync.Node) *admin.Client {
		c, err := admin.NewClient(n.APIURL(), adminToken)
		must(t, err)
		return c
	}
	ops := opsOf(n1)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// play seats one player of mode through the node at url and returns
	// where it sits (the node that sent its Welcome, and the match).
	play := func(name string, through *ticksync.Node, mode int64) *client.Client {
		t.Helper()
		cfg := client.DefaultConfig()
		cfg.URLs = []string{through.Advertise()}
		cfg.Game, cfg.Name = tagGame, name
		cfg.Schema, cfg.Codec = s, codec
		cfg.JoinPayload = tagJoin(s, mode)
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("%s (mode %d) through %s: %v", name, mode, through.NodeID(), err)
		}
		t.Cleanup(c.Stop)
		w := c.Welcome()
		t.Logf("%s (mode %d) joined through %s: match %s on %s", name, mode, through.NodeID(), w.MatchID, w.NodeID)
		return c
	}
	keys := func() map[string]string { // match id → key, by the directory
		t.Helper()
		ms, err := ops.Matches(ctx)
		must(t, err)
		out := map[string]string{}
		for _, m := range ms {
			out[m.ID] = m.Key
		}
		return out
	}

	// The first mode-1 player makes a match of key mode=1 somewhere.
	first := play("first", n2, 1).Welcome()
	one, oneNode := first.MatchID, first.NodeID
	if nodes[oneNode] == nil {
		t.Fatalf("first player seated on %q", oneNode)
	}
	// Through the node that does not run it: seated in it, on its owner.
	w := play("second", other(oneNode), 1).Welcome()
	if w.MatchID != one || w.NodeID != oneNode {
		t.Fatalf("a mode-1 player through %s got match %s on %s; want %s on %s", other(oneNode).NodeID(), w.MatchID, w.NodeID, one, oneNode)
	}
	// Another key, through either node: a new match, never the mode-1 one.
	w = play("third", other(oneNode), 2).Welcome()
	two, twoNode := w.MatchID, w.NodeID
	if two == one {
		t.Fatalf("a mode-2 player was seated in the mode-1 match %s", one)
	}
	w = play("fourth", nodes[oneNode], 2).Welcome()
	if w.MatchID == one {
		t.Fatalf("a mode-2 player through %s was seated in the mode-1 match there", oneNode)
	}
	if twoNode != oneNode {
		// The mode-2 match runs on the other node: reached from here too.
		if w.MatchID != two || w.NodeID != twoNode {
			t.Fatalf("a mode-2 player through %s got match %s on %s; want %s on %s", oneNode, w.MatchID, w.NodeID, two, twoNode)
		}
	} else if w.MatchID != two {
		t.Fatalf("a mode-2 player through %s got match %s; want %s", oneNode, w.MatchID, two)
	}
	if k := keys(); k[one] != "mode=1" || k[two] != "mode=2" || len(k) != 2 {
		t.Fatalf("the directory's matches and keys: %v; want %s: mode=1, %s: mode=2", k, one, two)
	}

	// Moved to the other node, the mode-1 match keeps its key there: a
	// mode-1 player joining through either node is seated in it.
	dest := other(oneNode).NodeID()
	_, err = ops.Move(ctx, one, dest)
	must(t, err)
	testutil.CheckFor(t, 20*time.Second, func() error {
		ms, err := opsOf(nodes[dest]).Matches(ctx) // Tick: running there
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.ID == one && m.Owner == dest && m.Tick != nil {
				return nil
			}
		}
		return fmt.Errorf("match %s not running on %s yet: %+v", one, dest, ms)
	})
	for _, through := range []*ticksync.Node{n1, n2} {
		w := play("after the move via "+through.NodeID(), through, 1).Welcome()
		if w.MatchID != one || w.NodeID != dest {
			t.Fatalf("after the move, a mode-1 player through %s got match %s on %s; want %s on %s", through.NodeID(), w.MatchID, w.NodeID, one, dest)
		}
	}
	if k := keys(); k[one] != "mode=1" || len(k) != 2 {
		t.Fatalf("after the move, the directory's matches and keys: %v", k)
	}
}
