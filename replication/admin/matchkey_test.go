package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
)

// TestMatchKey: an operator creates a match with a matchmaking key through
// any node; the rows of the list and of the match show it (and omit it
// when there is none); an oversized key is refused, creating nothing.
func TestMatchKey(t *testing.T) {
	c := startCluster(t, 2)
	c.waitConverged(t)
	leader := c.waitLeader(t)
	follower := c.other(leader)
	m, err := follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "keyed", Game: "arena", Key: `mode=1 map="dust"`})
	if err != nil || m.Key != `mode=1 map="dust"` {
		t.Fatalf("create with a key: %+v %v", m, err)
	}
	if _, err := follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "plain", Game: "arena"}); err != nil {
		t.Fatal(err)
	}
	ms, err := leader.client.Matches(ctxT(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, m := range ms {
		keys[m.ID] = m.Key
	}
	if len(keys) != 2 || keys["keyed"] != `mode=1 map="dust"` || keys["plain"] != "" {
		t.Fatalf("listed keys %q", keys)
	}
	d, err := leader.client.Match(ctxT(t, 5*time.Second), "keyed")
	if err != nil || d.Key != `mode=1 map="dust"` {
		t.Fatalf("match row: %+v %v", d, err)
	}
	_, err = follower.client.CreateMatch(ctxT(t, 5*time.Second), CreateMatchRequest{ID: "huge", Game: "arena", Key: strings.Repeat("k", command.MaxMatchKeyLen+1)})
	wantError(t, err, http.StatusBadRequest, "bad_request", replication.ErrBadRequest)
	if _, ok := leader.Lookup("huge"); ok {
		t.Fatal("a match with an oversized key was created")
	}
}
