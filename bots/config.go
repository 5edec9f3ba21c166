package bots

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// Behavior says how a bot chooses its input each tick. In a game whose
// input has the movement axes move_x and move_y the bots steer (wander,
// chase); in another game they draw random inputs within its schema
// (wander) or send its defaults (idle). See behavior.go for the field
// names.
type Behavior string

// Behaviours.
const (
	// Wander picks a new random direction every second and walks it, like
	// the arena's NPCs (the arena-8x64 scenario); without movement axes, a
	// new random input every second.
	Wander Behavior = "wander"
	// Chase steers towards the nearest other entity of the bot's world:
	// games with movement axes and entities with integer x and y only.
	Chase Behavior = "chase"
	// Idle sends no input data (a game with movement axes) or the input
	// table's defaults: the cheapest bot, for footprint measurements.
	Idle Behavior = "idle"
)

// ParseBehavior returns the Behavior named s.
func ParseBehavior(s string) (Behavior, error) {
	switch b := Behavior(strings.ToLower(strings.TrimSpace(s))); b {
	case Wander, Chase, Idle:
		return b, nil
	}
	return "", fmt.Errorf("behavior %q: must be wander, chase or idle", s)
}

// Config configures a Swarm. Start from DefaultConfig and call Validate.
type Config struct {
	// URLs of the nodes' game endpoints (ws:// or wss://, path /ws). Bot i
	// dials URLs[i % len(URLs)] first; the client falls back to the others.
	URLs []string
	// Bots is the number of bots (1..100000).
	Bots int
	// PerRoom is how many bots are meant to share one match (1..64). Bots
	// join through matchmaking, which fills rooms to the game's seat count:
	// PerRoom should be that count (see the package doc).
	PerRoom int
	// Duration is the length of the measured window, after Ramp and Warmup.
	Duration time.Duration
	// Ramp spreads the bots' first dials evenly over this time (0: all at once).
	Ramp time.Duration
	// Warmup is waited after the ramp before the measured window opens.
	Warmup time.Duration
	// TickRate is the server's tick rate: the rate of inputs per bot, and the
	// expected snapshot rate. 0: take it from the first Welcome.
	TickRate int
	// Origin is sent as the Origin header of the upgrade ("" : none).
	Origin string
	// TokenSecret, when set, signs a player token per bot (schema/token:
	// HS256 JWT, sub = its player id, bot index + PlayerIDBase), as the node
	// with the same -auth-secret verifies it; otherwise the bots join as
	// guests.
	TokenSecret string
	// PlayerIDBase is the player id of bot 0 when TokenSecret is set.
	PlayerIDBase uint32
	// Game names the game for matchmaking; default DefaultGame. Run asks
	// the nodes for its compiled schema (GET /games/{name}/schema) unless
	// Schema is set; the schema's field names choose how the bots play it
	// (Behavior), with a random join payload each when it has a join
	// table and random client events when it has some.
	Game string
	// Schema and Codec, when set, are the game's compiled schema and its
	// delta codec, and Run asks the nodes for nothing (Codec nil: compiled
	// from Schema). Both nil: looked up as Game says.
	Schema *gameschema.Schema
	Codec  *gamedelta.Codec
	// EventRate is the rate of random client events each bot sends, per
	// second, in a game with a schema and client events (0: none).
	EventRate float64
	// Behavior of every bot. In a game without movement axes, wander
	// draws a new random input every second and idle sends the input
	// table's defaults; chase needs the axes and positioned entities.
	Behavior Behavior
	// Seed seeds every bot's random choices (bot i uses Seed and i), so a run
	// replays the same inputs.
	Seed int64
	// Insecure skips TLS certificate verification (self-signed wss).
	Insecure bool
	// MaxErrorRate is the largest acceptable errors / inputs sent ratio.
	MaxErrorRate float64
	// ServerStatsURL is a node's /metrics URL, scraped when the window opens
	// and when it closes ("": none).
	ServerStatsURL string
	// ServerStatsToken is sent as "Authorization: Bearer <token>" with
	// the scrapes: a node's /metrics wants its admin token, except on its
	// -metrics-addr listener ("": no header).
	ServerStatsToken string
	// ProgressInterval is the period of the progress line (0: none).
	ProgressInterval time.Duration
	// JoinTimeout bounds one bot's first connection (dial + Hello + Welcome).
	JoinTimeout time.Duration
	// WorldRing is how many reconstructed worlds each bot's client keeps
	// as delta baselines (client.Config.WorldRing; 0: the client's default,
	// 64). A bot acks its newest world, so a ring of R holds every baseline
	// the server uses while the input→ack round trip stays under R ticks
	// (8 ticks: 266 ms at 30 Hz, well past the RTT budget). A snapshot
	// against a world already dropped is counted in
	// Report.Snapshots.NoBaseline (not an error) and the next ones apply.
	WorldRing int
	// SkipWorld: the bots do not rebuild the world from the snapshots
	// (client.Config.SkipWorld): they verify and decode each one and ack its
	// tick, but apply no delta. Wander and idle bots never read the world;
	// rebuilding it is ~10% of a bot's CPU against a node's 64-entity deltas
	// and next to nothing against the floor's small full frames, so the
	// capacity benchmark skips it to give both servers the same clients.
	// Delta errors go unnoticed then. Chase bots need the world.
	SkipWorld bool
	// ReadBufferSize is each client's socket read buffer
	// (client.Config.ReadBufferSize; 0: gws's 4 KiB).
	ReadBufferSize int
	// StallTimeout: a bot that receives no snapshot for this long drops
	// its connection and resumes as after a loss
	// (client.Config.StallTimeout): a frozen node keeps its sockets open.
	// Report.StallReconnects counts these. 0 turns the watch off (the
	// client's 15 s read timeout alone); otherwise at least
	// client.MinStallTimeout.
	StallTimeout time.Duration
}

