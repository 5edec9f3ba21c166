// Package replication keeps ticksync's cluster state in hashicorp/raft, so
// that a running match survives the loss of the node that runs it. It is
// the Raft node, its FSM and the control plane around them: the leader's
// supervisor (failover), owner leases, the checkpointer, membership and
// planned hand-overs. It knows nothing of games, sockets or our root
// package; the game layer reaches it through Host (which it implements) and
// the Node's methods.
//
// The replicated state (FSM) holds the nodes (id, advertise URL, API URL,
// Raft address, alive/draining/dead), the matches (game, owner, epoch,
// players, status, seed) and each match's latest checkpoint (compressed
// room state at a tick). Every ownership change gets a new epoch, the Raft
// index of the entry that made it, and the FSM accepts a checkpoint only at
// the match's current epoch.
//
// Packages:
//
//   - replication (this one): Node, its Config, the FSM and the
//     node-to-node API (peer.go, see below).
//   - replication/command: the commands (the bytes of every log entry) and
//     their encoding; the FSM decodes and applies them.
//   - replication/admin: the operator API under /admin/v1/ and its typed
//     client. It serves what operators may do through Node's public
//     methods, and mounts PeerHandler beside it.
//   - replication/internal/codec and internal/httpapi: the binary
//     primitives under commands and snapshots, and the HTTP dialect shared
//     by the two APIs.
//   - replication/internal/boltcheck: the structural check of raft.db that
//     Start runs before bbolt maps it (datadir.go: a damaged, emptied or
//     foreign data dir is refused with a DataDirError).
//
// Cluster security: with Config.ClusterTLS, Raft and the node-to-node API
// share the Raft port over mutual TLS (ALPN routes each connection), every
// node-to-node call goes to the node meant through a client that refuses
// any server whose certificate names another node, and every handler
// checks the caller's claims against its certificate; without it, a node
// stays a one-node cluster unless Config.InsecureCluster is set (then the
// calls go to API URLs with the admin token). DESIGN.md, "Cluster
// security".
//
// The node-to-node API (join, raft/apply, raft/heartbeat, raft/read-index;
// PeerHandler serves it and the node calls it) lives here rather than in a
// package of its own, as rqlite's cluster package is: it is the replication
// protocol itself. The heartbeat's round trip is the owner lease that fences
// rooms (DESIGN.md, "Fencing"), forwarding is the follower's half of Apply,
// read-index is CatchUp's, and their handlers call the leader's supervisor
// and Raft, which no other package should see.
//
// Data flows:
//
//   - Rooms → Checkpointer.Checkpoint (copy, latest wins) → every
//     CheckpointInterval one CheckpointBatch entry → Raft (forwarded to the
//     leader over POST /admin/v1/raft/apply when this node is a follower:
//     to its cluster port with ClusterTLS, else its API URL) → FSM on every
//     node.
//   - Rooms → TickLogger.Append (one record per tick, copied onto the
//     match's pending run) → every TickLogInterval (50 ms) one TickLogBatch
//     entry → Raft (forwarded likewise) → FSM: each match's tick log since
//     its checkpoint → Node.TickLog for the node adopting it after a
//     failover, which replays it past the checkpoint.
//   - FSM change → ownership watcher → Node.Ownership() events (Acquired /
//     Released, with epochs) → the game layer starts or stops rooms.
//   - FSM apply → WaitApplied's waiters; CatchUp asks the leader (GET
//     /admin/v1/raft/read-index) which index covers what it has committed,
//     then waits for it.
//   - Follower → POST /admin/v1/raft/heartbeat to the leader every
//     HeartbeatInterval → the leader's supervisor records the contact and
//     acknowledges → the follower's owner lease is renewed. The supervisor
//     declares a node dead after FailoverAfter without contact; the FSM then
//     moves its matches to the least-loaded live nodes.
//   - Rooms tick only while Node.LeaseValid(); a node cut off from the leader
//     stops within OwnerLease, before anyone else can be given its matches.
//
// The ticksync package wires it: New(cfg with Host: the game manager,
// ClusterTLS from -cluster-*) → the ownership goroutine (range
// Ownership()) → Start → Node.JoinCluster when -join → mount admin.New(Node)
// at /admin/v1/ → … → Shutdown. See DESIGN.md for
// the goroutines, the fencing argument and the alternatives we did not take.
package replication
