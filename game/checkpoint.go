package game

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ticksync/ticksync/sim"
)

// Checkpoint format (little-endian), version 5. It is what the Manager hands
// to its Checkpointer every checkpoint interval and what Freeze returns; Adopt
// restores a match from it on any node:
//
//	"TSCK" | version u8 = 5 | tick u32 | seat changes u32 | seed i64 |
//	next guest u32 | game len u8 | game | seat count u32 |
//	seat count × (player u32, entity u32, last input seq u32,
//	              token nonce u64, token issued-at i64 unix seconds,
//	              client event seq u32, server event seq u32,
//	              flags u8 (bit 0: unsettled), server event base u32) |
//	state len u32 | state (Game.MarshalState)
//
// The token nonce and issued-at name the newest resume token issued for the
// seat: the new owner accepts that token, or one issued later (by the old
// owner after this checkpoint), and no older one. The event seqs are the
// seat's sim.Seat InSeq (newest client event applied: a client's re-sent
// events up to it are ignored) and OutSeq (newest server event queued: the
// next one is numbered on from it), so that both keep counting on the new
// owner. Unsettled and the base are the seat's sim.Seat Unsettled and
// OutBase: a seat restored from an earlier owner that no client has
// resumed since, whose server events above the base may reuse seqs its
// client holds (the client's resume moves them: sim.Room.Resume). Seat
// changes counts the joins, leaves and resumes the room
// applied after tick and before the capture: the state holds them, and the
// tick log's record of tick+1 lists them first, so a replay from this
// checkpoint skips them (sim.Replay's skip). Version 4 had no flags nor
// base (read as settled), version 3 no event seqs
// (read as 0), version 2 no seat changes either (read as 0), version 1 no
// tokens either (its seats accept any token of their player); all are
// still read. A new version adds a field and bumps the version; a decoder
// refuses versions it does not know.
const (
	checkpointMagic   = "TSCK"
	checkpointVersion = 5
	checkpointV4      = 4
	checkpointV3      = 3
	checkpointV2      = 2
	checkpointV1      = 1
	checkpointHeader  = len(checkpointMagic) + 1 + 4 + 8 + 4 + 1 + 4 // version 1 and 2
	seatBytesV1       = 12                                           // version 1
	seatBytesV2       = 28                                           // versions 2 and 3
	seatBytesV4       = 36                                           // version 4
	seatBytes         = 41
	seatUnsettled     = 1 // seat flags bit
)

// ErrBadCheckpoint: Adopt was given bytes that are not a checkpoint of this
// format (or of a version it does not know).
var ErrBadCheckpoint = errors.New("bad checkpoint")

// checkpoint is a decoded checkpoint. Seats and Tokens alias nothing of the
// input (State is a sub-slice of it: the caller keeps the input alive).
type checkpoint struct {
	Tick      uint32
	Changes   uint32 // seat changes after Tick that the state holds (version 3 on)
	Seed      int64
	NextGuest uint32
	Game      string
	Seats     []sim.Seat
	Tokens    []seatToken // Tokens[i] is Seats[i]'s newest resume token (zero in version 1)
	State     []byte
}

// appendCheckpoint appends a checkpoint to dst; changes is the number of
// seat changes after tick the state holds; toks gives each seated player's
// newest resume token (missing: zero). It allocates nothing when dst has
// room (the room goroutine reuses one buffer per match).
func appendCheckpoint(dst []byte, tick, changes uint32, seed int64, nextGuest uint32, game string, seats []sim.Seat, toks map[uint32]seatToken, state []byte) []byte {
	le := binary.LittleEndian
	dst = append(dst, checkpointMagic...)
	dst = append(dst, checkpointVersion)
	dst = le.AppendUint32(dst, tick)
	dst = le.AppendUint32(dst, changes)
	dst = le.AppendUint64(dst, uint64(seed))
	dst = le.AppendUint32(dst, nextGuest)
	dst = append(dst, byte(len(game)))
	dst = append(dst, game...)
	dst = le.AppendUint32(dst, uint32(len(seats)))
	for _, s := range seats {
		dst = le.AppendUint32(dst, s.Player)
		dst = le.AppendUint32(dst, s.Entity)
		dst = le.AppendUint32(dst, s.LastSeq)
		t := toks[s.Player]
		dst = le.AppendUint64(dst, t.Nonce)
		dst = le.AppendUint64(dst, uint64(t.Issued))
		dst = le.AppendUint32(dst, s.InSeq)
		dst = le.AppendUint32(dst, s.OutSeq)
		var flags byte
		if s.Unsettled {
			flags |= seatUnsettled
		}
		dst = append(dst, flags)
		dst = le.AppendUint32(dst, s.OutBase)
	}
	dst = le.AppendUint32(dst, uint32(len(state)))
	return append(dst, state...)
}

