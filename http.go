package ticksync

import (
	"crypto/subtle"
	"net/http"
	httppprof "net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ticksync/ticksync/net/httpserver"
)

// mountEndpoints mounts the node's own HTTP endpoints (New); /ws follows at
// Start, once the WebSocket server exists.
func (n *Node) mountEndpoints() {
	n.http.Handle("/healthz", httpserver.Healthz())
	n.http.Handle("/readyz", httpserver.Readyz(n.Ready))
	n.http.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
	n.http.Handle("/admin/v1/", http.HandlerFunc(n.serveAdmin))
	n.http.Handle("/debug/pprof/", n.adminOnly(http.HandlerFunc(httppprof.Index)))
	n.http.Handle("/debug/pprof/cmdline", n.adminOnly(http.HandlerFunc(httppprof.Cmdline)))
	n.http.Handle("/debug/pprof/profile", n.adminOnly(http.HandlerFunc(httppprof.Profile)))
	n.http.Handle("/debug/pprof/symbol", n.adminOnly(http.HandlerFunc(httppprof.Symbol)))
	n.http.Handle("/debug/pprof/trace", n.adminOnly(http.HandlerFunc(httppprof.Trace)))
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

// adminOnly lets a request through only with "Authorization: Bearer
// <admin token>".
func (n *Node) adminOnly(h http.Handler) http.Handler {
	want := []byte("Bearer " + n.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ticksync-admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
