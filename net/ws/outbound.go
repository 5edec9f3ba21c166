package ws

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"
)

// outbound is the write side of one session: everything waiting to be
// written to its socket, in the order it will be written, and the rule for
// who writes it. One mutex, mu, guards all of it, and nobody holds mu across
// I/O.
//
// The order on the wire: the framed bytes in queued (what the socket did
// not take of a write, pings, the close frames of closeNow and of gws's read
// loop), then the control messages (framed when they are taken), then the
// pending snapshot, then the close frame closeAfter asked for. Nothing
// follows a close frame.
//
// Who writes: the goroutine that holds the socket. It takes the socket
// (busy) and the bytes it will write under mu, writes them outside mu, and
// gives the socket back under mu (giveBack), putting what the socket did not
// take in front of queued. Three goroutines ever hold it:
//
//   - a room's, in snapshot: on plain TCP, once the Welcome is out and when
//     nothing is queued or being written (writeNow), it writes its own
//     snapshot with one non-blocking write;
//   - the session's writer goroutine, in flush: everything else, with
//     blocking writes under the slow-consumer deadline;
//   - the read goroutine, in drain, once the writer has exited: what is
//     left, within Config.CloseLinger.
//
// Every other producer queues under mu and wakes the writer; none ever waits
// for I/O. A holder that finds work queued when it gives the socket back
// wakes the writer itself, so no wake-up is lost while the socket is held.
type outbound struct {
	// Set by init before the session's goroutines start; read-only after.
	conn    net.Conn        // the socket: *net.TCPConn or *tls.Conn
	tcp     net.Conn        // conn, or the TCP connection under the TLS one (cut)
	raw     syscall.RawConn // non-nil: direct writes (plain TCP, Config.QueuedWrites off)
	isTLS   bool
	timeout time.Duration // Config.SlowConsumerAfter
	linger  time.Duration // Config.CloseLinger
	m       *metrics
	slow    func()        // a write missed its deadline: the session is a slow consumer
	wake    chan struct{} // capacity 1: the writer goroutine has work

	mu          sync.Mutex
	idle        sync.Cond // on mu: the socket was given back (drain waits for a room's write)
	waiters     int       // goroutines waiting on idle
	busy        bool      // a goroutine holds the socket and writes outside mu
	queued      []byte    // framed bytes, first in line
	ctrl        [ctrlCap]ctrlMsg
	nctrl       int
	welcomed    bool   // the Welcome was queued: snapshots may follow it
	pending     []byte // the latest snapshot not taken yet (valid if hasPending)
	hasPending  bool
	closeReq    bool // closeAfter: a close frame follows the queued control messages
	closeCode   CloseCode
	closeReason string
	closeFramed bool // a close frame was accepted: it ends whatever chunk holds it
	closed      bool // nothing more is accepted; the write side ends after the last queued byte
	ended       bool // the write side was ended (half-close, or close without a linger)
	dead        bool // a write failed or the socket was cut: nothing more is written

	// The holder's (the goroutine that set busy; before the upgrade, the
	// HTTP handler's, the only goroutine then).
	buf     []byte    // the bytes being written
	taken   []byte    // the snapshot taken from pending (double buffering: pending and taken swap)
	writeDL time.Time // the write deadline in force on the socket
	tidy    bool      // after a timeout, timedOut ended the stream on a whole frame
	rawFn   func(fd uintptr) bool
	rawBuf  []byte // tryWrite's argument and results, for rawFn
	rawN    int
	rawErr  error
}

// init binds the outbound to its socket. direct allows direct writes when
// the socket is plain TCP.
func (o *outbound) init(conn net.Conn, direct bool, timeout, linger time.Duration, m *metrics, slow func()) {
	o.conn, o.timeout, o.linger, o.m, o.slow = conn, timeout, linger, m, slow
	o.tcp = conn
	if tc, ok := conn.(*tls.Conn); ok {
		o.tcp, o.isTLS = tc.NetConn(), true
	}
	o.wake = make(chan struct{}, 1)
	o.idle.L = &o.mu
	if tc, ok := conn.(*net.TCPConn); ok && direct {
		if rc, err := tc.SyscallConn(); err == nil {
			o.raw = rc
			o.rawFn = o.rawWrite // bound once: a write allocates no closure
		}
	}
}

