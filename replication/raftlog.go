package replication

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/internal/hclogzerolog"
)

// raftRepeatEvery is how often one kind of Raft warning or error about one
// peer is written while it repeats: a dead peer makes the leader log a
// failed heartbeat every 200 ms (HeartbeatTimeout/2, Raft's backoff cap),
// and a failed snapshot send every 10 s, for as long as the peer is a
// voter.
const raftRepeatEvery = 30 * time.Second

// raftPeerKeys are the arguments Raft names a peer with: lines about
// different peers are rate-limited apart.
var raftPeerKeys = []string{"peer", "target", "server-id"}

// raftRepeatInfo are Raft's info lines that repeat for as long as a peer is
// unreachable (a snapshot send every 10 s; a pipeline per reconnection):
// rate-limited like its warnings.
var raftRepeatInfo = []string{"installing snapshot on", "pipelining replication", "aborting pipeline replication"}

// newRaftLogger is Raft's logger: hclog bridged to z under component=raft,
// with raftLevel's policy and a rate limit per message and peer.
func newRaftLogger(z zerolog.Logger) hclog.Logger {
	return hclogzerolog.NewWithOptions(z, "raft", hclogzerolog.Options{
		Level:       raftLevel,
		RepeatEvery: raftRepeatEvery,
		RepeatKeys:  raftPeerKeys,
		RepeatInfo:  raftRepeatInfo,
		Reserved:    []string{keyNode},
	})
}

// raftLevel is the level we log a Raft line at. hashicorp/raft warns about
// steps of its normal work; those become info, and its routine snapshot
// chatter (a snapshot every SnapshotInterval under load, five lines each)
// becomes debug. Everything else keeps Raft's level.
func raftLevel(level hclog.Level, msg string, args []any) hclog.Level {
	switch msg {
	case "heartbeat timeout reached, starting election":
		// With no leader known since this process started (a fresh
		// bootstrap or a restart) this is how every cluster elects its
		// first leader; after a leader it is a lost leader, a warning.
		if argString(args, "last-leader-id") == "" && argString(args, "last-leader-addr") == "" {
			return hclog.Info
		}
	case "appendEntries rejected, sending older logs", "failed to get previous log":
		// Raft's log matching: a new or restarted follower is brought up
		// to date from an earlier index (the leader's and the follower's
		// side of the same step).
		return min(level, hclog.Info)
	case "starting snapshot up to", "creating new snapshot", "snapshot complete up to",
		"compacting logs", "reaping snapshot", "opening snapshot":
		return min(level, hclog.Debug)
	case "failed to decode incoming command":
		// A connection served while the transport closes, at every
		// shutdown.
		if err, _ := argValue(args, "error").(error); errors.Is(err, raft.ErrTransportShutdown) {
			return hclog.Debug
		}
	}
	return level
}

// argValue returns hclog argument key (nil if absent).
func argValue(args []any, key string) any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return args[i+1]
		}
	}
	return nil
}

// argString returns hclog argument key as a string ("" if absent). Raft
// passes ids and addresses as string types of its own (raft.ServerID).
func argString(args []any, key string) string {
	if v := argValue(args, key); v != nil {
		return fmt.Sprint(v)
	}
	return ""
}
