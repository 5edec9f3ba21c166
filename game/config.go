package game

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/sim"
)

// Config configures a Manager. Start from DefaultConfig and check with
// Validate (NewManager does).
type Config struct {
	// NodeID is this node's id, sent in Welcome.node_id. Required.
	NodeID string
	// TickRate is the tick rate of every room, 1..128. Default 30.
	TickRate int
	// Seats is the number of players a match holds, 1..1024, for the games
	// registered without their own (Spec.Seats 0). Default 8.
	Seats int
	// EmptyTimeout: a match whose last seat was freed closes this long
	// after, unless someone joins. Default 30 s.
	EmptyTimeout time.Duration
	// ResumeGrace is how long a disconnected player's seat and entity are
	// kept for a resume. 0 frees the seat at disconnect. Default 15 s.
	ResumeGrace time.Duration
	// Secret signs resume tokens. Empty: a random secret per Manager (tokens
	// then only work on this node until it restarts). Otherwise at least 16
	// bytes; the nodes of one cluster must share it, so that a player whose
	// match moved resumes on the new owner (the node derives it from
	// -auth-secret, else from -admin-token).
	Secret []byte
	// DefaultGame is the game of a Hello that names none. Default "arena".
	DefaultGame string
	// Logger is the manager's logger (a child per match is derived).
	// Default: zerolog.Nop().
	Logger zerolog.Logger
	// Placement decides where matches run. nil: LocalPlacement.
	Placement Placement
	// Checkpoints receives every room's checkpoint (cluster mode). nil: no
	// checkpoints.
	Checkpoints Checkpointer
	// TickLog receives every room's tick log (cluster mode): what each
	// room applied, tick by tick, so that a node adopting a match after a
	// failover replays it past the checkpoint. nil: no tick log.
	TickLog TickLogger
	// CheckpointInterval is how much game time passes between two
	// checkpoints of a room (also taken at the tick after a join or leave).
	// Default 500 ms; used only with Checkpoints.
	CheckpointInterval time.Duration
	// Lease gates every room (cluster mode): a room ticks only while
	// Lease.Valid(match, epoch), and a join into a room whose lease is not
	// valid is refused as unavailable. nil: always valid.
	Lease Lease
	// AdoptWait bounds how long a join waits for this node to adopt a match
	// the directory placed here (Placement.Locate/Admit). Default 3 s.
	AdoptWait time.Duration
	// RoomMetrics returns the metrics of one match's room, labels bound.
	// nil: no room metrics.
	RoomMetrics func(matchID, game string) sim.Metrics

	// Admission limits. Each refusal answers the Hello with an Error (its
	// code below) before the close, is counted in
	// ticksync_game_join_refusals_total{reason}, and touches no seated
	// player.

	// MaxPlayers caps the players seated on this node, across its matches,
	// counting the seats kept for a resume: a Hello that would seat one more
	// is refused with ErrCodeNodeFull (close 4009). A resume never is (its
	// seat is already counted), nor a match the cluster assigns here
	// (Adopt). 0: no limit. Default 0: capacity depends on the machine
	// (tools/capacity measures it). Node flag -max-players.
	MaxPlayers int
	// MaxRooms caps the matches running on this node: matchmaking that would
	// create one more, and Create, are refused with ErrCodeNodeFull; a
	// match the cluster assigns here (Adopt) is always taken. 0: no limit.
	// Default 0 (see MaxPlayers). Node flag -max-rooms.
	MaxRooms int
	// MaxMatchesPerIP caps the matches that guests (a Hello without an auth
	// token: JoinRequest.PlayerID 0) from one source address may create
	// through matchmaking per minute (a token bucket: this many at once,
	// then one every minute/MaxMatchesPerIP). Joining a match that has a
	// free seat never counts. Over it: ErrCodeRateLimited (close 4012).
	// IPv6 addresses count by /64; a request without an address
	// (JoinRequest.Addr zero) is not limited. 0: no limit. Default 30.
	// Node flag -max-matches-per-ip.
	MaxMatchesPerIP int
	// Registerer, when set, gets the manager's Prometheus metrics
	// (ticksync_game_join_refusals_total, ticksync_game_players_seated).
	Registerer prometheus.Registerer
}

// DefaultConfig returns the defaults: node "local", 30 Hz, 8 seats, 30 s
// empty timeout, 15 s resume grace, game "arena", checkpoints every 500 ms
// (when a Checkpointer is set), 3 s to wait for an adoption, no cap on
// players or matches, 30 matches created per guest address per minute.
func DefaultConfig() Config {
	return Config{
		NodeID:       "local",
		TickRate:     30,
		Seats:        8,
		EmptyTimeout: 30 * time.Second,
		ResumeGrace:  15 * time.Second,
		DefaultGame:  "arena",
		Logger:       zerolog.Nop(),

		CheckpointInterval: 500 * time.Millisecond,
		AdoptWait:          3 * time.Second,
		MaxMatchesPerIP:    30,
	}
}

// Validate reports the first invalid field, saying what is allowed.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return fmt.Errorf("node id: must not be empty")
	case c.TickRate < 1 || c.TickRate > 128:
		return fmt.Errorf("tick rate %d: must be 1..128", c.TickRate)
	case c.Seats < 1 || c.Seats > 1024:
		return fmt.Errorf("seats %d: must be 1..1024", c.Seats)
	case c.EmptyTimeout <= 0:
		return fmt.Errorf("empty timeout %v: must be > 0", c.EmptyTimeout)
	case c.ResumeGrace < 0:
		return fmt.Errorf("resume grace %v: must be >= 0", c.ResumeGrace)
	case len(c.Secret) > 0 && len(c.Secret) < 16:
		return fmt.Errorf("secret of %d bytes: must be empty or at least 16 bytes", len(c.Secret))
	case c.DefaultGame == "":
		return fmt.Errorf("default game: must not be empty")
	case c.Checkpoints != nil && (c.CheckpointInterval < 10*time.Millisecond || c.CheckpointInterval > time.Minute):
		return fmt.Errorf("checkpoint interval %v: must be 10ms..1m", c.CheckpointInterval)
	case c.AdoptWait <= 0 || c.AdoptWait > time.Minute:
		return fmt.Errorf("adopt wait %v: must be > 0 and at most 1m", c.AdoptWait)
	case c.MaxPlayers < 0:
		return fmt.Errorf("max players %d: must be >= 0 (0: no limit)", c.MaxPlayers)
	case c.MaxRooms < 0:
		return fmt.Errorf("max rooms %d: must be >= 0 (0: no limit)", c.MaxRooms)
	case c.MaxMatchesPerIP < 0:
		return fmt.Errorf("max matches per ip %d: must be >= 0 (0: no limit)", c.MaxMatchesPerIP)
	}
	return nil
}
