//go:build race

package ws

// Under `go test -race` the node runs several times slower: latency budgets
// are checked only without the race detector (raceBuild).
func init() { raceBuild = true }
