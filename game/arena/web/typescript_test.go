package web

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ticksync/ticksync/schema"
)

// TestTypeScript runs the client's node:test suite (test/*.test.ts, bundled
// by build.mjs into a temporary folder), which checks the TypeScript delta
// reader against testdata/delta_vectors.json from the Go codec.
func TestTypeScript(t *testing.T) {
	node := nodeToolchain(t)
	out := t.TempDir()
	run(t, node, "build.mjs", "--test", "--outdir", out)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=spec", out)
	cmd.Env = append(os.Environ(), "TICKSYNC_TESTDATA="+testdata, "TICKSYNC_UPDATE=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, b)
	}
	t.Logf("node --test:\n%s", b)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, b)
	}
}

// TestBrowserMessagesVerify runs the client messages the TypeScript encoder
// wrote (testdata/client_messages.json, see test/delta.test.ts) through
// schema's verifier and decoder: what the browser sends, the node accepts.
func TestBrowserMessagesVerify(t *testing.T) {
	raw, err := os.ReadFile("testdata/client_messages.json")
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]string
	if err := json.Unmarshal(raw, &msgs); err != nil {
		t.Fatal(err)
	}
	want := map[string]schema.ClientMessage{
		"hello": {Kind: schema.ClientHello, Hello: schema.Hello{
			Name: "browser", ResumeToken: "rt-123", LastTick: 77, MatchID: "m1"}},
		"hello_empty": {Kind: schema.ClientHello},
		"input": {Kind: schema.ClientInput, Input: schema.Input{
			Seq: 1, TargetTick: 2, AckTick: 1, MoveX: -100, MoveY: 100, Aim: 16384}},
		"input_zero": {Kind: schema.ClientInput, Input: schema.Input{Seq: 2}},
		"ping":       {Kind: schema.ClientPing, ClientTime: 123456789},
		"leave":      {Kind: schema.ClientLeave},
	}
	if len(msgs) != len(want) {
		t.Errorf("%d messages in testdata, want %d", len(msgs), len(want))
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			b, err := hex.DecodeString(msgs[name])
			if err != nil || len(b) == 0 {
				t.Fatalf("testdata message %q: %v", name, err)
			}
			var got schema.ClientMessage
			if err := schema.DecodeClientMessage(b, &got); err != nil {
				t.Fatalf("DecodeClientMessage: %v", err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("decoded %+v, want %+v", got, w)
			}
		})
	}
}
