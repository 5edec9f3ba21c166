package cards

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/ticksync/ticksync/examples/cards/cards/cardsfb"
)

// stateVersion is the first byte of MarshalState's output.
const stateVersion = 1

// MarshalState appends the whole game to dst (game.Game): the generator,
// the phase and clocks, the deck, the pile and every seat. A game restored
// from it with UnmarshalState continues exactly as this one would.
func (g *Game) MarshalState(dst []byte) ([]byte, error) {
	dst = append(dst, stateVersion)
	var err error
	if dst, err = g.pcg.AppendBinary(dst); err != nil {
		return nil, fmt.Errorf("cards state: %w", err)
	}
	dst = append(dst, byte(g.phase), byte(g.mode), b2u(g.modeSet), g.turn, g.winner, g.passes)
	for _, v := range [...]int32{g.startIn, g.turnLeft, g.endIn} {
		dst = binary.AppendUvarint(dst, uint64(v))
	}
	dst = appendBytes(dst, g.deck)
	dst = appendBytes(dst, g.pile)
	for s := 1; s <= MaxPlayers; s++ {
		st := &g.seats[s]
		dst = binary.AppendUvarint(dst, uint64(st.player))
		if st.player == 0 {
			continue
		}
		dst = appendBytes(dst, st.name)
		dst = binary.AppendUvarint(dst, uint64(st.color))
		dst = append(dst, st.score)
		dst = appendBytes(dst, st.hand)
		for _, x := range st.pointer {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	}
	return dst, nil
}

// pcgLen is the length of rand.PCG's binary form.
const pcgLen = 20

// errState: UnmarshalState was given something MarshalState did not write.
var errState = errors.New("cards state: malformed")

// UnmarshalState replaces the game with one from MarshalState (game.Game);
// it keeps nothing of b. It checks that every card is in exactly one
// place.
func (g *Game) UnmarshalState(b []byte) error {
	r := stateReader{b: b}
	if r.u8() != stateVersion {
		return fmt.Errorf("%w: not version %d", errState, stateVersion)
	}
	pcg := r.take(pcgLen)
	if r.err != nil {
		return r.err
	}
	var n Game
	if err := n.pcg.UnmarshalBinary(pcg); err != nil {
		return fmt.Errorf("cards state: generator: %w", err)
	}
	n.phase, n.mode, n.modeSet = cardsfb.Phase(r.u8()), cardsfb.Mode(r.u8()), r.u8() != 0
	n.turn, n.winner, n.passes = r.u8(), r.u8(), r.u8()
	n.startIn, n.turnLeft, n.endIn = r.i32(), r.i32(), r.i32()
	// Fresh slices: g stays as it was if b turns out to be bad.
	n.deck = append(make([]uint8, 0, NumCards), r.take(r.count())...)
	n.pile = append(make([]uint8, 0, NumCards), r.take(r.count())...)
	for s := 1; s <= MaxPlayers; s++ {
		st := &n.seats[s]
		st.player = uint32(r.uvarint(math.MaxUint32))
		if st.player == 0 {
			continue
		}
		st.name = append([]byte(nil), r.take(r.count())...)
		st.color = uint32(r.uvarint(1<<24 - 1))
		st.score = r.u8()
		st.hand = append([]uint8(nil), r.take(r.count())...)
		for k := range st.pointer {
			st.pointer[k] = math.Float32frombits(binary.LittleEndian.Uint32(r.take(4)))
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d bytes left over", errState, len(r.b))
	}
	if r.err != nil {
		return r.err
	}
	if err := n.check(); err != nil {
		return err
	}
	n.out, n.hz, n.b, n.codes = g.out, g.hz, g.b, g.codes
	*g = n
	g.locate()
	return nil
}

// check reports a restored state that breaks the game's invariants.
func (g *Game) check() error {
	var seen [NumCards]bool
	count := func(cards []uint8) error {
		for _, c := range cards {
			if int(c) >= NumCards || seen[c] {
				return fmt.Errorf("%w: card %d twice or unknown", errState, c)
			}
			seen[c] = true
		}
		return nil
	}
	for _, cards := range [][]uint8{g.deck, g.pile} {
		if err := count(cards); err != nil {
			return err
		}
	}
	for s := 1; s <= MaxPlayers; s++ {
		if err := count(g.seats[s].hand); err != nil {
			return err
		}
		if len(g.seats[s].name) > maxNameLen {
			return fmt.Errorf("%w: seat %d: name of %d bytes", errState, s, len(g.seats[s].name))
		}
	}
	for c, ok := range seen {
		if !ok {
			return fmt.Errorf("%w: card %d missing", errState, c)
		}
	}
	switch {
	case g.phase > cardsfb.PhaseOver || g.mode > cardsfb.ModeQuick:
		return fmt.Errorf("%w: phase %d mode %d", errState, g.phase, g.mode)
	case g.turn > MaxPlayers || g.winner > MaxPlayers:
		return fmt.Errorf("%w: turn %d winner %d", errState, g.turn, g.winner)
	case g.phase == cardsfb.PhasePlaying && (g.seats[g.turn].player == 0 || len(g.pile) == 0):
		return fmt.Errorf("%w: playing without a pile or a player to play", errState)
	}
	return nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// stateReader reads MarshalState's encoding; the first error sticks and
// every later read returns zeros.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated or out of range", errState)
	}
	r.b = nil
}

func (r *stateReader) u8() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *stateReader) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return make([]byte, max(n, 0)) // zeros, so that callers need not check
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *stateReader) uvarint(limit uint64) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length: at most the cards of a deck or a name.
func (r *stateReader) count() int { return int(r.uvarint(NumCards)) }

func (r *stateReader) i32() int32 { return int32(r.uvarint(math.MaxInt32)) }
