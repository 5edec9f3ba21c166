package cluster

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Config configures an Adapter. Start from DefaultConfig; New validates.
type Config struct {
	// NodeID is this node's id in the cluster. Required.
	NodeID string
	// Seats is the number of seats of a match (game.Config.Seats): Admit
	// sends a player to another node's match only while the directory
	// counts a free seat in it. Default 8.
	Seats int
	// SeatsOf returns the number of seats of a match of that game
	// (game.Registry.Seats, a game's Spec.Seats); an answer below 1, or a
	// nil SeatsOf, means Seats. Admit calls it from the joining player's
	// goroutine, concurrently: it must be safe for concurrent use.
	// Optional.
	SeatsOf func(game string) int
	// Listen is this node's HTTP listen address (host:port). When its host
	// is a specific IP, the owner probes of a Replica without PeerAPI leave
	// from it, like replication's node-to-node calls, so that a
	// fault-injecting proxy can tell the nodes apart (a replication.Node
	// makes its own dials). Optional.
	Listen string
	// LocateWait bounds how long Locate holds a Hello while a match is
	// between owners; Poll is how often it looks again. Defaults 3 s and
	// 25 ms.
	LocateWait time.Duration
	Poll       time.Duration
	// ProbeTimeout bounds one GET /readyz of an owner; ProbeTTL is how long
	// its answer is reused. Defaults 300 ms and 250 ms.
	ProbeTimeout time.Duration
	ProbeTTL     time.Duration
	// Logger receives the package's logs. Default: zerolog.Nop().
	Logger zerolog.Logger
}

// DefaultConfig returns the defaults (NodeID still to be set).
func DefaultConfig() Config {
	return Config{
		Seats:        8,
		LocateWait:   3 * time.Second,
		Poll:         25 * time.Millisecond,
		ProbeTimeout: 300 * time.Millisecond,
		ProbeTTL:     250 * time.Millisecond,
		Logger:       zerolog.Nop(),
	}
}

// seatsOf is the number of seats of a match of game: SeatsOf's answer
// when it has one, else Seats.
func (c Config) seatsOf(game string) int {
	if c.SeatsOf != nil {
		if n := c.SeatsOf(game); n > 0 {
			return n
		}
	}
	return c.Seats
}

// Validate reports the first invalid field, saying what is allowed.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return fmt.Errorf("node id: must not be empty")
	case c.Seats < 1 || c.Seats > 1024:
		return fmt.Errorf("seats %d: must be 1..1024", c.Seats)
	case c.LocateWait <= 0 || c.LocateWait > time.Minute:
		return fmt.Errorf("locate wait %v: must be > 0 and at most 1m", c.LocateWait)
	case c.Poll <= 0 || c.Poll > c.LocateWait:
		return fmt.Errorf("poll %v: must be > 0 and at most the locate wait (%v)", c.Poll, c.LocateWait)
	case c.ProbeTimeout <= 0 || c.ProbeTimeout > time.Minute:
		return fmt.Errorf("probe timeout %v: must be > 0 and at most 1m", c.ProbeTimeout)
	case c.ProbeTTL < 0 || c.ProbeTTL > time.Minute:
		return fmt.Errorf("probe ttl %v: must be 0..1m", c.ProbeTTL)
	}
	return nil
}
