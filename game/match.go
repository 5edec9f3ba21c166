package game

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/token"
	"github.com/ticksync/ticksync/sim"
)

// commandTimeout bounds the room commands of Disconnect, Leave and the
// timers, which have no caller context.
const commandTimeout = 5 * time.Second

// errMatchClosed: the match closed between matchmaking picking it and the
// join; the manager picks again.
var errMatchClosed = errors.New("match closed")

// Match is one running match: a game, the room that ticks it, and its
// seats. The room goroutine owns the game; mu guards the seats and the
// lifecycle, and is held across the room commands that change a seat so
// that joins, resumes, disconnects and expiries of one match apply in one
// order. The room loop never takes mu.
type Match struct {
	id        string
	game      string
	seed      int64
	epoch     uint64 // cluster ownership epoch (0 on a node without a cluster)
	adoptTick uint32 // the tick it was restored at: the checkpoint's, or the last replayed (0: started fresh)
	replayed  int    // ticks of the tick log replayed past the checkpoint when adopted
	created   time.Time
	mgr       *Manager
	room      *sim.Room
	log       zerolog.Logger
	// gs is the game's schema.
	gs *GameSchema
	// capacity is the number of players it holds: the game's Spec.Seats,
	// else the node's Config.Seats.
	capacity int
	// key is the matchmaking key (the (match_key) values of the creator's
	// join payload, or the directory's AdoptRequest.Key; "" for none),
	// guarded by Manager.mu: matchmaking seats only players of the same
	// key here.
	key string

	taken  atomic.Int32  // len(seats), for matchmaking without mu
	guests atomic.Uint32 // nextGuest, for checkpoints (room goroutine, no mu)
	// tokens maps each seated player to its seat's newest resume token,
	// for checkpoints (room goroutine, no mu). Replaced as a whole under mu
	// (copy on write) whenever one changes: joins and resumes, rare next to
	// ticks.
	tokens atomic.Pointer[map[uint32]seatToken]

	ckptBuf []byte // room goroutine only: the encoded checkpoint, reused
	// changes counts the seat changes the room logged since its last tick
	// record (room goroutine only): a checkpoint taken between two ticks
	// holds them, and says so (replay.go).
	changes uint32

	stats matchStats // for operators (Manager.Detail)

	mu        sync.Mutex
	seats     map[uint32]*seat
	left      map[uint32]bool // players who left or whose grace ran out
	nextGuest uint32          // last guest id handed out; never reused
	closed    bool
	emptyGen  uint64 // invalidates older empty timers
	empty     *time.Timer
}

// seat is one player's place. Fields other than gen are guarded by
// Match.mu.
type seat struct {
	player, entity uint32
	conn           Conn        // nil while disconnected
	grace          *time.Timer // running while disconnected
	// trusted: a connection of this room has held the seat, so a resume's
	// Hello.last_tick names a tick of this room's history. A seat restored
	// from another owner's checkpoint is not: its client's ticks are the
	// old owner's, and a delta against our tick of the same number would
	// build a wrong world.
	trusted bool
	// tok names the newest resume token issued for this seat (a fresh one
	// with every Welcome); a resume must present it, so a newer token
	// revokes the older ones (seat.accepts).
	tok seatToken
	// restored: tok comes from another owner's checkpoint, which may
	// predate a token that owner issued just before it was lost; a token
	// issued after tok is accepted too, until the seat's first Welcome
	// here.
	restored bool
	// gen changes whenever a connection takes the seat, loses it, or the
	// seat is freed; a seatHandle of another gen is dead.
	gen atomic.Uint64
	// name is the player's name from its newest Hello (Manager.Join).
	name string
	// stats: input age and round trip (Seat.Input), for operators.
	stats playerStats
}

// MatchInfo describes a match for listings (admin API).
type MatchInfo struct {
	ID        string    `json:"id"`
	Game      string    `json:"game"`
	Players   int       `json:"players"`   // seats taken, including players within their resume grace
	Connected int       `json:"connected"` // players with a live connection
	Seats     int       `json:"seats"`
	Tick      uint32    `json:"tick"`
	Seed      int64     `json:"seed"`
	Epoch     uint64    `json:"epoch,omitempty"`
	Created   time.Time `json:"created"`
	// SchemaHash is the game's schema hash (hex); "" for a game without one.
	SchemaHash string `json:"schema_hash,omitempty"`
	// Key is the matchmaking key: the (match_key) values of the join
	// payload of the player it was created for; "" for none.
	Key string `json:"key,omitempty"`
}

