package replication

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// holdTransport is Raft's NetworkTransport with one change: a replication
// RPC (an AppendEntries that carries log state, or an InstallSnapshot) to a
// peer that the last RPC failed to reach waits until an RPC to that peer
// succeeds again, instead of failing at once. The probe that ends the wait
// is Raft's own heartbeat, which it keeps sending to an unreachable peer
// (its backoff is capped at HeartbeatTimeout/2); heartbeats and votes are
// never held.
//
// Why: hashicorp/raft's replication goroutine backs off after each failed
// RPC (10 ms, doubling up to 10.24 s) in a sleep that nothing but shutdown
// interrupts (replication.go, replicateTo). A follower down for ten seconds
// or more was therefore sent nothing but heartbeats for up to ~10 s after it
// came back: it could not apply its revival, so it had no lease and ran no
// rooms. Held rather than failed, a whole outage counts as one or two
// failures, and the backoff stays at its first steps (10 ms).
//
// A held RPC is released with an error when the replication goroutine that
// made it is stopping: this node no longer leads in the RPC's term, or the
// peer left Raft's configuration or moved to another address; or when the
// transport closes. So it never holds up a step-down, a removal or Raft's
// shutdown for longer than holdPoll.
type holdTransport struct {
	*raft.NetworkTransport
	// replicating reports whether this node leads in term and has id at
	// addr in its latest configuration (Raft's view now).
	replicating func(term uint64, id raft.ServerID, addr raft.ServerAddress) bool

	mu    sync.Mutex
	peers map[raft.ServerID]chan struct{} // unreachable peers; closed when reached again
}

// holdPoll is how often a held RPC checks that Raft still replicates to
// its peer.
const holdPoll = 25 * time.Millisecond

// errHoldStale releases a held RPC whose replication goroutine is stopping.
var errHoldStale = errors.New("replication to an unreachable peer abandoned: not its leader any more, or the peer left or moved")

var _ raft.WithClose = (*holdTransport)(nil)
var _ raft.WithPreVote = (*holdTransport)(nil)

func newHoldTransport(t *raft.NetworkTransport, replicating func(term uint64, id raft.ServerID, addr raft.ServerAddress) bool) *holdTransport {
	return &holdTransport{NetworkTransport: t, replicating: replicating, peers: make(map[raft.ServerID]chan struct{})}
}

// AppendEntries holds a replication RPC to an unreachable peer (not a
// heartbeat), then sends it.
func (t *holdTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if !isHeartbeat(args) {
		if err := t.hold(id, target, args.Term); err != nil {
			return err
		}
	}
	return t.note(id, t.NetworkTransport.AppendEntries(id, target, args, resp))
}

// InstallSnapshot holds like AppendEntries.
func (t *holdTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if err := t.hold(id, target, args.Term); err != nil {
		return err
	}
	return t.note(id, t.NetworkTransport.InstallSnapshot(id, target, args, resp, data))
}

// RequestVote, RequestPreVote and TimeoutNow are never held; their outcome
// tells whether the peer is reachable.
func (t *holdTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.note(id, t.NetworkTransport.RequestVote(id, target, args, resp))
}

func (t *holdTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.note(id, t.NetworkTransport.RequestPreVote(id, target, args, resp))
}

func (t *holdTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.note(id, t.NetworkTransport.TimeoutNow(id, target, args, resp))
}

// isHeartbeat reports whether req is one of Raft's heartbeats (the shape
// NetworkTransport's receiver recognises too): no log position, no entries,
// no commit index.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	return req.PrevLogEntry == 0 && req.PrevLogTerm == 0 && len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}

// note records whether an RPC to id reached it, and returns err.
func (t *holdTransport) note(id raft.ServerID, err error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	up, down := t.peers[id]
	switch {
	case err != nil && !down:
		t.peers[id] = make(chan struct{})
	case err == nil && down:
		close(up)
		delete(t.peers, id)
	}
	return err
}

// hold waits while id is unreachable, until an RPC reaches it again, Raft
// stops replicating to id at target in term, or the transport closes.
func (t *holdTransport) hold(id raft.ServerID, target raft.ServerAddress, term uint64) error {
	t.mu.Lock()
	up, down := t.peers[id]
	t.mu.Unlock()
	if !down {
		return nil
	}
	tick := time.NewTicker(holdPoll)
	defer tick.Stop()
	for {
		select {
		case <-up:
			return nil
		case <-tick.C:
		}
		if t.IsShutdown() {
			return raft.ErrTransportShutdown
		}
		if !t.replicating(term, id, target) {
			return errHoldStale
		}
	}
}
