package gameschema

import (
	"math"
	"math/rand/v2"
	"unicode/utf8"
)

// Randomize sets every field of v.Table to a random value the verifier
// accepts: integers uniform in their range, an enum's values (any set of
// its bits for a bit set), floats uniform in their range (±1e6 without
// one), strings of printable and two-byte UTF-8 within min(MaxLen, 24)
// bytes, byte vectors of random bytes; optional strings and byte vectors
// are absent one time in five. Bots use it to send random inputs and
// events of any game.
func (v *Values) Randomize(rng *rand.Rand) {
	t := v.Table
	for i := range t.Fields {
		f := &t.Fields[i]
		switch {
		case f.Type == String:
			if !f.Required && rng.IntN(5) == 0 {
				v.refs[i] = nil
				continue
			}
			b := []byte{}
			n := rng.IntN(min(f.MaxLen, 24) + 1)
			for len(b) < n {
				r := rune(' ' + rng.IntN(95))
				if rng.IntN(8) == 0 {
					r = rune(0x400 + rng.IntN(0x100)) // two bytes
				}
				if len(b)+utf8.RuneLen(r) > n {
					break
				}
				b = utf8.AppendRune(b, r)
			}
			v.SetBytes(i, b)
		case f.Type == Bytes:
			if !f.Required && rng.IntN(5) == 0 {
				v.refs[i] = nil
				continue
			}
			b := make([]byte, rng.IntN(min(f.MaxLen, 24)+1))
			for k := range b {
				b[k] = byte(rng.Uint32())
			}
			v.SetBytes(i, b)
		case f.Type == Bool:
			v.SetBool(i, rng.IntN(2) == 0)
		case f.Enum != nil && f.Enum.BitFlags:
			v.SetUint(i, rng.Uint64()&f.Enum.mask)
		case f.Enum != nil:
			v.SetInt(i, f.Enum.Values[rng.IntN(len(f.Enum.Values))].Value)
		case f.Type == Uint64:
			if f.UMax-f.UMin == math.MaxUint64 {
				v.SetUint(i, rng.Uint64())
			} else {
				v.SetUint(i, f.UMin+rng.Uint64N(f.UMax-f.UMin+1))
			}
		case f.Type.IsInteger():
			v.SetInt(i, randIn(rng, f.Min, f.Max))
		case f.Type.IsFloat():
			lo, hi := -1e6, 1e6
			if f.HasRange {
				lo, hi = f.FMin, f.FMax
			}
			u := rng.Float64()
			x := max(lo, min(hi, lo*(1-u)+hi*u)) // no overflow for the widest ranges; rounding clamped
			if f.Type == Float32 {
				x32 := float32(x)
				if float64(x32) > hi {
					x32 = math.Nextafter32(x32, float32(math.Inf(-1)))
				}
				if float64(x32) < lo {
					x32 = math.Nextafter32(x32, float32(math.Inf(1)))
				}
				x = float64(x32)
			}
			if x == 0 {
				x = 0 // not -0, which a builder omits as equal to a 0 default
			}
			v.SetFloat(i, x)
		}
	}
}

// randIn returns a uniform integer in lo..hi.
func randIn(rng *rand.Rand, lo, hi int64) int64 {
	span := uint64(hi) - uint64(lo)
	if span == math.MaxUint64 {
		return int64(rng.Uint64())
	}
	return lo + int64(rng.Uint64N(span+1))
}
