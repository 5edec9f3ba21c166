package game

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
	"github.com/ticksync/ticksync/sim"
)

// Manager runs this node's matches: it seats players (matchmaking,
// explicit match ids, resume tokens), creates matches and closes them when
// they stay empty. It is safe for concurrent use; net/ws calls Join from
// every session's read goroutine.
//
// Locks: Manager.mu guards the match table; Match.mu guards one match's
// seats. Order: Manager.mu before Match.mu, never the reverse; no room
// command runs under Manager.mu.
type Manager struct {
	cfg    Config
	games  *Registry
	place  Placement
	log    zerolog.Logger
	secret []byte
	simCfg sim.Config
	adm    admission

	mu      sync.Mutex
	matches map[string]*Match
	order   []*Match                 // creation order: matchmaking fills the oldest first
	adopted chan struct{}            // closed (and replaced) whenever a match is added
	picking map[string]chan struct{} // per game: one pick that may create a match at a time
	closed  bool
	watch   sync.WaitGroup // one watcher goroutine per match
	replays *replayStats   // tick log replays at adoption (replay.go)
}

// NewManager returns a Manager for the games of reg. It starts nothing;
// matches start as players arrive.
func NewManager(cfg Config, reg *Registry) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("game config: %w", err)
	}
	if reg == nil || !reg.Has(cfg.DefaultGame) {
		return nil, fmt.Errorf("game config: default game %q: %w", cfg.DefaultGame, ErrUnknownGame)
	}
	simCfg := sim.DefaultConfig()
	simCfg.TickRate = cfg.TickRate
	if err := simCfg.Validate(); err != nil {
		return nil, fmt.Errorf("game config: %w", err)
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret) // never fails (crypto/rand)
	}
	place := cfg.Placement
	if place == nil {
		place = LocalPlacement{}
	}
	m := &Manager{
		cfg:     cfg,
		games:   reg,
		place:   place,
		log:     cfg.Logger,
		secret:  append([]byte(nil), secret...),
		simCfg:  simCfg,
		matches: make(map[string]*Match),
		adopted: make(chan struct{}),
		picking: make(map[string]chan struct{}),
	}
	m.adm.init(cfg)
	if err := m.adm.register(cfg.Registerer, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("game metrics: %w", err)
	}
	var err error
	if m.replays, err = newReplayStats(cfg.Registerer, cfg.NodeID); err != nil {
		return nil, fmt.Errorf("game metrics: %w", err)
	}
	return m, nil
}

// maxRefusals bounds the games' refusals (ErrCodeJoinRefused) one
// matchmaking join meets: the last one is returned.
const maxRefusals = 3

