package testutil

import (
	"testing"
	"time"
)

// pollEvery is how often CheckFor and CheckTrue call their condition.
const pollEvery = 5 * time.Millisecond

// CheckFor calls fn every few milliseconds until it returns nil; if timeout
// passes first, the test fails with fn's last error.
func CheckFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(pollEvery)
	}
}

// CheckTrue is CheckFor for a condition without an error to report.
func CheckTrue(t testing.TB, timeout time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(pollEvery)
	}
}
