package sim

import (
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// at returns t0 plus ms milliseconds.
func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

func TestClockDueIsExact(t *testing.T) {
	c := NewClock(t0, 30, 5)
	for _, n := range []uint64{1, 29, 30, 31, 3000, 30 * 86400 * 365} {
		want := t0.Add(time.Duration(n) * time.Second / 30)
		// n·1e9/30 exactly, rounded down: at most 1 ns below the ideal.
		got := c.Due(n)
		if d := want.Sub(got); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("Due(%d) = %v, want %v", n, got, want)
		}
	}
	if got := c.Due(30); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("Due(30) = %v, want exactly one second after start", got.Sub(t0))
	}
}

func TestClockSchedule(t *testing.T) {
	// 100 Hz: slot n is due at n·10 ms.
	type wake struct {
		at       float64 // ms after start
		slot     uint64  // 0: nothing due
		overruns uint64  // total after this wake-up
		skipped  uint64
	}
	tests := []struct {
		name  string
		wakes []wake
	}{
		{"on time", []wake{{10, 1, 0, 0}, {20, 2, 0, 0}, {30, 3, 0, 0}}},
		{"early wake-up runs nothing", []wake{{9.9, 0, 0, 0}, {10, 1, 0, 0}}},
		{"late tick does not shift later ones", []wake{
			{10, 1, 0, 0},
			{27, 2, 0, 0}, // late, but slot 3 (30 ms) is not due yet: no overrun
			{30, 3, 0, 0}, // slot 3 still at 30 ms
			{40, 4, 0, 0},
		}},
		{"overrun counted, then caught up", []wake{
			{10, 1, 0, 0},
			{35, 2, 1, 0}, // slot 3 was due at 30: overrun
			{35, 3, 1, 0}, // runs at once; slot 4 (40) not due
			{40, 4, 1, 0},
		}},
		{"stall skips ahead", []wake{
			{10, 1, 0, 0},
			{1005, 100, 1, 98}, // slots 2..99 skipped; newest due is 100
			{1010, 101, 1, 98},
			{1020, 102, 1, 98},
		}},
		{"lag below the catch-up limit runs back to back", []wake{
			{10, 1, 0, 0},
			{55, 2, 1, 0}, // newest due is 5: lag 3 < 5
			{55, 3, 2, 0},
			{55, 4, 3, 0},
			{55, 5, 3, 0},
			{55, 0, 3, 0},
			{60, 6, 3, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClock(t0, 100, 5)
			for i, w := range tt.wakes {
				slot, ok := c.Advance(at(w.at))
				if ok != (w.slot != 0) || slot != w.slot {
					t.Fatalf("wake %d at %vms: Advance = %d, %v; want slot %d", i, w.at, slot, ok, w.slot)
				}
				if c.Overruns() != w.overruns || c.Skipped() != w.skipped {
					t.Fatalf("wake %d at %vms: overruns %d skipped %d; want %d, %d",
						i, w.at, c.Overruns(), c.Skipped(), w.overruns, w.skipped)
				}
			}
		})
	}
}

func TestClockWait(t *testing.T) {
	c := NewClock(t0, 100, 5)
	if got := c.Wait(at(3)); got != 7*time.Millisecond {
		t.Fatalf("Wait at 3ms = %v, want 7ms", got)
	}
	if got := c.Wait(at(12)); got != 0 {
		t.Fatalf("Wait when due = %v, want 0", got)
	}
	c.Advance(at(12))
	if got := c.Wait(at(12)); got != 8*time.Millisecond {
		t.Fatalf("Wait after a late slot 1 = %v, want 8ms (slot 2 stays at 20ms)", got)
	}
}

// TestClockNoDrift runs a long schedule with random lateness below one
// period and checks every slot ran, in order, none skipped.
func TestClockNoDrift(t *testing.T) {
	c := NewClock(t0, 30, 5)
	for n := uint64(1); n <= 30*3600; n++ {
		late := time.Duration(n*7919%30) * time.Millisecond // 0..29 ms late
		slot, ok := c.Advance(c.Due(n).Add(late))
		if !ok || slot != n {
			t.Fatalf("slot %d: Advance = %d, %v", n, slot, ok)
		}
	}
	if c.Overruns() != 0 || c.Skipped() != 0 {
		t.Fatalf("overruns %d skipped %d, want 0", c.Overruns(), c.Skipped())
	}
	if got, want := c.Due(c.Next()), t0.Add(time.Hour+time.Second/30); !got.Equal(want) {
		t.Fatalf("slot after one hour due at %v, want %v", got, want)
	}
}
