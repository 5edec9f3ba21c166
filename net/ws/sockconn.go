package ws

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sockConn is the net.Conn gws sees for one session (a *net.TCPConn or a
// *tls.Conn underneath). It adds what gws leaves to its caller:
//
//   - Every Write runs under a write deadline between
//     Config.SlowConsumerAfter and 1.25 times it, so no write, whichever
//     goroutine makes it, can block much longer than that; a write that hits
//     it marks the session a slow consumer. The deadline is moved only when
//     less than SlowConsumerAfter is left (so at most every quarter of it):
//     each move re-arms a runtime timer, which once per snapshot was
//     measurable.
//   - After a timed-out write on plain TCP, the frame it cut is completed and
//     a 4010 close frame follows, both within CloseLinger, so that a client
//     that reads again sees a valid stream that ends with 4010 (a cut frame
//     followed by nothing would be all it could see otherwise). TLS cannot do
//     this: crypto/tls refuses every write after a timeout.
//   - A read deadline that fires before the session decided to close is
//     reported to the session (Hello or heartbeat timeout), which writes its
//     own close frame before gws would write its generic one.
//   - Close (called by gws right after it wrote a close frame) does not
//     close the socket: it half-closes it and keeps it readable for
//     CloseLinger. Closing a socket with unread input makes the kernel send a
//     reset, and a reset can destroy the close frame before the client reads
//     it (e.g. after 1009, when the oversize payload is still in flight).
//     finish, called once the read loop has ended, drains and closes.
//   - On plain TCP, writes after the upgrade never block: see nbwrite.go.
//     Bytes the socket does not take at once wait in a backlog that the
//     writer goroutine drains, and Close half-closes only after them.
type sockConn struct {
	net.Conn
	sess         *session
	writeTimeout time.Duration
	linger       time.Duration
	isTLS        bool

	scan frameScanner // read goroutine: notices the client's close frame

	// writeDL is the write deadline in force. Writes are serialised (gws
	// holds its connection's write lock around each one; the 101 response is
	// written before any frame), so only the writing goroutine touches it.
	writeDL time.Time

	upgraded atomic.Bool // the 101 response was written: frames follow
	closing  atomic.Bool // Close was called: half-closed, lingering
	dead     atomic.Bool // a write timed out: nothing more may be written

	// Direct writes (nbwrite.go); raw is nil on TLS or when disabled.
	raw          syscall.RawConn
	backlog      atomic.Bool // over is non-empty or being drained
	wmu          sync.Mutex  // guards the fields below; held for non-blocking work only
	over         []byte      // bytes accepted but not yet written, in order
	spare        []byte      // the drained buffer, reused
	draining     bool        // drain has taken a chunk of over and is writing it
	lastWasClose bool        // the last frame accepted was a close frame
	closeSent    bool        // a close frame was accepted: no frame may follow
	halfClosed   bool        // CloseWrite was done (or is being done)
	frame        []byte      // writeBinary's frame buffer
	rawFn        func(fd uintptr) bool
	rawBuf       []byte // tryWrite's argument and results, for rawFn
	rawN         int
	rawErr       error
}

// Read reads from the socket; a deadline that fires while the session is
// open is the session's Hello or heartbeat timeout.
func (c *sockConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan.scan(p[:n])
	if err != nil && c.upgraded.Load() && !c.closing.Load() && isTimeout(err) {
		c.sess.readTimedOut()
	}
	return n, err
}

// Write writes p (gws writes one whole frame per call) with at least
// writeTimeout, at most 1.25·writeTimeout, of write deadline ahead.
func (c *sockConn) Write(p []byte) (int, error) {
	if c.dead.Load() {
		return 0, net.ErrClosed
	}
	if c.direct() && c.upgraded.Load() {
		n, err := c.writeDirect(p)
		if errors.Is(err, errBacklogFull) {
			c.sess.slowConsumer()
			c.dead.Store(true)
		}
		return n, err
	}
	c.moveWriteDeadline()
	n, err := c.Conn.Write(p)
	if err != nil && c.upgraded.Load() && isTimeout(err) {
		c.writeTimedOut(p, n)
	}
	return n, err
}

// SetDeadline and SetWriteDeadline keep writeDL true to the socket: gws
// sets a deadline around the 101 response and clears both after it, and a
// cached deadline the socket no longer has would let a write block for
// good. They are called only between writes (the upgrade).
func (c *sockConn) SetDeadline(t time.Time) error {
	c.writeDL = t
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline: see SetDeadline.
func (c *sockConn) SetWriteDeadline(t time.Time) error {
	c.writeDL = t
	return c.Conn.SetWriteDeadline(t)
}

// writeTimedOut handles a write that hit its deadline after n bytes of
// frame p.
func (c *sockConn) writeTimedOut(p []byte, n int) {
	c.writeTimedOutChunk(p, n, len(p) > 0 && p[0]&0x0f == 0x8)
}

// writeTimedOutChunk handles a write of whole frames p that hit its
// deadline after n bytes; isClose says the last of them is a close frame.
func (c *sockConn) writeTimedOutChunk(p []byte, n int, isClose bool) {
	if !c.dead.CompareAndSwap(false, true) {
		return
	}
	if !isClose {
		c.sess.slowConsumer()
	}
	if c.isTLS || c.linger <= 0 {
		return
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.linger))
	if n < len(p) {
		if _, err := c.Conn.Write(p[n:]); err != nil {
			return
		}
	}
	if !isClose {
		_, _ = c.Conn.Write(closeFrame(CloseSlowConsumer, reasonSlowConsumer))
	}
}

// Close half-closes the socket and lets it linger readable; see the type's
// doc. It is idempotent.
func (c *sockConn) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		return nil
	}
	if c.linger <= 0 {
		return c.Conn.Close()
	}
	err := c.Conn.SetReadDeadline(time.Now().Add(c.linger))
	if c.direct() {
		c.wmu.Lock()
		held := c.draining || len(c.over) > 0
		if !held {
			c.halfClosed = true
		}
		c.wmu.Unlock()
		if held {
			// drain half-closes after the last held-back byte.
			c.sess.signal()
			return err
		}
	}
	c.closeWrite()
	return err
}