// Info returns the match's listing.
func (m *Match) Info() MatchInfo {
	key := m.mgr.keyOf(m)
	m.mu.Lock()
	defer m.mu.Unlock()
	info := MatchInfo{
		ID: m.id, Game: m.game, Players: len(m.seats), Seats: m.capacity,
		Tick: m.room.Tick(), Seed: m.seed, Epoch: m.epoch, Created: m.created, Key: key,
	}
	if m.gs != nil {
		info.SchemaHash = m.gs.hash
	}
	for _, s := range m.seats {
		if s.conn != nil {
			info.Connected++
		}
	}
	return info
}

// ID returns the match id.
func (m *Match) ID() string { return m.id }

// join seats the player of req (req.PlayerID 0: a guest, given a fresh
// id), handing the game its name, join payload and claims (sim.JoinInfo).
// An authenticated player who already has a seat here takes it back. A
// Hello whose schema hash is not the match's is refused before anything
// changes; a game's refusal (*sim.RefuseError) becomes ErrCodeJoinRefused
// with the game's reason. A join payload the game's schema refuses is an
// error wrapping gameschema.ErrMalformed or ErrOutOfRange.
func (m *Match) join(ctx context.Context, req *JoinRequest) (Seat, error) {
	conn, player := req.Conn, req.PlayerID
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errMatchClosed
	}
	if err := schemaError(m.game, m.gs, req.Hello.SchemaHash); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	if player != 0 && m.seats[player] != nil {
		// An authenticated player takes its seat back: its auth token
		// proves who it is, no resume token needed.
		m.mu.Unlock()
		return m.resume(ctx, conn, player, nil, &req.Hello)
	}
	defer m.mu.Unlock()
	if m.gs != nil {
		// Malformed game bytes: the error wraps gameschema.ErrMalformed or
		// ErrOutOfRange (net/ws closes 1007), it is not a JoinError.
		if err := m.gs.Schema.VerifyJoin(req.Hello.Join); err != nil {
			return nil, fmt.Errorf("join payload: %w", err)
		}
	}
	if !m.leased() {
		return nil, errLeaseLost
	}
	if len(m.seats) >= m.capacity {
		return nil, &JoinError{Code: schema.ErrCodeMatchFull, Message: fmt.Sprintf("match %s is full (%d seats)", m.id, m.capacity)}
	}
	if !m.mgr.adm.reserveSeat() {
		return nil, errMaxPlayers
	}
	if player == 0 {
		player = m.guestID()
	}
	// The token is published before the room seats the player, so the
	// checkpoint the join triggers carries it.
	tok := newSeatToken()
	m.setToken(player, tok)
	ent, err := m.roomJoin(ctx, player, req)
	if err != nil {
		m.setToken(player, seatToken{})
		m.mgr.adm.releaseSeats(1)
		var re *sim.RefuseError
		if errors.As(err, &re) {
			m.log.Debug().Uint32(keyPlayer, player).Str(keyReason, re.Reason).Msg("join refused by the game")
			return nil, refused(re.Reason)
		}
		return nil, m.roomError("join", err)
	}
	s := &seat{player: player, entity: ent, conn: conn, trusted: true, tok: tok}
	m.seats[player] = s
	delete(m.left, player)
	m.taken.Store(int32(len(m.seats)))
	m.playersChanged()
	m.emptyGen++ // not empty any more: disarm the timer
	if m.empty != nil {
		m.empty.Stop()
		m.empty = nil
	}
	m.log.Debug().Uint32(keyPlayer, player).Uint32(keyEntity, ent).Int(keyPlayers, len(m.seats)).Msg("player joined")
	return m.handle(s, s.gen.Load(), tok), nil
}

// guestID returns a player id never used in this match (mu held).
func (m *Match) guestID() uint32 {
	for {
		m.nextGuest++
		if m.nextGuest == 0 {
			m.nextGuest = 1
		}
		if m.seats[m.nextGuest] == nil && !m.left[m.nextGuest] {
			m.guests.Store(m.nextGuest)
			return m.nextGuest
		}
	}
}

