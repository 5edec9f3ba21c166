//go:build race

package main

// Under `go test -race` the nodes of the system test are built with the race
// detector too.
func init() { raceBuild = true }
