package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/admin"
	"github.com/ticksync/ticksync/schema/token"
)

// run runs ticksyncctl with args and env vars (k=v), and returns its exit
// code, stdout and stderr.
func run(t *testing.T, args []string, env ...string) (int, string, string) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Run(ctx, Env{Args: args, Getenv: func(k string) string { return vars[k] }, Stdout: &out, Stderr: &errb,
		Now: func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) }})
	return code, out.String(), errb.String()
}

// TestUsage: a bad command line exits 2, says what is wrong and sends
// nothing (no node runs here).
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"match"}, "match takes one argument: MATCH"},
		{[]string{"move", "m1"}, "move takes 2 arguments: MATCH NODE"},
		{[]string{"status", "extra"}, "status takes no arguments"},
		{[]string{"-o", "yaml", "nodes"}, `-o "yaml": must be table or json`},
		{[]string{"nodes", "-o", "xml"}, `-o "xml": must be table or json`},
		{[]string{"-bogus", "nodes"}, "flag provided but not defined: -bogus"},
		{[]string{"kick", "m1", "zero"}, `player "zero": must be a player id`},
		{[]string{"kick", "m1", "0"}, `player "0": must be a player id`},
		{[]string{"token", "7"}, "no secret: pass -auth-secret or set TICKSYNC_AUTH_SECRET"},
		{[]string{"token", "-auth-secret", "s", "-ttl", "-1s", "7"}, "-ttl -1s: must be > 0"},
		{[]string{"watch", "m1", "-interval", "0s"}, "-interval 0s: must be > 0"},
		{[]string{"-addr", "ftp://x", "nodes"}, `-addr "ftp://x"`},
		{[]string{"-timeout", "0s", "nodes"}, "-timeout 0s: must be > 0"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := run(t, tc.args)
			if code != ExitUsage || out != "" || !strings.Contains(errs, tc.want) || !strings.HasPrefix(errs, "ticksyncctl: ") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errs, tc.want)
			}
		})
	}
	code, out, _ := run(t, []string{"-h"})
	if code != ExitOK || !strings.Contains(out, "transfer-leader [NODE]") || !strings.Contains(out, "-token") {
		t.Fatalf("-h: %d %q", code, out)
	}
	code, out, _ = run(t, []string{"create-match", "-h"})
	if code != ExitOK || !strings.Contains(out, "-game") {
		t.Fatalf("create-match -h: %d %q", code, out)
	}
}

// TestToken: token mints a player token the nodes accept, from the flag or
// the environment.
func TestToken(t *testing.T) {
	code, out, errs := run(t, []string{"token", "-ttl", "1h", "42"}, "TICKSYNC_AUTH_SECRET=s3cret")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if code != ExitOK || errs != "" {
		t.Fatalf("token: %d %q", code, errs)
	}
	if p, err := token.VerifyPlayer([]byte("s3cret"), strings.TrimSpace(out), now.Add(59*time.Minute)); err != nil || p != 42 {
		t.Fatalf("token %q: player %d, %v", out, p, err)
	}
	if _, err := token.VerifyPlayer([]byte("s3cret"), strings.TrimSpace(out), now.Add(61*time.Minute)); err == nil {
		t.Fatal("the token outlives -ttl")
	}
	code, out, _ = run(t, []string{"-o", "json", "token", "-auth-secret", "other", "7"}, "TICKSYNC_AUTH_SECRET=s3cret")
	var tj tokenJSON
	if code != ExitOK || json.Unmarshal([]byte(out), &tj) != nil || tj.Player != 7 || !tj.Expires.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("token -o json: %d %q", code, out)
	}
	if p, err := token.VerifyPlayer([]byte("other"), tj.Token, now); err != nil || p != 7 {
		t.Fatalf("-auth-secret does not win over the environment: %v", err)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, []string{"version"})
	if code != ExitOK || !strings.HasPrefix(out, "ticksyncctl ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, out, _ = run(t, []string{"version", "-o", "json"})
	var v versionJSON
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Program != "ticksyncctl" || v.Version == "" {
		t.Fatalf("version -o json: %d %q", code, out)
	}
}

