package bots

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// The field names the steering behaviours key on. A game opts into them by
// naming its fields so; the bots know no game.
const (
	// FieldMoveX and FieldMoveY are the input table's movement axes:
	// integer fields, scaled to their declared ranges. Wander and chase
	// need both.
	FieldMoveX = "move_x"
	FieldMoveY = "move_y"
	// FieldAim is the input table's optional facing: an integer field (or
	// a float field with a range) spanning one turn over its range.
	FieldAim = "aim"
	// FieldX and FieldY are an entity kind's integer position fields:
	// chase steers by them.
	FieldX = "x"
	FieldY = "y"
)

// wanderPeriodNanos is how long a wandering bot keeps one direction: one
// second, as the arena's NPCs do.
const wanderPeriodNanos = int64(1e9)

// steer is a steering decision: the float64 bits of a direction in
// radians, or steerStill. It fits one atomic, from the read goroutine
// (chase) to the scheduler; equal decisions have equal bits.
type steer uint64

// steerStill: stand still (axes at their centre, aim at its zero).
var steerStill = steer(math.Float64bits(math.NaN()))

func steerToward(angle float64) steer { return steer(math.Float64bits(angle)) }

func (s steer) still() bool    { return s == steerStill }
func (s steer) angle() float64 { return math.Float64frombits(uint64(s)) }

// moveLayout is where a game's input table takes the movement: found by
// the field names, once per schema.
type moveLayout struct {
	input      *gameschema.Table
	moveX      *gameschema.Field
	moveY      *gameschema.Field
	aim        *gameschema.Field // nil: no usable aim field
	randOthers bool              // the other fields' defaults do not verify: random values instead
}

// newMoveLayout finds the movement fields of s's input table. The error
// names the first missing or unusable field.
func newMoveLayout(s *gameschema.Schema) (*moveLayout, error) {
	t := s.Input
	if t == nil {
		return nil, errors.New("the game has no input table")
	}
	l := &moveLayout{input: t}
	for _, p := range []struct {
		dst  **gameschema.Field
		name string
	}{{&l.moveX, FieldMoveX}, {&l.moveY, FieldMoveY}} {
		f := t.Field(p.name)
		if f == nil || !axisField(f) {
			return nil, fmt.Errorf("input table %s has no integer field %s", t.Name, p.name)
		}
		*p.dst = f
	}
	if f := t.Field(FieldAim); f != nil && (axisField(f) || f.Type.IsFloat() && f.HasRange) {
		l.aim = f
	}
	// The other fields take their defaults, unless a default breaks its
	// field's range (the verifier wants the field present then).
	var v gameschema.Values
	l.fill(&v, steerStill, nil)
	b := flatbuffers.NewBuilder(64)
	b.Finish(t.Build(b, &v))
	l.randOthers = t.Verify(b.FinishedBytes()) != nil
	return l, nil
}

// axisField reports whether f can carry an axis: a plain signed or
// unsigned integer below 64 bits (not an enum).
func axisField(f *gameschema.Field) bool {
	return f.Type.IsInteger() && f.Type != gameschema.Uint64 && f.Enum == nil && f.Min < f.Max
}

// fill resets v to the input table with its other fields at their
// defaults (rng non-nil: random values within their ranges), then sets
// the movement fields from s.
func (l *moveLayout) fill(v *gameschema.Values, s steer, rng *rand.Rand) {
	v.Reset(l.input)
	if rng != nil {
		v.Randomize(rng)
	} else {
		v.SetDefaults()
	}
	l.set(v, s)
}

// set writes the movement fields of s into v.
func (l *moveLayout) set(v *gameschema.Values, s steer) {
	if s.still() {
		v.SetInt(l.moveX.Index, axisValue(l.moveX, 0))
		v.SetInt(l.moveY.Index, axisValue(l.moveY, 0))
		if f := l.aim; f != nil {
			if f.Type.IsFloat() {
				v.SetFloat(f.Index, floatIn(f, 0))
			} else {
				v.SetInt(f.Index, max(f.Min, min(f.Max, 0)))
			}
		}
		return
	}
	a := s.angle()
	sin, cos := math.Sincos(a)
	v.SetInt(l.moveX.Index, axisValue(l.moveX, cos))
	v.SetInt(l.moveY.Index, axisValue(l.moveY, sin))
	if f := l.aim; f != nil {
		turn := a / (2 * math.Pi)
		turn -= math.Floor(turn)
		if f.Type.IsFloat() {
			v.SetFloat(f.Index, floatIn(f, f.FMin+turn*(f.FMax-f.FMin)))
		} else {
			span := float64(uint64(f.Max-f.Min) + 1)
			v.SetInt(f.Index, min(f.Max, f.Min+int64(turn*span)))
		}
	}
}

// floatIn clamps x into f's range as the field stores it (a float32 field
// rounds: step back inside when the rounding leaves the range).
func floatIn(f *gameschema.Field, x float64) float64 {
	x = max(f.FMin, min(f.FMax, x))
	if f.Type == gameschema.Float32 {
		x32 := float32(x)
		if float64(x32) > f.FMax {
			x32 = math.Nextafter32(x32, float32(math.Inf(-1)))
		}
		if float64(x32) < f.FMin {
			x32 = math.Nextafter32(x32, float32(math.Inf(1)))
		}
		x = float64(x32)
	}
	return x
}