// closeWrite sends FIN: the client reads to the end of our stream.
func (c *sockConn) closeWrite() {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// finish ends the socket once the read loop has returned (read goroutine):
// unless the client's close frame has arrived, it reads and discards what
// the client still sends, until its close frame, EOF or the linger
// deadline; then it closes the descriptor.
func (c *sockConn) finish() {
	_ = c.Close()
	if c.linger > 0 && c.direct() && c.backlogged() && !c.dead.Load() {
		// The writer has exited: what it held back goes now, within the
		// linger.
		c.writeDL = time.Now().Add(c.linger)
		_ = c.Conn.SetWriteDeadline(c.writeDL)
		c.writeTimeout = 0 // moveWriteDeadline keeps this deadline
		if c.drain() == nil {
			// The client has just got our close frame: give it the linger
			// to answer before the descriptor is closed.
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.linger))
		}
	}
	if c.linger > 0 {
		var buf [512]byte
		for !c.scan.closeSeen {
			n, err := c.Conn.Read(buf[:])
			c.scan.scan(buf[:n])
			if err != nil {
				break
			}
		}
	}
	_ = c.Conn.Close()
}

// abort closes the descriptor at once; every blocked read and write returns.
func (c *sockConn) abort() {
	c.dead.Store(true)
	c.closing.Store(true)
	_ = c.Conn.Close()
}

// closeFrame builds an unmasked (server) close frame.
func closeFrame(code CloseCode, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	f := appendFrameHeader(make([]byte, 0, 4+len(reason)), 0x88, 2+len(reason))
	f = append(f, byte(code>>8), byte(code))
	return append(f, reason...)
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
