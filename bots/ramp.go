package bots

import (
	"context"
	"errors"
	"time"

	"github.com/ticksync/ticksync/net/client"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
)

// ramp hands the bots to the dialers in order, bot i no earlier than
// i·Ramp/Bots after the start. Every bot joins through matchmaking (an
// empty match id): the node seats it in its oldest room with a free seat,
// so rooms fill to the game's seat count one after the other, however many
// joins are in flight. The ramp runs on its own goroutine and ends with ctx.
func (s *Swarm) ramp(ctx context.Context, jobs chan<- *bot) {
	n := len(s.bots)
	for i, b := range s.bots {
		if s.cfg.Ramp > 0 {
			due := s.start.Add(time.Duration(int64(s.cfg.Ramp) * int64(i) / int64(n)))
			if !sleepCtx(ctx, time.Until(due)) {
				s.failRest(i)
				return
			}
		}
		select {
		case jobs <- b:
		case <-ctx.Done():
			s.failRest(i)
			return
		}
	}
}

// failRest marks bots from i on as never dialled (the run ended first).
func (s *Swarm) failRest(i int) {
	for _, b := range s.bots[i:] {
		b.cnt.failed.Store(true)
	}
}

// clientConfig is bot b's client configuration (join: its join payload).
func (s *Swarm) clientConfig(b *bot, match, token string, join []byte) client.Config {
	cfg := client.DefaultConfig()
	// Bot i starts at URL i mod len(URLs); the client moves on to the
	// others when one fails.
	urls := s.cfg.URLs
	k := b.id % len(urls)
	cfg.URLs = append(append(make([]string, 0, len(urls)), urls[k:]...), urls[:k]...)
	cfg.Origin = s.cfg.Origin
	cfg.Token = token
	cfg.MatchID = match
	cfg.Name = botName(b.id)
	cfg.Game = s.cfg.Game
	cfg.Schema, cfg.Codec, cfg.JoinPayload = s.cfg.Schema, s.cfg.Codec, join
	cfg.TLSConfig = s.tls
	cfg.DialTimeout = min(cfg.DialTimeout, s.cfg.JoinTimeout)
	cfg.WorldRing = s.cfg.WorldRing
	cfg.ReadBufferSize = s.cfg.ReadBufferSize
	cfg.SkipWorld = s.cfg.SkipWorld
	cfg.StallTimeout = s.cfg.StallTimeout
	cfg.Reconnect = true
	cfg.RejoinOnRefused = true
	cfg.Handler = b
	cfg.Logger = s.log
	return cfg
}

// join dials bot b until it is seated or JoinTimeout has passed; it runs
// on a dialer goroutine.
func (s *Swarm) join(ctx context.Context, b *bot) {
	const match = "" // matchmaking
	tok := ""
	if s.cfg.TokenSecret != "" {
		var err error
		ttl := s.cfg.Ramp + s.cfg.Warmup + s.cfg.Duration + time.Hour
		tok, err = token.MintPlayer([]byte(s.cfg.TokenSecret), s.cfg.PlayerIDBase+uint32(b.id), ttl, time.Now())
		if err != nil {
			b.cnt.failed.Store(true)
			s.log.Error().Int(logKeyBot, b.id).Str(logKeyErr, err.Error()).Msg("cannot sign token")
			return
		}
	}
	join := joinPayload(s.cfg.Schema, s.cfg.Seed, b.id)
	deadline := time.Now().Add(s.cfg.JoinTimeout)
	for attempt := 0; ; attempt++ {
		c, err := client.Dial(ctx, s.clientConfig(b, match, tok, join))
		if err == nil {
			b.client.Store(c)
			s.seated(c.Welcome().MatchID)
			return
		}
		if ctx.Err() != nil {
			b.cnt.failed.Store(true)
			return
		}
		if kind, ok := dialErrorKind(err); ok {
			b.cnt.errs[kind].Add(1)
		}
		left := time.Until(deadline)
		if !dialRetryable(err) || left <= 0 {
			b.cnt.failed.Store(true)
			if attempt == 0 || left <= 0 {
				s.log.Warn().Int(logKeyBot, b.id).Str(logKeyErr, err.Error()).Msg("bot failed to join")
			}
			return
		}
		// Back off 100 ms, 200 ms, ... up to 2 s, within the deadline.
		if !sleepCtx(ctx, min(left, time.Duration(100<<min(attempt, 4))*time.Millisecond)) {
			b.cnt.failed.Store(true)
			return
		}
	}
}

// seated counts a bot seated in match (for the report's room summary).
func (s *Swarm) seated(match string) {
	s.roomsMu.Lock()
	s.rooms[match]++
	s.roomsMu.Unlock()
}

// dialErrorKind classifies an error returned by client.Dial; ok is false
// for a server's Error message, which the bot's OnError has counted already.
func dialErrorKind(err error) (kind ErrorKind, ok bool) {
	var (
		se *client.ServerError
		he *client.HTTPError
	)
	switch {
	case errors.As(err, &se):
		return 0, false
	case errors.As(err, &he):
		return ErrHTTP, true
	case errors.Is(err, client.ErrTooManyRedirects):
		return ErrRedirects, true
	case errors.Is(err, client.ErrProtocol):
		return ErrDecode, true
	}
	return ErrDial, true
}

// dialRetryable: an unauthorized token, a refused Origin or a protocol
// violation will not pass on a second attempt; the rest may.
func dialRetryable(err error) bool {
	var (
		se *client.ServerError
		he *client.HTTPError
	)
	switch {
	case errors.As(err, &se):
		switch se.Code {
		case schema.ErrCodeUnauthorized, schema.ErrCodeBadRequest, schema.ErrCodeJoinRefused, schema.ErrCodeSchemaMismatch:
			return false
		}
		return true
	case errors.As(err, &he):
		return he.Retryable()
	case errors.Is(err, client.ErrProtocol):
		return false
	}
	return true
}
