package main

import (
	"encoding/binary"
	"errors"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/sim"
)

// GameName is the name the game is registered under (Hello.game).
const GameName = "dots"

// ClockID is the entity that counts the match's ticks in its X: a client
// sees game time go on, across a failover too.
const ClockID = 1

// Size bounds the dots: 0..Size on both axes.
const Size = 1000

// Dots is the toy game: every player steers a dot with its input's move_x
// and move_y (a tenth of the value per tick). Its state is the tick count
// and the dots; it has no randomness, so the seed is unused. Every method
// runs on the match's room goroutine.
type Dots struct {
	ticks uint32
	next  uint32          // the next dot's entity id
	dots  []schema.Entity // by entity id, ascending
}

var _ game.Game = (*Dots)(nil)

// NewDots is the game's factory (game.Factory).
func NewDots(int64) game.Game { return &Dots{next: ClockID + 1} }

// Join gives the player a dot in the middle.
func (d *Dots) Join(player uint32) (uint32, error) {
	id := d.next
	d.next++
	d.dots = append(d.dots, schema.Entity{ID: id, Owner: player, X: Size / 2, Y: Size / 2, Kind: 1, HP: 1})
	return id, nil
}

// Leave removes the player's dot.
func (d *Dots) Leave(player uint32) {
	for i := range d.dots {
		if d.dots[i].Owner == player {
			d.dots = append(d.dots[:i], d.dots[i+1:]...)
			return
		}
	}
}

// Step moves each dot by its player's input.
func (d *Dots) Step(_ uint32, inputs []sim.PlayerInput) {
	d.ticks++
	for _, in := range inputs {
		for i := range d.dots {
			if e := &d.dots[i]; e.Owner == in.Player {
				e.X = clamp(e.X + int32(in.Input.MoveX)/10)
				e.Y = clamp(e.Y + int32(in.Input.MoveY)/10)
			}
		}
	}
}

func clamp(v int32) int32 { return min(max(v, 0), Size) }

// AppendEntities appends the clock, then the dots.
func (d *Dots) AppendEntities(dst []schema.Entity) []schema.Entity {
	dst = append(dst, schema.Entity{ID: ClockID, X: int32(d.ticks)})
	return append(dst, d.dots...)
}

// MarshalState appends ticks, next, then id, owner, x, y of each dot.
func (d *Dots) MarshalState(dst []byte) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, d.ticks)
	dst = binary.LittleEndian.AppendUint32(dst, d.next)
	for _, e := range d.dots {
		for _, v := range []uint32{e.ID, e.Owner, uint32(e.X), uint32(e.Y)} {
			dst = binary.LittleEndian.AppendUint32(dst, v)
		}
	}
	return dst, nil
}

// UnmarshalState replaces the state with one from MarshalState.
func (d *Dots) UnmarshalState(b []byte) error {
	if len(b) < 8 || (len(b)-8)%16 != 0 {
		return errors.New("dots state: bad length")
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	d.ticks, d.next = u(0), u(1)
	d.dots = d.dots[:0]
	for i := 2; 4*i < len(b); i += 4 {
		d.dots = append(d.dots, schema.Entity{ID: u(i), Owner: u(i + 1), X: int32(u(i + 2)), Y: int32(u(i + 3)), Kind: 1, HP: 1})
	}
	return nil
}
