// Package admin is ticksync's operator API: JSON over HTTP under
// /admin/v1/, bearer-authenticated with the cluster's admin token, and a
// typed Go client for it (Client) that ticksyncctl builds on.
//
// Endpoints (Server; every row has a Client method; docs/ADMIN.md has the
// bodies, answers, errors and examples):
//
//	GET    /admin/v1/status               this node: Raft state, leader, lease, counters  Status
//	GET    /admin/v1/nodes                every node, with leader and voter flags         Nodes
//	GET    /admin/v1/matches              every match; tick only where it runs            Matches
//	GET    /admin/v1/matches/{id}         the match and its owner's live view (players)   Match
//	POST   /admin/v1/matches              {"id"?,"game"?,"node"?,"seed"?} → 201 the match  CreateMatch
//	DELETE /admin/v1/matches/{id}         end it; its players get "match ended"           EndMatch
//	POST   /admin/v1/matches/{id}/move    {"node"}: hand-over with a final checkpoint     Move
//	POST   /admin/v1/matches/{id}/kick    {"player"}: free the seat, close "kicked"       Kick
//	POST   /admin/v1/nodes/{id}/drain     hand all its matches over, take no new ones     Drain
//	POST   /admin/v1/nodes/{id}/undrain                                                   Undrain
//	POST   /admin/v1/nodes/{id}/remove    remove from Raft; 202, matches move later       RemoveNode
//	POST   /admin/v1/transfer-leader      {"node"?} → the new leader                       TransferLeader
//
// Data flow: a request arrives on any node. Reads answer from that node's
// FSM (replication.Node), and a row's tick is the answering node's (null
// where the room does not run); GET of one match also asks the match's
// owner for its live view (players, measurements: Games, the owner's game
// layer). Writes go through Raft (Node.CreateMatch, EndMatch, Drain, …,
// which a follower forwards to the leader itself) and answer once this
// node has applied them (Node.CatchUp), so that the answer and the
// operator's next read on the same node show the change; transfer-leader
// answers with the new leader once this node knows it. Remove and
// transfer-leader must run on the leader, move and kick on the match's
// owner, so the server proxies those requests there, once (a proxied
// request is never proxied again, so a leader change cannot make it loop).
// Every call to another node goes through Server.forward, where
// Node.PeerAPI says: with cluster TLS to that node's cluster port, through
// a client that sends nothing (the token included) unless the server's
// certificate names that node; without, to the API URL it registered.
// Errors are {"error": "...", "code": "..."} with the status and code of
// replication's error table; Client turns them into *Error, which unwraps
// to replication's sentinel (errors.Is(err, replication.ErrNotLeader)).
// Every number in an answer is a JSON number. golden_test.go pins the
// JSON.
//
// # Node-to-node endpoints
//
// The same prefix also carries what nodes call on each other: POST
// /admin/v1/join, /admin/v1/raft/apply, /admin/v1/raft/heartbeat and GET
// /admin/v1/raft/read-index. They are not operator calls and do not live
// here: package replication serves them (Node.PeerHandler) and calls them,
// and Server only mounts that handler at those paths, so a node serves one
// tree under /admin/v1/. They stay in replication, unlike rqlite,
// which gives its node-to-node service a package of its own (cluster),
// because here they are the replication protocol itself: the heartbeat's
// round trip is the owner lease that fences rooms (replication/DESIGN.md),
// forwarding is the second half of Node.Apply, and read-index is CatchUp's.
// Their handlers call the leader's supervisor and Raft directly; a separate
// package would need those internals exported, or interfaces in both
// directions, since the node both serves and calls them. Keeping them out
// of this package keeps the operator surface, and its client, to what an
// operator may do. With cluster TLS they answer only on the cluster port
// (where the node serves this Server too, for proxied requests), and on the
// HTTP listener answer 421 with the cluster port.
package admin
