package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/ticksync/ticksync/replication"
	"github.com/ticksync/ticksync/replication/command"
	"github.com/ticksync/ticksync/replication/internal/httpapi"
)

// The match endpoints: list, get (with the owner's live view), create,
// end, move, kick.

// match is the row of m, with its room's tick when it runs here.
func (s *Server) match(m replication.MatchInfo) Match {
	am := Match{ID: m.ID, Game: m.Game, Owner: m.Owner, Epoch: m.Epoch, Players: m.Players, Status: m.Status,
		CheckpointTick: m.CheckpointTick, CheckpointEpoch: m.CheckpointEpoch, CheckpointBytes: m.CheckpointBytes, Seed: m.Seed, Key: m.Key}
	if s.cfg.Ticks != nil && m.Owner == s.node.ID() {
		if t, ok := s.cfg.Ticks.Tick(m.ID); ok {
			am.Tick = &t
		}
	}
	return am
}

// detail is m with its live view from this node's game layer.
func (s *Server) detail(m replication.MatchInfo) MatchDetail {
	d := MatchDetail{Match: s.match(m)}
	switch {
	case s.cfg.Games == nil:
		d.LiveError = "this node has no game layer"
	case m.Owner != s.node.ID():
		d.LiveError = fmt.Sprintf("runs on %s, not on %s", ownerName(m.Owner), s.node.ID())
	default:
		if live, ok := s.cfg.Games.Live(m.ID); ok {
			live.Node = s.node.ID()
			if live.Players == nil {
				live.Players = []Player{}
			}
			d.Live = &live
		} else {
			d.LiveError = fmt.Sprintf("%s owns it but does not run it yet", s.node.ID())
		}
	}
	return d
}

func ownerName(id string) string {
	if id == "" {
		return "no node (orphaned: failover places it)"
	}
	return id
}

// lookup returns match id from this node's FSM, or writes 404.
func (s *Server) lookup(w http.ResponseWriter, id string) (replication.MatchInfo, bool) {
	m, ok := s.node.Lookup(id)
	if !ok {
		writeError(w, fmt.Errorf("%w: %s", replication.ErrMatchNotFound, id), 0)
	}
	return m, ok
}

// ownerAlive says why m's owner (another node) cannot be asked, if it
// cannot.
func (s *Server) ownerAlive(m replication.MatchInfo) error {
	o, ok := s.node.Member(m.Owner)
	if m.Owner == "" || !ok || o.State == replication.NodeDead {
		return fmt.Errorf("%w: owner %s of %s is not alive; failover moves it", replication.ErrNodeNotAlive, ownerName(m.Owner), m.ID)
	}
	return nil
}

