package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

// TestBinaryVersion: -version prints "ticksync <version> (<go> <os>/<arch>)"
// on stdout and exits 0, whatever else the environment says.
func TestBinaryVersion(t *testing.T) {
	cmd := exec.Command(binary, "-version")
	cmd.Env = append(os.Environ(), "TICKSYNC_TICK_RATE=500", "TICKSYNC_VERSION=nonsense")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-version: %v", err)
	}
	if !regexp.MustCompile(`^ticksync \S+ \(go\S+ \w+/\w+\)\n$`).Match(out) {
		t.Fatalf("-version printed %q", out)
	}
	// TICKSYNC_VERSION is not -version: the node would start (and fail on
	// the tick rate here).
	cmd = exec.Command(binary)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "TICKSYNC_TICK_RATE=500", "TICKSYNC_VERSION=true")
	var ee *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("with TICKSYNC_VERSION set: %v, want the bad tick rate's exit 2", err)
	}
}

// TestBinaryHealthcheck: "ticksync healthcheck" exits 0 against a ready
// node's /readyz and 1, with the reason, against an address nobody
// answers.
func TestBinaryHealthcheck(t *testing.T) {
	p := startBinary(t)
	check := func(env []string, args ...string) (int, string) {
		cmd := exec.Command(binary, append([]string{"healthcheck"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := check(nil, "-url", "http://"+p.addr+"/readyz"); code != 0 {
		t.Fatalf("ready node: exit %d: %s", code, out)
	}
	// The default URL follows the node's own TICKSYNC_HTTP_ADDR.
	if code, out := check([]string{"TICKSYNC_HTTP_ADDR=0.0.0.0:" + strings.Split(p.addr, ":")[1]}); code != 0 {
		t.Fatalf("default url: exit %d: %s", code, out)
	}
	p.stop(t)
	if code, out := check(nil, "-url", "http://"+p.addr+"/readyz"); code != 1 || !strings.Contains(out, "connection refused") {
		t.Fatalf("stopped node: exit %d: %s", code, out)
	}
}

// warnings returns the log lines of p at warn level or above.
func warnings(p *proc) []map[string]any {
	return append(p.lines("level", "warn"), p.lines("level", "error")...)
}

// metricsStatus GETs url with the bearer token (none when empty).
func metricsStatus(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBinaryFriendlyStart: the one-node dev start (no flags) logs no
// warning, says where the page is and where the admin token is (never the
// token), keeps the token in a 0600 file in the data dir and reuses it on
// a restart; /metrics answers only with that token.
func TestBinaryFriendlyStart(t *testing.T) {
	dir := t.TempDir()
	env := []string{"TICKSYNC_HTTP_ADDR=127.0.0.1:0", "TICKSYNC_RAFT_ADDR=127.0.0.1:0"}
	var token string
	for i, want := range []string{"no -admin-token: generated one into the data dir", "no -admin-token: using the one in the data dir"} {
		p := startProcIn(t, dir, nil, env...)
		p.waitReady(t, 15*time.Second)
		testutil.CheckTrue(t, 5*time.Second, func() bool { return len(p.lines("message", "owner lease acquired")) > 0 })

		path := filepath.Join(dir, "ticksync-data", "admin-token")
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("start %d: token file %v, mode %v", i+1, err, fi.Mode())
		}
		b, _ := os.ReadFile(path)
		tok := strings.TrimSpace(string(b))
		if i == 0 {
			token = tok
		} else if tok != token {
			t.Fatalf("restart: token file changed")
		}
		if len(token) != 32 {
			t.Fatalf("token %q", token)
		}
		lines := p.lines("message", want)
		if len(lines) != 1 || lines[0]["path"] != "ticksync-data/admin-token" ||
			!strings.Contains(lines[0]["use"].(string), "TICKSYNC_ADMIN_TOKEN=$(cat ticksync-data/admin-token) ticksyncctl status") {
			t.Fatalf("start %d: token lines %v", i+1, lines)
		}
		if url := p.lines("message", "open the game's page in a browser"); len(url) != 1 || url[0]["url"] != "http://"+p.addr+"/" {
			t.Fatalf("start %d: page lines %v", i+1, url)
		}
		for _, m := range p.lines("", "") {
			for _, v := range m {
				if s, ok := v.(string); ok && strings.Contains(s, token) {
					t.Fatalf("the token is in the log: %v", m)
				}
			}
		}
		// /metrics: the admin token, nothing else.
		for _, tc := range []struct {
			token string
			want  int
		}{{"", 401}, {"wrong", 401}, {token, 200}} {
			if code, body := metricsStatus(t, "http://"+p.addr+"/metrics", tc.token); code != tc.want ||
				tc.want == 200 && !strings.Contains(body, "ticksync_ws_sessions") {
				t.Fatalf("start %d: /metrics with token %q: %d", i+1, tc.token, code)
			}
		}
		p.stop(t)
		if w := warnings(p); len(w) > 0 {
			t.Fatalf("start %d logged warnings: %v", i+1, w)
		}
	}
}

// TestBinaryMetricsAddr: with -metrics-addr, /metrics answers there without
// a token (and only /metrics), and still wants the token on the main
// listener.
func TestBinaryMetricsAddr(t *testing.T) {
	p := startBinary(t, "TICKSYNC_METRICS_ADDR=127.0.0.1:0", "TICKSYNC_ADMIN_TOKEN=metrics-test-token")
	var addr string
	testutil.CheckTrue(t, 5*time.Second, func() bool {
		l := p.lines("message", "metrics listening")
		if len(l) == 1 {
			addr, _ = l[0]["addr"].(string)
		}
		return addr != ""
	})
	if code, body := metricsStatus(t, "http://"+addr+"/metrics", ""); code != 200 || !strings.Contains(body, "ticksync_raft_apply_seconds") {
		t.Fatalf("/metrics on -metrics-addr without a token: %d", code)
	}
	if code, _ := metricsStatus(t, "http://"+addr+"/admin/v1/nodes", "metrics-test-token"); code != 404 {
		t.Fatalf("admin API on -metrics-addr: %d, want 404", code)
	}
	if code, _ := metricsStatus(t, "http://"+p.addr+"/metrics", ""); code != 401 {
		t.Fatalf("/metrics on -http-addr without a token: %d, want 401", code)
	}
	if code, _ := metricsStatus(t, "http://"+p.addr+"/metrics", "metrics-test-token"); code != 200 {
		t.Fatalf("/metrics on -http-addr with the token: %d", code)
	}
	p.stop(t)
}
