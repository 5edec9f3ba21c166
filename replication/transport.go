package replication

import (
	"fmt"
	"net"
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
// Outgoing dials leave from the IP the listener is bound to (when that is a
// specific address), so each node's Raft traffic carries its own source
// address: on one machine with several loopback IPs (127.0.0.11, .12, …),
// a fault-injecting proxy in front of a peer can tell the nodes apart by
// source IP (system_test partitions nodes that way), and on a multi-homed
// host the traffic leaves from the interface Raft was configured on.
type tcpStream struct {
	ln    net.Listener
	adv   net.Addr
	local *net.TCPAddr // source of outgoing dials; nil: the kernel picks
}

var _ raft.StreamLayer = (*tcpStream)(nil)

func listenRaft(bind, advertise string) (*tcpStream, error) {
	var adv net.Addr
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
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
	if a, ok := s.Addr().(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("raft address %s is not one peers can dial: set the raft advertise address", s.Addr())
	}
	s.local = sourceIP(ln.Addr().String())
	return s, nil
}

func (s *tcpStream) Accept() (net.Conn, error) { return s.ln.Accept() }
func (s *tcpStream) Close() error              { return s.ln.Close() }

func (s *tcpStream) Addr() net.Addr {
	if s.adv != nil {
		return s.adv
	}
	return s.ln.Addr()
}

func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: sourceFor(s.local, string(addr))}
	return d.Dial("tcp", string(addr))
}

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
