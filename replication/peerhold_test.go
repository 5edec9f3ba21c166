package replication

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/internal/testutil"
)

// answeringPeer is a real Raft transport on addr that answers every RPC
// with success, until stopped.
func answeringPeer(t *testing.T, addr string) (stop func()) {
	t.Helper()
	tr, err := raft.NewTCPTransport(addr, nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rpc := range tr.Consumer() {
			switch rpc.Command.(type) {
			case *raft.AppendEntriesRequest:
				rpc.Respond(&raft.AppendEntriesResponse{Term: 1, Success: true}, nil)
			default:
				rpc.Respond(nil, errors.New("unexpected rpc"))
			}
		}
	}()
	var once atomic.Bool
	stop = func() {
		if once.CompareAndSwap(false, true) {
			_ = tr.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestHoldTransport: a replication RPC to a peer the last RPC could not
// reach waits until a heartbeat reaches it again, then goes through; it is
// released with an error when Raft no longer replicates to the peer.
// Real transports on loopback.
func TestHoldTransport(t *testing.T) {
	// A free address for the peer, which starts and stops on it.
	probe, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addr := string(probe.LocalAddr())
	_ = probe.Close()

	local, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	var replicating atomic.Bool
	replicating.Store(true)
	ht := newHoldTransport(local, func(uint64, raft.ServerID, raft.ServerAddress) bool { return replicating.Load() })
	const id = raft.ServerID("p")
	target := raft.ServerAddress(addr)
	send := func(req *raft.AppendEntriesRequest) <-chan error {
		ch := make(chan error, 1)
		go func() { ch <- ht.AppendEntries(id, target, req, &raft.AppendEntriesResponse{}) }()
		return ch
	}
	replicate := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{Addr: []byte("l")}, Term: 1, PrevLogEntry: 5, PrevLogTerm: 1, LeaderCommitIndex: 5}
	heartbeat := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{Addr: []byte("l")}, Term: 1}
	notHeld := func(ch <-chan error) {
		t.Helper()
		select {
		case err := <-ch:
			t.Fatalf("replication to an unreachable peer was not held: %v", err)
		case <-time.After(5 * holdPoll):
		}
	}
	released := func(ch <-chan error) error {
		t.Helper()
		select {
		case err := <-ch:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("held replication not released")
			return nil
		}
	}

	// Nothing listens: the first replication RPC fails at once (and marks
	// the peer unreachable), the next one is held.
	if err := <-send(replicate); err == nil {
		t.Fatal("replication to a peer that is not there succeeded")
	}
	held := send(replicate)
	notHeld(held)
	// A heartbeat is never held; to the absent peer it fails.
	if err := <-send(heartbeat); err == nil {
		t.Fatal("heartbeat to a peer that is not there succeeded")
	}
	notHeld(held)

	// The peer comes back: the next heartbeat reaches it and releases the
	// held RPC, which then goes through.
	stop := answeringPeer(t, addr)
	testutil.CheckFor(t, 10*time.Second, func() error { return <-send(heartbeat) })
	if err := released(held); err != nil {
		t.Fatalf("held replication after the peer came back: %v", err)
	}

	// Gone again, and then Raft stops replicating to it (a step-down, a
	// removal): the held RPC gives up.
	stop()
	testutil.CheckFor(t, 10*time.Second, func() error {
		if err := <-send(heartbeat); err == nil {
			return errors.New("the stopped peer still answers")
		}
		return nil
	})
	held = send(replicate)
	notHeld(held)
	replicating.Store(false)
	if err := released(held); !errors.Is(err, errHoldStale) {
		t.Fatalf("held replication released with %v, want errHoldStale", err)
	}
}
