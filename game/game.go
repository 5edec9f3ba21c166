package game

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/sim"
)

// Game is what a game author implements: a sim.World (Join, Leave, Step,
// AppendEntities) that can also checkpoint itself.
//
// Every method is called on the match's room goroutine only, never
// concurrently. Step must be deterministic given the seed, the joins and
// leaves, and the inputs: it may not read the clock or a global random
// source.
type Game interface {
	sim.World
	// MarshalState appends the complete state (including the random
	// source) to dst and returns it. A game restored from it with
	// UnmarshalState continues exactly as this one would.
	MarshalState(dst []byte) ([]byte, error)
	// UnmarshalState replaces the state with one from MarshalState. It
	// must not keep b.
	UnmarshalState(b []byte) error
}

// TickRated is implemented by games whose speeds are given per second. The
// match calls SetTickRate once, before the first Join or Step, and before
// UnmarshalState on restore.
type TickRated interface {
	SetTickRate(hz int)
}

// Factory creates a game from a seed. The match records the seed so that a
// match can be recreated (with UnmarshalState) on another node.
type Factory func(seed int64) Game

// ErrUnknownGame: no factory is registered under that name.
var ErrUnknownGame = errors.New("unknown game")

// Registry maps game names to factories. It is safe for concurrent use; a
// program registers its games on the node's registry before it starts it
// (ticksync.Node.Games; arena.Register for the demo).
type Registry struct {
	mu sync.RWMutex
	m  map[string]Factory
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry { return &Registry{m: make(map[string]Factory)} }

// Register adds a factory. A name is registered once.
func (r *Registry) Register(name string, f Factory) error {
	if name == "" || f == nil {
		return errors.New("register game: empty name or nil factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return fmt.Errorf("register game %q: already registered", name)
	}
	r.m[name] = f
	return nil
}

// New creates a game of that name. An unknown name wraps ErrUnknownGame.
func (r *Registry) New(name string, seed int64) (Game, error) {
	r.mu.RLock()
	f := r.m[name]
	r.mu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownGame, name)
	}
	return f(seed), nil
}

// Has reports whether a game of that name is registered.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name] != nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Spec registers a game with its compiled schema (RegisterSpec).
type Spec struct {
	Name string
	New  Factory
	// Schema is the game's compiled schema: the .bfbs that
	// `flatc --binary --schema` writes. nil registers a game without one
	// (its World is a sim.EntityWriter).
	Schema []byte
}

// GameSchema is a registered game's schema in the forms the node uses: the
// model that verifies its buffers, the codec of its entities and the .bfbs
// served to clients.
type GameSchema struct {
	Schema *gameschema.Schema
	Codec  *gamedelta.Codec
	BFBS   []byte
}

// RegisterSpec adds a game with its schema. A schema the node cannot use is
// refused with an error naming the table and field.
func (r *Registry) RegisterSpec(s Spec) error {
	return errors.New("register game: game schemas are not supported yet")
}

// Schema returns the schema of a registered game, nil for a game registered
// without one (or not registered).
func (r *Registry) Schema(name string) *GameSchema { return nil }
