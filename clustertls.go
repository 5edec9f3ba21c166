package ticksync

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/net/httpserver"
	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/tools/certs"
)

// secureCluster sets rc's cluster security from the node's flags: with the
// cluster certificates, Raft and the node-to-node API over mutual TLS on
// the Raft port (failed handshakes counted); with -insecure-cluster, plain
// TCP and HTTP allowed for several nodes (and a warning); with neither, a
// node that replication keeps to a one-node cluster.
func (n *Node) secureCluster(rc *replication.Config) {
	nt := n.clusterTLS
	if nt == nil {
		rc.InsecureCluster = n.cfg.InsecureCluster
		if n.cfg.InsecureCluster {
			n.log.Warn().Msg("-insecure-cluster: Raft and the calls between nodes are neither encrypted nor authenticated " +
				"(but for the admin token): anyone who reaches this node's Raft port can rewrite the cluster's state. " +
				"Use it on a trusted network only; elsewhere give every node the cluster certificates (ticksync certs)")
		}
		return
	}
	rc.ClusterTLS = &replication.ClusterTLS{
		Server:    nt.ServerConfig(),
		Client:    nt.ClientConfig(""),
		ClientFor: nt.ClientConfig,
		PeerID:    certs.PeerNodeID,
		HandshakeFailed: func(inbound bool, _ error) {
			n.handshakes.failed(inbound)
		},
	}
	rc.ClusterHandler = n.clusterHandler()
}

// clusterHandler serves what other nodes ask on the cluster port (with
// cluster certificates only; replication checks who they are): /admin/v1/
// (the admin API, which routes the node-to-node paths to replication and
// serves the operator requests another node proxies here, token checked),
// and /readyz for the owner probes.
func (n *Node) clusterHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/v1/", http.HandlerFunc(n.serveAdmin))
	mux.Handle("/readyz", httpserver.Readyz(n.Ready))
	return mux
}

// handshakeMetrics counts failed mutual TLS handshakes of the cluster port.
type handshakeMetrics struct {
	inbound, outbound prometheus.Counter
}

func newHandshakeMetrics(reg prometheus.Registerer, nodeID string) (*handshakeMetrics, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ticksync", Subsystem: "cluster", Name: "tls_handshake_failures_total",
		Help: "Failed mutual TLS handshakes on the cluster (Raft) port: inbound (a peer without a valid " +
			"certificate of the cluster, or the wrong protocol) and outbound (Raft's dials).",
		ConstLabels: prometheus.Labels{"node": nodeID},
	}, []string{"direction"})
	if err := reg.Register(vec); err != nil {
		return nil, err
	}
	return &handshakeMetrics{inbound: vec.WithLabelValues("inbound"), outbound: vec.WithLabelValues("outbound")}, nil
}

// failed counts one failed handshake (any goroutine).
func (m *handshakeMetrics) failed(inbound bool) {
	if inbound {
		m.inbound.Inc()
	} else {
		m.outbound.Inc()
	}
}
