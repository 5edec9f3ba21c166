package bots

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/faultproxy"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
)

// TestSwarmCountsStallReconnects: half the bots reach the floor server
// through a proxy that then goes silent both ways (connections open,
// nothing delivered), as a stopped node does. Those bots drop their
// connection after the stall timeout and come back through the other URL;
// the report counts each as a stall reconnect and a "stalled" error.
func TestSwarmCountsStallReconnects(t *testing.T) {
	srv := startFloor(t, 30, 100)
	floorAddr := strings.TrimSuffix(strings.TrimPrefix(srv.URL(), "ws://"), "/ws")
	p, err := faultproxy.Listen("127.0.0.1:0", floorAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })

	cfg := DefaultConfig()
	// Bot i dials URLs[i mod 2] first: bots 0 and 2 through the proxy.
	cfg.URLs = []string{"ws://" + p.Addr() + "/ws", srv.URL()}
	cfg.Bots, cfg.PerRoom = 4, 4
	cfg.Ramp, cfg.Duration = 100*time.Millisecond, 3*time.Second+2*client.MinStallTimeout
	cfg.StallTimeout = client.MinStallTimeout
	cfg.MaxErrorRate = 1 // the stalls are errors; not judged here
	// The schema given, so that no schema fetch holds a connection through
	// the proxy: its open connections are the two bots'.
	cfg.Schema = arena.Schema()
	sw, err := New(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		rep *Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := sw.Run(ctx)
		done <- result{rep, err}
	}()
	// Every bot seated and playing (the floor counts its clients and their
	// inputs; a bot sends inputs once seated), two of them through the
	// proxy, before the proxy goes silent: a bot still joining would time
	// its join out instead of stalling.
	testutil.CheckTrue(t, 20*time.Second, func() bool {
		st := srv.Stats()
		return p.Stats().Open == 2 && st.Clients == 4 && st.Inputs >= 4*30
	})
	p.SetAll(faultproxy.Blackhole)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	if rep.Bots.Connected != 4 || rep.Bots.AtEnd != 4 {
		t.Errorf("bots %+v: want all 4 seated at the end", rep.Bots)
	}
	if rep.StallReconnects != 2 || rep.Errors["stalled"] != 2 || rep.Reconnects != 2 {
		t.Errorf("stall reconnects %d, reconnects %d, errors %v: want the 2 proxied bots to stall once each and resume",
			rep.StallReconnects, rep.Reconnects, rep.Errors)
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "(2 after a stall") {
		t.Errorf("table does not show the stall reconnects:\n%s", table.String())
	}
}
