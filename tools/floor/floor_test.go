package floor_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/tools/floor"
)

type handler struct {
	client.NopHandler
	snaps, lastSeq, size atomic.Uint32
}

func (h *handler) OnSnapshot(_ *client.Client, s *schema.Snapshot, w *client.World) {
	h.snaps.Add(1)
	h.lastSeq.Store(s.LastInputSeq)
	h.size.Store(uint32(w.Len()))
}

func TestFloorServesValidSnapshotsAndEchoesInputSeq(t *testing.T) {
	cfg := floor.DefaultConfig()
	cfg.TickRate, cfg.FrameSize = 60, 400
	srv, err := floor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	h := &handler{}
	ccfg := client.DefaultConfig()
	ccfg.URLs, ccfg.Handler, ccfg.Reconnect = []string{srv.URL()}, h, false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if w := c.Welcome(); w.TickRate != 60 || w.MatchID != "floor" || w.PlayerID == 0 {
		t.Errorf("welcome = %+v", w)
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if h.snaps.Load() < 5 {
			return errNotYet
		}
		return nil
	})
	for range 3 {
		if err := c.SendInput(schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: 10})}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.CheckFor(t, 5*time.Second, func() error {
		if h.lastSeq.Load() != 3 {
			return errNotYet
		}
		return nil
	})
	st := srv.Stats()
	if st.Clients != 1 || st.Inputs != 3 || st.Delivered == 0 || st.Ticks == 0 {
		t.Errorf("stats = %+v", st)
	}
	if st.FrameBytes < 350 || st.FrameBytes > 450 || int(h.size.Load()) != st.Entities {
		t.Errorf("frame %d B with %d entities (client saw %d), want about 400 B", st.FrameBytes, st.Entities, h.size.Load())
	}

	// /metrics carries a node's metric names, so that the bots'
	// -server-stats reads the floor as it reads a node.
	resp, err := http.Get(strings.TrimSuffix(strings.Replace(srv.URL(), "ws://", "http://", 1), "/ws") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"ticksync_sim_tick_duration_seconds_bucket", "ticksync_sim_tick_overruns_total",
		"ticksync_ws_sessions", `ticksync_ws_messages_out_total{kind="snapshot",node="floor"}`,
		"ticksync_ws_bytes_out_total", "process_cpu_seconds_total", "process_resident_memory_bytes",
	} {
		if !strings.Contains(string(body), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

var errNotYet = &notYet{}

type notYet struct{}

func (*notYet) Error() string { return "not yet" }

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		change func(*floor.Config)
		want   string
	}{
		{func(c *floor.Config) {}, ""},
		{func(c *floor.Config) { c.Addr = "0.0.0.0:0" }, "loopback"},
		{func(c *floor.Config) { c.Addr = "localhost" }, "addr"},
		{func(c *floor.Config) { c.TickRate = 0 }, "tick rate"},
		{func(c *floor.Config) { c.FrameSize = 10 }, "frame size"},
		{func(c *floor.Config) { c.Writers = -1 }, "writers"},
	} {
		c := floor.DefaultConfig()
		tt.change(&c)
		err := c.Validate()
		if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want %q", err, tt.want)
		}
	}
}
