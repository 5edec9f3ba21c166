//go:build race

package sim

// The race detector's instrumentation allocates in gamedelta's encoder:
// generic allocation counts are checked only without it (raceBuild).
func init() { raceBuild = true }
