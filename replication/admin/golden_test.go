package admin

import (
	"net/http/httptest"
	"testing"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// TestGoldenJSON pins the admin API's answers (scripts and ticksyncctl
// parse them; system tests compare them). Rows keep the fields and order
// earlier versions wrote; status writes its numbers as JSON numbers.
func TestGoldenJSON(t *testing.T) {
	tick := uint32(77)
	zero, age, rtt := int64(0), int64(30), 12.5
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"node", Node{ID: "n1", Advertise: "ws://n1/ws", API: "http://n1", RaftAddr: "n1:7351", State: replication.NodeAlive, Leader: true, Load: 2, Voter: true},
			"{\n  \"id\": \"n1\",\n  \"advertise\": \"ws://n1/ws\",\n  \"api\": \"http://n1\",\n  \"raft_addr\": \"n1:7351\",\n  \"state\": \"alive\",\n  \"leader\": true,\n  \"load\": 2,\n  \"voter\": true\n}\n"},
		{"match", Match{ID: "m1", Game: "arena", Owner: "n1", Epoch: 9, Players: 3, Status: replication.MatchRunning, Tick: &tick,
			CheckpointTick: 60, CheckpointEpoch: 9, CheckpointBytes: 120, Seed: 42},
			"{\n  \"id\": \"m1\",\n  \"game\": \"arena\",\n  \"owner\": \"n1\",\n  \"epoch\": 9,\n  \"players\": 3,\n  \"status\": \"running\",\n  \"tick\": 77,\n  \"checkpoint_tick\": 60,\n  \"checkpoint_epoch\": 9,\n  \"checkpoint_bytes\": 120,\n  \"seed\": 42\n}\n"},
		{"match without a tick", Match{ID: "m2", Game: "arena", Status: replication.MatchOrphaned},
			"{\n  \"id\": \"m2\",\n  \"game\": \"arena\",\n  \"owner\": \"\",\n  \"epoch\": 0,\n  \"players\": 0,\n  \"status\": \"orphaned\",\n  \"tick\": null,\n  \"checkpoint_tick\": 0,\n  \"checkpoint_epoch\": 0,\n  \"checkpoint_bytes\": 0,\n  \"seed\": 0\n}\n"},
		{"drain and undrain", replication.NodeInfo{ID: "n2", Advertise: "ws://n2/ws", API: "http://n2", RaftAddr: "n2:7351",
			State: replication.NodeDraining, Since: 12, Revived: 3, Load: 1},
			"{\n  \"id\": \"n2\",\n  \"advertise\": \"ws://n2/ws\",\n  \"api\": \"http://n2\",\n  \"raft_addr\": \"n2:7351\",\n  \"state\": \"draining\",\n  \"since\": 12,\n  \"revived\": 3,\n  \"load\": 1\n}\n"},
		{"status", replication.Status{ID: "n1", RaftState: "Leader", Leader: "n1", Term: 3, AppliedIndex: 40, CommitIndex: 41,
			LastContactMS: &zero, LeaseValid: true, LeaseRemainingMS: 800, Nodes: 3, Matches: 5, Owned: 2,
			ContactAgeMS: map[string]int64{"n2": 120, "n3": 80},
			Checkpoints: replication.CheckpointStats{Batches: 1, Items: 2, Rejected: 3, Failures: 4, BytesIn: 5, BytesOut: 6,
				ApplyMean: 7, ApplyMax: 8, Captures: 9, CaptureMissed: 10}},
			"{\n  \"id\": \"n1\",\n  \"raft_state\": \"Leader\",\n  \"leader\": \"n1\",\n  \"term\": 3,\n  \"applied_index\": 40,\n  \"commit_index\": 41,\n  \"last_contact_ms\": 0,\n  \"lease_valid\": true,\n  \"lease_remaining_ms\": 800,\n  \"nodes\": 3,\n  \"matches\": 5,\n  \"owned\": 2,\n  \"contact_age_ms\": {\n    \"n2\": 120,\n    \"n3\": 80\n  },\n  \"checkpoints\": {\n    \"batches\": 1,\n    \"items\": 2,\n    \"rejected\": 3,\n    \"failures\": 4,\n    \"bytes_in\": 5,\n    \"bytes_out\": 6,\n    \"apply_mean_ns\": 7,\n    \"apply_max_ns\": 8,\n    \"captures\": 9,\n    \"capture_missed\": 10\n  }\n}\n"},
		{"match detail", MatchDetail{Match: Match{ID: "m1", Game: "arena", Owner: "n1", Epoch: 9, Players: 2, Status: replication.MatchRunning, Tick: &tick},
			Live: &Live{Node: "n1", Tick: 77, TickRate: 30, Seats: 8, Connected: 1, TickP99MS: 0.25, TickMaxMS: 1.5, BytesPerSec: 5400, SnapshotBytes: 99000,
				Players: []Player{{ID: 1, Name: "ann", Entity: 5, Connected: true, RTTMS: &rtt, LastInputMS: &age}, {ID: 2, Name: "bob", Entity: 6}}}},
			"{\n  \"id\": \"m1\",\n  \"game\": \"arena\",\n  \"owner\": \"n1\",\n  \"epoch\": 9,\n  \"players\": 2,\n  \"status\": \"running\",\n  \"tick\": 77,\n  \"checkpoint_tick\": 0,\n  \"checkpoint_epoch\": 0,\n  \"checkpoint_bytes\": 0,\n  \"seed\": 0,\n  \"live\": {\n    \"node\": \"n1\",\n    \"tick\": 77,\n    \"tick_rate\": 30,\n    \"seats\": 8,\n    \"connected\": 1,\n    \"tick_p99_ms\": 0.25,\n    \"tick_max_ms\": 1.5,\n    \"bytes_per_sec\": 5400,\n    \"snapshot_bytes\": 99000,\n    \"frozen\": false,\n    \"paused\": false,\n    \"players\": [\n      {\n        \"id\": 1,\n        \"name\": \"ann\",\n        \"entity\": 5,\n        \"connected\": true,\n        \"rtt_ms\": 12.5,\n        \"last_input_ms\": 30\n      },\n      {\n        \"id\": 2,\n        \"name\": \"bob\",\n        \"entity\": 6,\n        \"connected\": false,\n        \"rtt_ms\": null,\n        \"last_input_ms\": null\n      }\n    ]\n  }\n}\n"},
		{"match detail without its owner", MatchDetail{Match: Match{ID: "m2", Game: "arena", Owner: "n3", Status: replication.MatchRunning}, LiveError: "owner n3 did not answer"},
			"{\n  \"id\": \"m2\",\n  \"game\": \"arena\",\n  \"owner\": \"n3\",\n  \"epoch\": 0,\n  \"players\": 0,\n  \"status\": \"running\",\n  \"tick\": null,\n  \"checkpoint_tick\": 0,\n  \"checkpoint_epoch\": 0,\n  \"checkpoint_bytes\": 0,\n  \"seed\": 0,\n  \"live\": null,\n  \"live_error\": \"owner n3 did not answer\"\n}\n"},
		{"end", EndResult{Ended: "m1", Game: "arena", Owner: "n2", Players: 3},
			"{\n  \"ended\": \"m1\",\n  \"game\": \"arena\",\n  \"owner\": \"n2\",\n  \"players\": 3\n}\n"},
		{"kick request", KickRequest{Player: 7}, "{\n  \"player\": 7\n}\n"},
		{"error", httpapi.ErrorBody{Error: "not the raft leader", Code: "not_leader"},
			"{\n  \"error\": \"not the raft leader\",\n  \"code\": \"not_leader\"\n}\n"},
		{"remove", RemoveResult{Removed: "n3", Note: "its matches move once failover-after passes without its heartbeats"},
			"{\n  \"note\": \"its matches move once failover-after passes without its heartbeats\",\n  \"removed\": \"n3\"\n}\n"},
		{"transfer", TransferResult{Leader: "n2", ElapsedMS: 4},
			"{\n  \"elapsed_ms\": 4,\n  \"leader\": \"n2\"\n}\n"},
		{"create request", CreateMatchRequest{Game: "arena"},
			"{\n  \"game\": \"arena\"\n}\n"},
	} {
		rec := httptest.NewRecorder()
		httpapi.WriteJSON(rec, 200, tc.v)
		if got := rec.Body.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
