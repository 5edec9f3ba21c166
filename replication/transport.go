package replication

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is Raft's stream layer: plain TCP. (raft.NewTCPTransport does the
// same; owning it lets tests wrap the stream to inject faults.)
type tcpStream struct {
	ln  net.Listener
	adv net.Addr
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
	return net.DialTimeout("tcp", string(addr), timeout)
}
