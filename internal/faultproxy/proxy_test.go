package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

// echoServer echoes every connection until EOF, then half-closes. It stops
// when the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func startProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// needIP skips the test when src cannot be bound.
func needIP(t *testing.T, src string) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(src, "0"))
	if err != nil {
		t.Skipf("cannot bind %s (needs all of 127.0.0.0/8 on lo, as on Linux): %v", src, err)
	}
	_ = ln.Close()
}

// dialFrom connects to addr from source IP src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	needIP(t, src)
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// refusedFrom checks that a link from src to addr is refused: the dial
// fails (the reset can beat the end of connect on loopback) or the link
// closes at once.
func refusedFrom(t *testing.T, src, addr string) error {
	t.Helper()
	needIP(t, src)
	d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	return closedByPeer(c)
}

// roundTrip writes msg and reads it back within a second.
func roundTrip(c net.Conn, msg string) error {
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

// closedByPeer reports whether a read on c ends (EOF or reset) within a
// second, as opposed to timing out.
func closedByPeer(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	if err == nil {
		return errors.New("read data, want the link closed")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("read timed out, want the link closed")
	}
	return nil
}

func silent(c net.Conn, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return errors.New("link not silent: read " + string(rune('0'+n)) + " bytes, err " + errString(err))
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

var (
	ipA = netip.MustParseAddr("127.0.0.21")
	ipB = netip.MustParseAddr("127.0.0.22")
)

func TestForwardAndHalfClose(t *testing.T) {
	p := startProxy(t, echoServer(t))
	c := dialFrom(t, "127.0.0.21", p.Addr())
	if err := roundTrip(c, "hello"); err != nil {
		t.Fatal(err)
	}
	// Half-close: the echo server sees EOF and the reply still arrives.
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Fatalf("after half-close: %q, %v", b, err)
	}
	if s := p.Stats(); s.Accepted != 1 || s.Refused != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRefuseBySource: refusing A resets A's live link and every new one,
// while B's link carries on; lifting the rule lets A in again.
func TestRefuseBySource(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, ipA.String(), p.Addr())
	b := dialFrom(t, ipB.String(), p.Addr())
	for _, c := range []net.Conn{a, b} {
		if err := roundTrip(c, "x"); err != nil {
			t.Fatal(err)
		}
	}
	p.Set(Refuse, ipA)
	if got := p.FaultFor(ipA); got != Refuse {
		t.Fatalf("fault for A: %v", got)
	}
	if err := closedByPeer(a); err != nil {
		t.Fatal("A's live link:", err)
	}
	if err := roundTrip(b, "still"); err != nil {
		t.Fatal("B's link:", err)
	}
	if err := refusedFrom(t, ipA.String(), p.Addr()); err != nil {
		t.Fatal("A's new link:", err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		if s := p.Stats(); s.Refused != 1 || s.Cut != 1 || s.Open != 1 {
			return errors.New("stats not settled")
		}
		return nil
	})

	p.Set(Pass, ipA)
	a3 := dialFrom(t, ipA.String(), p.Addr())
	if err := roundTrip(a3, "back"); err != nil {
		t.Fatal("A after the rule was lifted:", err)
	}
}

// TestBlackhole: a blackholed source's links stay open and silent (new
// ones too); healing closes them, since bytes were lost, and new links work.
func TestBlackhole(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, ipA.String(), p.Addr())
	if err := roundTrip(a, "x"); err != nil {
		t.Fatal(err)
	}
	p.Set(Blackhole, ipA)
	if _, err := a.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	if err := silent(a, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	a2 := dialFrom(t, ipA.String(), p.Addr())
	if _, err := a2.Write([]byte("lost too")); err != nil {
		t.Fatal(err)
	}
	if err := silent(a2, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		if s := p.Stats(); s.Dropped < uint64(len("lost")+len("lost too")) {
			return errors.New("bytes not counted as dropped")
		}
		return nil
	})

	p.Heal()
	for _, c := range []net.Conn{a, a2} {
		if err := closedByPeer(c); err != nil {
			t.Fatal("blackholed link after heal:", err)
		}
	}
	if err := roundTrip(dialFrom(t, ipA.String(), p.Addr()), "fresh"); err != nil {
		t.Fatal(err)
	}
}

// TestSetAll: a fault for everyone applies to sources without a rule of
// their own.
func TestSetAll(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, ipA.String(), p.Addr())
	b := dialFrom(t, ipB.String(), p.Addr())
	p.Set(Blackhole, ipB)
	p.SetAll(Refuse)
	if err := closedByPeer(a); err != nil {
		t.Fatal(err)
	}
	if err := silent(b, 100*time.Millisecond); err != nil {
		t.Fatal("B keeps its own rule:", err)
	}
	if f := p.FaultFor(netip.MustParseAddr("127.0.0.99")); f != Refuse {
		t.Fatalf("fault for a third source: %v", f)
	}
	p.Heal()
	if f := p.FaultFor(ipB); f != Pass {
		t.Fatalf("after heal: %v", f)
	}
}

