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