// resume gives player's seat to conn. tok is the resume token presented
// (nil: an authenticated player taking its seat back): it must be the
// newest one issued for the seat. The previous connection, if still live,
// is kicked with ErrCodeReplaced, and the tokens issued before are revoked
// (the Welcome carries a new one). From the Hello: LastTick is the newest
// snapshot the client holds (the first snapshot is a delta against it if
// possible), EventAck the newest server event it holds (the seat's server
// events are numbered after it: sim.Room.Resume).
func (m *Match) resume(ctx context.Context, conn Conn, player uint32, tok *token.Resume, h *schema.Hello) (Seat, error) {
	lastTick := h.LastTick
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, &JoinError{Code: schema.ErrCodeResumeRefused, Message: fmt.Sprintf("resume refused: match %s has ended", m.id)}
	}
	s := m.seats[player]
	if s == nil {
		m.mu.Unlock()
		return nil, m.seatGone(player)
	}
	if tok != nil && !s.accepts(tok) {
		m.mu.Unlock()
		return nil, errTokenSuperseded
	}
	if !m.leased() {
		m.mu.Unlock()
		return nil, errLeaseLost
	}
	if !s.trusted || lastTick <= m.adoptTick {
		lastTick = 0 // not our history: the first snapshot is full
	}
	// A new token for the new connection; published before the Attach so
	// that the checkpoint it triggers carries it.
	newTok := newSeatToken()
	m.setToken(player, newTok)
	if err := m.room.Resume(ctx, player, conn, lastTick, h.EventAck); err != nil {
		m.setToken(player, s.tok)
		m.mu.Unlock()
		return nil, m.roomError("resume", err)
	}
	s.tok, s.restored = newTok, false
	s.trusted = true
	old := s.conn
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	s.conn = conn
	gen := s.gen.Add(1)
	m.mu.Unlock()
	if old != nil {
		old.Kick(schema.ErrCodeReplaced, "replaced by a newer connection")
	}
	m.log.Debug().Uint32(keyPlayer, player).Bool("replaced", old != nil).Msg("player resumed")
	return m.handle(s, gen, newTok), nil
}

// errTokenSuperseded refuses a resume token older than the newest one
// issued for its seat.
var errTokenSuperseded = &JoinError{Code: schema.ErrCodeResumeRefused, Message: "resume refused: a newer resume token was issued for this seat"}

// seatToken names a resume token issued for a seat: its nonce and its
// issued-at (unix seconds), as the token carries them.
type seatToken struct {
	Nonce  uint64
	Issued int64
}

// newSeatToken returns a token name issued now with a fresh nonce, never 0
// (the "any token" of a seat restored from a checkpoint that predates
// nonces). Tokens are signed, so nonces need to be unique, not secret.
func newSeatToken() seatToken {
	for {
		if n := mrand.Uint64(); n != 0 {
			return seatToken{Nonce: n, Issued: time.Now().Unix()}
		}
	}
}

// accepts reports whether a resume may present t (mu held): the newest
// token issued for the seat; with a restored seat also one its old owner
// issued after the checkpoint it came from (strictly later: issued-at has
// whole seconds); any token of a seat from a checkpoint without tokens.
func (s *seat) accepts(t *token.Resume) bool {
	switch {
	case s.tok.Nonce == 0, t.Nonce == s.tok.Nonce:
		return true
	case s.restored && t.IssuedAt.Unix() > s.tok.Issued:
		return true
	}
	return false
}

// setToken publishes player's seat token for checkpoints; the zero
// seatToken removes it (mu held).
func (m *Match) setToken(player uint32, tok seatToken) {
	var old map[uint32]seatToken
	if p := m.tokens.Load(); p != nil {
		old = *p
	}
	next := make(map[uint32]seatToken, len(old)+1)
	for id, t := range old {
		next[id] = t
	}
	if tok != (seatToken{}) {
		next[player] = tok
	} else {
		delete(next, player)
	}
	m.tokens.Store(&next)
}

