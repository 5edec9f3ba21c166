package ws

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// originPolicy decides which browser origins may open /ws.
//
// Rules, first match wins:
//   - no Origin header (native clients, bots): allowed;
//   - the Origin's host:port equals the request's Host (same origin, e.g. the
//     demo page served by this node): allowed;
//   - with no allow-list configured: localhost, 127.0.0.0/8 and [::1] on any
//     port are allowed;
//   - an allow-list entry matches: "*" (anything), "https://game.example.com"
//     (that scheme, host and port; default ports may be omitted),
//     "game.example.com" (any scheme, any port), "game.example.com:8080"
//     (any scheme, that port), "*.example.com" (any subdomain, any port).
//
// Everything else, including the opaque Origin "null", is refused.
type originPolicy struct {
	any      bool
	loopback bool
	origins  map[string]bool // "scheme://host:port", ports made explicit
	hosts    map[string]bool // "host" (any port) or "host:port"
	suffixes []string        // ".example.com"
}

// newOriginPolicy parses an allow-list; an empty list means the default
// (same origin and loopback).
func newOriginPolicy(list []string) (*originPolicy, error) {
	p := &originPolicy{origins: map[string]bool{}, hosts: map[string]bool{}}
	if len(list) == 0 {
		p.loopback = true
		return p, nil
	}
	for _, raw := range list {
		e := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case e == "":
			return nil, fmt.Errorf("allowed origin %q: empty entry", raw)
		case e == "*":
			p.any = true
		case strings.Contains(e, "://"):
			u, err := url.Parse(e)
			if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				return nil, fmt.Errorf("allowed origin %q: must be scheme://host[:port]", raw)
			}
			p.origins[canonicalOrigin(u.Scheme, u.Host)] = true
		case strings.HasPrefix(e, "*."):
			if len(e) < 4 || strings.ContainsAny(e[2:], "*/:") {
				return nil, fmt.Errorf("allowed origin %q: a wildcard must look like *.example.com", raw)
			}
			p.suffixes = append(p.suffixes, e[1:])
		default:
			if strings.ContainsAny(e, "*/?#@ ") {
				return nil, fmt.Errorf("allowed origin %q: must be a host, host:port, scheme://host[:port], *.domain or *", raw)
			}
			p.hosts[e] = true
		}
	}
	return p, nil
}

// canonicalOrigin makes the port explicit, so that "https://a" and
// "https://a:443" compare equal.
func canonicalOrigin(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err != nil {
		switch scheme {
		case "http", "ws":
			host += ":80"
		case "https", "wss":
			host += ":443"
		}
	}
	return scheme + "://" + host
}

// allowed reports whether a request with this Origin header, sent to Host
// reqHost, may upgrade.
func (p *originPolicy) allowed(origin, reqHost string) bool {
	if origin == "" {
		return true
	}
	u, err := url.Parse(strings.ToLower(origin))
	if err != nil || u.Host == "" || u.Scheme == "" {
		return false
	}
	if p.any || u.Host == strings.ToLower(reqHost) {
		return true
	}
	name := u.Hostname()
	if p.loopback && isLoopbackName(name) {
		return true
	}
	if p.origins[canonicalOrigin(u.Scheme, u.Host)] || p.hosts[u.Host] || p.hosts[name] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func isLoopbackName(name string) bool {
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	ip := net.ParseIP(name)
	return ip != nil && ip.IsLoopback()
}

// OriginPolicy is the Origin allow-list of /ws (the rules of originPolicy
// above) for the node's other endpoints that a page may call from another
// origin: the node answers such a request with CORS headers only when the
// same page could open /ws. It is safe for concurrent use.
type OriginPolicy struct{ p *originPolicy }

// NewOriginPolicy parses an allow-list as Config.AllowedOrigins does; nil
// or empty means the default policy (same origin and loopback).
func NewOriginPolicy(list []string) (*OriginPolicy, error) {
	p, err := newOriginPolicy(list)
	if err != nil {
		return nil, err
	}
	return &OriginPolicy{p: p}, nil
}

// Allowed reports whether a request carrying this Origin header, sent to
// Host host, comes from an allowed page. An empty origin (no header: not a
// cross-origin browser request) is allowed.
func (o *OriginPolicy) Allowed(origin, host string) bool { return o.p.allowed(origin, host) }

// ParseOrigins splits a comma-separated allow-list (the -allowed-origins
// flag) and checks each entry. An empty string gives a nil list: the default
// policy.
func ParseOrigins(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	list := strings.Split(s, ",")
	for i := range list {
		list[i] = strings.TrimSpace(list[i])
	}
	if _, err := newOriginPolicy(list); err != nil {
		return nil, err
	}
	return list, nil
}
