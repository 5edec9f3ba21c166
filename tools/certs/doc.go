// Package certs makes and loads the certificates that ticksync nodes use to
// recognise each other: a cluster CA and one certificate per node, for
// mutual TLS on the Raft transport and on node-to-node HTTP.
//
// Data flow: `ticksync certs -out DIR -nodes n1,n2,n3` → Generate writes
// DIR/ca.crt, ca.key and <id>.crt, <id>.key per node → each node starts with
// -cluster-ca DIR/ca.crt -cluster-cert DIR/n1.crt -cluster-key DIR/n1.key →
// LoadNodeTLS checks them and returns a NodeTLS → its ServerConfig (the
// Raft listener) and ClientConfig (Raft dials, node-to-node HTTP) go into
// replication's ClusterTLS and HTTP client.
//
// # What Generate makes
//
// An ECDSA P-256 CA (10 years by default) and, per node, an ECDSA P-256
// certificate (5 years) with CommonName = node id, the URI SAN
// ticksync://node/<id>, DNS/IP SANs for localhost, 127.0.0.1, ::1 and any
// Config.Hosts, and extended key usage for both TLS server and client
// authentication. Keys are written 0600 (PKCS#8 PEM). An existing CA in the
// directory is reused, so that `-nodes n4` later adds a node to the same
// set; existing files are replaced only with Config.Overwrite. This is a
// development set: in production, issue the same shape of certificate from
// your own CA (cert-manager, Vault, step-ca, …) and keep the CA key off the
// nodes.
//
// # Identity
//
// A node's identity is the id in its certificate: the path of its one URI
// SAN ticksync://node/<id> (NodeID, PeerNodeID). The CommonName is not read,
// so that a CA that puts host names there can still issue node certificates.
// Host names are not checked between nodes: a node is dialled at an address
// taken from Raft's configuration or from the FSM, and what matters is which
// node answers, not which name it was reached by. A client that knows which
// node it means to reach passes its id to ClientConfig and the handshake
// fails if another node answers; a client that only has an address (Raft's
// Dial) accepts any node of the cluster. The cluster CA must therefore sign
// node certificates only.
//
// # How the node uses them
//
// With -cluster-ca, -cluster-cert and -cluster-key (package ticksync) a
// node loads its NodeTLS once; its id defaults to NodeTLS.ID and a
// different -node-id is an error. replication.ClusterTLS then gets
// ServerConfig (the cluster port: Raft by ALPN "ticksync-raft/1", the
// node-to-node HTTP API by "ticksync-peer/1"), ClientConfig("") (Raft's
// dials: any node of the cluster may answer an address), ClientConfig as
// ClientFor (every node-to-node HTTP call, one client per peer id, so that
// nothing is sent before the server proved to be the node meant, and no
// admin token at all) and PeerNodeID (the handlers check every claim of a
// request against the caller's id). A node without certificates stays a
// one-node cluster unless -insecure-cluster is given. See
// replication/DESIGN.md, "Cluster security".
//
// Not done yet:
//
//   - Membership in the handshake: after RemoveServer a removed node's
//     certificate still verifies. The node-to-node API refuses a caller
//     that is not a voter (a join excepted); the Raft stream layer does
//     not check membership yet.
//   - Rotation: certificates are loaded once at start. Loading them through
//     GetCertificate and GetClientCertificate would let a SIGHUP swap them
//     without a restart; the leaf's NotAfter should be a metric.
package certs