// TestUnreachable: a node that is not there is exit 1 with a message that
// names the address and the likely cause.
func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, errs := run(t, []string{"nodes"}, "TICKSYNC_ADDR="+addr, "TICKSYNC_ADMIN_TOKEN=t")
	want := "ticksyncctl: cannot reach http://" + addr + ": is the node running? (connection refused)\n"
	if code != ExitFailed || out != "" || errs != want {
		t.Fatalf("exit %d, %q, %q; want %q", code, out, errs, want)
	}
}

// TestExplainAPI: the admin API's error answers become messages that say
// what to do.
func TestExplainAPI(t *testing.T) {
	apiErr := func(status int, err error, msg string) *admin.Error {
		return &admin.Error{Status: status, Code: replication.ErrorCode(err), Message: msg}
	}
	for _, tc := range []struct {
		err   *admin.Error
		sub   subject
		token bool
		want  string
	}{
		{apiErr(401, replication.ErrUnauthorized, "missing or wrong admin token"), subject{}, true,
			"401: the admin token does not match; pass -token or set TICKSYNC_ADMIN_TOKEN"},
		{apiErr(401, replication.ErrUnauthorized, "missing or wrong admin token"), subject{}, false,
			"401: no admin token given; pass -token or set TICKSYNC_ADMIN_TOKEN"},
		{apiErr(401, replication.ErrUnauthorized, "missing or wrong admin token: the admin API is disabled (no admin token configured)"), subject{}, true,
			"401: the node's admin API is disabled (the node has no -admin-token); start every node with the same -admin-token"},
		{apiErr(404, replication.ErrMatchNotFound, "match not found: xyz"), subject{match: "xyz"}, true,
			"match xyz not found (ticksyncctl matches lists them)"},
		{apiErr(404, replication.ErrNodeNotFound, "node not found: n9"), subject{match: "m1", node: "n9"}, true,
			"node n9 not found (ticksyncctl nodes lists them)"},
		{apiErr(404, replication.ErrPlayerNotFound, "player not found: player 7 is not in match m1"), subject{match: "m1", player: 7}, true,
			"player 7 is not in match m1 (ticksyncctl match m1 lists its players)"},
		{apiErr(400, replication.ErrBadRequest, "bad request: unknown game chess (registered: arena)"), subject{}, true,
			"unknown game chess (registered: arena)"},
		{apiErr(503, replication.ErrNoLeader, "no raft leader known"), subject{}, true,
			"no raft leader known: the cluster has no leader right now (an election takes a second or two); retry"},
		{apiErr(409, replication.ErrNodeNotAlive, "node is not alive: n3 is dead"), subject{}, true,
			"node is not alive: n3 is dead (ticksyncctl nodes shows their states)"},
		{&admin.Error{Status: 502, Message: "GET http://x/admin/v1/status"}, subject{}, true,
			"HTTP 502 from the node: GET http://x/admin/v1/status (is -addr a ticksync node?)"},
		{apiErr(409, replication.ErrStaleEpoch, "stale epoch: m1 is at epoch 9, not 8"), subject{}, true,
			"stale epoch: m1 is at epoch 9, not 8 (HTTP 409, stale_epoch)"},
	} {
		if got := explainAPI(tc.err, tc.sub, tc.token); got != tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.err, got, tc.want)
		}
	}
}

