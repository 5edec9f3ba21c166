package sim

import "time"

// Hooks for the external benchmarks and tests (package sim_test, which may
// import games/arena without an import cycle): drive a room without its
// loop.

func (r *Room) StepForTest(now time.Time) { r.step(now) }

func (r *Room) JoinForTest(id uint32, c Conn) (uint32, error) { return r.join(id, c, nil) }

func (r *Room) LeaveForTest(id uint32) error { return r.leave(id) }

func (r *Room) AttachForTest(id uint32, c Conn, ack uint32) error { return r.attach(id, c, ack) }

func (r *Room) DetachForTest(id uint32) error { return r.detach(id) }

func (r *Room) CaptureForTest(fn CheckpointFunc) error { return r.capture(fn) }

// RaceBuild reports a -race build, whose instrumentation allocates in
// gamedelta's encoder (race_test.go).
func RaceBuild() bool { return raceBuild }
