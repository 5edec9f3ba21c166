package arena

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ticksync/ticksync/game"
	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/sim"
)

// Name is the name the arena registers under.
const Name = "arena"

// Scenario constants (arena-8x64).
const (
	Size        = 1000           // side of the arena, in units
	Quantum     = 16             // position quanta per unit
	MaxPos      = Size * Quantum // largest coordinate, in quanta; the smallest is 0
	NPCs        = 56             // NPC count
	NPCSpeed    = 60             // units per second
	AvatarSpeed = 90             // units per second
	TurnSeconds = 2              // an NPC picks a new heading this often
	MaxHP       = 100            // hp of a fresh entity
	HPDropOneIn = 500            // an NPC loses 1 hp with probability 1/500 (0.002) per tick
	DefaultRate = 30             // tick rate until SetTickRate
)

// headings is the number of NPC headings; angle = heading × 65536/headings.
const headings = 1024

// ErrAlreadyJoined: Join of a player who has an avatar.
var ErrAlreadyJoined = errors.New("arena: player already joined")

// body is the moving part of an entity, in wire units.
type body struct {
	x, y   int32
	vx, vy int16
	angle  uint16
	hp     uint8
}

type npc struct {
	body
	id      uint32
	heading uint16 // 0..headings-1
	timer   uint16 // ticks until the next heading
}

type avatar struct {
	body
	id, player   uint32
	wantX, wantY int16 // commanded velocity from the last input
	// want is axes(moveX, moveY) when known (not kept in a checkpoint:
	// false after a restore, a join, a rate change), so that an input
	// repeating its axes costs no square root.
	moveX, moveY int8
	known        bool
}

// Arena is one arena match. Create it with New.
type Arena struct {
	rate        int
	npcSpeed    int     // quanta per tick
	avatarSpeed float64 // quanta per tick
	turnTicks   uint16
	vel         [headings][2]int16 // NPC velocity per heading at npcSpeed

	pcg    *rand.PCG
	rng    *rand.Rand
	npcs   []npc
	avs    []avatar // sorted by id (ids only grow)
	nextID uint32
}

var (
	_ game.Game       = (*Arena)(nil)
	_ game.TickRated  = (*Arena)(nil)
	_ sim.StateWriter = (*Arena)(nil)
)

// New returns an arena seeded with seed, at DefaultRate until SetTickRate.
func New(seed int64) *Arena {
	pcg := rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)
	a := &Arena{pcg: pcg, rng: rand.New(pcg), nextID: 1}
	a.setRate(DefaultRate)
	a.npcs = make([]npc, NPCs)
	for i := range a.npcs {
		n := &a.npcs[i]
		n.id = a.nextID
		a.nextID++
		n.x = int32(a.rng.IntN(MaxPos + 1))
		n.y = int32(a.rng.IntN(MaxPos + 1))
		n.hp = MaxHP
		n.turn(a, uint16(a.rng.IntN(headings)))
		n.timer = uint16(1 + a.rng.IntN(int(a.turnTicks))) // staggered
	}
	return a
}

// Factory is the game.Factory of the arena.
func Factory(seed int64) game.Game { return New(seed) }

// Spec is the arena's registration: its Name, Factory and compiled schema.
// Seats is left to the node's default.
func Spec() game.Spec { return game.Spec{Name: Name, New: Factory, Schema: BFBS()} }

// Register registers the arena on r under Name (r.RegisterSpec(Spec())).
func Register(r *game.Registry) error { return r.RegisterSpec(Spec()) }

// SetTickRate sets the tick rate the speeds are converted with (velocities
// are whole quanta per tick). Call it before the first Step.
func (a *Arena) SetTickRate(hz int) {
	if hz <= 0 || hz == a.rate {
		return
	}
	a.setRate(hz)
	for i := range a.npcs {
		n := &a.npcs[i]
		n.turn(a, n.heading)
		if n.timer > a.turnTicks {
			n.timer = a.turnTicks
		}
	}
}

func (a *Arena) setRate(hz int) {
	a.rate = hz
	a.npcSpeed = int(math.Round(float64(NPCSpeed*Quantum) / float64(hz)))
	a.avatarSpeed = math.Round(float64(AvatarSpeed*Quantum) / float64(hz))
	a.turnTicks = uint16(TurnSeconds * hz)
	for i := range a.avs {
		a.avs[i].known = false // axes of another speed
	}
	for h := range a.vel {
		th := 2 * math.Pi * float64(h) / headings
		a.vel[h][0] = int16(math.Round(float64(a.npcSpeed) * math.Cos(th)))
		a.vel[h][1] = int16(math.Round(float64(a.npcSpeed) * math.Sin(th)))
	}
}

// TickRate returns the tick rate in use.
func (a *Arena) TickRate() int { return a.rate }

// turn points the NPC at heading h.
func (n *npc) turn(a *Arena, h uint16) {
	n.heading = h % headings
	n.vx, n.vy = a.vel[n.heading][0], a.vel[n.heading][1]
	n.angle = n.heading * (65536 / headings)
}

// Join gives player an avatar at a random place and returns its id.
func (a *Arena) Join(player uint32) (uint32, error) {
	for i := range a.avs {
		if a.avs[i].player == player {
			return 0, fmt.Errorf("%w: %d", ErrAlreadyJoined, player)
		}
	}
	av := avatar{id: a.nextID, player: player}
	a.nextID++
	av.x = int32(a.rng.IntN(MaxPos + 1))
	av.y = int32(a.rng.IntN(MaxPos + 1))
	av.hp = MaxHP
	a.avs = append(a.avs, av)
	return av.id, nil
}

