package bots

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema/gameschema"
)

// Log keys of the game lookup.
const (
	logKeyGame   = "game"
	logKeySchema = "schema"
)

// Seed salts: the join payloads and the generic inputs and events draw
// from streams of their own, apart from the arena's wanderers.
const (
	joinSalt  = 0x6a6f696e
	inputSalt = 0x696e7075
)

// lookupGame settles what the bots play before the ramp. The arena
// (Config.Game arena.Name) needs no request: its schema is compiled in
// (games/arena), and the arena's behaviours steer the bots. Another game
// without Config.Schema is asked of the nodes (GET /games/{name}/schema
// on each URL's host until one answers); its bots send random inputs and
// events within its schema's ranges. A node that serves no schema for it
// (an unknown game), no node answering, or a schema served but unusable
// end the run.
func (s *Swarm) lookupGame(ctx context.Context) error {
	if s.cfg.Schema == nil && s.cfg.Game == arena.Name {
		s.cfg.Schema, s.cfg.Codec = arena.Schema(), arena.Codec()
	}
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
	s.arena = s.cfg.Schema.HashString() == arena.Schema().HashString()
	if s.cfg.Behavior == Chase && !s.arena {
		return fmt.Errorf("behavior chase: steers by the arena's world; game %s is not the arena (use wander or idle)", s.cfg.Game)
	}
	if s.cfg.Codec == nil {
		c, err := client.GameCodec(s.cfg.Schema)
		if err != nil {
			return fmt.Errorf("game %s: %w", s.cfg.Game, err)
		}
		s.cfg.Codec = c
	}
	if s.arena {
		s.log.Info().Str(logKeyGame, s.cfg.Game).Str(logKeySchema, s.cfg.Schema.HashString()).Msg("playing the arena")
		return nil
	}
	for _, b := range s.bots {
		b.game = newGameBot(s.cfg.Schema, s.cfg.Seed, b.id)
	}
	s.log.Info().Str(logKeyGame, s.cfg.Game).Str(logKeySchema, s.cfg.Schema.HashString()).Msg("playing a game with random inputs within its schema")
	return nil
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

// gameBot is a bot's player of a game other than the arena: random inputs
// within the schema's ranges and, now and then, a random client event.
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
