package replication

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// TestDialsLeaveFromRaftIP: a node bound to 127.0.0.11 dials Raft peers
// (and, on loopback, the admin API of peers) from 127.0.0.11, so that a
// proxy in front of a peer sees which node is calling (system_test cuts
// links by source IP).
func TestDialsLeaveFromRaftIP(t *testing.T) {
	s, err := listenRaft("127.0.0.11:0", "")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.11 (not Linux?): %v", err)
	}
	defer s.Close()
	peer, err := net.Listen("tcp", "127.0.0.12:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.12: %v", err)
	}
	defer peer.Close()
	accepted := make(chan net.Addr, 1)
	go func() {
		c, err := peer.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c.RemoteAddr()
		_ = c.Close()
	}()
	c, err := s.Dial(raft.ServerAddress(peer.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if a, ok := (<-accepted).(*net.TCPAddr); !ok || a.IP.String() != "127.0.0.11" {
		t.Fatalf("raft dial came from %v, want 127.0.0.11", a)
	}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		_, _ = w.Write([]byte(host))
	}))
	srv.Listener.Close()
	if srv.Listener, err = net.Listen("tcp", "127.0.0.12:0"); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	hc := defaultHTTPClient(sourceIP("127.0.0.11:7351"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, body, err := httpapi.Do(ctx, hc, http.MethodGet, srv.URL, "", nil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != "127.0.0.11" {
		t.Fatalf("http call came from %q, want 127.0.0.11", body)
	}
}

func TestSourceFor(t *testing.T) {
	lo := sourceIP("127.0.0.11:7351")
	lan := sourceIP("10.0.0.1:7351")
	for _, tc := range []struct {
		local *net.TCPAddr
		addr  string
		bind  bool
	}{
		{lo, "127.0.0.12:7351", true},
		{lo, "10.0.0.2:7351", false},   // loopback source cannot reach another host
		{lan, "127.0.0.1:7351", false}, // nor the reverse
		{lan, "10.0.0.2:7351", true},   // same kind: leave from the Raft interface
		{lo, "[::1]:7351", false},      // other family
		{lo, "localhost:7351", false},  // a name: let the kernel pick
		{sourceIP("0.0.0.0:7351"), "127.0.0.12:1", false},
		{sourceIP(":7351"), "127.0.0.12:1", false},
	} {
		got := sourceFor(tc.local, tc.addr)
		if (got != nil) != tc.bind {
			t.Errorf("sourceFor(%v, %s) = %v, want bind %v", tc.local, tc.addr, got, tc.bind)
		}
	}
}
