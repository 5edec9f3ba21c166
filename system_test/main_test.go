package systemtest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	// binary is the ticksync binary, built once for this test binary by the
	// first test that needs it (needCluster) into binDir.
	binary    string
	binDir    string
	buildOnce sync.Once
	buildErr  error
	// raceBuild: the tests run under -race (race_test.go), so the binary is
	// built with -race too.
	raceBuild bool
	// binaryFlags are the flags the binary knows (from -h).
	binaryFlags map[string]bool

	takeoverKills = flag.Int("takeover.kills", 0,
		"TestTakeoverMeasure: kills per owner kind (leader, follower); 0 means 10 with TICKSYNC_SOAK=1, else skip")
	keepLogs = flag.Bool("system.keep", false, "print every node's log tail even when a test passes")
	logDir   = flag.String("system.logdir", "", "write node logs under this directory (kept) instead of the test's temp dir")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds ./cmd/ticksync into a temporary directory.
func buildBinary() error {
	dir, err := os.MkdirTemp("", "ticksync-system")
	if err != nil {
		return err
	}
	binDir = dir
	binary = filepath.Join(dir, "ticksync")
	args := []string{"build", "-o", binary}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/ticksync/ticksync/cmd/ticksync")...)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build ticksync: %w\n%s", err, out)
	}
	binaryFlags, err = readFlags(binary)
	return err
}

// readFlags runs "ticksync -h" and collects the flag names it prints.
// Running a binary just written can fail transiently (ETXTBSY while another
// process forks); it tries a few times.
func readFlags(bin string) (map[string]bool, error) {
	var out []byte
	var err error
	for range 5 {
		out, err = exec.Command(bin, "-h").CombinedOutput()
		flags := make(map[string]bool)
		for _, line := range strings.Split(string(out), "\n") {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "-") {
				continue
			}
			name, _, _ := strings.Cut(line[1:], " ")
			flags[name] = true
		}
		if flags["node-id"] {
			return flags, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s -h: %v: no flags in %q", bin, err, out)
}

// needCluster builds the binary once and fails the test when it lacks a
// flag of the cluster mode these tests exercise.
func needCluster(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() { buildErr = buildBinary() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	var missing []string
	for _, f := range []string{"raft-advertise", "api-advertise", "admin-token", "join", "bootstrap", "owner-lease", "checkpoint-interval",
		"cluster-ca", "cluster-cert", "cluster-key"} {
		if !binaryFlags[f] {
			missing = append(missing, "-"+f)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("ticksync has no %s flag: the system tests need cluster mode", strings.Join(missing, ", "))
	}
}

// soak reports whether long measurements were asked for.
func soak() bool { return os.Getenv("TICKSYNC_SOAK") != "" }

// checkFor polls fn every 10 ms until it returns nil, and fails the test
// with fn's last error when timeout passes first.
func checkFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	if err := poll(timeout, fn); err != nil {
		t.Fatalf("after %v: %v", timeout, err)
	}
}

// poll is checkFor that returns the error instead of failing.
func poll(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
