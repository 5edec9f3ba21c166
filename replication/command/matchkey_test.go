package command

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestCreateMatchKeyBytes: a CreateMatch with a matchmaking key is type 10,
// the bytes of type 4 followed by the key; without a key it is type 4,
// byte for byte what earlier versions wrote (which decodes with the empty
// key). An empty or oversized key under type 10 is refused.
func TestCreateMatchKeyBytes(t *testing.T) {
	keyed := &CreateMatch{ID: "m3", Game: "tag", Key: "mode=2"}
	want, _ := hex.DecodeString("0a026d330374616700000006" + hex.EncodeToString([]byte("mode=2")))
	if got := Encode(keyed); !bytes.Equal(got, want) {
		t.Fatalf("keyed: got %x, want %x", got, want)
	}
	back, err := Decode(want)
	if err != nil || !reflect.DeepEqual(back, keyed) {
		t.Fatalf("decode keyed: %+v, %v", back, err)
	}
	plain := Encode(&CreateMatch{ID: "m3", Game: "tag"})
	if !bytes.Equal(plain, append([]byte{typeCreateMatch}, want[1:len(want)-7]...)) {
		t.Fatalf("without a key: %x, want type 4 with the same fields", plain)
	}
	if back, err := Decode(plain); err != nil || back.(*CreateMatch).Key != "" {
		t.Fatalf("decode without a key: %+v, %v", back, err)
	}
	for name, b := range map[string][]byte{
		"empty key":     append([]byte{typeCreateKeyedMatch}, append(plain[1:], 0)...),
		"no key":        append([]byte{typeCreateKeyedMatch}, plain[1:]...),
		"oversized key": Encode(&CreateMatch{ID: "m3", Game: "tag", Key: strings.Repeat("k", MaxMatchKeyLen+1)}),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: %v, want ErrBadCommand", name, err)
		}
	}
	if _, err := Decode(Encode(&CreateMatch{ID: "m3", Game: "tag", Key: strings.Repeat("k", MaxMatchKeyLen)})); err != nil {
		t.Errorf("a key of MaxMatchKeyLen: %v", err)
	}
}
