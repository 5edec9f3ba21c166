package schema

// This file holds the signatures still to be implemented. Each moves to its
// own file (decode.go, verify.go, delta.go) when implemented.

// Delta is the reusable output of Diff.
type Delta struct {
	Spawned []Entity
	Changes []byte
	Removed []uint32
}

// Diff computes the delta that turns base (the world at the baseline tick)
// into cur (the world dt ticks later). Both are sorted by ID ascending. The
// result reuses d's capacity; Diff allocates nothing once d has grown.
func Diff(d *Delta, base, cur []Entity, dt uint32) { panic("TODO") }

// Apply rebuilds the world at the snapshot's tick from base (the world at
// the baseline tick, sorted by ID) and the snapshot's delta, appending it to
// dst[:0] sorted by ID. dst must not alias base. An error wraps ErrBadDelta.
func Apply(dst, base []Entity, dt uint32, spawned []Entity, changes []byte, removed []uint32) ([]Entity, error) {
	panic("TODO")
}
