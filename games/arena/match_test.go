package arena_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// client is a test player: it keeps every snapshot (copied, as Conn must)
// and applies them with a gamedelta.Receiver of the arena's codec, as a
// client does.
type client struct {
	mu     sync.Mutex
	msgs   [][]byte
	recv   *gamedelta.Receiver
	worlds map[uint32][]arena.Entity // by tick
	newest uint32
	deltas int // snapshots that were deltas
}

func (c *client) SendSnapshot(msg []byte) {
	c.mu.Lock()
	c.msgs = append(c.msgs, append([]byte(nil), msg...))
	c.mu.Unlock()
}

func (c *client) Overflow()                     {}
func (c *client) Kick(schema.ErrorCode, string) {}
func (c *client) Redirect(string, string)       {}

func (c *client) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// apply decodes and applies every snapshot received so far.
func (c *client) apply(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	msgs := c.msgs
	c.msgs = nil
	c.mu.Unlock()
	var m schema.ServerMessage
	for _, b := range msgs {
		if err := schema.DecodeServerMessage(b, &m); err != nil {
			t.Fatal(err)
		}
		s := &m.Snapshot
		if s.BaselineTick != 0 {
			c.deltas++
			if _, ok := c.worlds[s.BaselineTick]; !ok {
				t.Fatalf("delta against tick %d, which this client never acked", s.BaselineTick)
			}
		}
		w, err := c.recv.Apply(s.Tick, s.BaselineTick, s.State)
		if err != nil {
			t.Fatalf("apply tick %d on %d: %v", s.Tick, s.BaselineTick, err)
		}
		c.worlds[s.Tick] = arena.AppendEntities(nil, w)
		c.newest = max(c.newest, s.Tick)
	}
}

func TestArenaMatchThroughManager(t *testing.T) {
	reg := game.NewRegistry()
	if err := arena.Register(reg); err != nil {
		t.Fatal(err)
	}
	cfg := game.DefaultConfig()
	cfg.TickRate = 60
	m, err := game.NewManager(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = m.Shutdown(context.Background()) }()

	ctx := context.Background()
	dirs := [3]int8{100, -100, 0}
	var seats [3]game.Seat
	var clients [3]*client
	for i := range seats {
		clients[i] = &client{worlds: map[uint32][]arena.Entity{}}
		s, err := m.Join(ctx, game.JoinRequest{Conn: clients[i]})
		if err != nil {
			t.Fatal(err)
		}
		seats[i] = s
		wel := s.Welcome()
		if wel.Game != arena.Name || wel.SchemaHash != arena.Schema().HashString() {
			t.Fatalf("welcome: game %q schema %q, want %q %q", wel.Game, wel.SchemaHash, arena.Name, arena.Schema().HashString())
		}
		if clients[i].recv, err = gamedelta.NewReceiver(arena.Codec(), gamedelta.DefaultReceiverConfig(wel.PlayerID)); err != nil {
			t.Fatal(err)
		}
	}
	match := seats[0].Welcome().MatchID
	var startX [3]int32
	var data []byte
	// Like a client: on each new snapshot, apply it and answer with an
	// input acking it.
	for seq := uint32(1); seq <= 60; seq++ {
		testutil.CheckTrue(t, 5*time.Second, func() bool {
			for _, c := range clients {
				if c.pending() == 0 {
					return false
				}
			}
			return true
		})
		for i, c := range clients {
			c.apply(t)
			data = arena.AppendInput(data[:0], arena.Input{MoveX: dirs[i]})
			if err := seats[i].Schema().Schema.VerifyInput(data); err != nil { // as net/ws does
				t.Fatal(err)
			}
			seats[i].Input(&schema.Input{Seq: seq, AckTick: c.newest, Data: data})
		}
		if seq == 5 {
			for i, c := range clients {
				startX[i] = own(t, c.worlds[c.newest], seats[i].Welcome()).X
			}
		}
	}
	for i, c := range clients {
		w := c.worlds[c.newest]
		if len(w) != arena.NPCs+3 {
			t.Fatalf("client %d sees %d entities, want %d", i, len(w), arena.NPCs+3)
		}
		me := own(t, w, seats[i].Welcome())
		switch moved := me.X - startX[i]; {
		case dirs[i] > 0 && moved <= 0, dirs[i] < 0 && moved >= 0, dirs[i] == 0 && moved != 0:
			// A wall may stop an avatar; only a move against the input fails.
			if !(me.X == 0 || me.X == arena.MaxPos) {
				t.Errorf("client %d asked %d, its entity moved %d", i, dirs[i], moved)
			}
		}
		if c.deltas < 30 {
			t.Errorf("client %d got %d delta snapshots, want most of them", i, c.deltas)
		}
		if seats[i].Welcome().MatchID != match {
			t.Fatal("three players were not matched together")
		}
	}
	// Every client rebuilt the same world at a tick they all hold, from
	// their own mix of full snapshots and deltas.
	tick := min(clients[0].newest, clients[1].newest, clients[2].newest)
	for i := 1; i < 3; i++ {
		a, b := clients[0].worlds[tick], clients[i].worlds[tick]
		if len(a) != len(b) {
			t.Fatalf("tick %d: worlds of clients 0 and %d differ in size", tick, i)
		}
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("tick %d: client 0 has %+v, client %d has %+v", tick, a[j], i, b[j])
			}
		}
	}
}

func own(t *testing.T, w []arena.Entity, wel schema.Welcome) arena.Entity {
	t.Helper()
	for _, e := range w {
		if e.ID == wel.EntityID {
			if e.Owner != wel.PlayerID || e.Kind != arena.KindAvatar {
				t.Fatalf("own entity %+v, want owner %d", e, wel.PlayerID)
			}
			return e
		}
	}
	t.Fatalf("own entity %d not in the world", wel.EntityID)
	return arena.Entity{}
}
