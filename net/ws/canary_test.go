package ws

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The starvation canary tells a latency assertion what the machine did to
// every process, so that a test judges the node, not its neighbours. It is
// a child process (this test binary again, TestStarvationCanaryChild) that
// sleeps canaryStep at a time and reports each wake-up at least canaryLate
// late: a span during which the machine gave a runnable process no CPU.
// The node under test uses a fraction of a core, so it cannot starve the
// child itself; a gap in the node's snapshots that overlaps such a span is
// the machine's doing (other processes: on a shared 2-core machine a load
// average of 15 to 20 is common) and is not counted against the node.
const (
	envCanary  = "TICKSYNC_STARVATION_CANARY"
	canaryStep = 2 * time.Millisecond
	canaryLate = 10 * time.Millisecond
)

type canary struct {
	mu    sync.Mutex
	spans [][2]time.Time // [due, woke] of each late wake-up
}

// startCanary starts the child process; it ends with the test.
func startCanary(t *testing.T) *canary {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStarvationCanaryChild$")
	cmd.Env = append(os.Environ(), envCanary+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &canary{}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if line == "ready" {
				close(ready)
				continue
			}
			var due, woke int64
			if n, _ := fmt.Sscan(line, &due, &woke); n == 2 {
				c.mu.Lock()
				c.spans = append(c.spans, [2]time.Time{time.Unix(0, due), time.Unix(0, woke)})
				c.mu.Unlock()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the child exits when its stdin closes
		<-done
		_ = cmd.Wait()
	})
	select {
	case <-ready:
	case <-done:
		t.Fatal("the canary process exited before it was ready")
	case <-time.After(30 * time.Second):
		t.Fatal("the canary process did not start")
	}
	return c
}

// starved reports whether the machine starved the canary at some point
// between a and b.
func (c *canary) starved(a, b time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if s[0].Before(b) && s[1].After(a) {
			return true
		}
	}
	return false
}

// TestStarvationCanaryChild is the canary process itself; it runs only
// when a flood test starts it (envCanary).
func TestStarvationCanaryChild(t *testing.T) {
	if os.Getenv(envCanary) != "1" {
		t.Skip("the child process of the flood tests' starvation canary; started by them")
	}
	runtime.GOMAXPROCS(1)
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var out strings.Builder
	fmt.Println("ready")
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			return
		default:
		}
		due := time.Now().Add(canaryStep)
		time.Sleep(canaryStep)
		if woke := time.Now(); woke.Sub(due) >= canaryLate {
			out.Reset()
			fmt.Fprintf(&out, "%d %d\n", due.UnixNano(), woke.UnixNano())
			_, _ = os.Stdout.WriteString(out.String())
		}
	}
}
