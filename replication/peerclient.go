package replication

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// peerClient calls other nodes' node-to-node API. Safe for concurrent use.
//
// Without ClusterTLS it sends plain HTTP with the admin token to a node's
// API URL (from the FSM). With ClusterTLS it sends HTTPS to the node's
// cluster port (its Raft address) through a client of that node's own,
// whose handshake fails unless the server's certificate names the node
// meant, and no token: nothing leaves for an address read from Raft state
// before the peer proved who it is.
type peerClient struct {
	plain *http.Client // without ClusterTLS
	token string       // without ClusterTLS
	tls   *ClusterTLS  // nil: plain
	local string       // Raft bind address: source of loopback dials

	mu    sync.Mutex
	byID  map[string]*http.Client // with ClusterTLS: one client per peer id
	joins *http.Client            // with ClusterTLS: plain, to a join URL (no token)
}

func newPeerClient(cfg *Config) *peerClient {
	c := &peerClient{tls: cfg.ClusterTLS, local: cfg.RaftAddr, byID: make(map[string]*http.Client)}
	if c.tls == nil {
		c.plain = cfg.HTTPClient
		if c.plain == nil {
			c.plain = defaultHTTPClient(sourceIP(cfg.RaftAddr))
		}
		c.token = cfg.AdminToken
	}
	return c
}

// secure reports whether calls go over the cluster's mutual TLS.
func (c *peerClient) secure() bool { return c.tls != nil }

// clientFor returns the client of calls to node id (ClusterTLS only); ""
// accepts any node of the cluster (a join's first hop only).
func (c *peerClient) clientFor(id string) *http.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	hc := c.byID[id]
	if hc == nil {
		hc = NewClusterHTTPClient(peerTLS(c.tls.ClientFor(id)), c.local)
		c.byID[id] = hc
	}
	return hc
}

// discover returns the client of requests to a join URL: the plain one
// (with ClusterTLS, one that carries no token and is used for nothing else).
func (c *peerClient) discover() *http.Client {
	if c.plain != nil {
		return c.plain
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.joins == nil {
		c.joins = defaultHTTPClient(sourceIP(c.local))
	}
	return c.joins
}

// peerTLS is conf for a node-to-node HTTP dial: ALPN PeerALPN only, so the
// cluster port routes the connection to its HTTP server.
func peerTLS(conf *tls.Config) *tls.Config {
	conf = conf.Clone()
	conf.NextProtos = []string{PeerALPN}
	return conf
}

// route returns the base URL and the client of calls to node to: its
// cluster port over mutual TLS, or its API URL. ok is false when the
// address needed is not known.
func (c *peerClient) route(to NodeInfo) (base string, hc *http.Client, ok bool) {
	if c.tls != nil {
		if to.RaftAddr == "" {
			return "", nil, false
		}
		return "https://" + to.RaftAddr, c.clientFor(to.ID), true
	}
	if to.API == "" {
		return "", nil, false
	}
	return to.API, c.plain, true
}

// call sends one request to node to's path (see do).
func (c *peerClient) call(ctx context.Context, method string, to NodeInfo, path string, body any, contentType string, out any) error {
	base, hc, ok := c.route(to)
	if !ok {
		return fmt.Errorf("%w: node %s has no known address yet", ErrNoLeader, to.ID)
	}
	return c.do(ctx, hc, method, base+path, body, contentType, out)
}

// do sends one request with hc: body []byte as is with contentType,
// anything else as JSON. A 2xx answer is decoded into out (if non-nil); any
// other status becomes a *RemoteError; a failure to reach the node an
// *httpapi.TransportError.
func (c *peerClient) do(ctx context.Context, hc *http.Client, method, url string, body any, contentType string, out any) error {
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		b, contentType = j, "application/json"
	}
	token := c.token
	if hc != c.plain {
		token = "" // never to a peer of the cluster port: its certificate is what counts
	}
	status, data, err := httpapi.Do(ctx, hc, method, url, token, b, contentType, nil)
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return remoteError(status, data, method+" "+url)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode response: %w", method, url, err)
		}
	}
	return nil
}

