package replication

import (
	"net/http/httptest"
	"testing"

	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// TestPeerGoldenJSON pins the node-to-node messages to the bytes earlier
// versions sent: nodes of both versions talk to each other during a rolling
// upgrade.
func TestPeerGoldenJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"apply result", Result{Index: 5, Match: &MatchInfo{ID: "m1", Game: "arena", Owner: "n1", Epoch: 5, Status: MatchRunning},
			Accepted: 1, Rejected: []Rejection{{"m2", 3, "stale_epoch"}}, Moved: []Move{{"m1", "n1", "n2", 5}}},
			"{\n  \"index\": 5,\n  \"match\": {\n    \"id\": \"m1\",\n    \"game\": \"arena\",\n    \"owner\": \"n1\",\n    \"epoch\": 5,\n    \"players\": 0,\n    \"status\": \"running\",\n    \"seed\": 0,\n    \"created\": 0,\n    \"checkpoint_tick\": 0\n  },\n  \"accepted\": 1,\n  \"rejected\": [\n    {\n      \"match\": \"m2\",\n      \"epoch\": 3,\n      \"code\": \"stale_epoch\"\n    }\n  ],\n  \"moved\": [\n    {\n      \"match\": \"m1\",\n      \"from\": \"n1\",\n      \"to\": \"n2\",\n      \"epoch\": 5\n    }\n  ]\n}\n"},
		{"heartbeat", heartbeatRequest{ID: "n2", Advertise: "ws://n2/ws", API: "http://n2", RaftAddr: "n2:7351", Load: 2, Index: 40},
			"{\n  \"id\": \"n2\",\n  \"advertise\": \"ws://n2/ws\",\n  \"api\": \"http://n2\",\n  \"raft_addr\": \"n2:7351\",\n  \"load\": 2,\n  \"index\": 40\n}\n"},
		{"heartbeat ack", heartbeatAck{Leader: "n1", Index: 12, LeaseMS: 700},
			"{\n  \"leader\": \"n1\",\n  \"index\": 12,\n  \"lease_ms\": 700\n}\n"},
		{"join", JoinRequest{ID: "n3", RaftAddr: "n3:7351", Advertise: "ws://n3/ws", API: "http://n3"},
			"{\n  \"id\": \"n3\",\n  \"raft_addr\": \"n3:7351\",\n  \"advertise\": \"ws://n3/ws\",\n  \"api\": \"http://n3\"\n}\n"},
	} {
		rec := httptest.NewRecorder()
		httpapi.WriteJSON(rec, 200, tc.v)
		if got := rec.Body.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
