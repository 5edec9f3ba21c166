package replication

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// listenRaftStream binds the Raft port of cfg: mutual TLS (tlsstream.go)
// when cfg.ClusterTLS is set, plain TCP otherwise.
func listenRaftStream(cfg *Config, log zerolog.Logger) (raft.StreamLayer, error) {
	s, err := listenRaft(cfg.RaftAddr, cfg.RaftAdvertise)
	if err != nil {
		return nil, err
	}
	if cfg.ClusterTLS == nil {
		return s, nil
	}
	return newTLSStream(s, cfg.ClusterTLS, log), nil
}

// tcpStream is Raft's stream layer: plain TCP. (raft.NewTCPTransport does the
// same; owning it lets tests wrap the stream to inject faults.)
//
// An advertise address that is a host name stays a name: Addr returns it as
// given, so Raft's configuration (and the FSM's record of the node) holds
// the name, and Dial resolves a peer's name each time it connects. A node
// that comes back on a new IP under the same name (a pod rescheduled on
// Kubernetes, a re-created container) is reached again without any change
// to the configuration. An IP literal is kept as that IP.
//
// Outgoing dials leave from the IP the listener is bound to (when that is a
// specific address), so each node's Raft traffic carries its own source
// address: on one machine with several loopback IPs (127.0.0.11, .12, …),
// a fault-injecting proxy in front of a peer can tell the nodes apart by
// source IP (system_test partitions nodes that way), and on a multi-homed
// host the traffic leaves from the interface Raft was configured on. The
// source is chosen per resolved destination IP, so a peer advertised by
// name gets it too.
type tcpStream struct {
	ln    net.Listener
	adv   net.Addr
	local *net.TCPAddr // source of outgoing dials; nil: the kernel picks
	// lookup resolves a peer's host name at dial time; nil:
	// net.DefaultResolver (tests map names to loopback IPs with it).
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// hostName is an advertise address whose host is a name, kept as given.
type hostName string

func (a hostName) Network() string { return "tcp" }
func (a hostName) String() string  { return string(a) }

func listenRaft(bind, advertise string) (*tcpStream, error) {
	var adv net.Addr
	if advertise != "" {
		a, err := advertiseAddr(advertise)
		if err != nil {
			return nil, fmt.Errorf("raft advertise %q: %w", advertise, err)
		}
		adv = a
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft listen %s: %w", bind, err)
	}
	s := &tcpStream{ln: ln, adv: adv}
	if !dialable(s.Addr()) {
		_ = ln.Close()
		return nil, fmt.Errorf("raft address %s is not one peers can dial: set the raft advertise address", s.Addr())
	}
	s.local = sourceIP(ln.Addr().String())
	return s, nil
}

// advertiseAddr parses a Raft advertise address: an IP literal becomes a
// *net.TCPAddr, a host name stays a name (resolved by peers when they
// dial, not here).
func advertiseAddr(hostport string) (net.Addr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if host == "" {
		return nil, errors.New("missing host")
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return nil, fmt.Errorf("bad port %q", port)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return net.ResolveTCPAddr("tcp", hostport)
	}
	return hostName(hostport), nil
}

// dialable reports whether peers can dial a: a name, or a specific IP.
func dialable(a net.Addr) bool {
	switch a := a.(type) {
	case hostName:
		return true
	case *net.TCPAddr:
		return a.IP != nil && !a.IP.IsUnspecified()
	}
	return false
}

func (s *tcpStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *tcpStream) Close() error              { return s.ln.Close() }

func (s *tcpStream) Addr() net.Addr {
	if s.adv != nil {
		return s.adv
	}
	return s.ln.Addr()
}

// Dial connects to addr within timeout. A host name is resolved now, and
// its addresses are tried in turn (the source family first), each with an
// equal share of what is left of the timeout.
func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	targets, err := s.resolve(ctx, string(addr))
	if err != nil {
		return nil, err
	}
	var first error
	for i, target := range targets {
		actx, acancel := ctx, context.CancelFunc(func() {})
		if left := len(targets) - i; left > 1 {
			if dl, ok := ctx.Deadline(); ok {
				actx, acancel = context.WithTimeout(ctx, time.Until(dl)/time.Duration(left))
			}
		}
		d := net.Dialer{LocalAddr: sourceFor(s.local, target)}
		c, err := d.DialContext(actx, "tcp", target)
		acancel()
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// resolve turns a Raft address into the ip:port destinations to try: an IP
// literal as is, a host name through s.lookup. With a source address, the
// destinations of its family come first.
func (s *tcpStream) resolve(ctx context.Context, addr string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("raft dial %q: %w", addr, err)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{addr}, nil
	}
	lookup := s.lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ips, err := lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("raft dial %s: %w", addr, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("raft dial %s: %w", addr, errNoAddresses)
	}
	out := make([]string, 0, len(ips))
	for pass := 0; pass < 2; pass++ {
		for _, ip := range ips {
			ip = ip.Unmap()
			same := s.local == nil || ip.Is4() == (s.local.IP.To4() != nil)
			if same == (pass == 0) {
				out = append(out, net.JoinHostPort(ip.String(), port))
			}
		}
	}
	return out, nil
}

// errNoAddresses: a Raft peer's host name resolved to nothing.
var errNoAddresses = errors.New("host name has no addresses")

// sourceIP returns the IP of a bind address ("127.0.0.11:7351") as a dial
// source, or nil for a name or an unspecified address (0.0.0.0, ::, "").
func sourceIP(bind string) *net.TCPAddr {
	host, _, err := net.SplitHostPort(bind)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		return nil
	}
	return &net.TCPAddr{IP: ip}
}

// sourceFor returns local as the source address of a dial to addr, or nil
// (the kernel picks) when binding it could not work: no local address, a
// destination that is a name or of the other IP family, or a loopback
// source for a destination off this machine (and the reverse).
func sourceFor(local *net.TCPAddr, addr string) net.Addr {
	if local == nil {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	dst := net.ParseIP(host)
	if dst == nil || (dst.To4() == nil) != (local.IP.To4() == nil) || dst.IsLoopback() != local.IP.IsLoopback() {
		return nil
	}
	return local
}
