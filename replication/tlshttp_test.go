package replication

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ticksync/ticksync/tools/certs"
)

// TestClusterHTTPClient: node-to-node HTTP over mutual TLS reaches the node
// it means, which reads the caller's id from the connection. A request meant
// for another node is not sent at all (the client refuses the server in the
// handshake, before writing its headers, a token for instance); a request
// from a client of another CA never reaches the handler.
func TestClusterHTTPClient(t *testing.T) {
	set := testCerts(t, "n1", "n2")
	stranger := testCerts(t, "n2")["n2"]
	var calls atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		id, err := certs.PeerNodeID(*r.TLS)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		_, _ = io.WriteString(w, id)
	}))
	srv.TLS = set["n1"].ServerConfig()
	srv.StartTLS()
	defer srv.Close()

	get := func(c *http.Client) (string, error) {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer secret")
		resp, err := c.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	body, err := get(NewClusterHTTPClient(set["n2"].ClientConfig("n1"), "127.0.0.1:0"))
	if err != nil || body != "n2" {
		t.Fatalf("n2 → n1: %q, %v; want the server to see n2", body, err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls, want 1", calls.Load())
	}

	if _, err := get(NewClusterHTTPClient(set["n2"].ClientConfig("n3"), "127.0.0.1:0")); !errors.Is(err, certs.ErrWrongNode) {
		t.Fatalf("request meant for n3 answered by n1: want ErrWrongNode, got %v", err)
	}
	bold := stranger.ClientConfig("")
	bold.VerifyConnection = nil // trusts any server, to reach the server's check
	if body, err := get(NewClusterHTTPClient(bold, "127.0.0.1:0")); err == nil {
		t.Fatalf("client of another CA served: %q", body)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls reached the handler, want 1", calls.Load())
	}
}