// seatGone is the refusal of a resume whose seat no longer exists.
func (m *Match) seatGone(player uint32) error {
	msg := fmt.Sprintf("resume token expired: seat freed after %s", m.mgr.cfg.ResumeGrace)
	if !m.left[player] {
		msg = "resume refused: no seat for this player in the match"
	}
	return &JoinError{Code: schema.ErrCodeResumeRefused, Message: msg}
}

func (m *Match) roomError(op string, err error) error {
	if errors.Is(err, sim.ErrStopped) {
		return &JoinError{Code: schema.ErrCodeUnavailable, Message: "match is not running"}
	}
	return fmt.Errorf("%s match %s: %w", op, m.id, err)
}

// handle returns the Seat given to one connection, with a resume token of
// tok.
func (m *Match) handle(s *seat, gen uint64, tok seatToken) *seatHandle {
	h := &seatHandle{m: m, s: s, gen: gen, welcome: schema.Welcome{
		SessionID:   randomID(8),
		ResumeToken: token.MintResume(m.mgr.secret, m.id, s.player, tok.Nonce, time.Unix(tok.Issued, 0)),
		PlayerID:    s.player,
		EntityID:    s.entity,
		TickRate:    uint16(m.mgr.cfg.TickRate),
		ServerTick:  m.room.Tick(),
		NodeID:      m.mgr.cfg.NodeID,
		MatchID:     m.id,
		Game:        m.game,
	}}
	if m.gs != nil {
		h.welcome.SchemaHash = m.gs.hash
		h.welcome.EventSeq = m.eventSeq(s.player)
	}
	return h
}

// disconnect starts the resume grace of h's seat.
func (m *Match) disconnect(h *seatHandle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := h.s
	if m.closed || s.gen.Load() != h.gen || m.seats[s.player] != s {
		return // replaced, freed, or the match ended
	}
	if m.mgr.cfg.ResumeGrace == 0 {
		m.free(s, "disconnected", true)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := m.room.Detach(ctx, s.player); err != nil {
		m.log.Warn().Err(err).Uint32(keyPlayer, s.player).Msg("detach failed")
	}
	s.conn = nil
	gen := s.gen.Add(1)
	s.grace = time.AfterFunc(m.mgr.cfg.ResumeGrace, func() { m.expire(s, gen) })
	m.log.Debug().Uint32(keyPlayer, s.player).Msg("player disconnected; seat kept for resume")
}

// expire frees a seat whose resume grace ran out (timer goroutine).
func (m *Match) expire(s *seat, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || s.gen.Load() != gen || m.seats[s.player] != s || s.conn != nil {
		return // resumed, or already freed
	}
	m.free(s, "resume grace expired", true)
}

// leave frees h's seat now.
func (m *Match) leave(h *seatHandle) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := h.s
	if m.closed || s.gen.Load() != h.gen || m.seats[s.player] != s {
		return
	}
	m.free(s, "left", false)
}

// free removes a seat and its player from the game, and arms the empty
// timer when it was the last (mu held). abandoned says its player is gone
// past the resume grace (or there is none): when every seat went that way
// the match closes at once, nobody being left to come back; after a Leave
// it waits EmptyTimeout for someone to join.
func (m *Match) free(s *seat, reason string, abandoned bool) {
	s.gen.Add(1)
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	s.conn = nil
	delete(m.seats, s.player)
	m.left[s.player] = true
	m.taken.Store(int32(len(m.seats)))
	m.setToken(s.player, seatToken{})
	m.mgr.adm.releaseSeats(1)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if err := m.room.Leave(ctx, s.player); err != nil && !errors.Is(err, sim.ErrStopped) {
		m.log.Warn().Err(err).Uint32(keyPlayer, s.player).Msg("leave failed")
	}
	m.log.Debug().Uint32(keyPlayer, s.player).Str(keyReason, reason).Int(keyPlayers, len(m.seats)).Msg("seat freed")
	m.playersChanged()
	if len(m.seats) == 0 {
		if abandoned {
			m.armEmpty(0)
		} else {
			m.armEmpty(m.mgr.cfg.EmptyTimeout)
		}
	}
}

