package sim

import "time"

// Hooks for the external benchmarks (package sim_test, which may import
// game/arena without an import cycle): drive a room without its loop.

func (r *Room) StepForTest(now time.Time) { r.step(now) }

func (r *Room) JoinForTest(id uint32, c Conn) (uint32, error) { return r.join(id, c) }
