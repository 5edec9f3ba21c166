// Package ratelimit holds the token buckets behind ticksync's admission
// limits: a Bucket for one client (messages per second of a WebSocket
// session, in net/ws) and Keyed, one bucket per source address (upgrades
// per address per second in net/ws, matches created per address per minute
// in game). Source groups addresses the way the limits count them.
//
// Nothing here starts a goroutine: Keyed forgets idle addresses while it is
// used (a sweep every few hundred new addresses), so its memory is bounded
// by the addresses seen within one refill period.
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// Source returns the key an address is counted under: an IPv4 address as
// it is (also when it arrives IPv4-mapped), an IPv6 address by its /64
// (what one host or home usually gets). The zero Addr stays zero.
func Source(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// Bucket is a token bucket. The zero value is empty; Allow fills it to burst
// the first time. Not safe for concurrent use: one owner (a session's read
// goroutine), or under the owner's lock.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Allow takes one token at now if there is one. rate is in tokens per
// second, burst is the most the bucket holds (and what it starts with).
func (b *Bucket) Allow(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens, b.last = burst, now
	} else if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(burst, b.tokens+dt.Seconds()*rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// full reports whether the bucket would be full at now.
func (b *Bucket) full(now time.Time, rate, burst float64) bool {
	return b.tokens+now.Sub(b.last).Seconds()*rate >= burst
}

// sweepEvery is how many new keys Keyed admits between two sweeps of the
// keys whose bucket has refilled (they are the same as no entry).
const sweepEvery = 256

// Keyed is one Bucket per source address (see Source), safe for concurrent
// use.
type Keyed struct {
	rate, burst float64

	mu      sync.Mutex
	buckets map[netip.Addr]*Bucket
	added   int // new keys since the last sweep
}

// NewKeyed returns buckets of rate tokens per second holding up to burst.
func NewKeyed(rate, burst float64) *Keyed {
	return &Keyed{rate: rate, burst: burst, buckets: map[netip.Addr]*Bucket{}}
}

// Allow takes one token from key's bucket at now (key is grouped by Source).
func (k *Keyed) Allow(key netip.Addr, now time.Time) bool {
	key = Source(key)
	k.mu.Lock()
	defer k.mu.Unlock()
	b := k.buckets[key]
	if b == nil {
		if k.added++; k.added >= sweepEvery {
			k.sweep(now)
		}
		b = &Bucket{}
		k.buckets[key] = b
	}
	return b.Allow(now, k.rate, k.burst)
}

// Len returns the number of addresses tracked (tests, metrics).
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// sweep forgets the buckets that have refilled (mu held).
func (k *Keyed) sweep(now time.Time) {
	k.added = 0
	for key, b := range k.buckets {
		if b.full(now, k.rate, k.burst) {
			delete(k.buckets, key)
		}
	}
}