// errLeaseLost refuses a join into a room this node may not run now (its
// cluster lease lapsed, or the match is moving): the client tries another
// node, which knows the owner.
var errLeaseLost = &JoinError{Code: schema.ErrCodeUnavailable, Message: "match paused: this node is not in contact with the cluster"}

// leased reports whether the room may run now (Config.Lease).
func (m *Match) leased() bool {
	l := m.mgr.cfg.Lease
	return l == nil || l.Valid(m.id, m.epoch)
}

// matchGate is the sim.Gate of a match's room: the room ticks only while
// this node holds the match at its epoch.
type matchGate Match

func (g *matchGate) Open() bool { return (*Match)(g).leased() }

// playersChanged tells the Checkpointer the seat count (mu held).
func (m *Match) playersChanged() {
	if c := m.mgr.cfg.Checkpoints; c != nil {
		c.SetPlayers(m.id, m.epoch, len(m.seats))
	}
}

// onCheckpoint is the room's checkpoint hook (room goroutine): it encodes
// the checkpoint into the match's reused buffer and hands it to the
// Checkpointer, which copies it.
func (m *Match) onCheckpoint(tick uint32, state []byte, seats []sim.Seat) {
	m.ckptBuf = appendCheckpoint(m.ckptBuf[:0], tick, m.changes, m.seed, m.guests.Load(), m.game, seats, m.seatTokens(), state)
	m.mgr.cfg.Checkpoints.Checkpoint(m.id, m.epoch, tick, m.ckptBuf)
}

// liveConns returns the connections holding a seat now.
func (m *Match) liveConns() []Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	var conns []Conn
	for _, s := range m.seats {
		if s.conn != nil {
			conns = append(conns, s.conn)
		}
	}
	return conns
}

// seatTokens returns the published seat tokens (any goroutine; read only).
func (m *Match) seatTokens() map[uint32]seatToken {
	if p := m.tokens.Load(); p != nil {
		return *p
	}
	return nil
}

// armEmpty starts the empty timer: the match closes after d unless a seat
// is taken meanwhile (mu held).
func (m *Match) armEmpty(d time.Duration) {
	m.emptyGen++
	gen := m.emptyGen
	if m.empty != nil {
		m.empty.Stop()
	}
	m.empty = time.AfterFunc(d, func() { m.mgr.closeIfEmpty(m, gen, d) })
}

// abandonIfEmpty closes the match at once if no seat is taken: the Hello it
// was made for got none (its join failed), and nobody else has joined.
func (m *Match) abandonIfEmpty() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed && len(m.seats) == 0 {
		m.armEmpty(0)
	}
}

// close marks the match closed, kills every Seat handed out, stops the
// timers, and returns the live connections (mu not held). The caller stops
// the room.
func (m *Match) close() []Conn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.emptyGen++
	if m.empty != nil {
		m.empty.Stop()
		m.empty = nil
	}
	var conns []Conn
	for _, s := range m.seats {
		s.gen.Add(1)
		if s.grace != nil {
			s.grace.Stop()
			s.grace = nil
		}
		if s.conn != nil {
			conns = append(conns, s.conn)
		}
	}
	m.mgr.adm.releaseSeats(len(m.seats)) // not held here any more (a new owner may)
	m.taken.Store(int32(m.capacity))     // never picked again
	return conns
}

// seatHandle is the Seat one connection holds.
type seatHandle struct {
	m       *Match
	s       *seat
	gen     uint64
	welcome schema.Welcome
}

var _ Seat = (*seatHandle)(nil)

func (h *seatHandle) Welcome() schema.Welcome { return h.welcome }

func (h *seatHandle) Input(in *schema.Input) bool {
	if h.s.gen.Load() != h.gen {
		return false
	}
	h.s.stats.input(&h.m.stats, in.AckTick, time.Now())
	return h.m.room.PushInput(h.s.player, in)
}

func (h *seatHandle) Disconnect() { h.m.disconnect(h) }

func (h *seatHandle) Leave() { h.m.leave(h) }

func (h *seatHandle) Event(ev *schema.Event) bool {
	if h.m.gs == nil || h.s.gen.Load() != h.gen {
		return false
	}
	return h.m.pushEvent(h.s.player, ev)
}

func (h *seatHandle) Schema() *GameSchema { return h.m.gs }
