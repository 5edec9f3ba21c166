// Package web serves the browser page of the arena (games/arena): a static
// page (static/index.html) and one JavaScript bundle (static/app.js), built
// by esbuild from the TypeScript under src/ and the @ticksync/client library
// (clients/ts/src) and committed, so that the node serves a playable page
// without npm.
//
// Data flow: the node's HTTP mux mounts Handler at "/". The browser loads
// index.html and app.js, which plays the arena through @ticksync/client:
// it fetches the arena's compiled schema (GET /games/arena/schema), joins
// over ws(s)://<same host>/ws, sends the keyboard and pointer as values of
// the schema's Input table (move_x, move_y, aim, buttons; the library
// builds the buffer) once per tick, and draws the generic worlds the
// library decodes from the snapshots, reading entities by kind (Avatar,
// Npc) and fields by name (x, y, vx, vy, angle, hp). Redirects, resume,
// the cluster's node list (GET /v1/cluster), stalls and failover are the
// library's; the page shows what it sees in a HUD and in
// window.__ticksync.
//
// `go generate ./games/arena/web` runs npm ci and the deterministic esbuild
// build (build.mjs); CI checks that the committed bundle equals a fresh
// build. README.md in this folder has the commands.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"time"
)

//go:generate npm ci --no-audit --no-fund --loglevel=error
//go:generate node build.mjs

//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Headers every response of Handler carries. The page talks to ws: and wss:
// endpoints on any host because a Redirect may send it to another node, and
// fetches the node list (GET /v1/cluster) from whichever node it plays on.
const (
	csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data:; connect-src 'self' ws: wss: http: https:; base-uri 'none'; frame-ancestors 'none'"
	// The file names are not fingerprinted, so browsers revalidate each load
	// and get a 304 while the ETag (a hash of the content) is unchanged.
	cacheControl = "no-cache"
)

// Handler returns the http.Handler for the demo client: GET or HEAD of "/"
// or "/index.html" serves the page, "/app.js" the bundle; any other path is
// 404 and any other method 405. It is safe for concurrent use.
func Handler() http.Handler {
	page := mustAsset("static/index.html", "text/html; charset=utf-8")
	assets := map[string]*asset{
		"/":           page,
		"/index.html": page,
		"/app.js":     mustAsset("static/app.js", "text/javascript; charset=utf-8"),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		// ServeContent answers If-None-Match with 304, HEAD without a body,
		// and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

func mustAsset(name, contentType string) *asset {
	body, err := fs.ReadFile(static, name)
	if err != nil {
		// Unreachable: the files are embedded at build time.
		panic("web: embedded " + name + " missing: " + err.Error())
	}
	sum := sha256.Sum256(body)
	return &asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}
