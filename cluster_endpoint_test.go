package ticksync

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

// getCluster GETs /v1/cluster of the node at addr with an Origin header
// (none when origin is ""), and returns the response and its decoded body.
func getCluster(t *testing.T, method, addr, origin string) (*http.Response, clusterView) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+clusterPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v clusterView
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode == http.StatusOK && method == http.MethodGet {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("GET %s: %v in %q", clusterPath, err, b)
		}
	}
	return resp, v
}

// TestNodeClusterEndpoint: GET /v1/cluster on any node lists every live
// node of the cluster with its client URL (-advertise), sorted by id, and
// answers a browser's cross-origin request with CORS headers only for an
// Origin that the allow-list of /ws admits.
func TestNodeClusterEndpoint(t *testing.T) {
	start := func(c Config) *Node { return startArenaNode(t, c) }
	set := clusterCerts(t, "n1", "n2")
	c1 := withCerts(testConfig(t, "n1", io.Discard), set, "n1")
	c1.Bootstrap = true
	n1 := start(c1)
	testutil.CheckFor(t, 15*time.Second, n1.Ready)
	c2 := withCerts(testConfig(t, "n2", io.Discard), set, "n2")
	c2.Join = n1.APIURL()
	c2.Advertise = "wss://n2.example.com/game/ws" // what clients use, whatever the listener
	c2.AllowedOrigins = []string{"https://game.example.com"}
	n2 := start(c2)
	testutil.CheckFor(t, 20*time.Second, n2.Ready)

	want := fmt.Sprintf(`[{n1 %s} {n2 wss://n2.example.com/game/ws}]`, n1.Advertise())
	for _, n := range []*Node{n1, n2} {
		testutil.CheckFor(t, 10*time.Second, func() error {
			resp, v := getCluster(t, http.MethodGet, n.Addr().String(), "")
			if got := fmt.Sprint(v.Nodes); resp.StatusCode != http.StatusOK || got != want {
				return fmt.Errorf("%s: %d %s, want %s", n.NodeID(), resp.StatusCode, got, want)
			}
			if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				return fmt.Errorf("%s: Content-Type %q, Cache-Control %q", n.NodeID(), ct, cc)
			}
			return nil
		})
	}

	// A draining node takes no new players: it leaves the list.
	req, _ := http.NewRequest(http.MethodPost, n1.APIURL()+"/admin/v1/nodes/n2/drain", nil)
	req.Header.Set("Authorization", "Bearer "+c1.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("drain n2: %s", resp.Status)
	}
	want = fmt.Sprintf(`[{n1 %s}]`, n1.Advertise())
	testutil.CheckFor(t, 10*time.Second, func() error {
		if _, v := getCluster(t, http.MethodGet, n2.Addr().String(), ""); fmt.Sprint(v.Nodes) != want {
			return fmt.Errorf("after draining n2: %v, want %s", v.Nodes, want)
		}
		return nil
	})

	for _, tt := range []struct {
		name   string
		node   *Node
		method string
		origin string
		code   int
		cors   string // Access-Control-Allow-Origin, "" for none
	}{
		{"same origin, no header", n1, http.MethodGet, "", 200, ""},
		{"loopback page, default list", n1, http.MethodGet, "http://127.0.0.1:9", 200, "http://127.0.0.1:9"},
		{"other site, default list", n1, http.MethodGet, "https://evil.example", 200, ""},
		{"listed origin", n2, http.MethodGet, "https://game.example.com", 200, "https://game.example.com"},
		{"loopback page, not listed", n2, http.MethodGet, "http://127.0.0.1:9", 200, ""},
		{"head", n1, http.MethodHead, "http://localhost:8080", 200, "http://localhost:8080"},
		{"preflight", n2, http.MethodOptions, "https://game.example.com", 204, "https://game.example.com"},
		{"post", n1, http.MethodPost, "", 405, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := getCluster(t, tt.method, tt.node.Addr().String(), tt.origin)
			if resp.StatusCode != tt.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.cors {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.cors)
			}
			if v := resp.Header.Get("Vary"); v != "Origin" {
				t.Errorf("Vary %q, want Origin", v)
			}
		})
	}
}

// TestNodeClusterEndpointBeforeStart: before Raft runs the list is 503.
func TestNodeClusterEndpointBeforeStart(t *testing.T) {
	n, err := New(testConfig(t, "n1", io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	n.serveCluster(rec, httptest.NewRequest(http.MethodGet, clusterPath, nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before Start: %d, want 503", rec.Code)
	}
}
