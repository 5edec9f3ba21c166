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
//   - Pass: forward.
//
// Data flow: listener goroutine → per link, two copy goroutines (source →
// target, target → source), each checking the link's fault before every
// write. All goroutines belong to the Proxy and end with Close.
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
	Pass      Fault = iota // forward
	Refuse                 // reset existing links, reset new ones at once
	Blackhole              // keep links open, carry nothing; closed when lifted
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Refuse:
		return "refuse"
	case Blackhole:
		return "blackhole"
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// DialTimeout bounds the proxy's dial to its target.
const DialTimeout = time.Second

// Stats counts a Proxy's links since Listen.
type Stats struct {
	Accepted  uint64 // links accepted (refused ones included)
	Refused   uint64 // links reset on arrival (Refuse)
	Cut       uint64 // live links reset by a fault (Refuse) or closed when a Blackhole was lifted
	DialFails uint64 // links closed because the target could not be dialled
	Dropped   uint64 // bytes read and dropped by Blackhole
	Open      int    // links open now
}

// Proxy forwards TCP connections from its listener to a target. Its methods
// are safe from any goroutine.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	all    Fault                // fault for every source without a rule of its own
	rules  map[netip.Addr]Fault // per source IP
	links  map[*link]struct{}
	closed bool

	wg                                         sync.WaitGroup
	accepted, refused, cut, dialFails, dropped atomic.Uint64
}

// link is one proxied connection: client (accepted) ↔ server (dialled).
type link struct {
	src     netip.Addr
	client  net.Conn
	fault   atomic.Uint32 // Fault currently applied
	tainted atomic.Bool   // was blackholed: bytes were lost

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
	p := &Proxy{ln: ln, target: target, rules: make(map[netip.Addr]Fault), links: make(map[*link]struct{})}
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

// Heal removes every rule: all links pass (blackholed ones are closed).
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.all = Pass
	clear(p.rules)
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

// applyLocked re-judges every live link and unlocks p.mu. Closing happens
// after the unlock (no I/O under the lock).
func (p *Proxy) applyLocked() {
	var toClose []*link
	for l := range p.links {
		f := p.faultLocked(l.src)
		l.fault.Store(uint32(f))
		switch {
		case f == Refuse:
			toClose = append(toClose, l)
		case f == Blackhole:
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
		DialFails: p.dialFails.Load(), Dropped: p.dropped.Load(), Open: open,
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
		l := &link{src: src, client: c}
		l.fault.Store(uint32(f))
		l.tainted.Store(f == Blackhole)
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
		p.pump(l, srv, l.client)
	}()
	p.pump(l, l.client, srv)
	<-done
	l.close()
}

// pump copies from → to, dropping bytes while the link is blackholed. At
// the end of from it half-closes to (so a request-then-EOF protocol still
// works); on an error it closes the whole link.
func (p *Proxy) pump(l *link, from, to net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if Fault(l.fault.Load()) != Pass {
				p.dropped.Add(uint64(n))
			} else if _, werr := to.Write(buf[:n]); werr != nil {
				l.close()
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := to.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
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
