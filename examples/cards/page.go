package main

import (
	"embed"
	"io/fs"
	"net/http"
)

// web holds the browser page: index.html and its script.
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