// decodeCheckpoint parses b, checking every length against what is left.
func decodeCheckpoint(b []byte) (*checkpoint, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, a...))
	}
	if len(b) < checkpointHeader || string(b[:4]) != checkpointMagic {
		return nil, bad("no %s header", checkpointMagic)
	}
	v := b[4]
	if v < checkpointV1 || v > checkpointVersion {
		return nil, bad("version %d, this node reads %d to %d", v, checkpointV1, checkpointVersion)
	}
	perSeat := uint64(seatBytes)
	switch v {
	case checkpointV1:
		perSeat = seatBytesV1
	case checkpointV2, checkpointV3:
		perSeat = seatBytesV2
	case checkpointV4:
		perSeat = seatBytesV4
	}
	le := binary.LittleEndian
	c := &checkpoint{Tick: le.Uint32(b[5:])}
	p := 9
	if v >= checkpointV3 {
		if len(b) < checkpointHeader+4 {
			return nil, bad("version %d header cut short", v)
		}
		c.Changes = le.Uint32(b[p:])
		p += 4
	}
	c.Seed = int64(le.Uint64(b[p:]))
	c.NextGuest = le.Uint32(b[p+8:])
	p += 12
	n := int(b[p])
	p++
	if len(b)-p < n+4 {
		return nil, bad("game name of %d bytes past the end", n)
	}
	c.Game = string(b[p : p+n])
	p += n
	seats := le.Uint32(b[p:])
	p += 4
	if uint64(seats)*perSeat > uint64(len(b)-p) {
		return nil, bad("%d seats past the end", seats)
	}
	c.Seats = make([]sim.Seat, seats)
	c.Tokens = make([]seatToken, seats)
	seen := make(map[uint32]bool, seats)
	for i := range c.Seats {
		s := &c.Seats[i]
		s.Player, s.Entity, s.LastSeq = le.Uint32(b[p:]), le.Uint32(b[p+4:]), le.Uint32(b[p+8:])
		if v != checkpointV1 {
			c.Tokens[i] = seatToken{Nonce: le.Uint64(b[p+12:]), Issued: int64(le.Uint64(b[p+20:]))}
		}
		if v >= checkpointV4 {
			s.InSeq, s.OutSeq = le.Uint32(b[p+28:]), le.Uint32(b[p+32:])
		}
		if v >= checkpointVersion {
			if f := b[p+36]; f&^seatUnsettled != 0 {
				return nil, bad("seat of player %d: flags %#x", s.Player, f)
			}
			s.Unsettled, s.OutBase = b[p+36]&seatUnsettled != 0, le.Uint32(b[p+37:])
		}
		p += int(perSeat)
		if s.Player == 0 || seen[s.Player] {
			return nil, bad("seat of player %d (zero or twice)", s.Player)
		}
		seen[s.Player] = true
	}
	if len(b)-p < 4 {
		return nil, bad("no state length")
	}
	sl := le.Uint32(b[p:])
	p += 4
	if uint64(sl) != uint64(len(b)-p) {
		return nil, bad("state of %d bytes, %d left", sl, len(b)-p)
	}
	c.State = b[p:]
	return c, nil
}
