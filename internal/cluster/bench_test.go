package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
)

// BenchmarkLeaseValid is the cost of the gate every room asks before each
// tick: the owner lease plus the FSM's owner and epoch of the match, on an
// in-process one-node Raft cluster.
func BenchmarkLeaseValid(b *testing.B) {
	cfg := replication.DefaultConfig()
	cfg.NodeID = "b1"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.AdvertiseURL = "ws://127.0.0.1:1/ws"
	cfg.DataDir = b.TempDir()
	n, err := replication.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = n.Shutdown(context.Background()) }()
	for !n.LeaseValid() {
		if ctx.Err() != nil {
			b.Fatal("no lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m, err := n.CreateMatch(ctx, command.CreateMatch{ID: "m1", Game: "arena"})
	if err != nil {
		b.Fatal(err)
	}
	acfg := DefaultConfig()
	acfg.NodeID = "b1"
	a, err := New(acfg)
	if err != nil {
		b.Fatal(err)
	}
	a.Attach(n, n.Checkpointer(), n.TickLogger())
	if !a.Valid("m1", m.Epoch) || a.Valid("m1", m.Epoch+1) {
		b.Fatal("Valid disagrees with the FSM")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if !a.Valid("m1", m.Epoch) {
			b.Fatal("lease lost")
		}
	}
}
