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

// Game is what a game author implements: a sim.World (Join, Leave, Step)
// that can also checkpoint itself, and a sim.StateWriter (its state in the
// entity kinds of its schema, registered with RegisterSpec). It may
// implement sim's optional interfaces: sim.InfoJoiner (the player's name, join payload and claims;
// a *sim.RefuseError refuses the join with a reason the client sees),
// sim.EventHandler, sim.OutboxUser (events to players, End) and
// sim.Viewer.
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

// Registry maps game names to factories, and the games registered with a
// schema (RegisterSpec) to their GameSchema. It is safe for concurrent use;
// a program registers its games on the node's registry before it starts it
// (ticksync.Node.Games; games/arena's Register for the demo).
type Registry struct {
	mu      sync.RWMutex
	m       map[string]Factory
	schemas map[string]*GameSchema
	seats   map[string]int // Spec.Seats when not 0
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{m: make(map[string]Factory), schemas: make(map[string]*GameSchema), seats: make(map[string]int)}
}

// add registers f, its schema gs and seats (0: the node's default) under
// name. A name is registered once.
func (r *Registry) add(name string, f Factory, gs *GameSchema, seats int) error {
	if name == "" || f == nil {
		return errors.New("register game: empty name or nil factory")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.m[name]; ok {
		return fmt.Errorf("register game %q: already registered", name)
	}
	r.m[name] = f
	if r.schemas == nil {
		r.schemas = make(map[string]*GameSchema)
	}
	r.schemas[name] = gs
	if seats != 0 {
		if r.seats == nil {
			r.seats = make(map[string]int)
		}
		r.seats[name] = seats
	}
	return nil
}

// Seats returns the number of players a match of that game holds as
// registered (Spec.Seats); 0 for a game registered without one (its
// matches hold the node's Config.Seats) or not registered.
func (r *Registry) Seats(name string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seats[name]
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
	// `flatc --binary --schema` writes. Required.
	Schema []byte
	// Seats is the number of players a match of this game holds, 1..1024:
	// matchmaking fills a match up to it, then opens another. 0: the
	// node's Config.Seats.
	Seats int
}

// GameSchema is a registered game's schema in the forms the node uses: the
// model that verifies its buffers, the codec of its entities and the .bfbs
// served to clients. It is immutable and shared by every match of the game.
type GameSchema struct {
	Schema *gameschema.Schema
	Codec  *gamedelta.Codec
	BFBS   []byte

	hash string // Schema.HashString(), computed once
	keys []int  // indexes of the join table's (match_key) fields
}

// Hash returns the schema's hash in lower-case hex: what Welcome.schema_hash
// carries and Hello.schema_hash must equal.
func (g *GameSchema) Hash() string { return g.hash }

// RegisterSpec adds a game with its schema: the .bfbs is loaded with
// gameschema.Load (a schema the node cannot use is refused with an error
// naming the table and field: wrapping gameschema.ErrBadSchema, a
// *gameschema.SchemaError when one table or field is at fault), must have
// an input table, and its entity kinds compile into the game's
// gamedelta.Codec (gameschema's DeltaLayout). The game's World must then
// be a sim.StateWriter. Every game has a schema: a Spec without one is
// refused. A name is registered once. Spec.Seats, when not 0, is the size of the game's matches (else the
// node's Config.Seats).
func (r *Registry) RegisterSpec(s Spec) error {
	if s.Name == "" || s.New == nil {
		return errors.New("register game: empty name or nil factory")
	}
	if s.Seats < 0 || s.Seats > 1024 {
		return fmt.Errorf("register game %q: seats %d: must be 1..1024, or 0 for the node's default", s.Name, s.Seats)
	}
	if s.Schema == nil {
		return fmt.Errorf("register game %q: no schema: a game brings its compiled schema (Spec.Schema, the .bfbs)", s.Name)
	}
	gs, err := compileSchema(s.Schema)
	if err != nil {
		return fmt.Errorf("register game %q: %w", s.Name, err)
	}
	return r.add(s.Name, s.New, gs, s.Seats)
}

// compileSchema loads a .bfbs into the forms the node uses.
func compileSchema(bfbs []byte) (*GameSchema, error) {
	sc, err := gameschema.Load(bfbs)
	if err != nil {
		return nil, err
	}
	if sc.Input == nil {
		return nil, fmt.Errorf("%w: no table marked (%s)", gameschema.ErrBadSchema, gameschema.AttrInput)
	}
	layout, err := sc.DeltaLayout()
	if err != nil {
		return nil, err
	}
	codec, err := gamedelta.Compile(layout)
	if err != nil {
		return nil, fmt.Errorf("%w: schema %s: the entity kinds do not compile into a delta codec: %w", gameschema.ErrBadSchema, sc.Name, err)
	}
	gs := &GameSchema{Schema: sc, Codec: codec, BFBS: slices.Clone(bfbs), hash: sc.HashString()}
	if sc.Join != nil {
		for _, f := range sc.Join.Fields {
			if f.MatchKey {
				gs.keys = append(gs.keys, f.Index)
			}
		}
	}
	return gs, nil
}

// Schema returns the schema of a registered game, nil for a game not
// registered.
func (r *Registry) Schema(name string) *GameSchema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.schemas[name]
}
