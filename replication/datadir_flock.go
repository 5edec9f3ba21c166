//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package replication

import (
	"errors"
	"os"
	"syscall"
)

// sharedLock takes a shared flock on f without waiting. bbolt holds an
// exclusive one on raft.db while a node runs, so this fails with
// errInUse when another process has the file open; it is released when f
// is closed.
func sharedLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errInUse
	}
	return err
}
