package ticksync

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	httppprof "net/http/pprof"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/replication"
)

// mountEndpoints mounts the node's own HTTP endpoints (New); /ws follows at
// Start, once the WebSocket server exists.
func (n *Node) mountEndpoints() {
	n.http.Handle("/healthz", httpserver.Healthz())
	n.http.Handle("/readyz", httpserver.Readyz(n.Ready))
	n.http.Handle(clusterPath, http.HandlerFunc(n.serveCluster))
	n.http.Handle(gamesPath, http.HandlerFunc(n.serveGames))
	n.http.Handle(gamesPath+"/{name}/schema", http.HandlerFunc(n.serveGameSchema))
	n.http.Handle("/metrics", n.adminOnly(n.metricsHandler()))
	n.http.Handle("/admin/v1/", http.HandlerFunc(n.serveAdmin))
	n.http.Handle("/debug/pprof/", n.adminOnly(http.HandlerFunc(httppprof.Index)))
	n.http.Handle("/debug/pprof/cmdline", n.adminOnly(http.HandlerFunc(httppprof.Cmdline)))
	n.http.Handle("/debug/pprof/profile", n.adminOnly(http.HandlerFunc(httppprof.Profile)))
	n.http.Handle("/debug/pprof/symbol", n.adminOnly(http.HandlerFunc(httppprof.Symbol)))
	n.http.Handle("/debug/pprof/trace", n.adminOnly(http.HandlerFunc(httppprof.Trace)))
}

// clusterPath is the public list of the cluster's live nodes for clients.
const clusterPath = "/v1/cluster"

// clusterView is the body of GET /v1/cluster.
type clusterView struct {
	Nodes []clusterNode `json:"nodes"`
}

// clusterNode is one live node: its id and the URL clients use for its
// /ws (its -advertise).
type clusterNode struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// serveCluster is GET /v1/cluster: the client URLs of the nodes this
// node's match directory holds alive, sorted by id, e.g.
//
//	{"nodes":[{"id":"n1","url":"ws://127.0.0.1:7350/ws"},{"id":"n2","url":"ws://127.0.0.1:7360/ws"}]}
//
// A client remembers them and, when its node dies, reconnects through
// another (which redirects it to the match's new owner). Draining and dead
// nodes are left out. The list is what clients already learn one URL at a
// time from Redirect, so it needs no token; a browser may read it across
// origins when its Origin passes the allow-list of /ws (-allowed-origins):
// the answer then carries Access-Control-Allow-Origin with that origin. 503
// before Raft runs.
func (n *Node) serveCluster(w http.ResponseWriter, r *http.Request) {
	if !n.publicRead(w, r) {
		return
	}
	h := w.Header()
	repl := n.rnode.Load()
	if repl == nil {
		http.Error(w, `{"error":"starting"}`, http.StatusServiceUnavailable)
		return
	}
	view := clusterView{Nodes: []clusterNode{}}
	for _, nd := range repl.Nodes() {
		if nd.State == replication.NodeAlive && nd.Advertise != "" {
			view.Nodes = append(view.Nodes, clusterNode{ID: nd.ID, URL: nd.Advertise})
		}
	}
	slices.SortFunc(view.Nodes, func(a, b clusterNode) int { return strings.Compare(a.ID, b.ID) })
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(view)
}

// publicRead starts the answer to a request of a public, read-only
// endpoint (/v1/cluster, /games): a browser may read it across origins
// when its Origin passes the allow-list of /ws (-allowed-origins), a
// preflight is answered, methods other than GET and HEAD are refused. It
// reports whether the caller goes on to answer a GET or HEAD.
func (n *Node) publicRead(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" && n.origins.Allowed(origin, r.Host) {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodOptions:
		// A preflight (a client that adds headers of its own).
		h.Set("Access-Control-Allow-Methods", "GET, HEAD")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
	return false
}

// gamesPath lists the games this node serves (GET /games) and serves each
// one's compiled schema (GET /games/{name}/schema).
const gamesPath = "/games"

// gameView is one entry of GET /games.
type gameView struct {
	Name       string `json:"name"`
	SchemaHash string `json:"schema_hash"` // hex sha256 of the game's schema; "" for a game without one
}

// serveGames is GET /games: the games registered on this node, sorted by
// name, with their schema hashes, e.g.
//
//	[{"name":"arena","schema_hash":""},{"name":"cards","schema_hash":"5f0c…"}]
//
// A client built for a game checks the hash it was built for, or fetches
// the schema (serveGameSchema) to decode a game it was not built for.
// Public and readable across origins like /v1/cluster.
func (n *Node) serveGames(w http.ResponseWriter, r *http.Request) {
	if !n.publicRead(w, r) {
		return
	}
	list := []gameView{}
	for _, name := range n.games.Names() {
		v := gameView{Name: name}
		if gs := n.games.Schema(name); gs != nil {
			v.SchemaHash = gs.Hash()
		}
		list = append(list, v)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	_ = json.NewEncoder(w).Encode(list)
}

// serveGameSchema is GET /games/{name}/schema: the game's compiled schema
// (the .bfbs it was registered with), application/octet-stream, its ETag
// the schema hash in quotes (a schema never changes while the node runs,
// so a client revalidates with If-None-Match and gets 304). 404 with a
// message for an unknown game.
// Public and readable across origins like /v1/cluster.
func (n *Node) serveGameSchema(w http.ResponseWriter, r *http.Request) {
	if !n.publicRead(w, r) {
		return
	}
	name := r.PathValue("name")
	if !n.games.Has(name) {
		http.Error(w, fmt.Sprintf("unknown game %q", name), http.StatusNotFound)
		return
	}
	gs := n.games.Schema(name)
	if gs == nil {
		http.Error(w, fmt.Sprintf("game %q has no schema (its clients are built for it)", name), http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+gs.Hash()+`"`)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(gs.BFBS))
}

// serveAdmin is /admin/v1/: the replication admin API once Raft runs (it
// checks the bearer token itself).
func (n *Node) serveAdmin(w http.ResponseWriter, r *http.Request) {
	h := n.admin.Load()
	if h == nil {
		http.Error(w, `{"error":"starting","code":"shutdown"}`, http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// metricsHandler serves the node's registry in Prometheus' exposition
// format: behind the admin token at /metrics on the main listener, without
// one on the metrics listener (Config.MetricsAddr).
func (n *Node) metricsHandler() http.Handler {
	return promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg})
}

// adminOnly lets a request through only with "Authorization: Bearer
// <admin token>". The token is read per request: without Config's, Start
// loads it before the listener serves.
func (n *Node) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "Bearer " + n.cfg.AdminToken
		if n.cfg.AdminToken == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ticksync-admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
