package cluster

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// ownerProbe tells whether a node answers GET /readyz with 200 (it serves
// and holds its lease), with answers cached for a short while, so that
// Locate and Admit do not redirect players to a node that died a moment ago
// and whose failover is still pending.
type ownerProbe struct {
	http *http.Client
	ttl  time.Duration

	mu    sync.Mutex
	cache map[string]*probeEntry
}

type probeEntry struct {
	ok   bool
	at   time.Time
	busy chan struct{} // non-nil while a probe is in flight; closed when done
}

func newOwnerProbe(local string, timeout, ttl time.Duration) *ownerProbe {
	return &ownerProbe{
		http:  nodeHTTPClient(local, timeout),
		ttl:   ttl,
		cache: make(map[string]*probeEntry),
	}
}

// nodeHTTPClient returns a client for node-to-node calls whose dials leave
// from local (this node's listen address) when it is a specific IP, like
// replication's node-to-node calls, so that a fault-injecting proxy can
// tell the nodes apart.
func nodeHTTPClient(local string, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if host, _, err := net.SplitHostPort(local); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dd := *d
		if src, ok := dd.LocalAddr.(*net.TCPAddr); ok && !sameScope(src.IP, addr) {
			dd.LocalAddr = nil // e.g. a loopback source for a peer on the network
		}
		return dd.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second},
	}
}

// sameScope reports whether a dial from src to addr (host:port) can bind
// src: an IP destination of the same family and the same loopback-ness.
func sameScope(src net.IP, addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	dst := net.ParseIP(host)
	return dst != nil && (dst.To4() == nil) == (src.To4() == nil) && dst.IsLoopback() == src.IsLoopback()
}

// ready probes api (the node's API base URL), or returns a recent answer.
// Concurrent callers for the same node share one probe.
func (p *ownerProbe) ready(ctx context.Context, api string) bool {
	p.mu.Lock()
	e := p.cache[api]
	if e == nil {
		e = &probeEntry{}
		p.cache[api] = e
	}
	if e.busy == nil && time.Since(e.at) < p.ttl {
		ok := e.ok
		p.mu.Unlock()
		return ok
	}
	if busy := e.busy; busy != nil {
		p.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return false
		}
		p.mu.Lock()
		ok := e.ok
		p.mu.Unlock()
		return ok
	}
	e.busy = make(chan struct{})
	p.mu.Unlock()

	ok := p.get(ctx, api)

	p.mu.Lock()
	e.ok, e.at = ok, time.Now()
	close(e.busy)
	e.busy = nil
	p.mu.Unlock()
	return ok
}

func (p *ownerProbe) get(ctx context.Context, api string) bool {
	// The answer is shared: one joiner giving up must not cache a failure.
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, api+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
