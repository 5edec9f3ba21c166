package hclogzerolog

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// lines decodes the JSON lines zerolog wrote.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestFieldsNamesAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf).Level(zerolog.InfoLevel), "raft")
	if !l.IsInfo() || l.IsDebug() {
		t.Fatalf("level: info %v debug %v", l.IsInfo(), l.IsDebug())
	}
	l.Debug("dropped")
	l.Named("net").With("peer", "n2").Warn("Failed To Contact", "error", errors.New("eof"),
		"after", 1500*time.Millisecond, "tries", 3, "index", uint64(7), "ok", false, "dangling")
	l.Info("fmt", "v", hclog.Fmt("%d-%s", 4, "x"))
	l.StandardLogger(nil).Print("from the standard logger\n")

	got := lines(t, &buf)
	if len(got) != 3 {
		t.Fatalf("%d lines, want 3: %s", len(got), buf.String())
	}
	want := map[string]any{"level": "warn", "component": "raft.net", "message": "failed to contact",
		"peer": "n2", "error": "eof", "after": 1500.0, "tries": 3.0, "index": 7.0, "ok": false, "dangling": true}
	for k, v := range want {
		if got[0][k] != v {
			t.Errorf("%s = %v (%T), want %v", k, got[0][k], got[0][k], v)
		}
	}
	if got[1]["v"] != "4-x" || got[1]["component"] != "raft" {
		t.Errorf("formatted arg: %v", got[1])
	}
	if got[2]["message"] != "from the standard logger" || got[2]["level"] != "info" {
		t.Errorf("standard logger: %v", got[2])
	}
}

func TestLevelIsSharedWithDerivedLoggers(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf).Level(zerolog.TraceLevel), "raft")
	child := l.Named("snapshot")
	l.SetLevel(hclog.Error)
	child.Warn("dropped")
	child.Error("kept")
	if got := lines(t, &buf); len(got) != 1 || got[0]["message"] != "kept" || got[0]["component"] != "raft.snapshot" {
		t.Fatalf("got %v", got)
	}
	if child.GetLevel() != hclog.Error || child.ResetNamed("x").Name() != "x" {
		t.Fatalf("level %v", child.GetLevel())
	}
}

// TestKeysSnakeCaseAndNoDuplicates: argument names become snake_case, an
// argument named like a field of the caller's logger (Reserved) or of the
// bridge is renamed after the logger, and a call argument wins over an
// implied one of the same name: no key appears twice in a line.
func TestKeysSnakeCaseAndNoDuplicates(t *testing.T) {
	var buf bytes.Buffer
	z := zerolog.New(&buf).With().Str("node", "n1").Logger()
	l := NewWithOptions(z, "raft", Options{Reserved: []string{"node"}}).Named("net").With("peer", "implied", "term", 3)
	l.Info("entering candidate state", "node", "Node at 127.0.0.1:7351 [Candidate]", "backoff time", 10*time.Millisecond,
		"last-leader-id", "", "peer", "n2", "component", "x", "message", "y", "level", "z")
	raw := strings.TrimSpace(buf.String())
	if n := strings.Count(raw, `"node":`); n != 1 {
		t.Fatalf("node appears %d times: %s", n, raw)
	}
	got := lines(t, &buf)[0]
	want := map[string]any{
		"node": "n1", "raft_node": "Node at 127.0.0.1:7351 [Candidate]", "backoff_time": 10.0,
		"last_leader_id": "", "peer": "n2", "term": 3.0, "component": "raft.net", "raft_component": "x",
		"message": "entering candidate state", "raft_message": "y", "level": "info", "raft_level": "z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, raw)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d keys, want %d: %s", len(got), len(want), raw)
	}
}

// TestLevelPolicy: Options.Level changes a line's level from its message
// and arguments, and can drop it.
func TestLevelPolicy(t *testing.T) {
	var buf bytes.Buffer
	l := NewWithOptions(zerolog.New(&buf).Level(zerolog.InfoLevel), "raft", Options{
		Level: func(level hclog.Level, msg string, args []any) hclog.Level {
			switch {
			case msg == "heartbeat timeout reached, starting election" && len(args) == 2 && args[1] == "":
				return hclog.Info
			case msg == "noise":
				return hclog.Debug
			case msg == "never":
				return hclog.Off
			}
			return level
		},
	})
	l.Warn("heartbeat timeout reached, starting election", "last-leader-id", "")
	l.Warn("heartbeat timeout reached, starting election", "last-leader-id", "n1")
	l.Info("noise")
	l.Error("never")
	got := lines(t, &buf)
	if len(got) != 2 || got[0]["level"] != "info" || got[1]["level"] != "warn" {
		t.Fatalf("got %v", got)
	}
}

// TestRepeatLimit: warnings and errors with the same message and peer are
// written once per RepeatEvery, the next one with the count dropped, and
// so are the info lines of RepeatInfo; other peers, other messages and
// other info lines are not held back.
func TestRepeatLimit(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := NewWithOptions(zerolog.New(&buf), "raft", Options{
		RepeatEvery: 10 * time.Second, RepeatKeys: []string{"peer"}, RepeatInfo: []string{"installing snapshot on"},
		now: func() time.Time { return now },
	})
	beat := func(peer string) { l.Error("failed to heartbeat to", "peer", peer, "error", errors.New("refused")) }
	for range 50 { // 5 s at 10 a second
		beat("n3")
		l.Info("routine", "peer", "n3")
		l.Info("installing snapshot on", "peer", "n3")
		now = now.Add(100 * time.Millisecond)
	}
	beat("n2")
	l.Warn("failed to contact", "peer", "n3")
	now = now.Add(5 * time.Second) // 10 s after the first
	beat("n3")
	beat("n3")

	var heartbeats []map[string]any
	infos, peerInfos := 0, 0
	for _, m := range lines(t, &buf) {
		switch m["message"] {
		case "failed to heartbeat to":
			heartbeats = append(heartbeats, m)
		case "routine":
			infos++
		case "installing snapshot on":
			peerInfos++
		}
	}
	if infos != 50 || peerInfos != 1 {
		t.Errorf("%d info lines, want 50 (not limited); %d of RepeatInfo, want 1", infos, peerInfos)
	}
	if len(heartbeats) != 3 {
		t.Fatalf("%d heartbeat lines, want 3: %v", len(heartbeats), heartbeats)
	}
	if heartbeats[0]["peer"] != "n3" || heartbeats[0]["suppressed"] != nil {
		t.Errorf("first: %v", heartbeats[0])
	}
	if heartbeats[1]["peer"] != "n2" {
		t.Errorf("another peer held back: %v", heartbeats[1])
	}
	if heartbeats[2]["peer"] != "n3" || heartbeats[2]["suppressed"] != 49.0 {
		t.Errorf("after the interval: %v, want suppressed 49", heartbeats[2])
	}
	if !strings.Contains(buf.String(), `"message":"failed to contact"`) {
		t.Error("another message held back")
	}
}
