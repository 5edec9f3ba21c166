// Package token is the format of the two tokens a ticksync client carries
// in the envelope: the player auth token of Hello.token and the resume token
// of Welcome.resume_token / Hello.resume_token. Whoever mints one and
// whoever checks it use this package, so the claims are the same
// everywhere: the node verifies player tokens (net/ws's Authenticator) and
// mints and verifies resume tokens (game), bots and other Go clients mint
// player tokens, operator tools mint them for people.
//
//   - Player auth tokens (MintPlayer, VerifyPlayer, Auth): JWT HS256
//     (golang-jwt/v5). Claims: sub, the player id in decimal (1..2³²−1);
//     iat, the time of minting; exp, required. No other claim is set or
//     read; nbf is honoured when another issuer sets it. The node checks
//     Hello.token with them when -auth-secret is set.
//   - Resume tokens (MintResume, VerifyResume): an HMAC-SHA256 over
//     (match id, player id, issued-at), base64url without padding. Bound to
//     one match and one player: the match manager checks both against the
//     seat it finds. Clients hold them without reading them.
//
// It lives under schema because a token is part of the wire contract, like
// the messages that carry it, and because, like the rest of schema, it
// imports nothing of ticksync's own: every side of the connection may
// import it (game and the node inward, bots and clients that may use only
// net/client and schema).
//
// Both kinds are pure functions of a secret and the clock passed in; nothing
// here keeps state or starts goroutines. Verify functions return errors that
// wrap ErrMalformed, ErrSignature or ErrExpired.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrMalformed: not a token of the expected kind and shape.
	ErrMalformed = errors.New("malformed token")
	// ErrSignature: well formed, but not signed with our secret.
	ErrSignature = errors.New("bad token signature")
	// ErrExpired: signed by us, but too old (or not yet valid).
	ErrExpired = errors.New("token expired")
)

// resumeVersion is the first byte of every resume token payload.
const resumeVersion = 1

// MaxMatchIDLen is the longest match id a resume token carries.
const MaxMatchIDLen = 64

var b64 = base64.RawURLEncoding

// Resume is what a resume token says.
type Resume struct {
	MatchID  string
	PlayerID uint32
	IssuedAt time.Time // whole seconds
}

// MintResume returns a resume token for player in matchID, issued at now.
// secret must not be empty.
//
// Layout before base64url: version (1) | issued-at unix seconds (8, big
// endian) | player id (4) | match id (1..64 bytes) | HMAC-SHA256 of all the
// preceding bytes (32).
func MintResume(secret []byte, matchID string, player uint32, now time.Time) string {
	b := make([]byte, 0, 1+8+4+len(matchID)+sha256.Size)
	b = append(b, resumeVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(now.Unix()))
	b = binary.BigEndian.AppendUint32(b, player)
	b = append(b, matchID...)
	b = mac(secret, b)
	return b64.EncodeToString(b)
}

func mac(secret, payload []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(payload)
	return h.Sum(payload)
}

// VerifyResume checks tok and returns its claims. maxAge > 0 refuses tokens
// issued longer ago than that (ErrExpired); 0 accepts any age (the seat's
// own grace period is the real limit). The signature is checked in constant
// time before anything else in the token is trusted.
func VerifyResume(secret []byte, tok string, maxAge time.Duration, now time.Time) (Resume, error) {
	if len(tok) > b64.EncodedLen(1+8+4+MaxMatchIDLen+sha256.Size) {
		return Resume{}, fmt.Errorf("resume token: %w: too long", ErrMalformed)
	}
	b, err := b64.DecodeString(tok)
	if err != nil {
		return Resume{}, fmt.Errorf("resume token: %w: %v", ErrMalformed, err)
	}
	if len(b) < 1+8+4+1+sha256.Size || b[0] != resumeVersion {
		return Resume{}, fmt.Errorf("resume token: %w", ErrMalformed)
	}
	payload, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	want := mac(secret, append([]byte(nil), payload...))[len(payload):]
	if !hmac.Equal(sum, want) {
		return Resume{}, fmt.Errorf("resume token: %w", ErrSignature)
	}
	r := Resume{
		IssuedAt: time.Unix(int64(binary.BigEndian.Uint64(payload[1:9])), 0),
		PlayerID: binary.BigEndian.Uint32(payload[9:13]),
		MatchID:  string(payload[13:]),
	}
	if maxAge > 0 && now.Sub(r.IssuedAt) > maxAge {
		return r, fmt.Errorf("resume token issued %s ago: %w", now.Sub(r.IssuedAt).Truncate(time.Second), ErrExpired)
	}
	return r, nil
}
