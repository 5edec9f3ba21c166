// Package faultproxy is a small TCP proxy for fault injection on loopback,
// used by system tests to partition real ticksync processes.
//
// A Proxy listens on one address and forwards every accepted connection (a
// link) to one target. Each link is judged by its source IP — on a machine
// where every node binds its own loopback IP (127.0.0.11, .12, …) and dials
// from it, the source IP names the calling node. Faults are set per source
// IP, or for everyone:
//
//   - Refuse: the links from that source are closed with a reset, and new
//     ones are accepted and reset at once (what a dead or firewalled peer
//     looks like with REJECT).
//   - Blackhole: links from that source stay open but carry nothing in
//     either direction (bytes are read and dropped), and new ones are
//     accepted and stay silent; the caller notices only through its own
//     timeouts (a silent cut, like DROP). A link that was blackholed has lost
//     bytes, so it is closed when its fault is lifted.
//   - DropRequests, DropReplies: one direction only. DropRequests drops
//     what the source sends (the target never hears it; a DROP on the way
//     in); DropReplies forwards what the source sends and drops what the
//     target answers (the target acts on every request, the source never
//     learns it did: an AppendEntries stored whose response is lost, a
//     heartbeat recorded whose acknowledgement is lost). Like Blackhole,
//     such a link is closed when its fault is lifted.
//   - Pass: forward.
//
// Independently of the fault, a source may be given a delay: every byte
// of its links, in either direction, is forwarded that long after the
// proxy read it (a round trip takes twice the delay longer; the order and
// the bytes are kept).
//
// Data flow: listener goroutine → per link and direction, a reader
// goroutine (reads, drops what the fault drops, stamps the rest with its
// release time) and a writer goroutine (writes each chunk at its release
// time, unless the fault now drops it). All goroutines belong to the Proxy
// and end with Close.
//
// Why not Shopify/toxiproxy: its toxics act on a proxy as a whole (every
// client), so cutting one node off would need one proxy per pair of nodes,
// and each node advertises a single Raft and API address that all its peers
// share; judging links by source IP keeps one proxy per listener. It would
// also add a server process (or its Go module and its dependencies) for a
// feature that is ~250 lines here.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a Proxy does to the links of a source.
type Fault uint8

// Faults.
const (
	Pass         Fault = iota // forward
	Refuse                    // reset existing links, reset new ones at once
	Blackhole                 // keep links open, carry nothing; closed when lifted
	DropRequests              // drop what the source sends; closed when lifted
	DropReplies               // drop what the target answers; closed when lifted
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Refuse:
		return "refuse"
	case Blackhole:
		return "blackhole"
	case DropRequests:
		return "drop-requests"
	case DropReplies:
		return "drop-replies"
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// direction is one half of a link.
type direction uint8

const (
	toTarget   direction = iota // what the source sends
	fromTarget                  // what the target answers
)

// drops reports whether f drops the bytes going in dir.
func (f Fault) drops(dir direction) bool {
	switch f {
	case Blackhole:
		return true
	case DropRequests:
		return dir == toTarget
	case DropReplies:
		return dir == fromTarget
	}
	return false
}

// losesBytes reports whether f drops bytes in some direction (a link that
// had such a fault is closed when it is lifted).
func (f Fault) losesBytes() bool { return f.drops(toTarget) || f.drops(fromTarget) }

// DialTimeout bounds the proxy's dial to its target.
const DialTimeout = time.Second

// Stats counts a Proxy's links since Listen.
type Stats struct {
	Accepted  uint64 // links accepted (refused ones included)
	Refused   uint64 // links reset on arrival (Refuse)
	Cut       uint64 // live links reset by a fault (Refuse) or closed when a Blackhole was lifted
	DialFails uint64 // links closed because the target could not be dialled
	Dropped   uint64 // bytes read and dropped (Blackhole, DropRequests, DropReplies)
	Delayed   uint64 // chunks forwarded late by a delay
	Open      int    // links open now
}

// Proxy forwards TCP connections from its listener to a target. Its methods
// are safe from any goroutine.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	all      Fault                        // fault for every source without a rule of its own
	rules    map[netip.Addr]Fault         // per source IP
	allDelay time.Duration                // delay for every source without one of its own
	delays   map[netip.Addr]time.Duration // per source IP
	links    map[*link]struct{}
	closed   bool

	wg                                                  sync.WaitGroup
	accepted, refused, cut, dialFails, dropped, delayed atomic.Uint64
}

