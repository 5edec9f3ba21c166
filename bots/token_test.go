package bots

import (
	"testing"
	"time"

	"github.com/ticksync/ticksync/game/token"
)

func TestPlayerTokenVerifiesOnTheServerSide(t *testing.T) {
	now := time.Now()
	tok, err := playerToken("s3cret", 4242, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := token.VerifyPlayer([]byte("s3cret"), tok, now.Add(time.Second))
	if err != nil || id != 4242 {
		t.Fatalf("VerifyPlayer = %d, %v; want 4242", id, err)
	}
	if _, err := token.VerifyPlayer([]byte("other"), tok, now); err == nil {
		t.Error("a token signed with another secret verified")
	}
	if _, err := token.VerifyPlayer([]byte("s3cret"), tok, now.Add(2*time.Hour)); err == nil {
		t.Error("an expired token verified")
	}
}