// Join seats the player of req (see Joiner). It returns a *JoinError with
// the code for the client when it refuses, a *RedirectError when another
// node runs the match, or another error (the session answers unavailable).
//
//   - Hello.ResumeToken set: take back that seat (same player and entity)
//     if it is still held; a live older connection is kicked with
//     ErrCodeReplaced. Refused with ErrCodeResumeRefused otherwise.
//   - Hello.MatchID set: join that match, or ErrCodeMatchNotFound /
//     ErrCodeMatchFull.
//   - Neither: matchmaking joins the oldest match of the game with a free
//     seat and the same matchmaking key (the values of the join payload's
//     (match_key) fields), or creates one with that key. A match holds the
//     game's Spec.Seats players (else Config.Seats). A match created for
//     this Hello that it could not join closes at once. When the game of
//     a running match refuses the player (a *sim.RefuseError: a game that
//     has started), matchmaking tries another match, or creates one; the
//     refusal is returned after maxRefusals (3) matches refused, or when
//     the match created for this Hello refused it.
//
// The game gets the Hello's name and join payload and req.Claims
// (sim.JoinInfo). A Hello whose schema hash is set and is not the match's
// is refused with ErrCodeSchemaMismatch (Public) before the player is
// seated; a game that refuses the join (a *sim.RefuseError) gives
// ErrCodeJoinRefused with its reason (Public). A join payload the game's
// schema refuses (malformed, or a value out of range) is an error wrapping
// gameschema.ErrMalformed or ErrOutOfRange, not a JoinError: the transport
// treats it as malformed game bytes (net/ws: close 1007).
//
// Admission limits (Config.MaxPlayers, MaxRooms, MaxMatchesPerIP) refuse
// with ErrCodeNodeFull or ErrCodeRateLimited before anything changes;
// resumes are never refused by them.
func (m *Manager) Join(ctx context.Context, req JoinRequest) (seat Seat, err error) {
	defer func() { named(seat, req.Hello.Name) }()
	if req.Conn == nil {
		return nil, errors.New("join: nil conn")
	}
	if m.isClosed() {
		return nil, &JoinError{Code: schema.ErrCodeShuttingDown, Message: "node is shutting down"}
	}
	h := &req.Hello
	if h.ResumeToken != "" {
		return m.resume(ctx, req)
	}
	if h.MatchID != "" {
		mt := m.lookup(h.MatchID)
		if mt == nil {
			var err error
			if mt, err = m.locate(ctx, h.MatchID); err != nil {
				return nil, err
			}
		}
		seat, err := mt.join(ctx, &req)
		if errors.Is(err, errMatchClosed) {
			// Closed (or moved) meanwhile: ask the directory again.
			if mt, err = m.locate(ctx, h.MatchID); err != nil {
				return nil, err
			}
			return mt.join(ctx, &req)
		}
		return seat, err
	}
	game := h.Game
	if game == "" {
		game = m.cfg.DefaultGame
	}
	if !m.games.Has(game) {
		return nil, &JoinError{Code: schema.ErrCodeBadRequest, Message: fmt.Sprintf("unknown game %q", game)}
	}
	gs := m.games.Schema(game)
	if err := schemaError(game, gs, h.SchemaHash); err != nil {
		return nil, err // before a match could be created for it
	}
	key, err := matchKey(gs, h.Join)
	if err != nil {
		return nil, err
	}
	if m.adm.full() {
		// Checked before a match could be created for a player who would
		// not get a seat in it; Match.join checks again, exactly.
		m.adm.refusedPlayers.Add(1)
		return nil, errMaxPlayers
	}
	var refusedBy map[*Match]bool // matches whose game refused the player
	for {
		mt, created, err := m.pick(ctx, game, key, &req, refusedBy)
		if err != nil {
			return nil, err
		}
		seat, err := mt.join(ctx, &req)
		if err != nil && created {
			// Made for this Hello, which got no seat in it: nobody is
			// waiting for it.
			mt.abandonIfEmpty()
		}
		var je *JoinError
		if errors.Is(err, errMatchClosed) || errors.As(err, &je) && je.Code == schema.ErrCodeMatchFull {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue // lost a race for the last seat: pick again
		}
		if je != nil && je.Code == schema.ErrCodeJoinRefused && !created && len(refusedBy) < maxRefusals-1 {
			// The game of a running match refused the player (a card game
			// that has started takes nobody): try another match, or a new
			// one. A match made for this Hello that refuses it would be
			// followed by another that does the same: that refusal stands.
			if refusedBy == nil {
				refusedBy = make(map[*Match]bool, maxRefusals)
			}
			refusedBy[mt] = true
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		return seat, err
	}
}

// resume handles a Hello with a resume token.
func (m *Manager) resume(ctx context.Context, req JoinRequest) (Seat, error) {
	h := &req.Hello
	claims, err := token.VerifyResume(m.secret, h.ResumeToken, 0, time.Now())
	if err != nil {
		return nil, &JoinError{Code: schema.ErrCodeResumeRefused, Message: "resume refused: invalid resume token"}
	}
	if req.PlayerID != 0 && req.PlayerID != claims.PlayerID {
		return nil, &JoinError{Code: schema.ErrCodeResumeRefused, Message: "resume refused: the token belongs to another player"}
	}
	if h.MatchID != "" && h.MatchID != claims.MatchID {
		return nil, &JoinError{Code: schema.ErrCodeResumeRefused, Message: "resume refused: the token is for another match"}
	}
	mt := m.lookup(claims.MatchID)
	if mt == nil {
		var err error
		mt, err = m.locate(ctx, claims.MatchID)
		var je *JoinError
		if errors.As(err, &je) && je.Code == schema.ErrCodeMatchNotFound {
			return nil, &JoinError{Code: schema.ErrCodeResumeRefused, Message: fmt.Sprintf("resume refused: match %s has ended", claims.MatchID)}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := schemaError(mt.game, mt.gs, h.SchemaHash); err != nil {
		return nil, err
	}
	return mt.resume(ctx, req.Conn, claims.PlayerID, &claims, h)
}

// locate finds a match this node does not run (yet): a redirect to its
// owner, a wait for our own adoption of it, or match not found.
func (m *Manager) locate(ctx context.Context, matchID string) (*Match, error) {
	local, err := m.place.Locate(ctx, matchID)
	if err != nil {
		return nil, err
	}
	if local {
		return m.waitAdopted(ctx, matchID)
	}
	if mt := m.lookup(matchID); mt != nil { // adopted while Locate ran
		return mt, nil
	}
	return nil, &JoinError{Code: schema.ErrCodeMatchNotFound, Message: fmt.Sprintf("match %s not found", matchID)}
}

// waitAdopted waits until this node runs matchID (Adopt), for at most
// Config.AdoptWait or until ctx ends.
func (m *Manager) waitAdopted(ctx context.Context, matchID string) (*Match, error) {
	t := time.NewTimer(m.cfg.AdoptWait)
	defer t.Stop()
	for {
		m.mu.Lock()
		mt, closed, wake := m.matches[matchID], m.closed, m.adopted
		m.mu.Unlock()
		switch {
		case mt != nil:
			return mt, nil
		case closed:
			return nil, &JoinError{Code: schema.ErrCodeShuttingDown, Message: "node is shutting down"}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, &JoinError{Code: schema.ErrCodeUnavailable, Message: fmt.Sprintf("match %s is not running here yet", matchID)}
		}
	}
}

// pick returns the oldest open match of game and matchmaking key with a
// free seat, except those in skip (their game refused req's player):
// matchmaking fills the matches that have a seat before it creates one.
// When there is none, the admission limits may refuse (MaxRooms,
// MaxMatchesPerIP for req); else it asks Placement: create one here, wait
// for the one the directory placed here, or go elsewhere (a
// *RedirectError), all for game and key. created says the match was made
// for req. A match it creates here records key; one the directory placed
// here has it from the directory (Adopt).
//
// The look for an open match and the creation of one are one step per game
// on this node: a pick that finds none holds the game's pick lock until the
// match it created (or was given) runs here, so the picks queued behind it
// find that match open instead of each opening one.
func (m *Manager) pick(ctx context.Context, game, key string, req *JoinRequest, skip map[*Match]bool) (mt *Match, created bool, err error) {
	if mt := m.oldestOpen(game, key, skip); mt != nil {
		return mt, false, nil
	}
	release, err := m.lockPick(ctx, game)
	if err != nil {
		return nil, false, err
	}
	defer release()
	if mt := m.oldestOpen(game, key, skip); mt != nil { // made by the pick we queued behind
		return mt, false, nil
	}
	m.mu.Lock()
	rooms := len(m.matches)
	m.mu.Unlock()
	if err := m.adm.roomFor(rooms); err != nil {
		return nil, false, err
	}
	if err := m.adm.mayCreate(req); err != nil {
		return nil, false, err
	}
	id, err := m.place.Admit(ctx, game, key)
	if err != nil {
		return nil, false, err
	}
	if id != "" {
		mt, err := m.waitAdopted(ctx, id) // adopted with key (AdoptRequest.Key)
		return mt, err == nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// Another join may have created one while Admit ran.
	if mt := m.oldestOpenLocked(game, key, skip); mt != nil {
		return mt, false, nil
	}
	mt, err = m.createLocked(game, key)
	return mt, err == nil, err
}

// keyOf returns mt's matchmaking key.
func (m *Manager) keyOf(mt *Match) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return mt.key
}

// lockPick takes game's pick lock, honouring ctx.
func (m *Manager) lockPick(ctx context.Context, game string) (func(), error) {
	m.mu.Lock()
	ch := m.picking[game]
	if ch == nil {
		ch = make(chan struct{}, 1)
		m.picking[game] = ch
	}
	m.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Manager) oldestOpen(game, key string, skip map[*Match]bool) *Match {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.oldestOpenLocked(game, key, skip)
}

// oldestOpenLocked returns the oldest match of game and key with a free
// seat, but those in skip (m.mu held).
func (m *Manager) oldestOpenLocked(game, key string, skip map[*Match]bool) *Match {
	for _, mt := range m.order {
		if mt.game == game && mt.key == key && int(mt.taken.Load()) < mt.capacity && !skip[mt] {
			return mt
		}
	}
	return nil
}

// seatsOf is the number of players a match of game holds: its Spec.Seats,
// else Config.Seats.
func (m *Manager) seatsOf(game string) int {
	if n := m.games.Seats(game); n > 0 {
		return n
	}
	return m.cfg.Seats
}

// Create starts a new, empty match of game (admin API: create-match). It
// closes after EmptyTimeout if nobody joins.
func (m *Manager) Create(ctx context.Context, game string) (MatchInfo, error) {
	if game == "" {
		game = m.cfg.DefaultGame
	}
	if !m.games.Has(game) {
		return MatchInfo{}, fmt.Errorf("create match: %w %q", ErrUnknownGame, game)
	}
	m.mu.Lock()
	rooms := len(m.matches)
	m.mu.Unlock()
	if err := m.adm.roomFor(rooms); err != nil {
		return MatchInfo{}, fmt.Errorf("create match: %w", err)
	}
	id, err := m.place.Admit(ctx, game, "")
	if err != nil {
		return MatchInfo{}, fmt.Errorf("create match: %w", err)
	}
	var mt *Match
	if id != "" {
		mt, err = m.waitAdopted(ctx, id)
	} else {
		m.mu.Lock()
		mt, err = m.createLocked(game, "")
		m.mu.Unlock()
	}
	if err != nil {
		return MatchInfo{}, fmt.Errorf("create match: %w", err)
	}
	return mt.Info(), nil
}

// createLocked creates and starts a fresh match of game and matchmaking key
// here (m.mu held), without the directory (LocalPlacement), unless
// MaxRooms run already. The match has no seat yet, so its empty timer runs
// from now: the first join disarms it, and a match nobody joins closes
// after EmptyTimeout (at once when it was made for a Hello that did not
// get a seat in it).
func (m *Manager) createLocked(game, key string) (*Match, error) {
	if m.closed {
		return nil, &JoinError{Code: schema.ErrCodeShuttingDown, Message: "node is shutting down"}
	}
	if err := m.adm.roomFor(len(m.matches)); err != nil {
		return nil, err
	}
	id := randomID(6)
	for m.matches[id] != nil {
		id = randomID(6)
	}
	mt, err := m.newMatch(matchSpec{id: id, game: game, seed: mrand.Int64()})
	if err != nil {
		return nil, err
	}
	mt.key = key
	m.registerLocked(mt)
	ev := mt.log.Info()
	if key != "" {
		ev = ev.Str(keyMatchKey, key)
	}
	ev.Msg("match created")
	return mt, nil
}

// matchSpec describes a match to start: fresh (restore nil) or from a
// checkpoint, and log the tick log that continues it.
type matchSpec struct {
	id, game string
	seed     int64
	epoch    uint64
	restore  *checkpoint
	log      []byte
}

// newMatch builds a match and its game (restored when sp.restore is set,
// then replayed through sp.log) and starts its room; the caller registers
// it. The game is touched here only before the room starts, so no lock is
// needed.
func (m *Manager) newMatch(sp matchSpec) (*Match, error) {
	seed := sp.seed
	if sp.restore != nil {
		seed = sp.restore.Seed
	}
	newGame := func() (Game, error) {
		g, err := m.games.New(sp.game, seed)
		if err != nil {
			return nil, err
		}
		if tr, ok := g.(TickRated); ok {
			tr.SetTickRate(m.cfg.TickRate)
		}
		if ck := sp.restore; ck != nil {
			if err := g.UnmarshalState(ck.State); err != nil {
				return nil, fmt.Errorf("restore match %s at tick %d: %w", sp.id, ck.Tick, err)
			}
		}
		return g, nil
	}
	g, err := newGame()
	if err != nil {
		return nil, err
	}
	gs := m.games.Schema(sp.game)
	simCfg := m.simCfg
	if gs != nil {
		simCfg.Codec = gs.Codec // the room encodes the game's state with it
	}
	mt := &Match{
		id: sp.id, game: sp.game, seed: seed, epoch: sp.epoch, created: time.Now(), mgr: m, gs: gs,
		capacity: m.seatsOf(sp.game),
		log:      m.log.With().Str(keyMatch, sp.id).Str(keyGame, sp.game).Logger(),
		seats:    make(map[uint32]*seat),
		left:     make(map[uint32]bool),
	}
	var rs *restored
	if ck := sp.restore; ck != nil {
		rs = &restored{tick: ck.Tick, seats: ck.Seats, tokens: ck.Tokens, nextGuest: ck.NextGuest}
	}
	if len(sp.log) > 0 {
		r, err := replay(g, sp.restore, sp.log, simCfg)
		switch {
		case errors.Is(err, ErrReplayDiverged):
			// The game is not deterministic: what it replayed is not what
			// the players saw. The checkpoint alone is right.
			m.replays.diverged.Inc()
			mt.log.Error().Err(err).Uint32(keyTick, r.tick).Msg("tick log replay diverged: restarting the match from its checkpoint")
			if g, err = newGame(); err != nil {
				return nil, err
			}
		case r.replayed > 0:
			if err != nil {
				mt.log.Warn().Err(err).Int(keyReplayed, r.replayed).Msg("tick log replayed only up to where it stops being usable")
			}
			m.replays.replays.Inc()
			m.replays.ticks.Add(float64(r.replayed))
			rs = &r
		case err != nil:
			mt.log.Warn().Err(err).Msg("tick log not replayed")
		}
	}
	var opts []sim.Option
	if m.cfg.Lease != nil {
		opts = append(opts, sim.WithGate((*matchGate)(mt)))
	}
	if m.cfg.Checkpoints != nil {
		opts = append(opts, sim.WithCheckpoint(m.cfg.CheckpointInterval, mt.onCheckpoint))
	}
	if m.cfg.TickLog != nil {
		opts = append(opts, sim.WithRecord(mt.onRecord, mt.seatNote))
	}
	if rs != nil {
		opts = append(opts, sim.WithRestore(rs.tick, rs.seats))
		if len(rs.events) > 0 {
			opts = append(opts, sim.WithQueuedEvents(rs.events))
		}
		mt.adoptTick = rs.tick
		mt.replayed = rs.replayed
		mt.nextGuest = rs.nextGuest
		mt.guests.Store(rs.nextGuest)
	}
	var metrics sim.Metrics
	if m.cfg.RoomMetrics != nil {
		metrics = m.cfg.RoomMetrics(sp.id, sp.game)
	}
	metrics = mt.stats.metrics(mt, metrics)
	room, err := sim.NewRoom(sp.id, simCfg, g, metrics, opts...)
	if err != nil {
		return nil, fmt.Errorf("create match %s: %w", sp.id, err)
	}
	mt.room = room
	room.Start()
	mt.mu.Lock()
	if rs != nil {
		// The restored players are seated as if they had just
		// disconnected: each has ResumeGrace to come back, with the newest
		// resume token the old owner issued (or a later one: seat.accepts).
		// They count towards MaxPlayers, which does not refuse them.
		toks := make(map[uint32]seatToken, len(rs.seats))
		for i, st := range rs.seats {
			s := &seat{player: st.Player, entity: st.Entity, tok: rs.tokens[i], restored: true}
			gen := s.gen.Load()
			s.grace = time.AfterFunc(m.cfg.ResumeGrace, func() { mt.expire(s, gen) })
			mt.seats[st.Player] = s
			toks[st.Player] = s.tok
		}
		mt.tokens.Store(&toks)
		mt.taken.Store(int32(len(mt.seats)))
		m.adm.seated.Add(int64(len(mt.seats)))
	}
	if len(mt.seats) == 0 {
		mt.armEmpty(m.cfg.EmptyTimeout)
	}
	mt.mu.Unlock()
	return mt, nil
}

// registerLocked adds a started match to the table, wakes the joins
// waiting for an adoption and starts its watcher (m.mu held).
func (m *Manager) registerLocked(mt *Match) {
	m.matches[mt.id] = mt
	m.order = append(m.order, mt)
	close(m.adopted)
	m.adopted = make(chan struct{})
	m.watch.Add(1)
	go pprof.Do(context.Background(), pprof.Labels("match", mt.id), func(context.Context) { m.watchRoom(mt) })
}

// watchRoom waits for a match's room to exit. A room that crashed (its
// game panicked) takes its match down: players are kicked with
// ErrCodeUnavailable. A room whose game ended the match (Outbox.End: a
// *sim.EndedError) ends it as an operator would (gameEnded). Owned by the
// manager; exits with the room.
func (m *Manager) watchRoom(mt *Match) {
	defer m.watch.Done()
	<-mt.room.Done()
	err := mt.room.Err()
	if err == nil {
		return // stopped by closeIfEmpty or Shutdown
	}
	var ended *sim.EndedError
	if errors.As(err, &ended) {
		m.gameEnded(mt, ended.Reason) // the game's Outbox.End
		return
	}
	mt.log.Error().Err(err).Msg("match crashed")
	m.remove(mt)
	for _, c := range mt.close() {
		c.Kick(schema.ErrCodeUnavailable, "match crashed")
	}
	m.end(mt)
}

// end tells the directory and the Checkpointer that mt is over here.
func (m *Manager) end(mt *Match) {
	if c := m.cfg.Checkpoints; c != nil {
		c.Forget(mt.id)
	}
	if l := m.cfg.TickLog; l != nil {
		l.Forget(mt.id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := m.place.End(ctx, mt.id, mt.epoch); err != nil {
		mt.log.Warn().Err(err).Msg("cannot end the match in the directory")
	}
}

// closeIfEmpty closes mt if it is still empty since the timer of gen was
// armed, after d (timer goroutine).
func (m *Manager) closeIfEmpty(mt *Match, gen uint64, d time.Duration) {
	m.mu.Lock()
	mt.mu.Lock()
	if mt.closed || mt.emptyGen != gen || len(mt.seats) > 0 {
		mt.mu.Unlock()
		m.mu.Unlock()
		return
	}
	mt.mu.Unlock()
	m.removeLocked(mt)
	m.mu.Unlock()
	mt.close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := mt.room.Stop(ctx); err != nil {
		mt.log.Warn().Err(err).Msg("stop room")
	}
	m.end(mt)
	mt.log.Info().Dur(keyEmptyFor, d).Msg("match closed")
}

func (m *Manager) remove(mt *Match) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(mt)
}

func (m *Manager) removeLocked(mt *Match) {
	if m.matches[mt.id] == mt {
		delete(m.matches, mt.id)
		m.order = slices.DeleteFunc(m.order, func(x *Match) bool { return x == mt })
	}
}

func (m *Manager) lookup(id string) *Match {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.matches[id]
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Matches lists the running matches, oldest first. Safe from any
// goroutine (admin API).
func (m *Manager) Matches() []MatchInfo {
	m.mu.Lock()
	list := slices.Clone(m.order)
	m.mu.Unlock()
	infos := make([]MatchInfo, 0, len(list))
	for _, mt := range list {
		infos = append(infos, mt.Info())
	}
	return infos
}

// Shutdown stops every match and refuses further joins. Connections are
// not closed here (net/ws closes its sessions with 1001). It is idempotent
// and returns when every room has stopped, or ctx is done.
func (m *Manager) Shutdown(ctx context.Context) error {
	// Stop accepting: Join and pick see closed from now on.
	m.mu.Lock()
	m.closed = true
	list := m.order
	m.order, m.matches = nil, make(map[string]*Match)
	m.mu.Unlock()
	// Stop every match: kill its seats and timers, take a last checkpoint
	// (the cluster restores it if this node does not come back), then stop
	// its room loop.
	var errs []error
	for _, mt := range list {
		mt.close()
		m.finalCheckpoint(ctx, mt)
		if err := mt.room.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		mt.log.Info().Msg("match stopped")
	}
	// Wait for the watchers, which exit once their rooms have.
	done := make(chan struct{})
	go func() { m.watch.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
