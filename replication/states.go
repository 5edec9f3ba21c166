package replication

import "github.com/ticksync/ticksync/replication/command"

// NodeState is a node's state in the FSM: alive, draining or dead. It is
// command.NodeState (commands carry it), named here so that readers of the
// FSM need not import package command.
type NodeState = command.NodeState

// The node states (see command.NodeState).
const (
	NodeAlive    = command.NodeAlive
	NodeDraining = command.NodeDraining
	NodeDead     = command.NodeDead
)

// MatchStatus is a match's status in the FSM: running or orphaned
// (command.MatchStatus).
type MatchStatus = command.MatchStatus

// The match statuses (see command.MatchStatus).
const (
	MatchRunning  = command.MatchRunning
	MatchOrphaned = command.MatchOrphaned
)