// link is one proxied connection: client (accepted) ↔ server (dialled).
type link struct {
	src     netip.Addr
	client  net.Conn
	fault   atomic.Uint32 // Fault currently applied
	delay   atomic.Int64  // time.Duration currently applied
	tainted atomic.Bool   // had a fault that drops bytes: bytes were lost
	done    chan struct{} // closed when the link is closed

	mu     sync.Mutex
	server net.Conn // nil until dialled
	closed bool
}

// Listen starts a proxy on addr ("127.0.0.11:0" picks a free port) that
// forwards to target. Close stops it.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen %s: %w", addr, err)
	}
	p := &Proxy{ln: ln, target: target, rules: make(map[netip.Addr]Fault), delays: make(map[netip.Addr]time.Duration),
		links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listen address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Set applies fault f to the links from each source IP in srcs, now and for
// new links, until changed. Set(Pass, ip) removes ip's own rule.
func (p *Proxy) Set(f Fault, srcs ...netip.Addr) {
	p.mu.Lock()
	for _, s := range srcs {
		s = s.Unmap()
		if f == Pass {
			delete(p.rules, s)
		} else {
			p.rules[s] = f
		}
	}
	p.applyLocked()
}

// SetAll applies fault f to every source that has no rule of its own.
func (p *Proxy) SetAll(f Fault) {
	p.mu.Lock()
	p.all = f
	p.applyLocked()
}

// SetDelay delays the links from each source IP in srcs by d in each
// direction, now (bytes already read keep their release time) and for new
// links, until changed. SetDelay(0, ip) removes ip's own delay.
func (p *Proxy) SetDelay(d time.Duration, srcs ...netip.Addr) {
	p.mu.Lock()
	for _, s := range srcs {
		s = s.Unmap()
		if d <= 0 {
			delete(p.delays, s)
		} else {
			p.delays[s] = d
		}
	}
	p.applyLocked()
}

// SetAllDelay delays every source that has no delay of its own.
func (p *Proxy) SetAllDelay(d time.Duration) {
	p.mu.Lock()
	p.allDelay = max(d, 0)
	p.applyLocked()
}

// Heal removes every rule and delay: all links pass at once (those that
// lost bytes are closed).
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.all = Pass
	clear(p.rules)
	p.allDelay = 0
	clear(p.delays)
	p.applyLocked()
}

// FaultFor reports the fault that applies to links from src.
func (p *Proxy) FaultFor(src netip.Addr) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faultLocked(src.Unmap())
}

func (p *Proxy) faultLocked(src netip.Addr) Fault {
	if f, ok := p.rules[src]; ok {
		return f
	}
	return p.all
}

// DelayFor reports the delay that applies to links from src.
func (p *Proxy) DelayFor(src netip.Addr) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delayLocked(src.Unmap())
}

func (p *Proxy) delayLocked(src netip.Addr) time.Duration {
	if d, ok := p.delays[src]; ok {
		return d
	}
	return p.allDelay
}

// applyLocked re-judges every live link and unlocks p.mu. Closing happens
// after the unlock (no I/O under the lock).
func (p *Proxy) applyLocked() {
	var toClose []*link
	for l := range p.links {
		f := p.faultLocked(l.src)
		l.fault.Store(uint32(f))
		l.delay.Store(int64(p.delayLocked(l.src)))
		switch {
		case f == Refuse:
			toClose = append(toClose, l)
		case f.losesBytes():
			l.tainted.Store(true)
		case l.tainted.Load():
			toClose = append(toClose, l)
		}
	}
	p.mu.Unlock()
	for _, l := range toClose {
		p.cut.Add(1)
		l.reset()
	}
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := len(p.links)
	p.mu.Unlock()
	return Stats{
		Accepted: p.accepted.Load(), Refused: p.refused.Load(), Cut: p.cut.Load(),
		DialFails: p.dialFails.Load(), Dropped: p.dropped.Load(), Delayed: p.delayed.Load(), Open: open,
	}
}

