package ws

import (
	"sync"
	"time"

	"github.com/ticksync/ticksync/schema"
)

// Frames the server writes. The package frames everything it sends itself
// (outbound.go): server frames are unmasked and unfragmented, and
// permessage-deflate is never negotiated (the Upgrader leaves it off), so a
// frame is a header and the payload. gws frames only the close frames of its
// own read loop (an echo of the client's close, 1002, 1009), which reach
// outbound through sockConn.Write.
const (
	frameBinary = 0x82 // FIN | binary
	frameClose  = 0x88 // FIN | close
	framePing   = 0x89 // FIN | ping
	framePong   = 0x8a // FIN | pong

	maxCloseReason = 123 // a control frame's payload is at most 125 bytes, 2 of them the code
)

// appendFrameHeader appends a server frame header (FIN, no mask) for a
// payload of n bytes; b0 is the first byte (FIN | opcode).
func appendFrameHeader(b []byte, b0 byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, b0, byte(n))
	case n < 1<<16:
		return append(b, b0, 126, byte(n>>8), byte(n))
	default:
		return append(b, b0, 127, byte(uint64(n)>>56), byte(uint64(n)>>48), byte(uint64(n)>>40), byte(uint64(n)>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendFrame appends one whole frame holding payload.
func appendFrame(b []byte, b0 byte, payload []byte) []byte {
	return append(appendFrameHeader(b, b0, len(payload)), payload...)
}

// appendCloseFrame appends a close frame with code and reason (cut to fit a
// control frame).
func appendCloseFrame(b []byte, code CloseCode, reason string) []byte {
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
	}
	b = appendFrameHeader(b, frameClose, 2+len(reason))
	b = append(b, byte(code>>8), byte(code))
	return append(b, reason...)
}

// isCloseFrame reports whether p starts a close frame.
func isCloseFrame(p []byte) bool { return len(p) > 0 && p[0]&0x0f == frameClose&0x0f }

// Control messages: the ones that must not be dropped (Welcome, Error,
// Redirect) and the answers to pings (Pong, ws pong), which may be when the
// queue is nearly full.
const (
	ctrlWelcome = iota + 1
	ctrlError
	ctrlRedirect
	ctrlPong   // schema Pong, answers a Ping message
	ctrlWSPong // WebSocket pong frame, answers a ping frame

	ctrlCap      = 8 // control queue capacity per session
	ctrlReserved = 3 // slots pongs may not take: Welcome, Error/Redirect, spare
)

// ctrlMsg is a queued control message; the writer frames it when it takes
// it (appendControl), outside the lock.
type ctrlMsg struct {
	kind       uint8
	code       schema.ErrorCode
	clientTime uint64
	text       string // Error message, Redirect match id
	url        string
	welcome    *schema.Welcome
	payload    []byte // ws pong payload
}

// encoders encode control messages on writer goroutines; the bytes are
// copied into the frame before the encoder goes back.
var encoders = sync.Pool{New: func() any { return schema.NewEncoder(256) }}

// appendControl appends the frame of c to b, and the payload's size (for
// bytes_out_total); a message of no known kind appends nothing.
func appendControl(b []byte, c *ctrlMsg) ([]byte, int) {
	if c.kind == ctrlWSPong {
		return appendFrame(b, framePong, c.payload), len(c.payload)
	}
	enc := encoders.Get().(*schema.Encoder)
	defer encoders.Put(enc)
	var p []byte
	switch c.kind {
	case ctrlWelcome:
		p = enc.Welcome(c.welcome)
	case ctrlError:
		p = enc.Error(c.code, c.text)
	case ctrlRedirect:
		p = enc.Redirect(c.url, c.text)
	case ctrlPong:
		p = enc.Pong(c.clientTime, uint64(time.Now().UnixMilli()))
	default:
		return b, 0
	}
	return appendFrame(b, frameBinary, p), len(p)
}
