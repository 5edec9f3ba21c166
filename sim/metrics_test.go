package sim

import (
	"testing"
	"time"
)

func TestSaturation(t *testing.T) {
	s := newSaturation(at(0), time.Second)
	// 10 ms of work every 100 ms: 10% busy.
	for i := range 9 {
		if _, ok := s.work(at(float64(i*100)), at(float64(i*100+10))); ok {
			t.Fatalf("window closed early at %d", i)
		}
	}
	f, ok := s.work(at(990), at(1000))
	if !ok || f < 0.099 || f > 0.101 {
		t.Fatalf("saturation %v, %v; want 0.10 at the end of the window", f, ok)
	}
	// The next window starts afresh: fully busy.
	if f, ok := s.work(at(1000), at(2500)); !ok || f != 1 {
		t.Fatalf("saturation %v, %v; want 1", f, ok)
	}
}
