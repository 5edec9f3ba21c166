package ws

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// The holder's writes (outbound.go): the only code that writes to a
// session's socket. Each method runs on the goroutine that holds the socket,
// without the lock.
//
// Deadlines. Every blocking write runs with at least Config.SlowConsumerAfter
// of write deadline ahead and at most 1.25 times it; the deadline is moved
// only when less than SlowConsumerAfter is left, because each move re-arms a
// runtime timer (once per snapshot, 30,000 times a second at 1,000 players,
// it showed in profiles). A direct socket clears the deadline after every
// blocking write: RawConn.Write fails once a deadline has passed, so a stale
// one would cut the session later, however well its client reads.

// send writes all of o.buf (holder: the writer goroutine). On a direct
// socket it first makes one non-blocking write; what the socket does not
// take, or everything on TLS and with Config.QueuedWrites, it writes with a
// blocking write under the slow-consumer deadline. A timeout makes the
// session a slow consumer (timedOut); endsClose says o.buf ends with a close
// frame.
func (o *outbound) send(endsClose bool) error {
	p := o.buf
	if o.raw != nil {
		n, err := o.tryWrite(p)
		if err != nil || n == len(p) {
			return err
		}
		o.m.backlogs.Add(1)
		p = p[n:]
	}
	o.moveWriteDeadline()
	n, err := o.conn.Write(p)
	if err != nil {
		if isTimeout(err) {
			o.timedOut(p, n, endsClose)
		}
		return err
	}
	if o.raw != nil {
		o.clearWriteDeadline()
	}
	return nil
}

// handshakeWrite writes before the upgrade (gws's 101 response or its
// refusal), on the HTTP handler's goroutine, the only one then.
func (o *outbound) handshakeWrite(p []byte) (int, error) {
	o.moveWriteDeadline()
	return o.conn.Write(p)
}

// moveWriteDeadline keeps at least timeout, at most 1.25·timeout, of write
// deadline ahead.
func (o *outbound) moveWriteDeadline() {
	if now := time.Now(); o.writeDL.Sub(now) < o.timeout {
		o.writeDL = now.Add(o.timeout + o.timeout/4)
		_ = o.conn.SetWriteDeadline(o.writeDL)
	}
}

// clearWriteDeadline removes the write deadline (direct sockets, after a
// blocking write).
func (o *outbound) clearWriteDeadline() {
	if !o.writeDL.IsZero() {
		o.writeDL = time.Time{}
		_ = o.conn.SetWriteDeadline(time.Time{})
	}
}

// timedOut handles a blocking write of whole frames p that hit its deadline
// after n bytes. The session is a slow consumer, unless p ends with a close
// frame (it was closing anyway). On plain TCP the cut frame is completed and
// a 4010 close frame follows, both within the linger, so that a client that
// reads again sees a valid stream that ends with 4010 (a cut frame followed
// by nothing would be all it could see otherwise). TLS cannot do this:
// crypto/tls refuses every write after a timeout. tidy records that the
// stream ended on a whole frame, so that giveBack half-closes it rather than
// cutting it.
func (o *outbound) timedOut(p []byte, n int, endsClose bool) {
	if !endsClose {
		o.slow()
	}
	if o.isTLS || o.linger <= 0 {
		return
	}
	o.writeDL = time.Now().Add(o.linger)
	_ = o.conn.SetWriteDeadline(o.writeDL)
	if n < len(p) {
		if _, err := o.conn.Write(p[n:]); err != nil {
			return
		}
	}
	if !endsClose {
		if _, err := o.conn.Write(appendCloseFrame(nil, CloseSlowConsumer, reasonSlowConsumer)); err != nil {
			return
		}
	}
	o.tidy = true
}

// endWrite ends the write side once the last byte is out (no lock held; the
// outbound is closed, so nobody writes after it). With a linger it
// half-closes: the client reads to the end of our stream, and the socket
// stays readable for CloseLinger, because closing a socket with unread
// input makes the kernel send a reset, which can destroy the close frame
// before the client reads it. Without a linger it closes.
func (o *outbound) endWrite() {
	if o.linger <= 0 {
		_ = o.conn.Close()
		return
	}
	_ = o.conn.SetReadDeadline(time.Now().Add(o.linger))
	if cw, ok := o.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// tryWrite makes one non-blocking write(2) (holder, direct socket): it
// returns what the socket took, 0 when it took nothing (EAGAIN). The
// callback is bound once (rawFn) and its argument and results pass through
// fields, so that a write allocates nothing.
func (o *outbound) tryWrite(p []byte) (int, error) {
	o.rawBuf, o.rawN, o.rawErr = p, 0, nil
	err := o.raw.Write(o.rawFn)
	n, werr := o.rawN, o.rawErr
	o.rawBuf = nil
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN {
		werr = nil
	}
	if err == nil && werr != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Err: werr}
	}
	return n, err
}

// rawWrite is the RawConn.Write callback of tryWrite: one write(2), and
// done whatever it returned (never wait for writability here).
func (o *outbound) rawWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), o.rawBuf)
		if err == syscall.EINTR {
			continue
		}
		o.rawN, o.rawErr = n, err
		return true
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