// closeIdle closes the idle connections of every client.
func (c *peerClient) closeIdle() {
	if c.plain != nil {
		c.plain.CloseIdleConnections()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hc := range c.byID {
		hc.CloseIdleConnections()
	}
}

func remoteError(status int, data []byte, what string) *RemoteError {
	var eb httpapi.ErrorBody
	_ = json.Unmarshal(data, &eb)
	if eb.Error == "" {
		eb.Error = fmt.Sprintf("%s: HTTP %d", what, status)
	}
	return &RemoteError{Status: status, Code: eb.Code, Message: eb.Error, Node: eb.Node, ClusterAddr: eb.ClusterAddr}
}

// defaultHTTPClient is the client of node-to-node calls without cluster
// TLS. With a loopback local address (a node of a test cluster on
// 127.0.0.11, .12, …) its dials to loopback peers leave from that address,
// like Raft's (see tcpStream), so that a fault-injecting proxy can tell the
// nodes apart; otherwise the kernel picks the source (the API may live on
// another interface than Raft).
func defaultHTTPClient(local *net.TCPAddr) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         peerDial(local),
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// peerDial is the dial function of node-to-node HTTP clients: 1 s to
// connect, and with a loopback local address, dials to loopback peers
// leave from it (see defaultHTTPClient).
func peerDial(local *net.TCPAddr) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: time.Second, KeepAlive: 15 * time.Second}
	if local == nil || !local.IP.IsLoopback() {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		dd := d
		dd.LocalAddr = sourceFor(local, addr)
		return dd.DialContext(ctx, network, addr)
	}
}

// leaderInfo returns the current leader as a call's destination: its id
// and Raft address from Raft, its API URL from the FSM. Without ClusterTLS
// the leader must have registered its API URL.
func (n *Node) leaderInfo() (NodeInfo, error) {
	r := n.r()
	if r == nil {
		return NodeInfo{}, ErrShutdown
	}
	addr, lid := r.LeaderWithID()
	if lid == "" {
		return NodeInfo{}, ErrNoLeader
	}
	info, ok := n.fsm.Node(string(lid))
	info.ID, info.RaftAddr = string(lid), string(addr)
	if !n.client.secure() && (!ok || info.API == "") {
		return NodeInfo{}, fmt.Errorf("%w: leader %s has not registered its api yet", ErrNoLeader, lid)
	}
	return info, nil
}

// PeerAPI returns how this node reaches node id's HTTP endpoints: a base
// URL and the client to send with. Without ClusterTLS: the API URL id
// registered in the FSM and the node's plain client (the caller adds the
// admin token). With ClusterTLS: https://<id's cluster port> (its address
// in Raft's configuration, else in the FSM) and a client that sends
// nothing unless the server's certificate names id; the server serves
// Config.ClusterHandler. Package admin proxies operator requests with it,
// the cluster glue probes owners with it. Any goroutine.
func (n *Node) PeerAPI(id string) (base string, hc *http.Client, err error) {
	info, inFSM := n.fsm.Node(id)
	addr, voter := n.Servers()[id]
	if !inFSM && !voter {
		return "", nil, fmt.Errorf("%w: %s", ErrNodeNotFound, id)
	}
	info.ID = id
	if voter {
		info.RaftAddr = addr
	}
	base, hc, ok := n.client.route(info)
	if !ok {
		return "", nil, fmt.Errorf("%w: node %s has no known address yet", ErrNodeNotFound, id)
	}
	return base, hc, nil
}

// httpForwarder forwards commands to the leader's POST PathRaftApply.
type httpForwarder struct{ client *peerClient }

// Forward implements Forwarder.
func (f *httpForwarder) Forward(ctx context.Context, leader NodeInfo, cmd []byte) (*Result, error) {
	var res Result
	if err := f.client.call(ctx, http.MethodPost, leader, PathRaftApply, cmd, "application/octet-stream", &res); err != nil {
		return nil, err
	}
	return &res, nil
}