// signal wakes the writer (capacity-1 channel: one pending wake-up is
// enough).
func (o *outbound) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// ---- producers: any goroutine, never block ----------------------------------

// snapshot hands one snapshot to the session (room goroutine). When writeNow
// allows, it writes the frame itself with one non-blocking write; otherwise
// it copies msg into the pending slot, replacing (and counting as dropped) a
// snapshot not taken yet, and wakes the writer. It allocates nothing once
// the buffers have grown to the snapshot size.
func (o *outbound) snapshot(msg []byte) {
	o.mu.Lock()
	if o.closed || o.closeReq {
		o.mu.Unlock()
		return
	}
	if o.writeNow() {
		o.busy = true
		o.mu.Unlock()
		o.buf = appendFrame(o.buf[:0], frameBinary, msg)
		n, err := o.tryWrite(o.buf)
		if err == nil {
			o.m.snapshotsOut.Add(1)
			o.m.directOut.Add(1)
			o.m.bytesOut.Add(uint64(len(msg)))
			if n < len(o.buf) {
				o.m.backlogs.Add(1)
			}
		}
		o.giveBack(n, err, false)
		return
	}
	dropped := o.hasPending
	o.pending = append(o.pending[:0], msg...)
	o.hasPending = true
	o.mu.Unlock()
	if dropped {
		o.m.snapshotsDropped.Add(1)
	}
	o.signal()
}

// writeNow decides between writing a snapshot now, on the room's goroutine,
// and leaving it to the writer (mu held): now only on plain TCP with direct
// writes on, after the Welcome has been handed to the socket, and when
// nothing is queued before it and nobody holds the socket. So a snapshot
// never overtakes the Welcome, a control message, a close frame, the rest
// of an earlier write, or a snapshot the writer has taken.
func (o *outbound) writeNow() bool {
	return o.raw != nil && o.welcomed && !o.busy && len(o.queued) == 0 && o.nctrl == 0 && !o.hasPending
}

// control queues a control message for the writer. It reports false when
// the outbound is closing or the queue is full (pongs give way first).
func (o *outbound) control(c ctrlMsg) bool {
	limit := ctrlCap
	if c.kind == ctrlPong || c.kind == ctrlWSPong {
		limit = ctrlCap - ctrlReserved
	}
	o.mu.Lock()
	if o.closed || o.closeReq || o.nctrl >= limit {
		o.mu.Unlock()
		return false
	}
	o.ctrl[o.nctrl] = c
	o.nctrl++
	if c.kind == ctrlWelcome {
		o.welcomed = true
	}
	o.mu.Unlock()
	o.signal()
	return true
}

// closeAfter asks for a close frame after the queued control messages; the
// pending snapshot is dropped and nothing more is queued.
func (o *outbound) closeAfter(code CloseCode, reason string) {
	o.mu.Lock()
	if !o.closed && !o.closeReq {
		o.closeReq, o.closeCode, o.closeReason = true, code, reason
		o.hasPending = false
	}
	o.mu.Unlock()
	o.signal()
}

// closeNow queues a close frame behind what is already framed and closes:
// the control messages and the snapshot not taken yet are dropped. It is
// for closes that no message precedes (the Hello or heartbeat timeout, a
// panic in the read loop, a refused upgrade), and so that gws's own close
// frame, which follows a failed read, finds the outbound closed.
func (o *outbound) closeNow(code CloseCode, reason string) {
	o.mu.Lock()
	if !o.closed {
		o.queued = appendCloseFrame(o.queued, code, reason)
		o.closeFramed = true
		o.closeLocked()
	}
	o.mu.Unlock()
	o.signal()
}

