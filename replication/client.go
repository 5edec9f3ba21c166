package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Client calls other nodes' admin API (heartbeats, forwarded commands,
// joins). It is safe for concurrent use.
type Client struct {
	HTTP  *http.Client
	Token string
}

// defaultHTTPClient is the client of node-to-node calls. With a loopback
// local address (a node of a test cluster on 127.0.0.11, .12, …) its dials
// to loopback peers leave from that address, like Raft's (see tcpStream), so
// that a fault-injecting proxy can tell the nodes apart; otherwise the kernel
// picks the source (the API may live on another interface than Raft).
func defaultHTTPClient(local *net.TCPAddr) *http.Client {
	d := net.Dialer{Timeout: time.Second, KeepAlive: 15 * time.Second}
	dial := d.DialContext
	if local != nil && local.IP.IsLoopback() {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dd := d
			dd.LocalAddr = sourceFor(local, addr)
			return dd.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         dial,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// forwardError marks a failure to reach another node (as opposed to an
// answer from it): the request may be retried.
type forwardError struct{ err error }

func (e *forwardError) Error() string { return e.err.Error() }
func (e *forwardError) Unwrap() error { return e.err }

// maxResponseBytes bounds what we read from a peer.
const maxResponseBytes = 64 << 20

type errorBody struct {
	Error  string `json:"error"`
	Code   string `json:"code,omitempty"`
	Leader string `json:"leader,omitempty"`
}

// raw sends one request and returns the status and body. A transport
// failure is a *forwardError.
func (c *Client) raw(ctx context.Context, method, url string, body []byte, contentType string, hdr http.Header) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, &forwardError{fmt.Errorf("%s %s: %w", method, url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, &forwardError{fmt.Errorf("%s %s: read response: %w", method, url, err)}
	}
	return resp.StatusCode, data, nil
}

// do sends one request: body []byte as is with contentType, anything else as
// JSON. A 2xx response is decoded into out (if non-nil); any other status
// becomes a *RemoteError; a transport failure a *forwardError.
func (c *Client) do(ctx context.Context, method, url string, body any, contentType string, out any) error {
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
	status, data, err := c.raw(ctx, method, url, b, contentType, nil)
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

func remoteError(status int, data []byte, what string) *RemoteError {
	var eb errorBody
	_ = json.Unmarshal(data, &eb)
	if eb.Error == "" {
		eb.Error = fmt.Sprintf("%s: HTTP %d", what, status)
	}
	return &RemoteError{Status: status, Code: eb.Code, Message: eb.Error}
}

// HTTPForwarder forwards commands to the leader's POST /admin/v1/raft/apply.
type HTTPForwarder struct{ Client *Client }

// Forward implements Forwarder.
func (f *HTTPForwarder) Forward(ctx context.Context, leader NodeInfo, cmd []byte) (*Result, error) {
	var res Result
	if err := f.Client.do(ctx, http.MethodPost, leader.API+pathRaftApply, cmd, "application/octet-stream", &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// HeartbeatRequest is a node's "alive + load" message to the leader.
type HeartbeatRequest struct {
	ID        string `json:"id"`
	Advertise string `json:"advertise"`
	API       string `json:"api"`
	RaftAddr  string `json:"raft_addr"`
	Load      int    `json:"load"`  // matches this node runs
	Index     uint64 `json:"index"` // its FSM's applied index
}

// HeartbeatAck is the leader's answer. The sender's lease runs from the
// moment it sent the request for min(OwnerLease, LeaseMS), and only once its
// FSM has applied Index (the entry of the sender's latest revival after
// being declared dead, or of its registration).
type HeartbeatAck struct {
	Leader  string `json:"leader"`
	Index   uint64 `json:"index"`
	LeaseMS int64  `json:"lease_ms"` // the leader's own remaining lease
}

// Heartbeat sends hb to the node at api (the leader).
func (c *Client) Heartbeat(ctx context.Context, api string, hb HeartbeatRequest) (HeartbeatAck, error) {
	var ack HeartbeatAck
	err := c.do(ctx, http.MethodPost, api+pathRaftHeartbeat, hb, "", &ack)
	return ack, err
}

// JoinRequest asks the cluster to add a node as a voter.
type JoinRequest struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	Advertise string `json:"advertise"`
	API       string `json:"api,omitempty"` // default: derived from Advertise
}

func (j *JoinRequest) validate() error {
	if j.ID == "" || j.RaftAddr == "" || j.Advertise == "" {
		return fmt.Errorf("%w: join needs id, raft_addr and advertise", ErrBadRequest)
	}
	if _, _, err := net.SplitHostPort(j.RaftAddr); err != nil {
		return fmt.Errorf("%w: raft_addr %q: %w", ErrBadRequest, j.RaftAddr, err)
	}
	if j.API == "" {
		api, err := APIBase(j.Advertise)
		if err != nil {
			return fmt.Errorf("%w: advertise: %w", ErrBadRequest, err)
		}
		j.API = api
	}
	return nil
}

// JoinCluster asks the node at joinURL (any member; it forwards to the
// leader) to add self as a voter, retrying with backoff until it succeeds,
// the answer is final (bad request, wrong token), or ctx ends. Call it after
// Node.Start; joining again with the same id (restart, new address) is fine.
func JoinCluster(ctx context.Context, joinURL, token string, self JoinRequest) error {
	return joinCluster(ctx, &Client{HTTP: defaultHTTPClient(nil), Token: token}, joinURL, self)
}

func joinCluster(ctx context.Context, c *Client, joinURL string, self JoinRequest) error {
	base, err := APIBase(joinURL)
	if err != nil {
		return fmt.Errorf("join url: %w", err)
	}
	backoff := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.do(actx, http.MethodPost, base+pathJoin, self, "", nil)
		cancel()
		if err == nil {
			return nil
		}
		var re *RemoteError
		if errors.As(err, &re) && (re.Status == http.StatusUnauthorized || re.Status == http.StatusBadRequest) {
			return fmt.Errorf("join %s: %w", base, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("join %s: %w (last error: %w)", base, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
