package ws

import "encoding/binary"

// frameScanner follows the frame boundaries of the client's byte stream as
// it comes off the socket (before gws parses it), only to notice the
// client's close frame: once it has arrived the client sends nothing more,
// so a closing socket can be closed at once instead of lingering. It reads
// headers only and allocates nothing.
type frameScanner struct {
	hdr       [14]byte
	hn        int    // header bytes collected
	remaining uint64 // payload bytes of the current frame still to come
	op        byte
	closeSeen bool
}

// scan consumes p.
func (f *frameScanner) scan(p []byte) {
	for len(p) > 0 && !f.closeSeen {
		if f.remaining > 0 {
			k := uint64(len(p))
			if k > f.remaining {
				k = f.remaining
			}
			p = p[k:]
			f.remaining -= k
			if f.remaining == 0 {
				f.frameDone()
			}
			continue
		}
		// Collect the header: 2 bytes, then the extended length and the mask.
		f.hdr[f.hn] = p[0]
		f.hn++
		p = p[1:]
		if f.hn < 2 {
			continue
		}
		need := 2
		switch f.hdr[1] & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		if f.hdr[1]&0x80 != 0 {
			need += 4
		}
		if f.hn < need {
			continue
		}
		f.op = f.hdr[0] & 0x0f
		switch n := f.hdr[1] & 0x7f; n {
		case 126:
			f.remaining = uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
		case 127:
			f.remaining = binary.BigEndian.Uint64(f.hdr[2:10])
		default:
			f.remaining = uint64(n)
		}
		f.hn = 0
		if f.remaining == 0 {
			f.frameDone()
		}
	}
}

func (f *frameScanner) frameDone() {
	if f.op == 0x8 {
		f.closeSeen = true
	}
}
