package replication

import (
	"errors"
	"net/http"

	"github.com/ticksync/ticksync/replication/command"
)

// Sentinel errors. Callers branch on them with errors.Is; errors that crossed
// the admin API come back as *RemoteError, which unwraps to the same sentinel.
var (
	// ErrNotLeader: the operation needs the Raft leader and this node is not it.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrNoLeader: no leader is known right now (election in progress).
	ErrNoLeader = errors.New("no raft leader known")
	// ErrLeadershipLost: the entry may or may not have been committed. All our
	// commands are idempotent, so Node.Apply retries them.
	ErrLeadershipLost = errors.New("leadership lost while applying")
	// ErrShutdown: the node is shut down (or not started).
	ErrShutdown = errors.New("replication node is not running")

	ErrNodeNotFound  = errors.New("node not found")
	ErrNodeNotAlive  = errors.New("node is not alive")
	ErrNoLiveNode    = errors.New("no live node to place the match on")
	ErrMatchNotFound = errors.New("match not found")
	ErrMatchExists   = errors.New("match exists with another game")
	// ErrPlayerNotFound: the match (running on its owner) has no seat for
	// that player (admin API: kick).
	ErrPlayerNotFound = errors.New("player not found")
	// ErrStaleEpoch: the command named an epoch that is not the match's current one.
	ErrStaleEpoch = errors.New("stale epoch")
	// ErrOwnerAlive: only a live owner may hand its match over (after freezing
	// it); a forced reassignment needs the owner to be declared dead first.
	ErrOwnerAlive = errors.New("owner is alive; only the owner can hand the match over")
	// ErrBadCommand: a log entry or request that is not a valid command
	// (command.ErrBadCommand), or a command the FSM cannot apply as given.
	ErrBadCommand = command.ErrBadCommand
	// ErrDeclaredDead: the leader refused a heartbeat because it is declaring
	// (or has just declared) this node dead; the next heartbeat revives it.
	ErrDeclaredDead = errors.New("node is being declared dead")
	// ErrNotMember: the node is not a voter in the Raft configuration (removed, or never joined).
	ErrNotMember    = errors.New("node is not a raft voter")
	ErrUnauthorized = errors.New("missing or wrong admin token")
	// ErrForbidden: a node-to-node request made a claim its sender's
	// certificate does not back (a heartbeat, join or command for another
	// node id), or asked for what only the leader decides.
	ErrForbidden = errors.New("forbidden")
	// ErrMemberExists: a join named a node id that is a member at another
	// address (or an address another member has), without a certificate
	// proving that identity.
	ErrMemberExists = errors.New("already a member")
	// ErrInsecureCluster: a node without cluster certificates (ClusterTLS)
	// and without InsecureCluster was asked to be part of a cluster of
	// several nodes.
	ErrInsecureCluster = errors.New("no cluster certificates")
	// ErrUseClusterPort: a node-to-node endpoint was called on the HTTP
	// listener of a node that serves them only on its cluster port, over
	// mutual TLS.
	ErrUseClusterPort = errors.New("node-to-node endpoints are served on the cluster port over mutual TLS")
	ErrNoHost         = errors.New("no game host attached to this node")
	ErrBadRequest     = errors.New("bad request")
)

// errorTable maps sentinels to the codes and HTTP statuses of the admin API.
var errorTable = []struct {
	err    error
	code   string
	status int
}{
	{ErrNotLeader, "not_leader", http.StatusServiceUnavailable},
	{ErrNoLeader, "no_leader", http.StatusServiceUnavailable},
	{ErrLeadershipLost, "leadership_lost", http.StatusServiceUnavailable},
	{ErrShutdown, "shutdown", http.StatusServiceUnavailable},
	{ErrNodeNotFound, "node_not_found", http.StatusNotFound},
	{ErrNodeNotAlive, "node_not_alive", http.StatusConflict},
	{ErrNoLiveNode, "no_live_node", http.StatusServiceUnavailable},
	{ErrMatchNotFound, "match_not_found", http.StatusNotFound},
	{ErrMatchExists, "match_exists", http.StatusConflict},
	{ErrPlayerNotFound, "player_not_found", http.StatusNotFound},
	{ErrStaleEpoch, "stale_epoch", http.StatusConflict},
	{ErrOwnerAlive, "owner_alive", http.StatusConflict},
	{ErrBadCommand, "bad_command", http.StatusBadRequest},
	{ErrDeclaredDead, "declared_dead", http.StatusConflict},
	{ErrNotMember, "not_member", http.StatusGone},
	{ErrUnauthorized, "unauthorized", http.StatusUnauthorized},
	{ErrForbidden, "forbidden", http.StatusForbidden},
	{ErrMemberExists, "member_exists", http.StatusConflict},
	{ErrInsecureCluster, "insecure_cluster", http.StatusForbidden},
	{ErrUseClusterPort, "use_cluster_port", http.StatusMisdirectedRequest},
	{ErrNoHost, "no_host", http.StatusNotImplemented},
	{ErrBadRequest, "bad_request", http.StatusBadRequest},
}

// ErrorCode returns the admin API code of err ("internal" if none matches).
func ErrorCode(err error) string {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "internal"
}

// HTTPStatus returns the admin API's HTTP status for err (500 if no
// sentinel matches).
func HTTPStatus(err error) int {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// ErrorForCode returns the sentinel of an admin API code, or nil.
func ErrorForCode(code string) error {
	for _, e := range errorTable {
		if e.code == code {
			return e.err
		}
	}
	return nil
}

// RemoteError is an error answer of another node's node-to-node API (a
// forwarded command, a heartbeat, a join). The operator API's client has
// its own, admin.Error.
type RemoteError struct {
	Status  int    // HTTP status
	Code    string // errorTable code
	Message string
	// Node and ClusterAddr, when the answer names a node to ask instead:
	// the leader (not_leader) or the node's cluster port (use_cluster_port).
	Node, ClusterAddr string
}

func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns the sentinel for Code, so errors.Is works across nodes.
func (e *RemoteError) Unwrap() error { return ErrorForCode(e.Code) }
