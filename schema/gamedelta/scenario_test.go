package gamedelta

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The scenarios of the benchmarks and of TestArenaBandwidth.

// arenaLayout is an arena entity as a generic layout: the fields of
// simEntity, positions predicted from velocities, a wrapping angle.
var arenaLayout = Layout{Kinds: []Kind{{Name: "ship", Fields: []Field{
	{Name: "x", Bits: 32, Signed: true, Velocity: "vx"},
	{Name: "y", Bits: 32, Signed: true, Velocity: "vy"},
	{Name: "vx", Bits: 16, Signed: true},
	{Name: "vy", Bits: 16, Signed: true},
	{Name: "angle", Bits: 16, Wrap: true},
	{Name: "kind", Bits: 8},
	{Name: "hp", Bits: 8},
}}}}

// simEntity is one entity of arenaSim.
type simEntity struct {
	ID, Owner uint32
	X, Y      int32
	VX, VY    int16
	Angle     uint16
	Kind, HP  uint8
}

// arenaSim is an arena-like world for the measurements: 8
// avatars turning every 30 ticks at 40 quanta/tick, 56 NPCs at 32
// quanta/tick turning every 60, bouncing off the walls of a 2^15-quanta
// square, each losing hp with probability 0.002 per tick.
type arenaSim struct {
	rng   *rand.Rand
	ents  []simEntity
	timer []int
}

const (
	arenaSize    = 1 << 15
	arenaAvatars = 8
	arenaNPCs    = 56
)

