package arena

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
)

// State format (little-endian), version 1:
//
//	"ARN1" | rate u16 | nextID u32 | pcgLen u8 | pcg state |
//	npcCount u16 | npcCount × (id u32, x i32, y i32, vx i16, vy i16, angle u16, hp u8, heading u16, timer u16) |
//	avCount u16 | avCount × (id u32, player u32, x i32, y i32, vx i16, vy i16, angle u16, hp u8, wantX i16, wantY i16)
const stateMagic = "ARN1"

// ErrBadState: UnmarshalState was given bytes that are not an arena state.
var ErrBadState = errors.New("arena: bad state")

// MarshalState appends the arena's complete state, random source included.
func (a *Arena) MarshalState(dst []byte) ([]byte, error) {
	pcg, err := a.pcg.MarshalBinary()
	if err != nil {
		return dst, fmt.Errorf("arena: marshal rng: %w", err)
	}
	le := binary.LittleEndian
	dst = append(dst, stateMagic...)
	dst = le.AppendUint16(dst, uint16(a.rate))
	dst = le.AppendUint32(dst, a.nextID)
	dst = append(dst, byte(len(pcg)))
	dst = append(dst, pcg...)
	dst = le.AppendUint16(dst, uint16(len(a.npcs)))
	for i := range a.npcs {
		n := &a.npcs[i]
		dst = le.AppendUint32(dst, n.id)
		dst = appendBody(dst, &n.body)
		dst = le.AppendUint16(dst, n.heading)
		dst = le.AppendUint16(dst, n.timer)
	}
	dst = le.AppendUint16(dst, uint16(len(a.avs)))
	for i := range a.avs {
		av := &a.avs[i]
		dst = le.AppendUint32(dst, av.id)
		dst = le.AppendUint32(dst, av.player)
		dst = appendBody(dst, &av.body)
		dst = le.AppendUint16(dst, uint16(av.wantX))
		dst = le.AppendUint16(dst, uint16(av.wantY))
	}
	return dst, nil
}

func appendBody(dst []byte, b *body) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, uint32(b.x))
	dst = le.AppendUint32(dst, uint32(b.y))
	dst = le.AppendUint16(dst, uint16(b.vx))
	dst = le.AppendUint16(dst, uint16(b.vy))
	dst = le.AppendUint16(dst, b.angle)
	return append(dst, b.hp)
}

// UnmarshalState replaces the arena's state with b (from MarshalState). On
// error the arena is unchanged.
func (a *Arena) UnmarshalState(b []byte) error {
	r := reader{b: b}
	if string(r.bytes(len(stateMagic))) != stateMagic {
		return fmt.Errorf("%w: no %s header", ErrBadState, stateMagic)
	}
	rate := int(r.u16())
	nextID := r.u32()
	pcgState := r.bytes(int(r.u8()))
	nn := int(r.u16())
	if r.err == nil && nn > len(b) {
		return fmt.Errorf("%w: %d npcs", ErrBadState, nn)
	}
	npcs := make([]npc, 0, nn)
	for range nn {
		var n npc
		n.id = r.u32()
		r.body(&n.body)
		n.heading = r.u16()
		n.timer = r.u16()
		npcs = append(npcs, n)
	}
	na := int(r.u16())
	if r.err == nil && na > len(b) {
		return fmt.Errorf("%w: %d avatars", ErrBadState, na)
	}
	avs := make([]avatar, 0, na)
	for range na {
		var av avatar
		av.id = r.u32()
		av.player = r.u32()
		r.body(&av.body)
		av.wantX = int16(r.u16())
		av.wantY = int16(r.u16())
		avs = append(avs, av)
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrBadState, r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrBadState, len(r.b))
	}
	if rate < 1 || rate > 1000 {
		return fmt.Errorf("%w: tick rate %d", ErrBadState, rate)
	}
	if err := a.validate(npcs, avs, nextID); err != nil {
		return err
	}
	pcg := &rand.PCG{}
	if err := pcg.UnmarshalBinary(pcgState); err != nil {
		return fmt.Errorf("%w: rng: %v", ErrBadState, err)
	}
	a.setRate(rate)
	a.pcg, a.rng = pcg, rand.New(pcg)
	a.nextID, a.npcs, a.avs = nextID, npcs, avs
	return nil
}

// validate checks what Step relies on: ids ascending and below nextID,
// positions in the arena, headings and timers in range.
func (a *Arena) validate(npcs []npc, avs []avatar, nextID uint32) error {
	var last uint32
	check := func(id uint32, b *body) error {
		if id <= last || id >= nextID {
			return fmt.Errorf("%w: entity id %d out of order", ErrBadState, id)
		}
		last = id
		if b.x < 0 || b.x > MaxPos || b.y < 0 || b.y > MaxPos {
			return fmt.Errorf("%w: entity %d outside the arena", ErrBadState, id)
		}
		if b.hp == 0 || b.hp > MaxHP {
			return fmt.Errorf("%w: entity %d hp %d", ErrBadState, id, b.hp)
		}
		return nil
	}
	for i := range npcs {
		if err := check(npcs[i].id, &npcs[i].body); err != nil {
			return err
		}
		if npcs[i].heading >= headings || npcs[i].timer == 0 {
			return fmt.Errorf("%w: npc %d heading/timer", ErrBadState, npcs[i].id)
		}
	}
	for i := range avs {
		if err := check(avs[i].id, &avs[i].body); err != nil {
			return err
		}
	}
	return nil
}

// reader reads little-endian values, remembering the first short read.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("short buffer")

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.bytes(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.bytes(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) body(b *body) {
	b.x = int32(r.u32())
	b.y = int32(r.u32())
	b.vx = int16(r.u16())
	b.vy = int16(r.u16())
	b.angle = r.u16()
	b.hp = r.u8()
}