// TestTargetDown: a link whose target cannot be dialled is closed.
func TestTargetDown(t *testing.T) {
	// A port on another IP than the proxy's, so that the proxy cannot
	// pick it up for itself.
	ln, err := net.Listen("tcp", "127.0.0.23:0")
	if err != nil {
		t.Skipf("cannot bind 127.0.0.23: %v", err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	p := startProxy(t, dead)
	if err := refusedFrom(t, ipA.String(), p.Addr()); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		if p.Stats().DialFails != 1 {
			return errors.New("dial failure not counted")
		}
		return nil
	})
}

// TestCloseEndsEverything: Close closes live links (silent ones too) and
// every goroutine of the proxy exits.
func TestCloseEndsEverything(t *testing.T) {
	target := echoServer(t)
	base := runtime.NumGoroutine()
	p, err := Listen("127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	a := dialFrom(t, ipA.String(), p.Addr())
	b := dialFrom(t, ipB.String(), p.Addr())
	if err := roundTrip(a, "x"); err != nil {
		t.Fatal(err)
	}
	p.Set(Blackhole, ipB)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []net.Conn{a, b} {
		if err := closedByPeer(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), 200*time.Millisecond); err == nil {
		t.Fatal("proxy still accepting after Close")
	}
	testutil.CheckFor(t, 2*time.Second, func() error {
		// The echo server's per-connection goroutines end with the links.
		if n := runtime.NumGoroutine(); n > base {
			return errors.New("goroutines left after Close")
		}
		return nil
	})
}

// countingServer accepts connections and counts the bytes it reads,
// answering nothing. It stops when the test ends.
func countingServer(t *testing.T) (addr string, read *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	read = new(atomic.Int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					read.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), read
}

// TestDelay: a delayed source's round trips take at least twice the delay
// (once each way), in order and intact, while another source's do not;
// lifting the delay takes effect for what is read from then on.
func TestDelay(t *testing.T) {
	const d = 150 * time.Millisecond
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, ipA.String(), p.Addr())
	b := dialFrom(t, ipB.String(), p.Addr())
	p.SetDelay(d, ipA)
	if got := p.DelayFor(ipA); got != d {
		t.Fatalf("delay for A: %v", got)
	}
	start := time.Now()
	// Several writes before any read: each is delayed once, not once per
	// earlier write (no head-of-line accumulation).
	for _, m := range []string{"one", "two", "three"} {
		if _, err := a.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	_ = a.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("onetwothree"))
	if _, err := io.ReadFull(a, got); err != nil || string(got) != "onetwothree" {
		t.Fatalf("delayed echo: %q, %v", got, err)
	}
	took := time.Since(start)
	if took < 2*d {
		t.Fatalf("delayed round trip took %v, want ≥ %v", took, 2*d)
	}
	// Generous: the three writes share one delay each way.
	if took > 4*d+time.Second {
		t.Fatalf("delayed round trip took %v: delays added up", took)
	}
	if err := roundTrip(b, "fast"); err != nil {
		t.Fatal("B's link:", err)
	}
	if s := p.Stats(); s.Delayed == 0 {
		t.Fatalf("stats %+v: nothing counted as delayed", s)
	}
	p.SetDelay(0, ipA)
	if err := roundTrip(a, "prompt"); err != nil {
		t.Fatal("after the delay was lifted:", err)
	}
}

// TestDropReplies: the target receives everything a DropReplies source
// sends, the source hears nothing back; lifting the fault closes the link
// (bytes were lost). DropRequests is the other way round: the target hears
// nothing.
func TestDropReplies(t *testing.T) {
	p := startProxy(t, echoServer(t))
	a := dialFrom(t, ipA.String(), p.Addr())
	if err := roundTrip(a, "x"); err != nil {
		t.Fatal(err)
	}
	p.Set(DropReplies, ipA)
	if _, err := a.Write([]byte("unanswered")); err != nil {
		t.Fatal(err)
	}
	if err := silent(a, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		// The echo server got the bytes and answered: the answer was dropped.
		if s := p.Stats(); s.Dropped < uint64(len("unanswered")) {
			return errors.New("answer not counted as dropped")
		}
		return nil
	})
	p.Set(Pass, ipA)
	if err := closedByPeer(a); err != nil {
		t.Fatal("link after the fault was lifted:", err)
	}

	target, read := countingServer(t)
	q := startProxy(t, target)
	r := dialFrom(t, ipA.String(), q.Addr())
	q.Set(DropRequests, ipA)
	if _, err := r.Write([]byte("never heard")); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		if s := q.Stats(); s.Dropped < uint64(len("never heard")) {
			return errors.New("request not counted as dropped")
		}
		return nil
	})
	if n := read.Load(); n != 0 {
		t.Fatalf("the target read %d bytes through DropRequests", n)
	}
	q.Set(DropReplies, ipA)
	r2 := dialFrom(t, ipA.String(), q.Addr())
	if _, err := r2.Write([]byte("heard")); err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, time.Second, func() error {
		if n := read.Load(); n != int64(len("heard")) {
			return fmt.Errorf("the target read %d bytes, want %d", n, len("heard"))
		}
		return nil
	})
}