func newArenaSim(seed uint64) *arenaSim {
	a := &arenaSim{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	for i := range arenaAvatars + arenaNPCs {
		e := simEntity{ID: uint32(i + 1), X: a.rng.Int32N(arenaSize), Y: a.rng.Int32N(arenaSize), Kind: 2, HP: 100}
		period := 60
		if i < arenaAvatars {
			e.Owner, e.Kind, period = uint32(i+1), 1, 30
		}
		a.ents = append(a.ents, e)
		a.timer = append(a.timer, a.rng.IntN(period))
		a.turn(i)
	}
	return a
}

func (a *arenaSim) turn(i int) {
	e := &a.ents[i]
	speed := 32.0
	if e.Kind == 1 {
		speed = 40
	}
	e.Angle = uint16(a.rng.Uint32())
	rad := float64(e.Angle) / 65536 * 2 * math.Pi
	e.VX = int16(math.Round(speed * math.Cos(rad)))
	e.VY = int16(math.Round(speed * math.Sin(rad)))
}

func (a *arenaSim) step() {
	for i := range a.ents {
		e := &a.ents[i]
		period := 60
		if e.Kind == 1 {
			period = 30
		}
		if a.timer[i]++; a.timer[i] >= period {
			a.timer[i] = 0
			a.turn(i)
		}
		e.X += int32(e.VX)
		e.Y += int32(e.VY)
		if e.X < 0 || e.X >= arenaSize {
			e.X = min(max(e.X, 0), arenaSize-1)
			e.VX = -e.VX
			e.Angle = 32768 - e.Angle
		}
		if e.Y < 0 || e.Y >= arenaSize {
			e.Y = min(max(e.Y, 0), arenaSize-1)
			e.VY = -e.VY
			e.Angle = -e.Angle
		}
		if e.HP > 1 && a.rng.Float64() < 0.002 {
			e.HP -= uint8(1 + a.rng.IntN(int(min(e.HP-1, 10))))
		}
	}
}

// fill writes the arena's entities into w.
func (a *arenaSim) fill(w *World) {
	w.Reset()
	for _, e := range a.ents {
		i := w.Add(e.ID, 0, e.Owner)
		w.SetInt(i, 0, int64(e.X))
		w.SetInt(i, 1, int64(e.Y))
		w.SetInt(i, 2, int64(e.VX))
		w.SetInt(i, 3, int64(e.VY))
		w.SetInt(i, 4, int64(e.Angle))
		w.SetInt(i, 5, int64(e.Kind))
		w.SetInt(i, 6, int64(e.HP))
	}
}

// viewMode says what each player of a scenario sees.
type viewMode int

const (
	allViews viewMode = iota // everyone sees everything: one encoding per tick
	aoiViews                 // each sees what is near its avatar: 8 encodings per tick
)

// aoiRadius is the area-of-interest radius: a quarter of the arena's side
// (each player sees about a fifth of the entities).
const aoiRadius = arenaSize / 4

// arenaScenario is an arena room: the simulation, an Encoder, one Client
// per player acknowledging lag ticks behind, and its views.
type arenaScenario struct {
	sim     *arenaSim
	c       *Codec
	w       *World
	enc     *Encoder
	clients []*Client
	views   []View
	mode    viewMode
	lag     uint32
	n       uint32 // ticks recorded
	bytes   int    // bytes sent to clients (shared encodings counted per client)
	snaps   int
	last    [][]byte // the last snapshot of each client
	bases   []uint32
}

func newArenaScenario(tb testing.TB, players int, mode viewMode) *arenaScenario {
	tb.Helper()
	c := mustCompile(tb, arenaLayout)
	enc, err := NewEncoder(c, DefaultEncoderConfig())
	if err != nil {
		tb.Fatal(err)
	}
	sc := &arenaScenario{sim: newArenaSim(1), c: c, w: NewWorld(c), enc: enc, mode: mode, lag: 1,
		views: make([]View, players), last: make([][]byte, players), bases: make([]uint32, players)}
	for i := range players {
		sc.clients = append(sc.clients, enc.NewClient(uint32(i+1)))
	}
	for range 120 { // timers spread, as in schema's measurements
		sc.sim.step()
	}
	return sc
}

// tick steps the arena and sends every client its snapshot.
func (sc *arenaScenario) tick(tb testing.TB) {
	sc.sim.step()
	w := sc.enc.NextWorld() // as a room does: recorded without a copy
	sc.sim.fill(w)
	sc.n++
	if err := sc.enc.Record(sc.n, w); err != nil {
		tb.Fatal(err)
	}
	for i, cl := range sc.clients {
		if sc.n > sc.lag {
			cl.Ack(sc.n - sc.lag)
		}
		v := sc.view(i)
		snap, err := sc.enc.Encode(cl, v)
		if err != nil {
			tb.Fatal(err)
		}
		data, base := snap.Data, snap.Baseline
		sc.bytes += len(data)
		sc.snaps++
		sc.last[i] = data
		sc.bases[i] = base
	}
}

// view returns player i's view this tick (reusing its IDs).
func (sc *arenaScenario) view(i int) *View {
	if sc.mode == allViews {
		return nil
	}
	v := &sc.views[i]
	v.IDs = v.IDs[:0]
	me := &sc.sim.ents[i] // avatar i+1
	for _, e := range sc.sim.ents {
		dx, dy := int64(e.X-me.X), int64(e.Y-me.Y)
		if dx*dx+dy*dy <= aoiRadius*aoiRadius {
			v.IDs = append(v.IDs, e.ID)
		}
	}
	return v
}

// cardsLayout is a card table: player seats with an owner-only hand, and
// cards with a flattened Vec3 position animated by a Vec3 velocity, a
// visible face and an owner-only rank.
var cardsLayout = Layout{Kinds: []Kind{
	{Name: "seat", Fields: []Field{
		{Name: "chips", Bits: 32},
		{Name: "hand_count", Bits: 8},
		{Name: "hand", Type: FieldBytes, MaxLen: 16, OwnerOnly: true},
		{Name: "score", Bits: 32, Signed: true},
		{Name: "name", Type: FieldBytes, MaxLen: 32},
	}},
	{Name: "card", Fields: []Field{
		{Name: "pos.x", Bits: 32, Signed: true, Velocity: "vel.x"},
		{Name: "pos.y", Bits: 32, Signed: true, Velocity: "vel.y"},
		{Name: "pos.z", Bits: 32, Signed: true, Velocity: "vel.z"},
		{Name: "vel.x", Bits: 16, Signed: true},
		{Name: "vel.y", Bits: 16, Signed: true},
		{Name: "vel.z", Bits: 16, Signed: true},
		{Name: "rot", Bits: 16, Wrap: true},
		{Name: "face_up", Bits: 1},
		{Name: "rank", Bits: 8, OwnerOnly: true},
	}},
}}

// cardsScenario is a table of 8 players and 52 cards: every 6 ticks a
// card is dealt (it flies to a player's seat for 10 ticks at constant
// velocity, changes owner, the hand grows), chips change now and then. The
// world is rebuilt from the table each tick, as a game does.
type cardsScenario struct {
	rng     *rand.Rand
	c       *Codec
	w       *World
	enc     *Encoder
	clients []*Client
	n       uint32
	bytes   int
	snaps   int
	seats   [8]seat
	cards   [52]card
	dealt   int
}

type seat struct {
	chips int64
	hand  []byte
}

type card struct {
	owner    uint32
	pos, vel [3]int64
	rot      int64
	flying   int // ticks left in flight
}

func newCardsScenario(tb testing.TB) *cardsScenario {
	tb.Helper()
	c := mustCompile(tb, cardsLayout)
	enc, err := NewEncoder(c, DefaultEncoderConfig())
	if err != nil {
		tb.Fatal(err)
	}
	sc := &cardsScenario{rng: rand.New(rand.NewPCG(4, 4)), c: c, w: NewWorld(c), enc: enc}
	for p := range 8 {
		sc.clients = append(sc.clients, enc.NewClient(uint32(p+1)))
		sc.seats[p] = seat{chips: 1000, hand: make([]byte, 0, 16)}
	}
	return sc
}

// fill rebuilds the world from the table.
func (sc *cardsScenario) fill() {
	w := sc.w
	w.Reset()
	for p := range sc.seats {
		s := &sc.seats[p]
		i := w.Add(uint32(p+1), 0, uint32(p+1))
		w.SetInt(i, 0, s.chips)
		w.SetInt(i, 1, int64(len(s.hand)))
		w.SetBytes(i, 2, s.hand)
		w.SetBytes(i, 4, []byte("player"))
	}
	for k := range sc.cards {
		cd := &sc.cards[k]
		i := w.Add(uint32(100+k), 1, cd.owner)
		for a := range 3 {
			w.SetInt(i, a, cd.pos[a])
			w.SetInt(i, 3+a, cd.vel[a])
		}
		w.SetInt(i, 6, cd.rot)
		w.SetInt(i, 8, int64(k%13+1))
	}
}

func (sc *cardsScenario) tick(tb testing.TB) {
	rng := sc.rng
	for k := range sc.cards {
		cd := &sc.cards[k]
		if cd.flying == 0 {
			continue
		}
		for a := range 3 {
			cd.pos[a] += cd.vel[a]
		}
		if cd.flying--; cd.flying == 0 {
			cd.vel = [3]int64{}
		}
	}
	if sc.n%6 == 0 { // deal a card
		k, p := sc.dealt%52, sc.dealt%8
		sc.dealt++
		cd := &sc.cards[k]
		cd.owner = uint32(p + 1)
		cd.vel = [3]int64{int64(40 * (p - 4)), int64(30 * (p%3 - 1)), 5}
		cd.rot = int64(rng.Uint32() & 0xffff)
		cd.flying = 10
		s := &sc.seats[p]
		if len(s.hand) == 16 {
			s.hand = s.hand[:0]
		}
		s.hand = append(s.hand, byte(k))
	}
	if rng.IntN(10) == 0 {
		sc.seats[rng.IntN(8)].chips += int64(rng.IntN(50))
	}
	sc.fill()
	sc.n++
	if err := sc.enc.Record(sc.n, sc.w); err != nil {
		tb.Fatal(err)
	}
	for _, cl := range sc.clients {
		if sc.n > 1 {
			cl.Ack(sc.n - 1)
		}
		snap, err := sc.enc.Encode(cl, nil)
		if err != nil {
			tb.Fatal(err)
		}
		sc.bytes += len(snap.Data)
		sc.snaps++
	}
}
