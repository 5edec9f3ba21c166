package command

import "fmt"

// NodeState is a node's state in the FSM.
type NodeState uint8

const (
	// NodeAlive: takes new matches.
	NodeAlive NodeState = 1
	// NodeDraining: keeps running its matches while it hands them over; takes no new ones.
	NodeDraining NodeState = 2
	// NodeDead: declared dead by the leader's supervisor; owns no matches.
	NodeDead NodeState = 3
)

var nodeStateNames = map[NodeState]string{NodeAlive: "alive", NodeDraining: "draining", NodeDead: "dead"}

func (s NodeState) String() string {
	if n, ok := nodeStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText makes NodeState a JSON string.
func (s NodeState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "alive", "draining" or "dead".
func (s *NodeState) UnmarshalText(b []byte) error {
	for k, v := range nodeStateNames {
		if v == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("node state %q: must be alive, draining or dead", b)
}

// Valid reports whether s is one of the three states.
func (s NodeState) Valid() bool { return s >= NodeAlive && s <= NodeDead }

// MatchStatus is a match's status in the FSM.
type MatchStatus uint8

const (
	// MatchRunning: the match has an owner.
	MatchRunning MatchStatus = 1
	// MatchOrphaned: its owner died and no live node could take it; the FSM
	// places it as soon as a node comes alive.
	MatchOrphaned MatchStatus = 2
)

func (s MatchStatus) String() string {
	switch s {
	case MatchRunning:
		return "running"
	case MatchOrphaned:
		return "orphaned"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// MarshalText makes MatchStatus a JSON string.
func (s MatchStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "running" or "orphaned".
func (s *MatchStatus) UnmarshalText(b []byte) error {
	switch string(b) {
	case "running":
		*s = MatchRunning
	case "orphaned":
		*s = MatchOrphaned
	default:
		return fmt.Errorf("match status %q: must be running or orphaned", b)
	}
	return nil
}
