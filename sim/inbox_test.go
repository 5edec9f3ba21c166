package sim

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
)

// TestInputFloodSparesNeighbours: player 1 sends 1,000 inputs per tick; its
// neighbours 2 and 3 send one each. Every input of the neighbours is
// accepted and applied on the tick after it was sent; only the flooder's
// own inputs are dropped.
func TestInputFloodSparesNeighbours(t *testing.T) {
	r, w := newTestRoom(t, nil)
	for id := uint32(1); id <= 3; id++ {
		mustJoin(t, r, id, &fakeConn{})
	}
	const ticks, flood = 60, 1000
	qcap := r.cfg.InputQueue
	floodSeq := uint32(0)
	for tick := uint32(1); tick <= ticks; tick++ {
		for range flood {
			floodSeq++
			r.PushInput(1, &schema.Input{Seq: floodSeq, Data: []byte{100}})
		}
		for _, id := range []uint32{2, 3} {
			if !r.PushInput(id, &schema.Input{Seq: tick, Data: []byte{byte(id)}, AckTick: tick - 1}) {
				t.Fatalf("tick %d: input of player %d refused during the flood", tick, id)
			}
		}
		r.step(time.Now())
		got := w.lastInputs()
		for _, id := range []uint32{2, 3} {
			if in := got[id]; in.Seq != tick || mx(in) != int8(id) {
				t.Fatalf("tick %d: player %d applied %+v, want its seq %d", tick, id, in, tick)
			}
		}
		if in := got[1]; in.Seq != floodSeq {
			t.Fatalf("tick %d: the flooder applied seq %d, want its newest %d", tick, in.Seq, floodSeq)
		}
	}
	want := uint64(ticks * (flood - qcap))
	if d := r.Stats().InputsDropped; d != want {
		t.Fatalf("InputsDropped = %d, want %d (the flooder's only)", d, want)
	}
}

// TestInputFloodSparesNeighboursLive is the same against the running loop:
// a goroutine floods player 1's queue as fast as it can while players 2..5
// each send one input per tick from their own goroutines. Every input of
// the neighbours is applied.
func TestInputFloodSparesNeighboursLive(t *testing.T) {
	cfg := fakeConfig()
	cfg.TickRate = 60
	w := newFakeWorld()
	r, err := NewRoom("flood", cfg, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Start()
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	neighbours := []uint32{2, 3, 4, 5}
	for _, id := range append([]uint32{1}, neighbours...) {
		if _, err := r.Join(ctx, id, &fakeConn{}); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var flooded atomic.Uint64
	var fwg sync.WaitGroup
	fwg.Add(1)
	go func() {
		defer fwg.Done()
		for seq := uint32(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			r.PushInput(1, &schema.Input{Seq: seq, Data: []byte{100}})
			flooded.Add(1)
			if seq%1000 == 0 {
				runtime.Gosched()
			}
		}
	}()

	// Each neighbour sends seq 1..n, the next one only once the previous
	// has certainly been drained (two ticks later), so that every input
	// is applied on a tick of its own.
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, len(neighbours))
	for _, id := range neighbours {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint32(1); seq <= n; seq++ {
				at := r.Tick()
				if !r.PushInput(id, &schema.Input{Seq: seq, Data: []byte{byte(id)}}) {
					errs <- fmt.Errorf("player %d: input %d refused during the flood", id, seq)
					return
				}
				for r.Tick() < at+2 {
					select {
					case <-ctx.Done():
						errs <- fmt.Errorf("player %d: room stalled at tick %d", id, r.Tick())
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	fwg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every seq of every neighbour was applied.
	testutil.CheckFor(t, 5*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		applied := map[uint32]map[uint32]bool{}
		for _, step := range w.steps {
			for _, pi := range step {
				if applied[pi.Player] == nil {
					applied[pi.Player] = map[uint32]bool{}
				}
				applied[pi.Player][pi.Input.Seq] = true
			}
		}
		for _, id := range neighbours {
			for seq := uint32(1); seq <= n; seq++ {
				if !applied[id][seq] {
					return fmt.Errorf("player %d: input %d never applied", id, seq)
				}
			}
		}
		return nil
	})
	if st := r.Stats(); st.InputsDropped == 0 || flooded.Load() < 10*uint64(cfg.InputQueue) {
		t.Fatalf("the flood did not overflow its queue: %d pushed, %d dropped", flooded.Load(), st.InputsDropped)
	}
}

// TestInputQueuePushAllocs: PushInput allocates nothing.
func TestInputQueuePushAllocs(t *testing.T) {
	r, _ := newTestRoom(t, nil)
	mustJoin(t, r, 1, &fakeConn{})
	in := &schema.Input{Seq: 1}
	if a := testing.AllocsPerRun(1000, func() { in.Seq++; r.PushInput(1, in) }); a != 0 {
		t.Fatalf("PushInput: %v allocs per call, want 0", a)
	}
}

// TestInputDataMovesIntact: input data buffers move from the queue to the
// jitter buffer to the applied input and back without a copy; whatever the
// arrivals (bursts, reorders, stale and repeated seqs, empty data, a
// detach, queue and jitter buffer overflows), the data the World is given
// with an input is the data pushed with that seq, and the pusher's buffer
// is free once PushInput returns.
func TestInputDataMovesIntact(t *testing.T) {
	r, w := newTestRoom(t, func(c *Config) { c.InputBuffer, c.InputQueue, c.MaxInputBytes = 3, 4, 64 })
	players := []uint32{1, 2, 3}
	for _, id := range players {
		mustJoin(t, r, id, &fakeConn{})
	}
	// dataOf is the data player id sends with seq: of a length of its own
	// (0..12), so buffers of every size change hands.
	dataOf := func(dst []byte, id, seq uint32) []byte {
		n := int((seq*7 + id*3) % 13)
		for i := range n {
			dst = append(dst, byte(seq)^byte(id<<5)^byte(i*11))
		}
		return dst
	}
	rng := rand.New(rand.NewPCG(3, 4))
	seq := map[uint32]uint32{}
	var buf []byte
	stood := uint32(0) // the seq player 2 was applying when detached
	for tick := range 2000 {
		for _, id := range players {
			for range rng.IntN(5) {
				s := seq[id] + 1
				switch rng.IntN(6) {
				case 0:
					s = max(seq[id], 2) - 1 // stale or repeated
				case 1:
					s = seq[id] + 2 // one skipped, maybe sent next
				}
				seq[id] = max(seq[id], s)
				buf = dataOf(buf[:0], id, s)
				r.PushInput(id, &schema.Input{Seq: s, Data: buf})
				for i := range buf {
					buf[i] = 0xEE // the room holds its own copy
				}
			}
		}
		if tick%97 == 50 {
			if err := r.detach(2); err != nil {
				t.Fatal(err)
			}
			stood = w.lastInputs()[2].Seq
		}
		if tick%97 == 60 {
			if err := r.attach(2, &fakeConn{}, 0); err != nil {
				t.Fatal(err)
			}
		}
		r.step(time.Now())
		for id, in := range w.lastInputs() {
			want := dataOf(nil, id, in.Seq)
			if in.Seq == 0 || id == 2 && in.Seq == stood {
				want = nil // none yet, or stood still since the detach
			}
			if in.Seq == 0 {
				want = nil
			}
			if !bytes.Equal(in.Data, want) {
				t.Fatalf("tick %d player %d seq %d: data %x, want %x", tick, id, in.Seq, in.Data, want)
			}
		}
	}
}
