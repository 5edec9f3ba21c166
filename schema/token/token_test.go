package token

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Unix(1_800_000_000, 0)
)

func TestResumeRoundTrip(t *testing.T) {
	tok := MintResume(secret, "m-42", 7, 0xfeedface01, now)
	if strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not unpadded base64url", tok)
	}
	r, err := VerifyResume(secret, tok, 0, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if r.MatchID != "m-42" || r.PlayerID != 7 || r.Nonce != 0xfeedface01 || !r.IssuedAt.Equal(now) {
		t.Fatalf("claims %+v", r)
	}
}

func TestResumeRefused(t *testing.T) {
	good := MintResume(secret, "m-42", 7, 99, now)
	raw, _ := b64.DecodeString(good)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return b64.EncodeToString(b)
	}
	tests := []struct {
		name   string
		secret []byte
		tok    string
		maxAge time.Duration
		want   error
	}{
		{"empty", secret, "", 0, ErrMalformed},
		{"not base64", secret, "!!!", 0, ErrMalformed},
		{"too short", secret, b64.EncodeToString([]byte{1, 2, 3}), 0, ErrMalformed},
		{"too long", secret, strings.Repeat("A", 400), 0, ErrMalformed},
		{"other secret", []byte("another secret, just as long...."), good, 0, ErrSignature},
		{"player changed", secret, flip(12), 0, ErrSignature},
		{"nonce changed", secret, flip(20), 0, ErrSignature},
		{"match changed", secret, flip(21), 0, ErrSignature},
		{"issued-at changed", secret, flip(8), 0, ErrSignature},
		{"mac changed", secret, flip(len(raw) - 1), 0, ErrSignature},
		{"version", secret, flip(0), 0, ErrMalformed},
		{"too old", secret, good, time.Minute, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyResume(tt.secret, tt.tok, tt.maxAge, now.Add(time.Hour))
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyResume = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestResumeVersion1: a token minted before nonces existed still verifies,
// with Nonce 0 (only a seat restored from a checkpoint without nonces
// accepts it).
func TestResumeVersion1(t *testing.T) {
	payload := []byte{resumeV1}
	payload = append(payload, 0, 0, 0, 0, 0x6b, 0x49, 0xd2, 0x00) // issued-at 1,800,000,000
	payload = append(payload, 0, 0, 0, 7)
	payload = append(payload, "m-42"...)
	tok := b64.EncodeToString(mac(secret, payload))
	r, err := VerifyResume(secret, tok, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.MatchID != "m-42" || r.PlayerID != 7 || r.Nonce != 0 || !r.IssuedAt.Equal(now) {
		t.Fatalf("claims %+v", r)
	}
}

func TestPlayerToken(t *testing.T) {
	tok, err := MintPlayer(secret, 1234, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := VerifyPlayer(secret, tok, now.Add(time.Minute))
	if err != nil || id != 1234 {
		t.Fatalf("VerifyPlayer = %d, %v; want 1234", id, err)
	}
	if _, err := MintPlayer(secret, 0, time.Hour, now); err == nil {
		t.Fatal("minted a token for player 0")
	}
	if _, err := MintPlayer(nil, 1, time.Hour, now); err == nil {
		t.Fatal("minted a token without a secret")
	}
}

func TestPlayerTokenRefused(t *testing.T) {
	mint := func(method jwt.SigningMethod, key any, claims jwt.Claims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := func(sub string) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
	}
	good, _ := MintPlayer(secret, 5, time.Hour, now)
	tests := []struct {
		name   string
		secret []byte
		tok    string
		want   error
	}{
		{"garbage", secret, "not.a.jwt", ErrMalformed},
		{"other secret", []byte("other"), good, ErrSignature},
		{"no secret configured", nil, good, ErrSignature},
		{"expired", secret, mint(jwt.SigningMethodHS256, secret, jwt.RegisteredClaims{
			Subject: "5", ExpiresAt: jwt.NewNumericDate(now.Add(-time.Second))}), ErrExpired},
		{"no exp", secret, mint(jwt.SigningMethodHS256, secret, jwt.RegisteredClaims{Subject: "5"}), ErrMalformed},
		{"not yet valid", secret, mint(jwt.SigningMethodHS256, secret, jwt.RegisteredClaims{
			Subject: "5", ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Hour)),
			NotBefore: jwt.NewNumericDate(now.Add(time.Hour))}), ErrExpired},
		{"HS512 refused", secret, mint(jwt.SigningMethodHS512, secret, valid("5")), ErrSignature},
		{"alg none refused", secret, mint(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid("5")), ErrSignature},
		{"sub not a number", secret, mint(jwt.SigningMethodHS256, secret, valid("alice")), ErrMalformed},
		{"sub zero", secret, mint(jwt.SigningMethodHS256, secret, valid("0")), ErrMalformed},
		{"sub too big", secret, mint(jwt.SigningMethodHS256, secret, valid("4294967296")), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := VerifyPlayer(tt.secret, tt.tok, now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyPlayer = %d, %v; want %v", id, err, tt.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	a := NewAuth(secret)
	tok, err := a.Mint(99, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := a.Authenticate(tok); err != nil || id != 99 {
		t.Fatalf("Authenticate = %d, %v", id, err)
	}
}

func TestAuthClaims(t *testing.T) {
	a := NewAuth(secret)
	a.now = func() time.Time { return now }
	// Another issuer sharing the secret adds claims of its game.
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "42", "exp": now.Add(time.Minute).Unix(), "team": "red",
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	id, claims, err := a.AuthenticateClaims(tok)
	if err != nil || id != 42 {
		t.Fatalf("AuthenticateClaims = %d, %v", id, err)
	}
	var got map[string]any
	if err := json.Unmarshal(claims, &got); err != nil {
		t.Fatalf("claims %q: %v", claims, err)
	}
	if got["team"] != "red" || got["sub"] != "42" {
		t.Fatalf("claims %q", claims)
	}
	// A token refused by Authenticate is refused here too, without claims.
	a.now = func() time.Time { return now.Add(time.Hour) }
	if id, claims, err := a.AuthenticateClaims(tok); !errors.Is(err, ErrExpired) || id != 0 || claims != nil {
		t.Fatalf("expired token: %d, %q, %v", id, claims, err)
	}
	i, c := strings.LastIndexByte(tok, '.')+1, "A"
	if tok[i] == 'A' {
		c = "B"
	}
	if _, _, err := VerifyPlayerClaims(secret, tok[:i]+c+tok[i+1:], now); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged token: %v", err)
	}
}
