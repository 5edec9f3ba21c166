package bots

import (
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// playerToken mints an HS256 JWT for a player: sub is the player id in
// decimal, valid from a minute ago (clock skew) until ttl from now, as
// game/token.VerifyPlayer expects.
func playerToken(secret string, player uint32, now time.Time, ttl time.Duration) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   strconv.FormatUint(uint64(player), 10),
		IssuedAt:  jwt.NewNumericDate(now.Add(-time.Minute)), // tolerate clock skew
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign token for player %d: %w", player, err)
	}
	return s, nil
}
