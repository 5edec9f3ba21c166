// Package replication keeps ticksync's cluster state in hashicorp/raft, so
// that a running match survives the loss of the node that runs it.
//
// The replicated state (FSM) holds the nodes (id, advertise URL, API URL,
// Raft address, alive/draining/dead), the matches (game, owner, epoch,
// players, status, seed) and each match's latest checkpoint (compressed
// room state at a tick). Every ownership change gets a new epoch, the Raft
// index of the entry that made it, and the FSM accepts a checkpoint only at
// the match's current epoch.
//
// Data flows:
//
//   - Rooms → Checkpointer.Checkpoint (copy, latest wins) → every
//     CheckpointInterval one CheckpointBatch entry → Raft (forwarded to the
//     leader over POST /admin/v1/raft/apply when this node is a follower) →
//     FSM on every node.
//   - FSM change → ownership watcher → Node.Ownership() events (Acquired /
//     Released, with epochs) → the game layer starts or stops rooms.
//   - Follower → POST /admin/v1/raft/heartbeat to the leader every
//     HeartbeatInterval → the leader's supervisor records the contact and
//     acknowledges → the follower's owner lease is renewed. The supervisor
//     declares a node dead after FailoverAfter without contact; the FSM then
//     moves its matches to the least-loaded live nodes.
//   - Rooms tick only while Node.LeaseValid(); a node cut off from the leader
//     stops within OwnerLease, before anyone else can be given its matches.
//
// cmd/ticksync wires it: New(cfg) → Start → (JoinCluster when -join) →
// mount AdminHandler at /admin/v1/ → SetHost(game manager) → … → Shutdown.
// See DESIGN.md for the goroutines, the fencing argument and the
// alternatives we did not take.
package replication