// Close stops accepting, closes every link and waits for the proxy's
// goroutines. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of file descriptors and the like: back off a little.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.accepted.Add(1)
		src := sourceOf(c)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			return
		}
		f := p.faultLocked(src)
		if f == Refuse {
			p.mu.Unlock()
			p.refused.Add(1)
			resetConn(c)
			continue
		}
		l := &link{src: src, client: c, done: make(chan struct{})}
		l.fault.Store(uint32(f))
		l.delay.Store(int64(p.delayLocked(src)))
		l.tainted.Store(f.losesBytes())
		p.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

// serve dials the target and pumps both directions until either ends.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	srv, err := net.DialTimeout("tcp", p.target, DialTimeout)
	if err != nil {
		p.dialFails.Add(1)
		resetConn(l.client)
		return
	}
	l.mu.Lock()
	if l.closed { // cut (or the proxy closed) while dialling
		l.mu.Unlock()
		resetConn(srv)
		return
	}
	l.server = srv
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pump(l, srv, l.client, fromTarget)
	}()
	p.pump(l, l.client, srv, toTarget)
	<-done
	l.close()
}

// chunk is what a pump read, to be written at release; eof marks the end
// of its direction (a half-close).
type chunk struct {
	b   []byte
	at  time.Time
	eof bool
}

// pump copies from → to in direction dir: it reads, drops what the link's
// fault drops, and queues the rest with its release time (now + the link's
// delay) for a writer goroutine it owns. At the end of from the writer
// half-closes to (so a request-then-EOF protocol still works); on an error
// the whole link is closed.
func (p *Proxy) pump(l *link, from, to net.Conn, dir direction) {
	q := make(chan chunk, 64)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		p.write(l, to, dir, q)
	}()
	defer func() {
		close(q)
		<-wdone
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if Fault(l.fault.Load()).drops(dir) {
				p.dropped.Add(uint64(n))
			} else {
				c := chunk{b: append([]byte(nil), buf[:n]...), at: time.Now().Add(time.Duration(l.delay.Load()))}
				select {
				case q <- c:
				case <-l.done:
					return
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				select {
				case q <- chunk{eof: true, at: time.Now().Add(time.Duration(l.delay.Load()))}:
				case <-l.done:
				}
				return
			}
			l.close()
			return
		}
	}
}

// write writes each chunk of q to to at its release time, dropping those
// the link's fault drops by then. It returns when q is closed and drained,
// or when the link closes.
func (p *Proxy) write(l *link, to net.Conn, dir direction, q <-chan chunk) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for c := range q {
		if wait := time.Until(c.at); wait > 0 {
			if t == nil {
				t = time.NewTimer(wait)
			} else {
				t.Reset(wait)
			}
			select {
			case <-t.C:
			case <-l.done:
				return
			}
			p.delayed.Add(1)
		}
		if c.eof {
			if tc, ok := to.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
				continue
			}
			l.close()
			return
		}
		if Fault(l.fault.Load()).drops(dir) {
			p.dropped.Add(uint64(len(c.b)))
			continue
		}
		if _, err := to.Write(c.b); err != nil {
			l.close()
			return
		}
	}
}

// reset closes both sides with RST (SO_LINGER 0); the first reset or
// close of a link wins.
func (l *link) reset() { l.shut(resetConn) }

func (l *link) close() { l.shut(func(c net.Conn) { _ = c.Close() }) }

func (l *link) shut(fn func(net.Conn)) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	srv := l.server
	l.mu.Unlock()
	fn(l.client)
	if srv != nil {
		fn(srv)
	}
}

func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func sourceOf(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}
