package sim

import (
	"testing"

	"github.com/ticksync/ticksync/schema"
)

// feed plays a player through ticks: arrivals[i] inputs arrive before tick
// i (seqs counting on), then next takes the tick's input. It returns the
// buffered depth after each tick and the inputs dropped in all.
func feed(p *player, limit int, arrivals []int) (depths []int, dropped int) {
	seq := uint32(0)
	for _, n := range arrivals {
		for range n {
			seq++
			dropped += p.push(&schema.Input{Seq: seq}, nil)
		}
		dropped += p.next(limit)
		depths = append(depths, len(p.pending))
	}
	return depths, dropped
}

func TestJitterBufferTrimsStandingQueue(t *testing.T) {
	tests := []struct {
		name        string
		arrivals    []int
		wantDropped int
		wantDepth   int // after the last tick
	}{
		{
			// One burst, then one input per tick: the extra input would
			// wait a tick longer forever; it is dropped after trimAfter.
			name:        "burst then steady",
			arrivals:    append([]int{2}, repeat(1, 3*trimAfter)...),
			wantDropped: 1,
			wantDepth:   0,
		},
		{
			// Real jitter: 2, 0, 2, 0... the buffer empties every other
			// tick, so nothing is dropped.
			name:        "alternating jitter",
			arrivals:    repeatPattern([]int{2, 0}, 4*trimAfter),
			wantDropped: 0,
			wantDepth:   0,
		},
		{
			// A standing queue of 3 drains one input per trimAfter ticks.
			name:        "standing queue of three",
			arrivals:    append([]int{4}, repeat(1, 4*trimAfter)...),
			wantDropped: 3,
			wantDepth:   0,
		},
		{
			// Steady one per tick: never buffered beyond the tick.
			name:        "steady",
			arrivals:    repeat(1, 4*trimAfter),
			wantDropped: 0,
			wantDepth:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlayer(1, nil, 4, 16)
			depths, dropped := feed(p, 4, tt.arrivals)
			if dropped != tt.wantDropped {
				t.Errorf("dropped %d inputs, want %d (depths %v)", dropped, tt.wantDropped, depths)
			}
			if got := depths[len(depths)-1]; got != tt.wantDepth {
				t.Errorf("final depth %d, want %d (depths %v)", got, tt.wantDepth, depths)
			}
			// Inputs are applied in seq order, whatever was dropped.
			if p.lastSeq == 0 {
				t.Error("no input applied")
			}
		})
	}
}

// TestJitterBufferEmptyTickResets: a tick with nothing buffered restarts the
// count, so a queue that empties now and then is never trimmed.
func TestJitterBufferEmptyTickResets(t *testing.T) {
	p := newPlayer(1, nil, 4, 16)
	arrivals := append([]int{2}, repeat(1, trimAfter-2)...)
	arrivals = append(arrivals, 0) // the buffer empties here
	arrivals = append(arrivals, 2)
	arrivals = append(arrivals, repeat(1, trimAfter-2)...)
	if depths, dropped := feed(p, 4, arrivals); dropped != 0 {
		t.Fatalf("dropped %d inputs, want 0 (depths %v)", dropped, depths)
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func repeatPattern(p []int, n int) []int {
	out := make([]int, 0, n)
	for len(out) < n {
		out = append(out, p...)
	}
	return out[:n]
}
