package client

import (
	"fmt"

	"github.com/ticksync/ticksync/schema/gamedelta"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// GameCodec compiles the delta codec of a game's schema, as the node does
// (gamedelta.Compile of Schema.DeltaLayout): the Config.Codec that goes
// with Config.Schema.
func GameCodec(s *gameschema.Schema) (*gamedelta.Codec, error) {
	l, err := s.DeltaLayout()
	if err != nil {
		return nil, fmt.Errorf("delta layout of %s: %w", s.Name, err)
	}
	c, err := gamedelta.Compile(l)
	if err != nil {
		return nil, fmt.Errorf("delta codec of %s: %w", s.Name, err)
	}
	return c, nil
}
