package ticksync

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/tools/certs"
)

// clusterCerts writes a dev certificate set for ids and returns it.
func clusterCerts(t *testing.T, ids ...string) *certs.Result {
	t.Helper()
	cfg := certs.DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "certs")
	cfg.Nodes = ids
	res, err := certs.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// withCerts gives c node id's files of set.
func withCerts(c Config, set *certs.Result, id string) Config {
	c.ClusterCA = set.CACert
	c.ClusterCert = filepath.Join(filepath.Dir(set.CACert), certs.CertFile(id))
	c.ClusterKey = filepath.Join(filepath.Dir(set.CACert), certs.KeyFile(id))
	return c
}

// TestClusterFlags: the cluster flags (and their variables) load the
// certificates; the node id defaults to the certificate's and may not
// differ from it; errors name the flags and the files; a -join without
// certificates needs -insecure-cluster, and says what to do.
func TestClusterFlags(t *testing.T) {
	set := clusterCerts(t, "n1")
	dir := filepath.Dir(set.CACert)
	ca, crt, key := set.CACert, filepath.Join(dir, "n1.crt"), filepath.Join(dir, "n1.key")

	c, err := parseConfig(nil, env(map[string]string{
		"TICKSYNC_CLUSTER_CA": ca, "TICKSYNC_CLUSTER_CERT": crt, "TICKSYNC_CLUSTER_KEY": key,
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "n1" || c.ClusterCA != ca || c.ClusterCert != crt || c.ClusterKey != key {
		t.Fatalf("from the environment: %+v", c)
	}
	if c, err := parseConfig([]string{"-node-id", "n1", "-cluster-ca", ca, "-cluster-cert", crt, "-cluster-key", key,
		"-join", "http://n2:7350", "-admin-token", "t"}, env(nil), io.Discard); err != nil || c.NodeID != "n1" {
		t.Fatalf("the certificate's own id: %v", err)
	}
	if c, err := parseConfig([]string{"-join", "http://n2:7350", "-admin-token", "t", "-insecure-cluster"}, env(nil), io.Discard); err != nil || !c.InsecureCluster {
		t.Fatalf("-join with -insecure-cluster: %v", err)
	}

	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"-cluster-ca", ca}, []string{"-cluster-ca, -cluster-cert, -cluster-key: give all three or none"}},
		{[]string{"-node-id", "n2", "-cluster-ca", ca, "-cluster-cert", crt, "-cluster-key", key},
			[]string{`-node-id "n2"`, crt, `node "n1"`}},
		{[]string{"-cluster-ca", ca, "-cluster-cert", filepath.Join(dir, "missing.crt"), "-cluster-key", key},
			[]string{"-cluster-cert", "missing.crt"}},
		{[]string{"-cluster-ca", crt, "-cluster-cert", crt, "-cluster-key", key}, []string{"-cluster-ca", crt, "not a CA"}},
		{[]string{"-cluster-ca", ca, "-cluster-cert", crt, "-cluster-key", key, "-insecure-cluster"}, []string{"-insecure-cluster"}},
		{[]string{"-join", "http://n2:7350", "-admin-token", "t"},
			[]string{"-join", "ticksync certs -out DIR -nodes n1,n2,n3", "-cluster-ca DIR/ca.crt", "-insecure-cluster"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseConfig(tt.args, env(nil), io.Discard)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("err %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestClusterPortRefusesPlainRaft: a node started with cluster
// certificates serves Raft on mutual TLS only. A raw AppendEntries of a
// later term, sent in plain TCP by a process without a certificate, fails
// (the handshake does), changes nothing, and is counted in
// ticksync_cluster_tls_handshake_failures_total. The node-to-node
// endpoints on its HTTP listener only point at the cluster port.
func TestClusterPortRefusesPlainRaft(t *testing.T) {
	set := clusterCerts(t, "n1")
	logs := &testutil.SyncBuffer{}
	c := withCerts(testConfig(t, "", logs), set, "n1")
	n, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := arena.Register(n.Games()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
	})
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, 15*time.Second, n.Ready)
	if n.NodeID() != "n1" {
		t.Fatalf("node id %q, want the certificate's n1", n.NodeID())
	}
	raftAddr := n.repl.RaftAddr()
	term := func() uint64 {
		v, err := strconv.ParseUint(n.repl.Stats()["term"], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := term()

	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(trans.LocalAddr())},
		Term:      before + 1,
		Entries: []*raft.Log{{Index: 1 << 20, Term: before + 1, Type: raft.LogCommand,
			Data: command.Encode(&command.CreateMatch{ID: "forged", Game: "arena"})}},
		LeaderCommitIndex: 1 << 20,
	}
	var resp raft.AppendEntriesResponse
	if err := trans.AppendEntries("n1", raft.ServerAddress(raftAddr), req, &resp); err == nil {
		t.Fatalf("a plain-TCP AppendEntries was answered: %+v", resp)
	}
	want := `ticksync_cluster_tls_handshake_failures_total{direction="inbound",node="n1"} `
	testutil.CheckFor(t, 10*time.Second, func() error {
		_, body := getAuth(t, "http://"+n.Addr().String()+"/metrics", n.cfg.AdminToken)
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, want); ok && v != "0" {
				return nil
			}
		}
		return fmt.Errorf("no failed inbound handshake counted in /metrics (want %q)", want)
	})
	if after := term(); after != before || !n.repl.IsLeader() {
		t.Fatalf("term %d (leader %v) after the forgery, was %d", after, n.repl.IsLeader(), before)
	}
	if _, ok := n.repl.Lookup("forged"); ok {
		t.Fatal("forged match exists")
	}

	// The node-to-node API is not served on the HTTP listener, token or not.
	hb, err := http.NewRequest(http.MethodPost, n.APIURL()+"/admin/v1/raft/heartbeat", strings.NewReader(`{"id":"n1"}`))
	if err != nil {
		t.Fatal(err)
	}
	hb.Header.Set("Authorization", "Bearer "+c.AdminToken)
	r, err := http.DefaultClient.Do(hb)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(string(b), raftAddr) {
		t.Fatalf("heartbeat on the HTTP listener: %d %s", r.StatusCode, b)
	}
	if strings.Contains(logs.String(), "insecure") {
		t.Fatalf("a node with certificates warned about an insecure cluster: %s", logs.String())
	}
}

// TestClusterOverTLSInProcess: two embedded nodes with certificates form a
// cluster (the join goes to the HTTP listener, which points at the cluster
// port), a player is redirected between them (the owner probe goes over the
// cluster port), and an operator request proxied to the leader works.
func TestClusterOverTLSInProcess(t *testing.T) {
	set := clusterCerts(t, "n1", "n2")
	start := func(c Config) *Node { return startArenaNode(t, c) }
	c1 := withCerts(testConfig(t, "n1", io.Discard), set, "n1")
	c1.Bootstrap = true
	n1 := start(c1)
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	c2 := withCerts(testConfig(t, "n2", io.Discard), set, "n2")
	c2.Join = n1.APIURL()
	n2 := start(c2)
	testutil.CheckFor(t, 20*time.Second, n2.Ready)
	// An operator request on the follower that only the leader serves:
	// proxied to it over the cluster port.
	follower := n2
	if n2.repl.IsLeader() {
		follower = n1
	}
	req, _ := http.NewRequest(http.MethodPost, follower.APIURL()+"/admin/v1/transfer-leader", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+c1.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"leader"`) {
		t.Fatalf("transfer-leader through the follower: %d %s", resp.StatusCode, b)
	}
	// The owner probe: n2 knows whether n1 is ready only over the cluster port.
	testutil.CheckFor(t, 10*time.Second, func() error {
		base, hc, err := n2.repl.PeerAPI("n1")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(base, "https://") {
			return fmt.Errorf("n1 reached at %s", base)
		}
		r, err := hc.Get(base + "/readyz")
		if err != nil {
			return err
		}
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("n1 /readyz over the cluster port: %s", r.Status)
		}
		return nil
	})
}
