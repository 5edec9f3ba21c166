//go:build race

package main

// Under `go test -race` the process tests run a node built with the race
// detector too.
func init() { raceBuild = true }
