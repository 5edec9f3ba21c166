package game

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// This file is what the Manager does for games registered with a schema
// (RegisterSpec): the schema check of a Hello, the matchmaking key of a
// join payload, and the refusals a game sends its clients.

// maxReasonLen bounds a game's refusal text as the client gets it, in bytes.
const maxReasonLen = 128

// schemaError returns the refusal of a Hello whose schema hash is not the
// one gs speaks, or nil. An empty hash accepts any match.
func schemaError(game string, gs *GameSchema, hash string) error {
	if hash == "" || gs != nil && hash == gs.hash {
		return nil
	}
	msg := "schema mismatch: the match speaks " + game
	if gs != nil {
		msg += " " + gs.hash
	}
	return &JoinError{Code: schema.ErrCodeSchemaMismatch, Message: msg, Public: true}
}

// refused is the JoinError of a game's refusal (a *sim.RefuseError):
// reason, made valid UTF-8 and cut at a character boundary to
// maxReasonLen bytes, goes to the client.
func refused(reason string) *JoinError {
	return &JoinError{Code: schema.ErrCodeJoinRefused, Message: publicReason(reason), Public: true}
}

// publicReason makes a game's reason fit for the client: valid UTF-8 (an
// invalid sequence becomes U+FFFD), at most maxReasonLen bytes, not empty.
func publicReason(reason string) string {
	reason = schema.PublicText(reason, maxReasonLen)
	if strings.TrimSpace(reason) == "" {
		return schema.ErrCodeJoinRefused.String()
	}
	return reason
}

// matchKey returns the matchmaking key of a join payload: the values of the
// join table's (match_key) fields as text ("mode=2 map=\"dust\""), "" for
// a game without such fields. An absent payload or field counts as its
// default. A payload the schema refuses is an error wrapping
// gameschema.ErrMalformed or ErrOutOfRange (not a JoinError: net/ws closes
// the connection with 1007, as for any malformed game bytes).
func matchKey(gs *GameSchema, payload []byte) (string, error) {
	if gs == nil || len(gs.keys) == 0 {
		return "", nil
	}
	var v gameschema.Values
	if err := gs.Schema.DecodeJoin(payload, &v); err != nil {
		return "", fmt.Errorf("join payload: %w", err)
	}
	var b strings.Builder
	for n, i := range gs.keys {
		f := &gs.Schema.Join.Fields[i]
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name)
		b.WriteByte('=')
		switch {
		case f.Type == gameschema.String:
			b.WriteString(strconv.Quote(string(v.Bytes(i))))
		case f.Type == gameschema.Bytes:
			b.WriteString(hex.EncodeToString(v.Bytes(i)))
		case f.Type == gameschema.Uint64:
			b.WriteString(strconv.FormatUint(v.Uint(i), 10))
		default: // integers, enums, bools; floats in quanta
			b.WriteString(strconv.FormatInt(v.Int(i), 10))
		}
	}
	return b.String(), nil
}
