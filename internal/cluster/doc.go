// Package cluster is the glue between a node's matches (package game) and
// its replica of the Raft match directory (package replication). It sits
// above both: game and replication know nothing of each other, and neither
// imports this package. The node (the root package ticksync) creates one
// Adapter, hands it to game.NewManager as its Placement, Checkpointer and
// Lease, attaches the replica once Raft is built, and runs RunOwnership on
// a goroutine of its own.
//
// Data flow:
//
//	net/ws session ──Join──▶ game.Manager ──Locate / Admit / End──▶ Adapter ──▶ Replica (FSM reads, CreateMatch, EndMatch)
//	                                                              └──GET /readyz──▶ the owner named by the FSM
//	room goroutine ──Valid(match, epoch)──▶ Adapter ──▶ Replica.LeaseValid + Lookup
//	room goroutine ──Checkpoint / SetPlayers──▶ Adapter ──▶ the replica's Checkpointer ──▶ Raft
//	room goroutine ──tick record──▶ Adapter.TickLog() ──▶ the replica's TickLogger ──▶ Raft (every 50 ms)
//	Replica.Ownership ──Acquired──▶ RunOwnership ──▶ Manager.Adopt (latest checkpoint + the tick log after it)
//	                  ──Released──▶ RunOwnership ──▶ Manager.Release (the new owner's URL)
//	                  ──Released (ended)──▶ RunOwnership ──▶ Manager.End (players told "match ended")
//
// What the glue needs from replication is declared here, where it is used
// (Replica and its parts), so that the package's tests run against a fake
// directory, without Raft or a process. See DESIGN.md for the placement
// decisions and the goroutines.
package cluster
