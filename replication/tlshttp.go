package replication

import (
	"crypto/tls"
	"net/http"
	"time"
)

// NewClusterHTTPClient returns a client for node-to-node HTTP over mutual
// TLS: https URLs only are meant for it, with tlsConf presenting this node's
// certificate and checking the peer's (tools/certs NodeTLS.ClientConfig).
// It has the timeouts of the plain node-to-node client (1 s to connect,
// 5 s to handshake, 10 s per request); with a loopback raftAddr (a test
// cluster on 127.0.0.11, .12, …) its dials to loopback peers leave from
// that address, like Raft's.
//
// The peer's id is checked inside the handshake, before a request is
// written, and http.Transport reuses connections per host: a client built
// with ClientConfig(id) only ever sends to node id, so build one per peer id
// when requests carry secrets, rather than checking the response's TLS
// state after the request went out.
func NewClusterHTTPClient(tlsConf *tls.Config, raftAddr string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         peerDial(sourceIP(raftAddr)),
			TLSClientConfig:     tlsConf.Clone(),
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
		// Not followed: a redirect to http:// would carry the request's
		// headers in clear text; node-to-node calls never need one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