func TestExplainTransport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("GET x: %w", ctx.Err()), "cannot reach http://n1:7350: no answer within 30s; check -addr, or wait longer with -timeout"},
		{fmt.Errorf("GET x: %w", context.Canceled), "interrupted"},
		{fmt.Errorf("decode answer: %w", json.Unmarshal([]byte("<html>"), new(any))), "unexpected answer from http://n1:7350"},
		{fmt.Errorf("dial: %w", &net.DNSError{Err: "no such host", Name: "n1", IsNotFound: true}), "cannot reach http://n1:7350: unknown host n1; check -addr or TICKSYNC_ADDR"},
		{fmt.Errorf("boom"), "cannot reach http://n1:7350: boom"},
	} {
		if got := explainTransport(tc.err, "http://n1:7350", "30s"); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q…", tc.err, got, tc.want)
		}
	}
}

// TestTables: the tables people read, from answers of the API's shapes.
func TestTables(t *testing.T) {
	tick := uint32(1234)
	rtt, age, zero := 12.5, int64(20), int64(0)
	var b bytes.Buffer
	check := func(name string, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
		}
		b.Reset()
	}
	check("nodes", writeNodes(&b, []admin.Node{
		{ID: "n1", State: replication.NodeAlive, Leader: true, Voter: true, Load: 2, Advertise: "ws://a/ws", API: "http://a"},
		{ID: "n2", State: replication.NodeDraining, Voter: true, Load: 0, Advertise: "ws://b/ws", API: "http://b"},
	}), `ID  STATE     LEADER  VOTER  LOAD  ADVERTISE  API
n1  alive     leader  voter  2     ws://a/ws  http://a
n2  draining  -       voter  0     ws://b/ws  http://b
`)
	check("matches", writeMatches(&b, []admin.Match{
		{ID: "m1", Game: "arena", Owner: "n1", Status: replication.MatchRunning, Players: 2, Tick: &tick, Epoch: 9, CheckpointTick: 1200, CheckpointBytes: 900},
		{ID: "m2", Game: "arena", Status: replication.MatchOrphaned, Epoch: 12},
	}), `ID  GAME   OWNER  STATUS    PLAYERS  TICK  EPOCH  CHECKPOINT
m1  arena  n1     running   2        1234  9      tick 1200, 900 B
m2  arena  -      orphaned  0        -     12     -
`)
	check("match", writeMatch(&b, admin.MatchDetail{
		Match: admin.Match{ID: "m1", Game: "arena", Owner: "n1", Status: replication.MatchRunning, Players: 2, Epoch: 9, CheckpointTick: 1200, CheckpointEpoch: 9, CheckpointBytes: 900},
		Live: &admin.Live{Node: "n1", Tick: 1234, TickRate: 30, Seats: 8, Connected: 1, TickP99MS: 0.213, TickMaxMS: 1.5, BytesPerSec: 5530, SnapshotBytes: 99000,
			Players: []admin.Player{
				{ID: 1, Name: "ann", Entity: 5, Connected: true, RTTMS: &rtt, LastInputMS: &age},
				{ID: 2, Entity: 6, LastInputMS: &zero},
			}},
	}), `MATCH       m1
GAME        arena
OWNER       n1
STATUS      running
EPOCH       9
CHECKPOINT  tick 1200 (epoch 9, 900 B)
STATE       running
TICK        1234 (30 Hz)
TICK TIME   p99 0.21 ms, max 1.5 ms (last 256 ticks)
SENT        5.4 KiB/s of snapshots, 99000 B in all
PLAYERS     2 of 8 seats, 1 connected

PLAYER  NAME  ENTITY  STATE              RTT      LAST INPUT
1       ann   5       connected          12.5 ms  20 ms ago
2       -     6       waiting to resume  -        0 ms ago
`)
	check("match without its owner", writeMatch(&b, admin.MatchDetail{
		Match:     admin.Match{ID: "m2", Game: "arena", Owner: "n3", Status: replication.MatchRunning, Players: 3},
		LiveError: "owner n3 did not answer",
	}), `MATCH       m2
GAME        arena
OWNER       n3
STATUS      running
EPOCH       0
CHECKPOINT  tick 0 (epoch 0, 0 B)
PLAYERS     3
LIVE        unknown: owner n3 did not answer
`)
	check("match with a key", writeMatch(&b, admin.MatchDetail{
		Match:     admin.Match{ID: "m3", Game: "cards", Owner: "n1", Status: replication.MatchRunning, Players: 2, Key: `mode=1`},
		LiveError: "owner n1 did not answer",
	}), `MATCH       m3
GAME        cards
OWNER       n1
STATUS      running
EPOCH       0
CHECKPOINT  tick 0 (epoch 0, 0 B)
KEY         mode=1
PLAYERS     2
LIVE        unknown: owner n1 did not answer
`)
	check("status", writeStatus(&b, replication.Status{ID: "n2", RaftState: "Follower", Leader: "n1", Term: 3, AppliedIndex: 40, CommitIndex: 41,
		LastContactMS: &age, LeaseValid: true, LeaseRemainingMS: 800, Nodes: 3, Matches: 5, Owned: 2}), `NODE           n2
RAFT STATE     Follower
LEADER         n1
TERM           3
APPLIED INDEX  40
COMMIT INDEX   41
LAST CONTACT   20 ms ago
LEASE          valid (800 ms left)
NODES          3
MATCHES        5 (2 owned here)
CHECKPOINTS    0 batches, 0 items, 0 rejected, 0 failures, 0 bytes out
`)
	hz := 29.9
	check("watch frame", writeWatchFrame(&b, watchFrame{At: time.Date(2026, 12, 4, 15, 4, 5, 0, time.UTC), TickHz: &hz, Match: admin.MatchDetail{
		Match: admin.Match{ID: "m1", Game: "arena", Owner: "n1"},
		Live:  &admin.Live{Node: "n1", Tick: 1234, TickRate: 30, Seats: 8, TickP99MS: 0.5, TickMaxMS: 150, BytesPerSec: 3 << 20},
	}}, time.Second), `match m1 (arena) at 15:04:05, every 1s; Ctrl-C stops

OWNER      n1, running
TICK       1234, 29.9 Hz (of 30 Hz)
TICK TIME  p99 0.50 ms, max 150 ms
SENT       3.0 MiB/s
PLAYERS    0 of 8 seats, 0 connected
`)
}

