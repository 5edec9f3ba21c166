package ratelimit

import (
	"net/netip"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var b Bucket
	for i := range 5 {
		if !b.Allow(t0, 2, 5) {
			t.Fatalf("token %d of a burst of 5 refused", i+1)
		}
	}
	if b.Allow(t0, 2, 5) {
		t.Fatal("a sixth token at once was allowed")
	}
	// 2 per second: one more after 500 ms, not before.
	if b.Allow(t0.Add(400*time.Millisecond), 2, 5) {
		t.Fatal("allowed before a token was due")
	}
	if !b.Allow(t0.Add(500*time.Millisecond), 2, 5) {
		t.Fatal("refused after a token was due")
	}
	// It never holds more than burst, however long it rested.
	later := t0.Add(time.Hour)
	n := 0
	for b.Allow(later, 2, 5) {
		n++
	}
	if n != 5 {
		t.Fatalf("after an hour's rest %d tokens, want the burst of 5", n)
	}
}

func TestSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::"},
	}
	for _, tt := range tests {
		if got := Source(netip.MustParseAddr(tt.in)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("Source(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if Source(netip.Addr{}).IsValid() {
		t.Error("Source of the zero Addr is valid")
	}
}

func TestKeyed(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	k := NewKeyed(1, 2)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i, want := range []bool{true, true, false} {
		if got := k.Allow(a, t0); got != want {
			t.Fatalf("address a, token %d: %v, want %v (2 tokens, then a refusal)", i+1, got, want)
		}
	}
	if !k.Allow(b, t0) {
		t.Fatal("address b refused because of a")
	}
	// Two addresses of one /64 share a bucket.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for i, want := range []bool{true, true, false} {
		addr := v6a
		if i == 1 {
			addr = v6b
		}
		if got := k.Allow(addr, t0); got != want {
			t.Fatalf("one /64, token %d: %v, want %v (2 tokens between its addresses)", i+1, got, want)
		}
	}
	// Idle addresses are forgotten once their bucket has refilled: a
	// minute later, the sweep that the next new addresses trigger drops
	// every address above.
	for i := range sweepEvery {
		k.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0)
	}
	later := t0.Add(time.Minute)
	for i := range sweepEvery {
		k.Allow(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), later)
	}
	if n := k.Len(); n > sweepEvery {
		t.Fatalf("%d addresses tracked, want at most %d (the refilled ones forgotten)", n, sweepEvery)
	}
}
