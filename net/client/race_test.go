//go:build race

package client

// The race detector's instrumentation allocates: allocation counts are
// checked only without it (raceBuild).
func init() { raceBuild = true }
