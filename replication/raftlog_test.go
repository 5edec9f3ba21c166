package replication

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// TestRaftLevel: Raft's benign warnings are logged at info and its
// snapshot chatter at debug; a lost leader stays a warning.
func TestRaftLevel(t *testing.T) {
	for _, tt := range []struct {
		level hclog.Level
		msg   string
		args  []any
		want  hclog.Level
	}{
		{hclog.Warn, "heartbeat timeout reached, starting election", []any{"last-leader-addr", raft.ServerAddress(""), "last-leader-id", raft.ServerID("")}, hclog.Info},
		{hclog.Warn, "heartbeat timeout reached, starting election", []any{"last-leader-addr", raft.ServerAddress("127.0.0.1:7351"), "last-leader-id", raft.ServerID("n1")}, hclog.Warn},
		{hclog.Warn, "appendEntries rejected, sending older logs", []any{"peer", "n2", "next", uint64(3)}, hclog.Info},
		{hclog.Warn, "failed to get previous log", []any{"previous-index", uint64(3)}, hclog.Info},
		{hclog.Info, "starting snapshot up to", []any{"index", uint64(90)}, hclog.Debug},
		{hclog.Info, "reaping snapshot", []any{"path", "/x"}, hclog.Debug},
		{hclog.Error, "failed to heartbeat to", []any{"peer", "n3"}, hclog.Error},
		{hclog.Info, "entering leader state", nil, hclog.Info},
		{hclog.Error, "failed to decode incoming command", []any{"error", raft.ErrTransportShutdown}, hclog.Debug},
		{hclog.Error, "failed to decode incoming command", []any{"error", errors.New("unknown rpc type 9")}, hclog.Error},
	} {
		if got := raftLevel(tt.level, tt.msg, tt.args); got != tt.want {
			t.Errorf("%q %v: %v, want %v", tt.msg, tt.args, got, tt.want)
		}
	}
}

// TestRaftLoggerDeadPeer: the leader's errors about one dead peer, at
// Raft's pace (a heartbeat every 200 ms at most), come out as one line per
// raftRepeatEvery per kind; a second peer gets its own; the node's own id
// stays the only "node" key.
func TestRaftLoggerDeadPeer(t *testing.T) {
	var buf bytes.Buffer
	l := newRaftLogger(zerolog.New(&buf).With().Str(keyNode, "n1").Logger())
	for range 100 {
		l.Error("failed to heartbeat to", "peer", raft.ServerAddress("127.0.0.1:7371"), "backoff time", 200, "error", errors.New("connection refused"))
	}
	l.Error("failed to heartbeat to", "peer", raft.ServerAddress("127.0.0.1:7361"), "error", errors.New("connection refused"))
	l.Info("entering candidate state", "node", "Node at 127.0.0.1:7351 [Candidate]", "term", uint64(2))
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(got), buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got[2]), &m); err != nil {
		t.Fatal(err)
	}
	if m["node"] != "n1" || m["raft_node"] != "Node at 127.0.0.1:7351 [Candidate]" || strings.Count(got[2], `"node":`) != 1 {
		t.Fatalf("line %s", got[2])
	}
}
