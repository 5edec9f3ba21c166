//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package replication

import "os"

// sharedLock is a no-op where flock is not available: bbolt's own lock (its
// open timeout) still keeps a second process out, after the check.
func sharedLock(*os.File) error { return nil }