// gwsFrame queues one whole frame gws wrote itself (sockConn.Write after
// the upgrade): the close frames of its read loop. A close frame closes the
// outbound; once closed, frames are refused.
func (o *outbound) gwsFrame(p []byte) (int, error) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return 0, net.ErrClosed
	}
	o.queued = append(o.queued, p...)
	if isCloseFrame(p) {
		o.closeFramed = true
		o.closeLocked()
	}
	o.mu.Unlock()
	o.signal()
	return len(p), nil
}

// ping queues a ping frame (writer goroutine, before it flushes).
func (o *outbound) ping() {
	o.mu.Lock()
	if !o.closed {
		o.queued = append(o.queued, framePing, 0)
	}
	o.mu.Unlock()
}

// shutdown is sockConn.Close (gws calls it right after its own close frame):
// nothing more is accepted, and the write side ends after the last queued
// byte, at once if nothing is queued.
func (o *outbound) shutdown() {
	o.mu.Lock()
	o.closeLocked()
	end := o.endNow()
	wake := o.hasWork()
	o.mu.Unlock()
	if end {
		o.endWrite()
	}
	if wake {
		o.signal()
	}
}

// abort cuts the socket at once (Shutdown out of time, a panic in the
// writer); every blocked read and write returns.
func (o *outbound) abort() {
	o.mu.Lock()
	o.dead = true
	o.closeLocked()
	if o.waiters > 0 {
		o.idle.Broadcast()
	}
	o.mu.Unlock()
	o.cut()
}

// cut closes the TCP connection without a goodbye: on TLS, tls.Conn.Close
// would first try to send close_notify, which blocks for up to 5 s on a
// peer that does not read.
func (o *outbound) cut() { _ = o.tcp.Close() }

// closeSocket closes the socket for good (read goroutine, at the end of
// finish): a dead socket is cut, a live one closed (its close_notify, on
// TLS, went with the half-close).
func (o *outbound) closeSocket() {
	o.mu.Lock()
	dead := o.dead
	o.mu.Unlock()
	if dead {
		o.cut()
		return
	}
	_ = o.conn.Close()
}

// closeLocked stops accepting (mu held). What is framed in queued is still
// written; the control messages, the snapshot and a requested close frame
// not taken yet are dropped.
func (o *outbound) closeLocked() {
	if o.closed {
		return
	}
	o.closed = true
	clear(o.ctrl[:o.nctrl])
	o.nctrl = 0
	o.hasPending, o.closeReq = false, false
}

// closeUnwritten reports whether a close frame was asked for and the write
// side has not ended yet (its frame may still be queued); false once the
// socket is dead.
func (o *outbound) closeUnwritten() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return (o.closeReq || o.closeFramed) && !o.ended && !o.dead
}

// hasWork reports whether the writer has something to do (mu held):
// something to take, or the write side to end.
func (o *outbound) hasWork() bool {
	if o.dead || o.busy {
		return false
	}
	return len(o.queued) > 0 || o.nctrl > 0 || o.closeReq || (o.hasPending && o.welcomed) || (o.closed && !o.ended)
}

// endNow reports whether the caller must end the write side now (mu held):
// closed, everything written, nobody holding the socket. It marks it ended.
func (o *outbound) endNow() bool {
	if !o.closed || o.ended || o.dead || o.busy || len(o.queued) > 0 {
		return false
	}
	o.ended = true
	return true
}

// ---- the holder: who writes -------------------------------------------------

// giveBack returns the socket (holder) after a write of buf of which the
// socket took n bytes; err is that write's error (send has already handled
// a timeout). The rest goes back in front of queued, and the writer is woken
// if there is work left. mayEnd lets the caller end the write side when the
// outbound is closed and everything is out; a room leaves that to the
// writer, so that all it ever does on the socket is one non-blocking write.
func (o *outbound) giveBack(n int, err error, mayEnd bool) {
	o.mu.Lock()
	o.busy = false
	if err != nil {
		o.dead = true
		o.ended = true
		o.closeLocked()
	} else if n < len(o.buf) {
		o.putBack(n)
	}
	end := mayEnd && o.endNow()
	wake := o.hasWork()
	if o.waiters > 0 {
		o.idle.Broadcast()
	}
	o.mu.Unlock()
	if err != nil {
		if o.tidy {
			// timedOut completed the cut frame and closed the stream
			// with 4010: end it there and let the client read it.
			o.endWrite()
		} else {
			// Reset, cut under us, a timeout on TLS (which cannot write
			// after one) or at the teardown: the reader sees the error
			// and tears down.
			o.cut()
		}
	}
	if end {
		o.endWrite()
	}
	if wake {
		o.signal()
	}
}