func (s *Server) handleMatches(w http.ResponseWriter, _ *http.Request) {
	out := []Match{}
	for _, m := range s.node.Matches() {
		out = append(out, s.match(m))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// handleMatch answers with the match's row as this node holds it (its
// tick only when the room runs here, as in GET matches) and the owner's
// live view: from here when this node runs it, else from the owner (the
// request is forwarded there once). When the owner cannot answer, live is
// null and live_error says why.
func (s *Server) handleMatch(w http.ResponseWriter, r *http.Request) {
	m, ok := s.lookup(w, r.PathValue("id"))
	if !ok {
		return
	}
	d := s.detail(m)
	if m.Owner != s.node.ID() && !forwarded(r) {
		live, err := s.ownerLive(r, m)
		d.Live, d.LiveError = live, ""
		if err != nil {
			d.LiveError = err.Error()
		}
	}
	httpapi.WriteJSON(w, http.StatusOK, d)
}

// ownerLive asks m's owner (another node) for its live view of m.
func (s *Server) ownerLive(r *http.Request, m replication.MatchInfo) (*Live, error) {
	if err := s.ownerAlive(m); err != nil {
		return nil, err
	}
	status, data, err := s.forward(r, nil, m.Owner)
	if err != nil {
		return nil, fmt.Errorf("owner %s did not answer: %w", m.Owner, err)
	}
	var od MatchDetail
	if status != http.StatusOK {
		var eb httpapi.ErrorBody
		_ = json.Unmarshal(data, &eb)
		return nil, fmt.Errorf("owner %s answered %d: %s", m.Owner, status, eb.Error)
	}
	if err := json.Unmarshal(data, &od); err != nil {
		return nil, fmt.Errorf("owner %s: %w", m.Owner, err)
	}
	if od.Live == nil {
		return nil, errors.New(od.LiveError)
	}
	return od.Live, nil
}

// handleCreateMatch creates a match through Raft. The game must be one
// this node has registered (every node of a cluster registers the same
// games); with none given, the only one registered.
func (s *Server) handleCreateMatch(w http.ResponseWriter, r *http.Request) {
	var req CreateMatchRequest
	if err := httpapi.ReadJSON(r, &req); err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	if err := s.checkGame(&req.Game); err != nil {
		writeError(w, err, 0)
		return
	}
	if len(req.Key) > command.MaxMatchKeyLen {
		writeError(w, badRequest(fmt.Errorf("match key of %d bytes: at most %d", len(req.Key), command.MaxMatchKeyLen)), 0)
		return
	}
	if req.ID == "" {
		req.ID = replication.NewMatchID()
	}
	m, err := s.node.CreateMatch(r.Context(), command.CreateMatch{ID: req.ID, Game: req.Game, Owner: req.Node, Seed: req.Seed, Key: req.Key})
	if err != nil {
		writeError(w, err, 0)
		return
	}
	s.settle(r.Context())
	if cur, ok := s.node.Lookup(m.ID); ok {
		m = cur
	}
	httpapi.WriteJSON(w, http.StatusCreated, s.match(m))
}

// checkGame checks *game against the registered games; an empty one
// becomes the only game registered.
func (s *Server) checkGame(game *string) error {
	var names []string
	if s.cfg.Games != nil {
		names = s.cfg.Games.GameNames()
	}
	registered := strings.Join(names, ", ")
	switch {
	case *game == "" && len(names) == 1:
		*game = names[0]
	case *game == "" && len(names) == 0:
		return fmt.Errorf("%w: game is required", replication.ErrBadRequest)
	case *game == "":
		return fmt.Errorf("%w: game is required (registered: %s)", replication.ErrBadRequest, registered)
	case s.cfg.Games != nil && !slices.Contains(names, *game):
		return fmt.Errorf("%w: unknown game %s (registered: %s)", replication.ErrBadRequest, *game, registered)
	}
	return nil
}

// handleEndMatch ends a match through Raft. Its owner then stops the room
// and closes its players' connections with the "match ended" error (close
// 4014); the answer does not wait for that.
func (s *Server) handleEndMatch(w http.ResponseWriter, r *http.Request) {
	m, ok := s.lookup(w, r.PathValue("id"))
	if !ok {
		return
	}
	if err := s.node.EndMatch(r.Context(), m.ID, 0); err != nil {
		writeError(w, err, 0)
		return
	}
	s.settle(r.Context())
	httpapi.WriteJSON(w, http.StatusOK, EndResult{Ended: m.ID, Game: m.Game, Owner: m.Owner, Players: m.Players})
}

// handleMove runs the hand-over on the match's owner (it freezes the room),
// proxying the request there from any other node.
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxJSONBody))
	if err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	var req MoveRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	if req.Node == "" {
		writeError(w, fmt.Errorf("%w: node is required", replication.ErrBadRequest), 0)
		return
	}
	m, ok := s.lookup(w, r.PathValue("id"))
	if !ok {
		return
	}
	if m.Owner != s.node.ID() {
		if err := s.ownerAlive(m); err != nil {
			writeError(w, err, 0)
			return
		}
		s.proxy(w, r, body, m.Owner, "this node does not own the match")
		return
	}
	moved, err := s.node.Move(r.Context(), m.ID, req.Node)
	if err != nil {
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.match(moved))
}

// handleKick frees a player's seat on the match's owner, proxying the
// request there from any other node, and answers with the match as the
// owner sees it after the kick.
func (s *Server) handleKick(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, httpapi.MaxJSONBody))
	if err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	var req KickRequest
	if err := httpapi.DecodeJSON(body, &req); err != nil {
		writeError(w, badRequest(err), 0)
		return
	}
	if req.Player == 0 {
		writeError(w, fmt.Errorf("%w: player is required (a player id, > 0)", replication.ErrBadRequest), 0)
		return
	}
	m, ok := s.lookup(w, r.PathValue("id"))
	if !ok {
		return
	}
	if m.Owner != s.node.ID() {
		if err := s.ownerAlive(m); err != nil {
			writeError(w, err, 0)
			return
		}
		s.proxy(w, r, body, m.Owner, "this node does not run the match")
		return
	}
	if s.cfg.Games == nil {
		writeError(w, fmt.Errorf("%w: cannot kick", replication.ErrNoHost), 0)
		return
	}
	if err := s.cfg.Games.Kick(m.ID, req.Player); err != nil {
		if !errors.Is(err, replication.ErrPlayerNotFound) && !errors.Is(err, replication.ErrMatchNotFound) {
			err = fmt.Errorf("kick player %d from %s: %w", req.Player, m.ID, err)
		}
		writeError(w, err, 0)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, s.detail(m))
}
