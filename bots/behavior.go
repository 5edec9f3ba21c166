package bots

import (
	"math"
	"math/rand/v2"

	"github.com/ticksync/ticksync/games/arena"
)

// wanderPeriodNanos is how long a wandering bot keeps one direction: one
// second, as the arena's NPCs do.
const wanderPeriodNanos = int64(1e9)

// steer is an arena bot's movement decision: axes and aim of the next
// inputs.
type steer struct {
	moveX, moveY int8
	aim          uint16
}

// input is the arena input of s.
func (s steer) input() arena.Input {
	return arena.Input{MoveX: s.moveX, MoveY: s.moveY, Aim: s.aim}
}

// axesFor returns full-speed axes and the aim for a direction in radians.
func axesFor(angle float64) steer {
	s, c := math.Sincos(angle)
	turn := angle / (2 * math.Pi)
	turn -= math.Floor(turn)
	return steer{
		moveX: int8(math.Round(c * arena.AxisMax)),
		moveY: int8(math.Round(s * arena.AxisMax)),
		aim:   uint16(turn * 65536),
	}
}

// wanderer changes direction every wanderPeriodNanos. Only the input
// scheduler goroutine touches it.
type wanderer struct {
	rng    rand.PCG
	next   int64 // when to pick a new direction (swarm clock, ns)
	steer  steer
	primed bool
}

func newWanderer(seed int64, bot int) wanderer {
	return wanderer{rng: *rand.NewPCG(uint64(seed), uint64(bot)*0x9e3779b97f4a7c15+1)}
}

// at returns the steering for time now (swarm clock, ns).
func (w *wanderer) at(now int64) steer {
	if !w.primed || now >= w.next {
		r := rand.New(&w.rng)
		w.steer = axesFor(r.Float64() * 2 * math.Pi)
		if !w.primed {
			// Spread the bots' direction changes over the period.
			w.next = now + int64(r.Uint64N(uint64(wanderPeriodNanos)))
			w.primed = true
		} else {
			w.next += wanderPeriodNanos
			if w.next <= now {
				w.next = now + wanderPeriodNanos
			}
		}
	}
	return w.steer
}

// chaseSteer returns the steering from the entity own towards the nearest
// other entity of the arena world (sorted by ID), or zero axes when there
// is none. It runs on the bot's read goroutine, once per snapshot.
func chaseSteer(world []arena.Entity, own uint32) steer {
	var me *arena.Entity
	for i := range world {
		if world[i].ID == own {
			me = &world[i]
			break
		}
	}
	if me == nil {
		return steer{}
	}
	best, bx, by := int64(math.MaxInt64), int64(0), int64(0)
	for i := range world {
		e := &world[i]
		if e.ID == own {
			continue
		}
		dx, dy := int64(e.X)-int64(me.X), int64(e.Y)-int64(me.Y)
		if d := dx*dx + dy*dy; d < best {
			best, bx, by = d, dx, dy
		}
	}
	if best == math.MaxInt64 || (bx == 0 && by == 0) {
		return steer{}
	}
	return axesFor(math.Atan2(float64(by), float64(bx)))
}

// packSteer and unpackSteer carry a steer through one atomic uint32, from the
// read goroutine (chase) to the scheduler.
func packSteer(s steer) uint32 {
	return uint32(uint8(s.moveX)) | uint32(uint8(s.moveY))<<8 | uint32(s.aim)<<16
}

func unpackSteer(v uint32) steer {
	return steer{moveX: int8(uint8(v)), moveY: int8(uint8(v >> 8)), aim: uint16(v >> 16)}
}
