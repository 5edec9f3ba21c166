package replication

import "time"

// Metrics receives what this package measures; the node implements it with
// Prometheus (package ticksync), so that this package needs no metrics
// library and each node of a test process can have its own. Config.Metrics
// nil measures nothing. Methods are called on the goroutines named and must
// not block.
type Metrics interface {
	// ApplyDuration: an Apply on this node got the FSM's result d after it
	// was called: on the leader Raft's commit and apply; on a follower
	// also the forward to the leader, and on any node the retries of a
	// leader change. Only applies that succeeded are measured. Any
	// goroutine that calls Apply (the checkpointer's, the admin API's, the
	// drainer's, the game layer's).
	ApplyDuration(d time.Duration)
	// Failover: this node, as the leader, declared a node dead, and the
	// FSM moved its matches (0 or more) to live nodes. The supervisor's
	// goroutine.
	Failover(matches int)
	// Handover: a planned move of one match from this node (Move, or a
	// drain) committed. The admin API's or the drainer's goroutine.
	Handover()
}

// noMetrics is Config.Metrics nil.
type noMetrics struct{}

func (noMetrics) ApplyDuration(time.Duration) {}
func (noMetrics) Failover(int)                {}
func (noMetrics) Handover()                   {}