// Defaults of the per-bot memory knobs: 8 arena worlds are ≈ 30 KB
// instead of ≈ 250 KB at the client's default of 64, and snapshots are
// ~100 B (a full one ~1.6 KB, still read whole through a 1 KiB buffer).
const (
	DefaultWorldRing      = 8
	DefaultReadBufferSize = 1 << 10
)

// DefaultConfig returns a Config for 100 wandering bots against a local node.
func DefaultConfig() Config {
	return Config{
		URLs:             []string{"ws://127.0.0.1:7350/ws"},
		Bots:             100,
		PerRoom:          8,
		Duration:         10 * time.Second,
		Ramp:             2 * time.Second,
		TickRate:         30,
		Behavior:         Wander,
		Seed:             1,
		PlayerIDBase:     1,
		MaxErrorRate:     0.01,
		ProgressInterval: time.Second,
		JoinTimeout:      10 * time.Second,
		Game:             DefaultGame,
		WorldRing:        DefaultWorldRing,
		ReadBufferSize:   DefaultReadBufferSize,
		StallTimeout:     client.DefaultStallTimeout,
		EventRate:        DefaultEventRate,
	}
}

// DefaultGame is the game the bots play by default: the arena cmd/ticksync
// registers. Only its name: its schema comes from the nodes.
const DefaultGame = "arena"

// DefaultEventRate is the default rate of client events per bot per
// second: one every two seconds.
const DefaultEventRate = 0.5

// Limits checked by Validate.
const (
	MaxBots     = 100000
	MaxPerRoom  = 64
	MaxTickRate = 128
	// MaxEventRate is below a node's default event rate limit (60/s).
	MaxEventRate = 30
)

// Validate reports the first invalid field, saying what is allowed. Each
// message starts with the name of the ticksync-bots flag that sets the field.
func (c *Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("url: at least one URL is required")
	}
	for _, s := range c.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("url %q: must be ws://host[:port]/path or wss://host[:port]/path", s)
		}
	}
	switch {
	case c.Bots < 1 || c.Bots > MaxBots:
		return fmt.Errorf("bots %d: must be 1..%d", c.Bots, MaxBots)
	case c.PerRoom < 1 || c.PerRoom > MaxPerRoom:
		return fmt.Errorf("per-room %d: must be 1..%d", c.PerRoom, MaxPerRoom)
	case c.Duration <= 0 || c.Duration > 24*time.Hour:
		return fmt.Errorf("duration %s: must be > 0 and at most 24h", c.Duration)
	case c.Ramp < 0 || c.Ramp > time.Hour:
		return fmt.Errorf("ramp %s: must be 0..1h", c.Ramp)
	case c.Warmup < 0 || c.Warmup > time.Hour:
		return fmt.Errorf("warmup %s: must be 0..1h", c.Warmup)
	case c.TickRate < 0 || c.TickRate > MaxTickRate:
		return fmt.Errorf("tick-rate %d: must be 1..%d (0: from the server)", c.TickRate, MaxTickRate)
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1:
		return fmt.Errorf("max-error-rate %g: must be 0..1", c.MaxErrorRate)
	case c.ProgressInterval < 0:
		return fmt.Errorf("progress-interval %s: must be >= 0", c.ProgressInterval)
	case c.JoinTimeout <= 0:
		return fmt.Errorf("join-timeout %s: must be > 0", c.JoinTimeout)
	case c.WorldRing < 0 || c.WorldRing > client.MaxWorldRing:
		return fmt.Errorf("world-ring %d: must be 1..%d (0: the client's default)", c.WorldRing, client.MaxWorldRing)
	case c.ReadBufferSize != 0 && (c.ReadBufferSize < 512 || c.ReadBufferSize > 1<<20):
		return fmt.Errorf("read-buffer %d: must be 512..%d (0: gws's default)", c.ReadBufferSize, 1<<20)
	case c.StallTimeout != 0 && c.StallTimeout < client.MinStallTimeout:
		return fmt.Errorf("stall-timeout %s: must be 0 (off) or at least %s", c.StallTimeout, client.MinStallTimeout)
	case c.EventRate < 0 || c.EventRate > MaxEventRate:
		return fmt.Errorf("event-rate %g: must be 0..%d events per bot per second", c.EventRate, MaxEventRate)
	case c.Game == "":
		return fmt.Errorf("game: must name the game (default %s)", DefaultGame)
	case len(c.Game) > schema.MaxGameLen:
		return fmt.Errorf("game %q: at most %d bytes", c.Game, schema.MaxGameLen)
	case c.Codec != nil && c.Schema == nil:
		return errors.New("game: a codec without its schema")
	case c.Schema != nil && c.Behavior == Chase && checkChase(c.Schema) != nil:
		return fmt.Errorf("behavior chase: game %s: %w (use wander or idle)", c.Game, checkChase(c.Schema))
	case c.SkipWorld && c.Behavior == Chase:
		return errors.New("skip-world: chase bots steer by the world; use wander or idle")
	case c.TokenSecret != "" && uint64(c.PlayerIDBase)+uint64(c.Bots) > 1<<32-1:
		return fmt.Errorf("player-id-base %d: base + bots must fit in uint32", c.PlayerIDBase)
	case c.TokenSecret != "" && c.PlayerIDBase == 0:
		return errors.New("player-id-base 0: must be >= 1 (0 means guest)")
	}
	if _, err := ParseBehavior(string(c.Behavior)); err != nil {
		return err
	}
	if c.ServerStatsURL != "" {
		u, err := url.Parse(c.ServerStatsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("server-stats %q: must be an http(s) URL", c.ServerStatsURL)
		}
	}
	return nil
}
