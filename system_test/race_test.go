//go:build race

package systemtest

// Under `go test -race` the nodes are built with the race detector too, and
// a race a node reports fails the test that ran it.
func init() { raceBuild = true }