// putBack puts buf[n:], what the socket did not take, in front of queued
// (mu held, by the holder giving the socket back). No allocation once both
// buffers have grown.
func (o *outbound) putBack(n int) {
	k := copy(o.buf, o.buf[n:])
	rest := append(o.buf[:k], o.queued...)
	o.queued, o.buf = rest, o.queued[:0]
}

// flush is the writer goroutine's work: it takes everything queued (framed
// bytes, control messages, the pending snapshot once the Welcome is queued,
// the requested close frame), frames it outside the lock and writes it with
// send, until nothing is left. It returns false when the writer is done:
// the write side has ended (a close frame is out) or the socket failed. It
// returns at once, true, when a room holds the socket: giveBack wakes the
// writer again if anything is left.
func (o *outbound) flush() bool {
	for {
		var out [ctrlCap]ctrlMsg
		o.mu.Lock()
		if o.dead || o.ended {
			o.mu.Unlock()
			return false
		}
		if o.busy {
			o.mu.Unlock()
			return true
		}
		o.buf, o.queued = o.queued, o.buf[:0]
		n := copy(out[:], o.ctrl[:o.nctrl])
		clear(o.ctrl[:o.nctrl])
		o.nctrl = 0
		snap := o.hasPending && o.welcomed && !o.closeReq
		if snap {
			o.pending, o.taken = o.taken[:0], o.pending
			o.hasPending = false
		}
		closeReq, code, reason := o.closeReq, o.closeCode, o.closeReason
		if closeReq {
			o.closeFramed = true
			o.closeLocked()
		}
		endsClose := o.closeFramed
		if len(o.buf) == 0 && n == 0 && !snap && !closeReq {
			end := o.endNow()
			closed := o.closed
			o.mu.Unlock()
			if end {
				o.endWrite()
			}
			return !closed
		}
		o.busy = true
		o.mu.Unlock()

		var ctrlBytes [ctrlCap]int
		for i := range out[:n] {
			o.buf, ctrlBytes[i] = appendControl(o.buf, &out[i])
		}
		if snap {
			o.buf = appendFrame(o.buf, frameBinary, o.taken)
		}
		if closeReq {
			o.buf = appendCloseFrame(o.buf, code, reason)
		}
		err := o.send(endsClose)
		if err == nil {
			for i := range out[:n] {
				if out[i].kind != ctrlWSPong {
					o.m.controlOut.Add(1)
				}
				o.m.bytesOut.Add(uint64(ctrlBytes[i]))
			}
			if snap {
				o.m.snapshotsOut.Add(1)
				o.m.bytesOut.Add(uint64(len(o.taken)))
			}
		}
		o.giveBack(len(o.buf), err, true)
		if err != nil {
			return false
		}
	}
}

// drain is the session's last write (read goroutine, in finish, once the
// writer has exited): it closes the outbound, waits for a room's write in
// progress, writes what is still queued within the linger, and ends the
// write side. It reports whether it wrote anything.
func (o *outbound) drain() bool {
	o.mu.Lock()
	o.closeLocked()
	for o.busy && !o.dead {
		o.waiters++
		o.idle.Wait()
		o.waiters--
	}
	if o.dead || o.linger <= 0 || len(o.queued) == 0 {
		end := o.endNow()
		o.mu.Unlock()
		if end {
			o.endWrite()
		}
		return false
	}
	o.busy = true
	o.buf, o.queued = o.queued, o.buf[:0]
	o.mu.Unlock()
	o.writeDL = time.Now().Add(o.linger)
	_ = o.conn.SetWriteDeadline(o.writeDL)
	_, err := o.conn.Write(o.buf)
	o.giveBack(len(o.buf), err, true)
	return err == nil
}
