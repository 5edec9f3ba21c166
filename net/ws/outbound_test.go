package ws

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// TestSnapshotOrderMixedPaths: snapshots written directly by the room and
// snapshots written by the writer (while control messages are queued or the
// writer holds the socket) reach the client in the order they were handed
// over: a snapshot the writer holds is never overtaken by a direct one. The
// client keeps pinging, so Pongs keep the writer busy between direct writes;
// the room keeps sending until both paths have been taken.
func TestSnapshotOrderMixedPaths(t *testing.T) {
	// The client pings far over any message rate a player needs.
	ts := startServer(t, func(c *Config) { c.MaxMessageRate = 0 })
	c := mustDial(t, ts.addr)
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	conn := ts.joiner.seat(0).conn

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the client pings as fast as it can
		defer wg.Done()
		enc := schema.NewEncoder(64)
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if c.writeFrame(0x2, enc.Ping(i)) != nil {
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()

	type result struct {
		snapshots, pongs int
		last             uint32
		err              error
	}
	lastSent := make(chan uint32, 1)
	done := make(chan result, 1)
	go func() { // the client reads: ticks must strictly increase
		var r result
		want := uint32(0)
		for {
			m, err := c.next(10 * time.Second)
			if err != nil {
				r.err = err
				done <- r
				return
			}
			switch m.kind {
			case fb.ServerBodyPong:
				r.pongs++
			case fb.ServerBodySnapshot:
				if m.tick <= r.last {
					r.err = fmt.Errorf("tick %d after tick %d", m.tick, r.last)
					done <- r
					return
				}
				r.last = m.tick
				r.snapshots++
			default:
				r.err = fmt.Errorf("unexpected %v", fb.EnumNamesServerBody[m.kind])
				done <- r
				return
			}
			select {
			case want = <-lastSent:
			default:
			}
			if want != 0 && r.last == want {
				done <- r
				return
			}
		}
	}()

	// The room: at least 2,000 snapshots, and on until both paths were
	// taken (bounded: a machine where that never happens fails below).
	var tick uint32
	deadline := time.Now().Add(20 * time.Second)
	for {
		for range 100 {
			tick++
			conn.SendSnapshot(snapshotBytes(tick, 8))
			if tick%4 == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		st := ts.Stats()
		direct, viaWriter := st.SnapshotsDirect, st.SnapshotsOut-st.SnapshotsDirect
		if (tick >= 2000 && direct > 0 && viaWriter > 0) || time.Now().After(deadline) {
			break
		}
	}
	lastSent <- tick
	r := <-done
	close(stop)
	wg.Wait()
	st := ts.Stats()
	t.Logf("sent %d, read %d in order (last %d), %d pongs; direct %d, via the writer %d, dropped %d, backlogs %d",
		tick, r.snapshots, r.last, r.pongs, st.SnapshotsDirect, st.SnapshotsOut-st.SnapshotsDirect, st.SnapshotsDropped, st.Backlogs)
	if r.err != nil {
		t.Fatalf("after %d snapshots (last tick %d of %d): %v", r.snapshots, r.last, tick, r.err)
	}
	if st.SnapshotsDirect == 0 || st.SnapshotsOut == st.SnapshotsDirect {
		t.Fatalf("both paths must have been taken: direct %d, via the writer %d", st.SnapshotsDirect, st.SnapshotsOut-st.SnapshotsDirect)
	}
	if r.pongs == 0 {
		t.Fatal("no Pong: the writer path was not exercised by control messages")
	}
}

// TestCloseNotOvertaken: a room floods snapshots while the session is
// kicked; the client sees snapshots (in order), then the Error, then the
// close frame with 4000+code, and nothing between the Error and the close.
func TestCloseNotOvertaken(t *testing.T) {
	ts := startServer(t, nil)
	for i := range 20 {
		c := mustDial(t, ts.addr)
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
		conn := ts.joiner.seat(i).conn

		stop := make(chan struct{})
		flooding := make(chan struct{})
		go func() {
			defer close(flooding)
			for tick := uint32(1); ; tick++ {
				select {
				case <-stop:
					return
				default:
				}
				conn.SendSnapshot(snapshotBytes(tick, 8))
				if tick == 50 {
					conn.Kick(schema.ErrCodeReplaced, "replaced")
				}
			}
		}()
		var last uint32
		sawError := false
		for !sawError {
			m, err := c.next(5 * time.Second)
			if err != nil {
				t.Fatalf("round %d: want snapshots then an Error, got %v", i, err)
			}
			switch m.kind {
			case fb.ServerBodySnapshot:
				if m.tick <= last {
					t.Fatalf("round %d: tick %d after %d", i, m.tick, last)
				}
				last = m.tick
			case fb.ServerBodyError:
				sawError = true
			default:
				t.Fatalf("round %d: unexpected %v", i, fb.EnumNamesServerBody[m.kind])
			}
		}
		_, err := c.next(5 * time.Second)
		var ce *closeErr
		if !errors.As(err, &ce) || ce.code != uint16(CloseCodeFor(schema.ErrCodeReplaced)) {
			t.Fatalf("round %d: after the Error: %v, want close %d", i, err, CloseCodeFor(schema.ErrCodeReplaced))
		}
		close(stop)
		<-flooding
		if last > 50 {
			t.Fatalf("round %d: snapshot %d written after the Kick at 50", i, last)
		}
	}
}
