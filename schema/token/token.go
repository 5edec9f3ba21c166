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
//     Hello.token with them when -auth-secret is set, and hands the whole
//     verified payload (VerifyPlayerClaims) to the game, whose issuer may
//     add claims of its own.
//   - Resume tokens (MintResume, VerifyResume): carried in Welcome and
//     presented in Hello.resume_token to take a seat back after a dropped
//     connection. An HMAC-SHA256 over (match id, player id, nonce,
//     issued-at), base64url without padding. Bound to one match, one player
//     and one nonce: the match manager checks all three against the seat it
//     finds, and the seat keeps only the nonce of the newest token it issued,
//     so a newer token revokes the older ones and a freed seat (the resume
//     grace ran out) takes every token of it along. Clients hold them
//     without reading them.
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

// Resume token versions, the first byte of the payload. Version 1 (no
// nonce) is still read, with Nonce 0.
const (
	resumeV1      = 1
	resumeVersion = 2
)

// MaxMatchIDLen is the longest match id a resume token carries.
const MaxMatchIDLen = 64

var b64 = base64.RawURLEncoding

// Resume is what a resume token says.
type Resume struct {
	MatchID  string
	PlayerID uint32
	// Nonce names this token among the seat's tokens: the seat accepts only
	// the newest one's. 0 for a version 1 token.
	Nonce    uint64
	IssuedAt time.Time // whole seconds
}

// MintResume returns a resume token for player in matchID with nonce,
// issued at now. secret must not be empty.
//
// Layout before base64url: version (1) = 2 | issued-at unix seconds (8, big
// endian) | player id (4) | nonce (8) | match id (1..64 bytes) |
// HMAC-SHA256 of all the preceding bytes (32). Version 1 had no nonce.
func MintResume(secret []byte, matchID string, player uint32, nonce uint64, now time.Time) string {
	b := make([]byte, 0, 1+8+4+8+len(matchID)+sha256.Size)
	b = append(b, resumeVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(now.Unix()))
	b = binary.BigEndian.AppendUint32(b, player)
	b = binary.BigEndian.AppendUint64(b, nonce)
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
	if len(tok) > b64.EncodedLen(1+8+4+8+MaxMatchIDLen+sha256.Size) {
		return Resume{}, fmt.Errorf("resume token: %w: too long", ErrMalformed)
	}
	b, err := b64.DecodeString(tok)
	if err != nil {
		return Resume{}, fmt.Errorf("resume token: %w: %v", ErrMalformed, err)
	}
	head := 1 + 8 + 4 + 8 // version 2: the nonce follows the player
	if len(b) > 0 && b[0] == resumeV1 {
		head = 1 + 8 + 4
	}
	if len(b) < head+1+sha256.Size || (b[0] != resumeVersion && b[0] != resumeV1) {
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
		MatchID:  string(payload[head:]),
	}
	if head > 13 {
		r.Nonce = binary.BigEndian.Uint64(payload[13:21])
	}
	if maxAge > 0 && now.Sub(r.IssuedAt) > maxAge {
		return r, fmt.Errorf("resume token issued %s ago: %w", now.Sub(r.IssuedAt).Truncate(time.Second), ErrExpired)
	}
	return r, nil
}
