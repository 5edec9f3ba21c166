package ws

import (
	"net"
	"testing"
	"time"
)

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn // nil: only the methods below are used
	writeDL  time.Time
	sets     int
}

func (c *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.writeDL, c.sets = t, c.sets+1
	return nil
}
func (c *deadlineConn) SetDeadline(t time.Time) error { return c.SetWriteDeadline(t) }

// TestSockConnWriteDeadline: every blocking write runs with at least the
// slow-consumer timeout of deadline ahead, the deadline moves at most every
// quarter of it, and a deadline cleared through SetDeadline (gws does after
// the 101 response) is set again by the next write.
func TestSockConnWriteDeadline(t *testing.T) {
	const timeout = 400 * time.Millisecond
	raw := &deadlineConn{}
	o := &outbound{conn: raw, timeout: timeout}
	c := &sockConn{Conn: raw, out: o}
	write := func() {
		t.Helper()
		if _, err := c.Write([]byte{0x82, 0}); err != nil {
			t.Fatal(err)
		}
		if left := time.Until(raw.writeDL); left < timeout-10*time.Millisecond || left > timeout+timeout/4 {
			t.Fatalf("write with %v of deadline left, want %v..%v", left, timeout, timeout+timeout/4)
		}
	}
	write()
	if raw.sets != 1 {
		t.Fatalf("first write: %d deadline sets, want 1", raw.sets)
	}
	for range 10 {
		write()
	}
	if raw.sets != 1 {
		t.Errorf("back-to-back writes moved the deadline %d times, want 0", raw.sets-1)
	}
	// The upgrade clears the deadline: the next write must set it again.
	_ = c.SetDeadline(time.Time{})
	sets := raw.sets
	write()
	if raw.sets != sets+1 {
		t.Errorf("write after a cleared deadline: %d sets, want 1", raw.sets-sets)
	}
	// Once less than writeTimeout is left, the next write moves it.
	o.writeDL = time.Now().Add(timeout - time.Millisecond)
	sets = raw.sets
	write()
	if raw.sets != sets+1 {
		t.Errorf("write with less than the timeout left: %d sets, want 1", raw.sets-sets)
	}
}
