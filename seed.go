package ticksync

import (
	"context"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// The seed rule. Every pod of a StatefulSet gets the same settings, so the
// node that forms the cluster cannot be given -bootstrap alone: instead,
// every node has -join pointing at the first node's API, and the node for
// which that URL is its own API URL is the seed. A seed whose data dir holds
// no Raft state bootstraps a one-node cluster (as -bootstrap would); one
// with Raft state restarts like any other node and rejoins by itself. It
// never asks itself to be added.
//
// The risk is the one of -bootstrap: a seed that lost its data dir forms a
// second, empty cluster under the same name. The operator removes it from
// the cluster (remove-node) and starts it again with another node's URL as
// -join, or replaces -join with an explicit -bootstrap when a new cluster is
// what is wanted.

// seedLookupTimeout bounds the host name lookups of isSelfURL.
const seedLookupTimeout = 2 * time.Second

// isSelfURL reports whether join addresses this node's own API at api: the
// same scheme, host and port (the host compared case-insensitively, without
// a trailing dot; a missing port is the scheme's default; paths are
// ignored). Hosts that differ still match when both resolve (lookup, at
// most seedLookupTimeout) to a common IP, e.g. 127.0.0.1 and localhost; a
// failed lookup is no match. lookup nil is the system resolver.
func isSelfURL(ctx context.Context, join, api string, lookup func(ctx context.Context, host string) ([]netip.Addr, error)) bool {
	js, jh, jp, ok := endpoint(join)
	if !ok {
		return false
	}
	as, ah, ap, ok := endpoint(api)
	if !ok || js != as || jp != ap {
		return false
	}
	if jh == ah {
		return true
	}
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, seedLookupTimeout)
	defer cancel()
	resolve := func(host string) map[netip.Addr]bool {
		out := make(map[netip.Addr]bool)
		if ip, err := netip.ParseAddr(host); err == nil {
			out[ip.Unmap().WithZone("")] = true
			return out
		}
		ips, _ := lookup(ctx, host)
		for _, ip := range ips {
			out[ip.Unmap().WithZone("")] = true
		}
		return out
	}
	jips := resolve(jh)
	for ip := range resolve(ah) {
		if jips[ip] {
			return true
		}
	}
	return false
}

// endpoint splits an http[s] URL into its lower-case scheme, normalized
// host and port (the scheme's default when absent).
func endpoint(raw string) (scheme, host, port string, ok bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", "", "", false
	}
	scheme = strings.ToLower(u.Scheme)
	host = strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port = u.Port()
	switch {
	case port != "":
	case scheme == "http":
		port = "80"
	case scheme == "https":
		port = "443"
	default:
		return "", "", "", false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String() // one spelling per address: ::1, not 0:0::1
	}
	return scheme, host, port, host != ""
}