// axisValue scales c (-1..1) onto f's range: a range around zero scales
// each sign by its own bound (-100..100: round(100·c)), so 0 is standing
// still; another range maps -1..1 linearly onto Min..Max.
func axisValue(f *gameschema.Field, c float64) int64 {
	lo, hi := float64(f.Min), float64(f.Max)
	var x float64
	switch {
	case f.Min < 0 && f.Max > 0 && c >= 0:
		x = math.Round(c * hi)
	case f.Min < 0 && f.Max > 0:
		x = math.Round(-c * lo)
	default:
		x = math.Round(lo + (c+1)/2*(hi-lo))
	}
	return max(f.Min, min(f.Max, int64(x)))
}

// mover builds one bot's movement inputs: the scheduler goroutine only.
// It rebuilds the bytes only when the decision changes (wander: once a
// second) and allocates nothing once its builder has grown.
type mover struct {
	l     *moveLayout
	vals  gameschema.Values
	b     *flatbuffers.Builder
	built bool
	last  steer
}

func newMover(l *moveLayout, seed int64, bot int) *mover {
	m := &mover{l: l, b: flatbuffers.NewBuilder(64)}
	var rng *rand.Rand
	if l.randOthers {
		rng = rand.New(rand.NewPCG(uint64(seed)^inputSalt, uint64(bot)))
	}
	l.fill(&m.vals, steerStill, rng)
	return m
}

// input returns the input bytes of s; they stay valid until the next call
// with another decision.
func (m *mover) input(s steer) []byte {
	if !m.built || s != m.last {
		m.l.set(&m.vals, s)
		m.b.Reset()
		m.b.Finish(m.l.input.Build(m.b, &m.vals))
		m.built, m.last = true, s
	}
	return m.b.FinishedBytes()
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
		w.steer = steerToward(r.Float64() * 2 * math.Pi)
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

// chaseLayout is where a game's entity kinds keep their positions, by
// gamedelta kind index (schema.Entities order): the field indexes of x and
// y, -1 for a kind without both.
type chaseLayout struct {
	x, y []int
}

// newChaseLayout finds the position fields of s's entity kinds: at least
// one kind must have integer fields x and y. The error names the missing
// field.
func newChaseLayout(s *gameschema.Schema) (*chaseLayout, error) {
	if len(s.Entities) == 0 {
		return nil, fmt.Errorf("the game has no entity kinds (chase needs integer fields %s and %s)", FieldX, FieldY)
	}
	l := &chaseLayout{x: make([]int, len(s.Entities)), y: make([]int, len(s.Entities))}
	haveX, haveY, both := false, false, false
	for k, t := range s.Entities {
		l.x[k], l.y[k] = -1, -1
		fx, fy := t.Field(FieldX), t.Field(FieldY)
		okX := fx != nil && fx.Type.IsInteger() && fx.Type != gameschema.Uint64
		okY := fy != nil && fy.Type.IsInteger() && fy.Type != gameschema.Uint64
		haveX, haveY = haveX || okX, haveY || okY
		if okX && okY {
			l.x[k], l.y[k], both = fx.Index, fy.Index, true
		}
	}
	switch {
	case !haveX:
		return nil, fmt.Errorf("no entity kind has an integer field %s", FieldX)
	case !haveY:
		return nil, fmt.Errorf("no entity kind has an integer field %s", FieldY)
	case !both:
		return nil, fmt.Errorf("no entity kind has both integer fields %s and %s", FieldX, FieldY)
	}
	return l, nil
}

// checkChase reports why s cannot be played by chasing bots: they steer
// with the input's axes towards the entities' positions.
func checkChase(s *gameschema.Schema) error {
	if _, err := newMoveLayout(s); err != nil {
		return err
	}
	_, err := newChaseLayout(s)
	return err
}

// chaseSteer returns the steering from the bot's own entity towards the
// nearest other positioned entity of w, or steerStill when there is none.
// The own entity is own (the Welcome's entity id) or, without one, the
// first positioned entity owned by player. It runs on the bot's read
// goroutine, once per snapshot, and allocates nothing.
func chaseSteer(w *gamedelta.World, l *chaseLayout, own, player uint32) steer {
	if w == nil {
		return steerStill
	}
	me := -1
	if own != 0 {
		me = w.Find(own)
	}
	if me < 0 && player != 0 {
		for i := range w.Len() {
			if w.Owner(i) == player && l.x[w.Kind(i)] >= 0 {
				me = i
				break
			}
		}
	}
	if me < 0 || l.x[w.Kind(me)] < 0 {
		return steerStill
	}
	k := w.Kind(me)
	mx, my := w.Int(me, l.x[k]), w.Int(me, l.y[k])
	best, bx, by := math.Inf(1), int64(0), int64(0)
	for i := range w.Len() {
		k := w.Kind(i)
		if i == me || l.x[k] < 0 {
			continue
		}
		dx, dy := w.Int(i, l.x[k])-mx, w.Int(i, l.y[k])-my
		if d := float64(dx)*float64(dx) + float64(dy)*float64(dy); d < best {
			best, bx, by = d, dx, dy
		}
	}
	if math.IsInf(best, 1) || (bx == 0 && by == 0) {
		return steerStill
	}
	return steerToward(math.Atan2(float64(by), float64(bx)))
}
