package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// run is the client's goroutine: it connects, serves each connection with
// gws's read loop and reconnects, until the client stops. The state machine
// is drawn in DESIGN.md.
func (c *Client) run() {
	var (
		order        = c.cfg.URLs // nodes to try, in order
		pos          int          // index in order of the next attempt
		target       string       // a Redirect to follow next, or the lost URL to try once
		fromOrder    bool         // this attempt's chain of hops started at order[pos]
		hops         int          // redirects followed in a row
		attempt      int          // failed attempts since the drop (backoff exponent)
		reconnecting bool         // a session was lost; resuming it
		err          error
	)
	defer func() { c.finish(err) }()
	for {
		u := target
		if u == "" {
			u, fromOrder = order[pos%len(order)], true
		}
		target = ""
		var joined bool
		joined, err = c.serve(u)
		if c.ctx.Err() != nil {
			err = ErrClosed
			return
		}
		redirect := c.sess.redirect

		if joined {
			// A seated session ended: a drop (or a move, if redirected), or
			// a stall (no snapshot within the stall window).
			c.dropAt = time.Now()
			stalled := errors.Is(err, ErrStalled)
			if stalled {
				c.stats.stalls.Add(1)
			} else {
				c.stats.drops.Add(1)
			}
			again := c.cfg.Reconnect && (redirect != "" || retryable(err))
			// Debug: a swarm losing a node would log thousands of these.
			c.log.Debug().Str(logKeyURL, u).Str(logKeyErr, err.Error()).Bool(logKeyReconnect, again).Msg("connection lost")
			c.h.OnDisconnect(c, err, again)
			if !again {
				return
			}
			reconnecting, attempt, pos, hops, fromOrder = true, 0, 0, 0, false
			order = c.cfg.URLs
			configured := slices.Contains(c.cfg.URLs, u)
			switch {
			case stalled:
				// The node that stalled is likely stopped: the others
				// first, it last (with a short bound, see serve).
				c.stalledURL = u
				if configured {
					order = rotateAfter(c.cfg.URLs, u)
				}
			case configured:
				order = rotate(c.cfg.URLs, u)
			}
			if redirect != "" {
				c.stats.redirects.Add(1)
				target, hops = redirect, 1
				continue
			}
			if !configured && !stalled {
				// u is where a Redirect sent the client (the owner's
				// -advertise URL): try it once, then only the configured
				// URLs. Behind a proxy that routes a path per node, a dead
				// owner's path answers 502 while it is down; any node behind the
				// configured URLs redirects to the match's new owner.
				target = u
			}
			if !c.backoff(attempt) {
				err = ErrClosed
				return
			}
			attempt++
			continue
		}

		// The attempt ended before a Welcome.
		if redirect != "" {
			if hops < c.cfg.MaxRedirects {
				c.stats.redirects.Add(1)
				target = redirect
				hops++
				continue
			}
			err = fmt.Errorf("%w: %d hops, last to %s", ErrTooManyRedirects, hops+1, redirect)
		}
		hops = 0
		if reconnecting && c.cfg.RejoinOnRefused && isCode(err, schema.ErrCodeResumeRefused) {
			c.log.Info().Str(logKeyURL, u).Msg("resume refused; joining again")
			c.rejoin()
			target = u
			continue
		}
		if !retryable(err) {
			return
		}
		if fromOrder {
			pos++
		}
		if !reconnecting {
			// Dial: one pass over the URLs.
			if pos >= len(order) {
				return
			}
			continue
		}
		if time.Since(c.dropAt) >= c.cfg.ReconnectTimeout {
			err = fmt.Errorf("%w after %v: %w", ErrReconnectTimeout, c.cfg.ReconnectTimeout, err)
			return
		}
		c.log.Debug().Str(logKeyURL, u).Int(logKeyAttempt, attempt).Str(logKeyErr, err.Error()).Msg("reconnect attempt failed")
		if !c.backoff(attempt) {
			err = ErrClosed
			return
		}
		attempt++
	}
}

// finish ends the client: no more writes, the reason recorded, Dial told.
func (c *Client) finish(err error) {
	c.wmu.Lock()
	c.stopping = true
	c.ws, c.joined = nil, false
	c.wmu.Unlock()
	c.stopCtxWatch()
	c.cancel()
	if err == nil {
		err = ErrClosed
	}
	c.err = err
	if c.ready != nil {
		c.ready <- err
		c.ready = nil
	}
	close(c.done)
}

// backoff waits before reconnect attempt n; false if the client stopped.
func (c *Client) backoff(n int) bool {
	d := backoffDelay(c.cfg.BackoffMin, c.cfg.BackoffMax, n, rand.Float64())
	if left := c.cfg.ReconnectTimeout - time.Since(c.dropAt); d > left {
		d = max(left, 0)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// backoffDelay is the wait before attempt n: uniform in [d/2, d] with
// d = min(hi, lo·2ⁿ); r is a uniform random number in [0, 1).
func backoffDelay(lo, hi time.Duration, n int, r float64) time.Duration {
	d := hi
	if n < 32 && lo<<n > 0 && lo<<n < hi {
		d = lo << n
	}
	return d/2 + time.Duration(r*float64(d-d/2))
}

// rejoin turns a refused resume into a new join: no resume token, the
// configured match id, an empty world, and inputs counting from 1 again
// (the Welcome of the new seat resets the events: see gameWelcome).
func (c *Client) rejoin() {
	c.hello.ResumeToken = ""
	c.hello.MatchID = c.cfg.MatchID
	c.resetGameWorlds()
	c.gapBase = 0
	c.ack.Store(0)
	c.lastSeq.Store(0)
	c.wmu.Lock()
	c.seq = 0
	c.wmu.Unlock()
}

// rotate returns urls starting with first (which need not be one of them:
// a redirect target goes first, then all of urls).
func rotate(urls []string, first string) []string {
	out := make([]string, 0, len(urls)+1)
	out = append(out, first)
	for i, u := range urls {
		if u == first {
			out = append(out, urls[i+1:]...)
			out = append(out, urls[:i]...)
			return out
		}
	}
	return append(out, urls...)
}

// rotateAfter returns urls starting after last (one of them) and ending
// with it.
func rotateAfter(urls []string, last string) []string {
	out := make([]string, 0, len(urls))
	for i, u := range urls {
		if u == last {
			out = append(out, urls[i+1:]...)
			return append(out, urls[:i+1]...)
		}
	}
	return append(out, urls...)
}

func isCode(err error, code schema.ErrorCode) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Code == code
}