// Leave removes player's avatar.
func (a *Arena) Leave(player uint32) {
	for i := range a.avs {
		if a.avs[i].player == player {
			a.avs = append(a.avs[:i], a.avs[i+1:]...)
			return
		}
	}
}

// Step advances the arena by one tick. Each input's Data is read with
// ReadInput; an avatar keeps the velocity and aim of its last input.
func (a *Arena) Step(_ uint32, inputs []sim.PlayerInput) {
	for i := range a.npcs {
		n := &a.npcs[i]
		n.timer--
		if n.timer == 0 {
			n.turn(a, uint16(a.rng.IntN(headings)))
			n.timer = a.turnTicks
		}
		if bounceX(&n.body) {
			n.turn2(headings/2 - int(n.heading))
		}
		if bounceY(&n.body) {
			n.turn2(-int(n.heading))
		}
		if a.rng.IntN(HPDropOneIn) == 0 {
			n.hp--
			if n.hp == 0 {
				n.hp = MaxHP
			}
		}
	}
	at := 0 // where the previous input's avatar was: the next is usually after it
	for i := range inputs {
		if av := a.avatarFrom(inputs[i].Player, &at); av != nil {
			in := ReadInput(inputs[i].Input.Data)
			if !av.known || in.MoveX != av.moveX || in.MoveY != av.moveY {
				av.wantX, av.wantY = a.axes(in.MoveX, in.MoveY)
				av.moveX, av.moveY, av.known = in.MoveX, in.MoveY, true
			}
			av.angle = in.Aim
		}
	}
	for i := range a.avs {
		av := &a.avs[i]
		nx := clamp(av.x + int32(av.wantX))
		ny := clamp(av.y + int32(av.wantY))
		av.vx, av.vy = int16(nx-av.x), int16(ny-av.y)
		av.x, av.y = nx, ny
	}
}

// turn2 sets the heading after a bounce without touching the velocity,
// which bounceX/bounceY already mirrored exactly.
func (n *npc) turn2(h int) {
	n.heading = uint16(h & (headings - 1))
	n.angle = n.heading * (65536 / headings)
}

// bounceX moves b by its x velocity, mirroring it off the walls; it reports
// a bounce.
func bounceX(b *body) bool {
	x := b.x + int32(b.vx)
	bounced := false
	if x < 0 {
		x, bounced = -x, true
	} else if x > MaxPos {
		x, bounced = 2*MaxPos-x, true
	}
	b.x = x
	if bounced {
		b.vx = -b.vx
	}
	return bounced
}

func bounceY(b *body) bool {
	y := b.y + int32(b.vy)
	bounced := false
	if y < 0 {
		y, bounced = -y, true
	} else if y > MaxPos {
		y, bounced = 2*MaxPos-y, true
	}
	b.y = y
	if bounced {
		b.vy = -b.vy
	}
	return bounced
}

// axes converts input axes to a velocity of avatarSpeed in their direction.
// Only correctly rounded float operations are used (no fused multiply-add),
// so every platform computes the same quanta.
func (a *Arena) axes(mx, my int8) (int16, int16) {
	if mx == 0 && my == 0 {
		return 0, 0
	}
	l := math.Sqrt(float64(int(mx)*int(mx) + int(my)*int(my)))
	vx := math.Round(a.avatarSpeed * float64(mx) / l)
	vy := math.Round(a.avatarSpeed * float64(my) / l)
	return int16(vx), int16(vy)
}

func clamp(v int32) int32 {
	return min(max(v, 0), MaxPos)
}

// avatarFrom is avatar, searching from *at on (wrapping around) and
// leaving *at after the avatar found: inputs come in player order, and
// avatars mostly in the same order (ids by join), so that finding each
// player's avatar in turn costs a step or two instead of a scan.
func (a *Arena) avatarFrom(player uint32, at *int) *avatar {
	n := len(a.avs)
	for k := range n {
		i := *at + k
		if i >= n {
			i -= n
		}
		if a.avs[i].player == player {
			*at = i + 1
			return &a.avs[i]
		}
	}
	return nil
}

// WriteState adds the NPCs and then the avatars, owned by their players,
// to w: ids ascending (sim.StateWriter).
func (a *Arena) WriteState(w *gamedelta.World) {
	// One run per kind (World.AddRun): the arrays grow once per kind,
	// not once per entity.
	first := w.AddRun(KindNPC, len(a.npcs))
	for i := range a.npcs {
		n := &a.npcs[i]
		w.SetID(first+i, n.id)
		writeBody(w, first+i, &n.body)
	}
	first = w.AddRun(KindAvatar, len(a.avs))
	for i := range a.avs {
		av := &a.avs[i]
		w.SetID(first+i, av.id)
		w.SetOwner(first+i, av.player)
		writeBody(w, first+i, &av.body)
	}
}

// writeBody fills entity i's fields through its slots (World.Ints): one
// bounds check for the six of them, no call per field.
func writeBody(w *gamedelta.World, i int, b *body) {
	v := w.Ints(i)
	v[FieldHP] = int64(b.hp) // the highest index first: one bounds check
	v[FieldAngle] = int64(b.angle)
	v[FieldVY] = int64(b.vy)
	v[FieldVX] = int64(b.vx)
	v[FieldY] = int64(b.y)
	v[FieldX] = int64(b.x)
}

// Players returns the number of avatars.
func (a *Arena) Players() int { return len(a.avs) }
