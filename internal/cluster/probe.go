package cluster

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ticksync/ticksync/replication"
)

// ownerProbe tells whether a node answers GET /readyz with 200 (it serves
// and holds its lease), with answers cached for a short while, so that
// Locate and Admit do not redirect players to a node that died a moment ago
// and whose failover is still pending.
//
// It asks where the replica says (PeerAPI: with cluster certificates, the
// owner's cluster port, through a client that talks only to a server whose
// certificate names the owner), else the owner's API URL from the
// directory.
type ownerProbe struct {
	http    *http.Client // for a replica without PeerAPI
	timeout time.Duration
	ttl     time.Duration

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
		http:    nodeHTTPClient(local, timeout),
		timeout: timeout,
		ttl:     ttl,
		cache:   make(map[string]*probeEntry),
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

// PeerAPI is what a Replica that reaches other nodes itself offers
// (replication.Node.PeerAPI): the base URL and client of calls to node id.
// The owner probes use it when the attached Replica has it.
type PeerAPI interface {
	PeerAPI(id string) (base string, hc *http.Client, err error)
}

var _ PeerAPI = (*replication.Node)(nil)

// ready probes node o, or returns a recent answer. Concurrent callers for
// the same node share one probe.
func (p *ownerProbe) ready(ctx context.Context, r Replica, o replication.NodeInfo) bool {
	base, hc := o.API, p.http
	if pa, ok := r.(PeerAPI); ok {
		var err error
		if base, hc, err = pa.PeerAPI(o.ID); err != nil {
			return false
		}
	}
	key := o.ID + " " + base
	p.mu.Lock()
	e := p.cache[key]
	if e == nil {
		e = &probeEntry{}
		p.cache[key] = e
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

	ok := p.get(ctx, hc, base)

	p.mu.Lock()
	e.ok, e.at = ok, time.Now()
	close(e.busy)
	e.busy = nil
	p.mu.Unlock()
	return ok
}

func (p *ownerProbe) get(ctx context.Context, hc *http.Client, base string) bool {
	// The answer is shared: one joiner giving up must not cache a failure.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
