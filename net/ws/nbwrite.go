package ws

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// Direct writes (plain TCP only).
//
// A room hands each session its snapshot on the room goroutine. Waking one
// writer goroutine per session for every snapshot costs a goroutine switch
// per delivered snapshot, and under load those switches queue behind every
// reader the poller has just woken: the snapshot leaves late and the
// player's input→ack RTT grows (measured pinned to one core at 1,125
// players: see tools/capacity/README.md). So on a plain TCP socket the
// room writes the frame itself, with a non-blocking write that never waits:
//
//   - nothing queued and the socket takes it all: done, on the room's
//     goroutine, with no other goroutine involved (the common case);
//   - the socket takes part of it, or nothing (EAGAIN): the rest is kept in
//     the socket's backlog, in order, and the session's writer goroutine is
//     woken to drain it with an ordinary blocking write under the slow
//     consumer deadline. Until the backlog is empty no frame goes to the
//     socket directly: later frames join the backlog (control messages) or
//     wait in the pending slot, latest wins (snapshots);
//   - the drain misses the deadline: the session is a slow consumer (4010),
//     exactly as a blocking write that missed it.
//
// Every write of the session, whoever makes it (gws holds its connection's
// write lock around each frame), goes through sockConn.Write and so through
// this path, so frames never interleave and the room never waits on I/O:
// the only blocking write is the drain on the writer goroutine, and while it
// runs the socket is left to it. TLS sessions keep the writer goroutine for
// every write: crypto/tls cannot write without blocking.

// maxBacklog bounds the bytes a socket may hold back. The backlog holds at
// most one snapshot (later ones wait in the pending slot) plus control
// frames, so reaching this means a bug or an absurd snapshot, and the
// session is closed rather than let it grow.
const maxBacklog = 4 << 20

// errBacklogFull is returned by Write when the backlog would pass
// maxBacklog.
var errBacklogFull = errors.New("ws: socket backlog full")

// direct reports whether writes on this socket are non-blocking (plain TCP
// with direct writes enabled).
func (c *sockConn) direct() bool { return c.raw != nil }

// backlogged reports whether bytes are waiting to be drained; while they
// are, nothing may be written to the socket directly.
func (c *sockConn) backlogged() bool { return c.backlog.Load() }

// writeDirect is Write on a direct socket: it writes p now without
// blocking, or queues what the socket did not take behind the backlog.
func (c *sockConn) writeDirect(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeDirectLocked(p)
}

// writeBinary writes one unmasked, unfragmented binary frame holding
// payload, like gws's WriteMessage but with no allocation: gws converts the
// payload to an interface (24 B on the heap per frame), and on the room's
// goroutine every allocation is a chance to be drafted into GC assist work
// mid-tick. Frames cannot interleave: each goes through the socket in one
// writeDirectLocked under wmu, as every gws frame does (one Write each).
// Permessage-deflate is never negotiated (the Upgrader leaves it off), so
// no compression context is skipped. Room goroutine; never blocks.
func (c *sockConn) writeBinary(payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closing.Load() || c.dead.Load() {
		return net.ErrClosed
	}
	c.frame = appendFrameHeader(c.frame[:0], 0x82, len(payload))
	c.frame = append(c.frame, payload...)
	_, err := c.writeDirectLocked(c.frame)
	return err
}

// appendFrameHeader appends a server frame header (FIN, no mask) for a
// payload of n bytes; b0 is the first byte (FIN | opcode).
func appendFrameHeader(b []byte, b0 byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n < 1<<16:
		return append(b, b0, 126, byte(n>>8), byte(n))
	default:
		return append(b, b0, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// writeDirectLocked is writeDirect with wmu held.
func (c *sockConn) writeDirectLocked(p []byte) (int, error) {
	if c.draining || len(c.over) > 0 {
		if len(c.over)+len(p) > maxBacklog {
			return 0, errBacklogFull
		}
		c.over = append(c.over, p...)
		c.noteFrame(p)
		return len(p), nil
	}
	n, err := c.tryWrite(p)
	if err != nil {
		return n, err
	}
	if n < len(p) {
		c.over = append(c.over, p[n:]...)
		c.backlog.Store(true)
		c.sess.srv.m.backlogs.Add(1)
		c.sess.signal()
	}
	c.noteFrame(p)
	return len(p), nil
}

// noteFrame remembers whether the last frame accepted was a close frame
// (gws writes one whole frame per Write), and that one was ever sent.
func (c *sockConn) noteFrame(p []byte) {
	c.lastWasClose = len(p) > 0 && p[0]&0x0f == 0x8
	c.closeSent = c.closeSent || c.lastWasClose
}

// tryWrite makes one non-blocking write(2) (wmu held): it returns what the
// socket took, 0 when it took nothing (EAGAIN). The callback is bound once
// (rawFn) and its arguments and results pass through fields, so that a
// write allocates no closure.
func (c *sockConn) tryWrite(p []byte) (int, error) {
	c.rawBuf, c.rawN, c.rawErr = p, 0, nil
	err := c.raw.Write(c.rawFn)
	n, werr := c.rawN, c.rawErr
	c.rawBuf = nil
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
func (c *sockConn) rawWrite(fd uintptr) bool {
	for {
		n, err := syscall.Write(int(fd), c.rawBuf)
		if err == syscall.EINTR {
			continue
		}
		c.rawN, c.rawErr = n, err
		return true
	}
}

// drain writes the backlog out with blocking writes under the write
// deadline (writer goroutine, or the read goroutine once the writer has
// exited). It returns nil once the backlog is empty; an error means the
// socket is dead (a timeout has already made the session a slow consumer).
// If Close was called while bytes were held back, drain half-closes the
// socket after the last of them, as Close would have.
func (c *sockConn) drain() error {
	for {
		c.wmu.Lock()
		if len(c.over) == 0 {
			if !c.writeDL.IsZero() {
				// Direct writes fail once a write deadline has passed
				// (RawConn.Write checks it), so the drain's deadline must
				// not outlive the drain.
				c.writeDL = time.Time{}
				_ = c.Conn.SetWriteDeadline(time.Time{})
			}
			c.draining = false
			c.backlog.Store(false)
			halfClose := c.closing.Load() && !c.halfClosed
			c.halfClosed = c.halfClosed || halfClose
			c.wmu.Unlock()
			if halfClose {
				c.closeWrite()
			}
			return nil
		}
		chunk := c.over
		c.over, c.spare = c.spare[:0], nil
		c.draining = true
		closes := c.lastWasClose
		c.wmu.Unlock()

		if c.dead.Load() {
			return net.ErrClosed
		}
		c.moveWriteDeadline()
		n, err := c.Conn.Write(chunk)
		if err != nil {
			if isTimeout(err) {
				c.writeTimedOutChunk(chunk, n, closes)
			} else {
				c.dead.Store(true)
			}
			return err
		}
		c.wmu.Lock()
		c.spare = chunk[:0]
		c.wmu.Unlock()
	}
}

// moveWriteDeadline keeps at least writeTimeout, at most 1.25·writeTimeout,
// of write deadline ahead (see the sockConn doc).
func (c *sockConn) moveWriteDeadline() {
	if now := time.Now(); c.writeDL.Sub(now) < c.writeTimeout {
		c.writeDL = now.Add(c.writeTimeout + c.writeTimeout/4)
		_ = c.Conn.SetWriteDeadline(c.writeDL)
	}
}
