package main

//go:generate flatc --binary --schema dots.fbs
//go:generate sh -c "flatc --go --go-namespace dotsfb dots.fbs && gofmt -w dotsfb"

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/examples/embed/dotsfb"
	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
	"github.com/ticksync/ticksync/sim"
)

// GameName is the name the game is registered under (Hello.game).
const GameName = "dots"

// ClockID is the entity that counts the match's ticks in its ticks field:
// a client sees game time go on, across a failover too.
const ClockID = 1

// Size bounds the dots: 0..Size on both axes (the range of Dot.x and Dot.y
// in dots.fbs).
const Size = 1000

//go:embed dots.bfbs
var dotsBFBS []byte

// dotsSchema is the loaded schema and where the game's kinds and fields are
// in it (gamedelta kind indexes, gameschema field indexes), resolved once
// by name: a dots.bfbs that lacks one fails the program at start.
var dotsSchema, dotsLayout = mustLoad()

type layout struct {
	clock, dot int // kinds
	clockTicks int
	dotX, dotY int
}

func mustLoad() (*gameschema.Schema, layout) {
	s, err := gameschema.Load(dotsBFBS)
	if err != nil {
		panic(fmt.Sprintf("dots: load dots.bfbs: %v", err))
	}
	var l layout
	kind := func(name string) (*gameschema.Table, int) {
		for i, t := range s.Entities {
			if t.Name == name {
				return t, i
			}
		}
		panic("dots: dots.bfbs has no entity table " + name)
	}
	field := func(t *gameschema.Table, name string) int {
		f := t.Field(name)
		if f == nil {
			panic(fmt.Sprintf("dots: %s has no field %s", t.Name, name))
		}
		return f.Index
	}
	var ct, dt *gameschema.Table
	ct, l.clock = kind("dots.Clock")
	dt, l.dot = kind("dots.Dot")
	l.clockTicks = field(ct, "ticks")
	l.dotX, l.dotY = field(dt, "x"), field(dt, "y")
	return s, l
}

// Spec registers the game with its schema: Node.Games().RegisterSpec(Spec()).
func Spec() game.Spec { return game.Spec{Name: GameName, New: NewDots, Schema: dotsBFBS} }

// Dots is the toy game: every player steers a dot with its input's move_x
// and move_y (a tenth of the value per tick). Its state is the tick count
// and the dots; it has no randomness, so the seed is unused. Every method
// runs on the match's room goroutine.
type Dots struct {
	ticks uint32
	next  uint32 // the next dot's entity id
	dots  []dot  // by entity id, ascending
}

// dot is one player's dot.
type dot struct {
	id, owner uint32
	x, y      int32
}

var (
	_ game.Game       = (*Dots)(nil)
	_ sim.StateWriter = (*Dots)(nil)
)

// NewDots is the game's factory (game.Factory).
func NewDots(int64) game.Game { return &Dots{next: ClockID + 1} }

// Join gives the player a dot in the middle.
func (d *Dots) Join(player uint32) (uint32, error) {
	id := d.next
	d.next++
	d.dots = append(d.dots, dot{id: id, owner: player, x: Size / 2, y: Size / 2})
	return id, nil
}

// Leave removes the player's dot.
func (d *Dots) Leave(player uint32) {
	for i := range d.dots {
		if d.dots[i].owner == player {
			d.dots = append(d.dots[:i], d.dots[i+1:]...)
			return
		}
	}
}

// Step moves each dot by its player's input. ticksync has verified every
// input against the schema's Input table before it gets here.
func (d *Dots) Step(_ uint32, inputs []sim.PlayerInput) {
	d.ticks++
	for _, pi := range inputs {
		data := pi.Input.Data
		if len(data) == 0 {
			continue
		}
		var in dotsfb.Input
		in.Init(data, flatbuffers.GetUOffsetT(data))
		for i := range d.dots {
			if e := &d.dots[i]; e.owner == pi.Player {
				e.x = clamp(e.x + int32(in.MoveX())/10)
				e.y = clamp(e.y + int32(in.MoveY())/10)
			}
		}
	}
}

func clamp(v int32) int32 { return min(max(v, 0), Size) }

// WriteState writes the clock, then the dots (ids ascending).
func (d *Dots) WriteState(w *gamedelta.World) {
	l := &dotsLayout
	i := w.Add(ClockID, l.clock, 0)
	w.SetInt(i, l.clockTicks, int64(d.ticks))
	for _, e := range d.dots {
		i := w.Add(e.id, l.dot, e.owner)
		w.SetInt(i, l.dotX, int64(e.x))
		w.SetInt(i, l.dotY, int64(e.y))
	}
}

// MarshalState appends ticks, next, then id, owner, x, y of each dot.
func (d *Dots) MarshalState(dst []byte) ([]byte, error) {
	dst = binary.LittleEndian.AppendUint32(dst, d.ticks)
	dst = binary.LittleEndian.AppendUint32(dst, d.next)
	for _, e := range d.dots {
		for _, v := range []uint32{e.id, e.owner, uint32(e.x), uint32(e.y)} {
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
		d.dots = append(d.dots, dot{id: u(i), owner: u(i + 1), x: int32(u(i + 2)), y: int32(u(i + 3))})
	}
	return nil
}
