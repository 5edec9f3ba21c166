package ws

import (
	"net"
	"sync/atomic"
	"time"
)

// sockConn is the net.Conn gws sees for one session (a *net.TCPConn or a
// *tls.Conn underneath). gws reads through it; everything the session
// writes goes through its outbound (outbound.go), which sockConn's write
// methods hand over to:
//
//   - Write before the upgrade (gws's 101 response, or its refusal) is a
//     plain write under a deadline. After the upgrade gws writes only the
//     close frames of its own read loop; Write queues them on the outbound.
//   - Close (called by gws right after its close frame) does not close the
//     socket: the outbound half-closes it once the frame is out and keeps it
//     readable for CloseLinger. Closing a socket with unread input makes the
//     kernel send a reset, and a reset can destroy the close frame before
//     the client reads it (e.g. after 1009, when the oversize payload is
//     still in flight). finish, called once the read loop has ended, drains
//     and closes.
//   - A read deadline that fires before the session decided to close is
//     reported to the session (Hello or heartbeat timeout), which queues its
//     own close frame before gws would write its generic one.
type sockConn struct {
	net.Conn
	sess   *session
	out    *outbound
	linger time.Duration

	scan     frameScanner // read goroutine: notices the client's close frame
	upgraded atomic.Bool  // the 101 response was written: frames follow
}

// Read reads from the socket; a deadline that fires while the session is
// open is the session's Hello or heartbeat timeout.
func (c *sockConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan.scan(p[:n])
	if err != nil && c.upgraded.Load() && !c.sess.closing.Load() && isTimeout(err) {
		c.sess.readTimedOut()
	}
	return n, err
}

// Write writes gws's bytes: before the upgrade directly, under a write
// deadline; after it (whole frames, one per call) through the outbound.
func (c *sockConn) Write(p []byte) (int, error) {
	if c.upgraded.Load() {
		return c.out.gwsFrame(p)
	}
	return c.out.handshakeWrite(p)
}

// SetDeadline and SetWriteDeadline keep the outbound's cached write
// deadline true to the socket: gws sets a deadline around the 101 response
// and clears both after it, and a cached deadline the socket no longer has
// would let a write block for good. gws calls them only during the upgrade,
// on the HTTP handler's goroutine.
func (c *sockConn) SetDeadline(t time.Time) error {
	c.out.writeDL = t
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline: see SetDeadline.
func (c *sockConn) SetWriteDeadline(t time.Time) error {
	c.out.writeDL = t
	return c.Conn.SetWriteDeadline(t)
}

// Close stops the session's writes; the outbound half-closes the socket
// after the last queued byte (see the type's doc). It is idempotent.
func (c *sockConn) Close() error {
	c.out.shutdown()
	return nil
}

// finish ends the socket once the read loop has returned and the writer
// has exited (read goroutine; or the HTTP handler for a refused upgrade): the
// outbound writes what is left within the linger and half-closes; then,
// unless the client's close frame has arrived, finish reads and discards
// what the client still sends, until its close frame, EOF or the linger
// deadline; then it closes the descriptor.
func (c *sockConn) finish() {
	drained := c.out.drain()
	if c.linger > 0 {
		if drained {
			// The client has just got our last bytes: give it the linger
			// to answer.
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.linger))
		}
		var buf [512]byte
		for !c.scan.closeSeen {
			n, err := c.Conn.Read(buf[:])
			c.scan.scan(buf[:n])
			if err != nil {
				break
			}
		}
	}
	c.out.closeSocket()
}

// abort closes the socket at once; every blocked read and write returns.
func (c *sockConn) abort() { c.out.abort() }
