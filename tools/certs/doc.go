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
// # Plan for the rest of cluster security
//
// What the Raft stream layer (replication.ClusterTLS) already does: the Raft
// port accepts only TLS 1.3 connections whose client certificate chains to
// the cluster CA and carries a node id, with ALPN "ticksync-raft/1";
// handshakes happen off Raft's accept loop, bounded in time and number, and
// failures are counted and logged at a limited rate. What the integration
// still has to do:
//
//  1. Start-up rule. A node with more than itself in its cluster (a -join,
//     a Raft configuration of several servers on restart, or an AddVoter
//     request) and no cluster certificates refuses to start or to add the
//     voter, unless -insecure-cluster is given; a one-node dev cluster needs
//     neither. With certificates, the node id given by -node-id must equal
//     NodeTLS.ID (or -node-id defaults to it).
//  2. Node-to-node HTTP over mTLS. Heartbeats, forwarded applies and joins
//     go over HTTPS with ClientConfig(expectID), expectID being the id of
//     the node meant (the leader's id from Raft, not only its address): an
//     address read from Raft state or the FSM receives nothing until the
//     handshake proved it is that node. Because the id check lives in the
//     TLS config and http.Transport reuses connections per host, use one
//     transport per peer id. These calls then carry no admin token: the
//     certificate authenticates the node, and the token stays with
//     operators. The listener for them should be the Raft port itself, by
//     ALPN (Consul and Nomad also multiplex their one RPC port): a
//     connection negotiating "ticksync-raft/1" goes to Raft, "http/1.1" to
//     an internal HTTP server with the node-only endpoints, so the public
//     game listener keeps its own certificate and never asks players for
//     one. (Considered: the game listener asking for an optional client
//     certificate; but then a node cannot verify that listener by the
//     cluster CA when it serves a public certificate.)
//  3. Identity checks on the node-only endpoints, with PeerNodeID of the
//     request's TLS state: a heartbeat's id, a join's id and a forwarded
//     RegisterNode's id must equal the peer's; a forwarded CheckpointBatch
//     may carry only matches the FSM says the peer owns; a forwarded
//     AssignMatch hand-over must come from its From node. Operator commands
//     (create, drain, move, remove) keep coming through the admin API with
//     the token.
//  4. Membership: after RemoveServer, a removed node's certificate still
//     verifies; the Raft stream layer and the node-only endpoints should
//     also refuse a peer id that is neither in Raft's configuration nor
//     being joined.
//  5. Rotation: load certificates through GetCertificate and
//     GetClientCertificate so that a SIGHUP can swap them without a
//     restart; export the leaf's NotAfter as a metric.
package certs
