// Package command defines the commands of ticksync's replicated state
// machine and their binary encoding, the bytes of every Raft log entry.
//
// Data flow: the replication node builds a Command (RegisterNode,
// SetNodeState, RemoveNode, CreateMatch, AssignMatch, CheckpointBatch,
// EndMatch, UpdatePlayers, TickLogBatch), Encode turns it into one log
// entry, Raft replicates the entry, and on every node the FSM calls Decode
// and applies the result. A follower forwards the encoded bytes to the leader, which
// decodes them once to keep garbage out of the log.
//
// The encoding is one type byte and the fields as varints and
// length-prefixed strings (package replication/internal/codec). It is the
// format of existing data directories: a type's fields are never reordered,
// removed or reinterpreted, and a new field or command gets a new type byte
// (CreateMatch with a matchmaking key is type 10; without one, type 4 as
// before).
// golden_test.go pins the bytes of every command. Decode never panics on
// any input (fuzzed from testdata/fuzz).
//
// The package knows nothing of Raft, the FSM or games; NodeState and
// MatchStatus live here because commands carry them.
package command
