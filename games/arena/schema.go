package arena

import (
	_ "embed"
	"fmt"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

//go:embed arena.bfbs
var bfbs []byte

// BFBS returns the compiled schema (arena.bfbs), for game.Spec.Schema. The
// caller must not modify it.
func BFBS() []byte { return bfbs }

// Entity kinds, as gamedelta kind indexes (World.Kind, World.AddRun): the
// schema's entity tables in ascending ticksync_entity order.
const (
	KindAvatar = 0 // arena.Avatar (ticksync_entity: "1")
	KindNPC    = 1 // arena.Npc (ticksync_entity: "2")
)

// Field indexes within a kind (gameschema's Field.Index, which gamedelta
// shares), the same for both kinds.
const (
	FieldX     = 0 // position, 1/16 units, 0..MaxPos
	FieldY     = 1
	FieldVX    = 2 // velocity, 1/16 units per tick
	FieldVY    = 3
	FieldAngle = 4 // facing, 1/65536 turns
	FieldHP    = 5 // 1..MaxHP
)

// model and codec are loaded once; a schema that does not match the
// constants above fails every use of the package (and its tests).
var model, codec = mustLoad()

// Schema returns the game's schema as ticksync loads it.
func Schema() *gameschema.Schema { return model }

// Codec returns the delta codec of the schema's entities
// (Schema().DeltaLayout()), compiled once: clients apply snapshots with a
// gamedelta.Receiver of it.
func Codec() *gamedelta.Codec { return codec }

func mustLoad() (*gameschema.Schema, *gamedelta.Codec) {
	s, err := gameschema.Load(bfbs)
	if err != nil {
		panic(fmt.Sprintf("arena: load arena.bfbs: %v", err))
	}
	if err := check(s); err != nil {
		panic(fmt.Sprintf("arena: arena.bfbs: %v", err))
	}
	l, err := s.DeltaLayout()
	if err != nil {
		panic(fmt.Sprintf("arena: arena.bfbs: delta layout: %v", err))
	}
	c, err := gamedelta.Compile(l)
	if err != nil {
		panic(fmt.Sprintf("arena: arena.bfbs: compile: %v", err))
	}
	return s, c
}

// check verifies that s places the kinds, fields and input fields where
// the constants of this package, WriteState, AppendEntities, AppendInput
// and ReadInput expect them.
func check(s *gameschema.Schema) error {
	kinds := map[int]string{KindAvatar: "arena.Avatar", KindNPC: "arena.Npc"}
	if len(s.Entities) != len(kinds) {
		return fmt.Errorf("%d entity kinds, want %d", len(s.Entities), len(kinds))
	}
	fields := []struct {
		index int
		name  string
		typ   gameschema.Type
	}{
		{FieldX, "x", gameschema.Int32}, {FieldY, "y", gameschema.Int32},
		{FieldVX, "vx", gameschema.Int16}, {FieldVY, "vy", gameschema.Int16},
		{FieldAngle, "angle", gameschema.Uint16}, {FieldHP, "hp", gameschema.Uint8},
	}
	for k, name := range kinds {
		t := s.Entities[k]
		if t.Name != name {
			return fmt.Errorf("kind %d is %s, want %s", k, t.Name, name)
		}
		if len(t.Fields) != len(fields) {
			return fmt.Errorf("%s has %d fields, want %d", name, len(t.Fields), len(fields))
		}
		for _, f := range fields {
			got := t.Field(f.name)
			if got == nil || got.Index != f.index || got.Type != f.typ {
				return fmt.Errorf("%s.%s: not field %d of type %v", name, f.name, f.index, f.typ)
			}
		}
	}
	in := []struct {
		name string
		slot int
		typ  gameschema.Type
	}{
		{"move_x", slotMoveX, gameschema.Int8}, {"move_y", slotMoveY, gameschema.Int8},
		{"aim", slotAim, gameschema.Uint16}, {"buttons", slotButtons, gameschema.Uint8},
	}
	if s.Input == nil || s.Input.Name != "arena.Input" || len(s.Input.Fields) != len(in) {
		return fmt.Errorf("no input table arena.Input of %d fields", len(in))
	}
	for _, f := range in {
		got := s.Input.Field(f.name)
		if got == nil || got.ID != f.slot || got.Type != f.typ {
			return fmt.Errorf("arena.Input.%s: not in vtable slot %d with type %v", f.name, f.slot, f.typ)
		}
	}
	if s.ClientEvents != nil || s.ServerEvents != nil || s.Join != nil {
		return fmt.Errorf("the arena has no events and no join payload")
	}
	return nil
}