// TestJSON: -o json writes the API's answer as the API wrote it (the same
// field names, numbers as numbers), indented.
func TestJSON(t *testing.T) {
	rtt := 12.5
	d := admin.MatchDetail{Match: admin.Match{ID: "m1", Game: "arena", Owner: "n1", Status: replication.MatchRunning},
		Live: &admin.Live{Node: "n1", Tick: 7, Players: []admin.Player{{ID: 1, Name: "ann", RTTMS: &rtt}}}}
	var b bytes.Buffer
	if err := writeJSON(&b, d); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	live := back["live"].(map[string]any)
	p := live["players"].([]any)[0].(map[string]any)
	if back["status"] != "running" || live["tick"] != 7.0 || p["rtt_ms"] != 12.5 || p["last_input_ms"] != nil || !strings.Contains(b.String(), "\n  \"game\": \"arena\",\n") {
		t.Fatalf("json:\n%s", b.String())
	}
	var w bytes.Buffer
	r := &runner{output: "json", out: &w}
	if err := r.writeFrame(watchFrame{At: time.Unix(0, 0).UTC(), Match: d}, 0, false); err != nil {
		t.Fatal(err)
	}
	var frame struct {
		At     time.Time         `json:"at"`
		TickHz *float64          `json:"tick_hz"`
		Match  admin.MatchDetail `json:"match"`
	}
	if strings.Count(w.String(), "\n") != 1 || json.Unmarshal(w.Bytes(), &frame) != nil || frame.Match.Live.Players[0].Name != "ann" || frame.TickHz != nil {
		t.Fatalf("watch frame: %q", w.String())
	}
}
