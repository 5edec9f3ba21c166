package bots

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// Log keys of the game lookup.
const (
	logKeyGame   = "game"
	logKeySchema = "schema"
	logKeyWhy    = "why"
)

// Seed salts: the join payloads and the random inputs and events draw
// from streams of their own, apart from the wanderers.
const (
	joinSalt  = 0x6a6f696e
	inputSalt = 0x696e7075
)

// lookupGame settles what the bots play before the ramp. Without
// Config.Schema the game's compiled schema is asked of the nodes (GET
// /games/{name}/schema on each URL's host until one answers), the arena's
// like any other. Then the schema's field names decide the behaviour
// (behavior.go): an input table with integer fields move_x and move_y is
// steered (wander; chase also needs entities with integer x and y, else
// the run is refused naming the missing field); any other input table
// gets random inputs within its ranges. A game with client events gets
// random events. A node that serves no schema for the game (an unknown
// game), no node answering, or a schema served but unusable end the run.
func (s *Swarm) lookupGame(ctx context.Context) error {
	if s.cfg.Schema == nil {
		var err error
		for _, u := range s.cfg.URLs {
			var sch *gameschema.Schema
			sch, err = client.FetchSchema(ctx, u, s.cfg.Game, s.tls)
			switch {
			case err == nil:
				s.cfg.Schema = sch
			case unanswered(err):
				continue
			default:
				return fmt.Errorf("game %s: %w", s.cfg.Game, err)
			}
			break
		}
		if s.cfg.Schema == nil {
			return fmt.Errorf("game %s: no node answered for its schema: %w", s.cfg.Game, err)
		}
	}
	move, moveErr := newMoveLayout(s.cfg.Schema)
	if s.cfg.Behavior == Chase {
		err := moveErr
		if err == nil {
			s.chase, err = newChaseLayout(s.cfg.Schema)
		}
		if err != nil {
			return fmt.Errorf("behavior chase: game %s: %w (use wander or idle)", s.cfg.Game, err)
		}
	}
	if s.cfg.Codec == nil {
		c, err := client.GameCodec(s.cfg.Schema)
		if err != nil {
			return fmt.Errorf("game %s: %w", s.cfg.Game, err)
		}
		s.cfg.Codec = c
	}
	s.move = move
	events := hasClientEvents(s.cfg.Schema)
	for _, b := range s.bots {
		if move != nil {
			b.mover = newMover(move, s.cfg.Seed, b.id)
		}
		if move == nil || events {
			b.game = newGameBot(s.cfg.Schema, s.cfg.Seed, b.id)
		}
	}
	ev := s.log.Info().Str(logKeyGame, s.cfg.Game).Str(logKeySchema, s.cfg.Schema.HashString())
	if move != nil {
		ev.Msg("steering by the input's movement axes")
	} else {
		ev.Str(logKeyWhy, moveErr.Error()).Msg("random inputs within the schema")
	}
	return nil
}

// hasClientEvents reports whether s declares client events.
func hasClientEvents(s *gameschema.Schema) bool {
	return s.ClientEvents != nil && len(s.ClientEvents.Tables) > 0
}

// hasEvents reports whether s declares events of either direction: the
// report's game section counts them.
func hasEvents(s *gameschema.Schema) bool {
	return hasClientEvents(s) || s.ServerEvents != nil && len(s.ServerEvents.Tables) > 0
}

// unanswered reports whether FetchSchema failed because the node did not
// answer (unreachable, or a 5xx or 429 it may not give later).
func unanswered(err error) bool {
	var (
		ue *url.Error
		he *client.HTTPError
	)
	return errors.As(err, &ue) || (errors.As(err, &he) && he.Retryable())
}

// gameBot is a bot's random player: random inputs within the schema's
// ranges (a game without movement axes) and, now and then, a random client
// event.
// Only the input scheduler goroutine touches it.
type gameBot struct {
	schema *gameschema.Schema
	rng    *rand.Rand
	vals   gameschema.Values
	b      *flatbuffers.Builder
	input  []byte // the input sent each tick until the next draw
	next   int64  // when to draw the next input (swarm clock, ns); 0: now
}

func newGameBot(s *gameschema.Schema, seed int64, bot int) *gameBot {
	return &gameBot{
		schema: s,
		rng:    rand.New(rand.NewPCG(uint64(seed)^inputSalt, uint64(bot))),
		b:      flatbuffers.NewBuilder(256),
	}
}

// inputAt returns the input to send at now: wandering bots draw a new
// random one every second (and keep sending it, as a player holds a
// direction), idle bots send the input table's defaults. The bytes stay
// valid until the next call.
func (g *gameBot) inputAt(now int64, idle bool) []byte {
	if g.input != nil && (idle || now < g.next) {
		return g.input
	}
	g.vals.Reset(g.schema.Input)
	if idle {
		g.vals.SetDefaults()
	} else {
		g.vals.Randomize(g.rng)
	}
	g.b.Reset()
	g.b.Finish(g.schema.Input.Build(g.b, &g.vals))
	g.input = append(g.input[:0], g.b.FinishedBytes()...)
	g.next = now + wanderPeriodNanos
	return g.input
}

// eventDue draws whether this tick sends a client event: rate events per
// second at tickRate ticks per second. Always false for a game without
// client events.
func (g *gameBot) eventDue(rate float64, tickRate int) bool {
	if rate <= 0 || tickRate <= 0 || g.schema.ClientEvents == nil || len(g.schema.ClientEvents.Tables) == 0 {
		return false
	}
	return g.rng.Float64() < rate/float64(tickRate)
}

// event builds a random client event of the schema; the bytes stay valid
// until the next call.
func (g *gameBot) event() []byte {
	evs := g.schema.ClientEvents
	g.vals.Reset(evs.Tables[g.rng.IntN(len(evs.Tables))])
	g.vals.Randomize(g.rng)
	g.b.Reset()
	g.b.Finish(evs.Build(g.b, &g.vals))
	return g.b.FinishedBytes()
}

// joinPayload is bot's random join payload (nil for a game without a join
// table): the same for every dial of the bot, and from run to run with
// the same Seed.
func joinPayload(s *gameschema.Schema, seed int64, bot int) []byte {
	if s == nil || s.Join == nil {
		return nil
	}
	var v gameschema.Values
	v.Reset(s.Join)
	v.Randomize(rand.New(rand.NewPCG(uint64(seed)^joinSalt, uint64(bot))))
	b := flatbuffers.NewBuilder(128)
	b.Finish(s.Join.Build(b, &v))
	return b.FinishedBytes()
}
