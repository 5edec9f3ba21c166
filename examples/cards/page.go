package main

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:generate sh -c "cd ../../clients/ts && npm ci --no-audit --no-fund --silent && node build.mjs && cp build/lib/index.js ../../examples/cards/web/ticksync-client.js"

// web holds the browser page: index.html, its script (cards.js) and the
// @ticksync/client bundle it imports (ticksync-client.js, built from
// clients/ts by the go:generate line above).
//
//go:embed web
var web embed.FS

// page serves the browser page at "/" and its files beside it.
func page() http.Handler {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // web is embedded above: it exists
	}
	return http.FileServerFS(sub)
}
