//go:build race

package arena

// The race detector's instrumentation allocates: allocation counts are
// checked only without it.
func init() { raceBuild = true }
