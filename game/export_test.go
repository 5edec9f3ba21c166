package game

import "github.com/ticksync/ticksync/sim"

// Handles for the tests on what production code keeps to itself.

// Match returns the running match id, or nil.
func (m *Manager) Match(id string) *Match { return m.lookup(id) }

// Room returns the match's room.
func (m *Match) Room() *sim.Room { return m.room }
