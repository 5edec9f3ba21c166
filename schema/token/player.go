package token

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintPlayer returns an HS256 JWT for player: sub is the player id in
// decimal, iat now, exp now+ttl. It is the one way ticksync (the node's
// tools, bots, tests) mints a player token.
func MintPlayer(secret []byte, player uint32, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("mint player token: empty secret")
	}
	if player == 0 {
		return "", errors.New("mint player token: player id 0")
	}
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatUint(uint64(player), 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint player token: %w", err)
	}
	return s, nil
}

// VerifyPlayer checks an HS256 JWT from MintPlayer (or any issuer sharing
// the secret) at time now and returns its player id. Only HS256 is
// accepted; exp is required; sub must be a decimal uint32 other than 0.
func VerifyPlayer(secret []byte, tok string, now time.Time) (uint32, error) {
	id, _, err := verifyPlayer(secret, tok, now, false)
	return id, err
}

// VerifyPlayerClaims checks tok as VerifyPlayer does and also returns its
// verified payload: the JSON claims set as the issuer signed it (the
// decoded middle part of the JWT, a new slice). A game reads its own
// claims there (a team, a rating, a display name); ticksync reads only sub,
// exp, nbf and iat.
func VerifyPlayerClaims(secret []byte, tok string, now time.Time) (player uint32, claims []byte, err error) {
	return verifyPlayer(secret, tok, now, true)
}

func verifyPlayer(secret []byte, tok string, now time.Time, withClaims bool) (uint32, []byte, error) {
	if len(secret) == 0 {
		return 0, nil, fmt.Errorf("player token: %w: no secret configured", ErrSignature)
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(tok, &claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return 0, nil, fmt.Errorf("player token: %w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return 0, nil, fmt.Errorf("player token: %w", ErrSignature)
	default:
		return 0, nil, fmt.Errorf("player token: %w: %v", ErrMalformed, err)
	}
	id, err := strconv.ParseUint(claims.Subject, 10, 32)
	if err != nil || id == 0 {
		return 0, nil, fmt.Errorf("player token: %w: sub %q is not a player id", ErrMalformed, claims.Subject)
	}
	if !withClaims {
		return uint32(id), nil, nil
	}
	// The parser has checked the signature over header.payload and decoded
	// the payload with the same (unpadded base64url) encoding.
	parts := strings.SplitN(tok, ".", 3)
	if len(parts) != 3 {
		return 0, nil, fmt.Errorf("player token: %w: not three parts", ErrMalformed)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return 0, nil, fmt.Errorf("player token: %w: payload: %v", ErrMalformed, err)
	}
	return uint32(id), payload, nil
}

// Auth verifies player tokens with one secret. Its Authenticate method
// satisfies net/ws's Authenticator; it is safe for concurrent use.
type Auth struct {
	secret []byte
	now    func() time.Time
}

// NewAuth returns an Auth for secret, reading the wall clock.
func NewAuth(secret []byte) *Auth {
	return &Auth{secret: append([]byte(nil), secret...), now: time.Now}
}

// Authenticate returns the player id named by tok.
func (a *Auth) Authenticate(tok string) (uint32, error) {
	return VerifyPlayer(a.secret, tok, a.now())
}

// AuthenticateClaims returns the player id named by tok and the token's
// verified JSON payload (VerifyPlayerClaims). It satisfies net/ws's
// ClaimsAuthenticator: the node hands the payload to the game with the
// join.
func (a *Auth) AuthenticateClaims(tok string) (player uint32, claims []byte, err error) {
	return VerifyPlayerClaims(a.secret, tok, a.now())
}

// Mint returns a token for player valid for ttl.
func (a *Auth) Mint(player uint32, ttl time.Duration) (string, error) {
	return MintPlayer(a.secret, player, ttl, a.now())
}
