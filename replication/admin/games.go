package admin

// Games is the local game layer as the admin API needs it: the games this
// node can run, what a match running here looks like now, and removing a
// player from one. The node implements it over its game.Manager (which
// cannot implement it directly: game and replication know nothing of each
// other, so the node converts between their types). Its methods are called
// on the HTTP server's goroutines, concurrently, and must not block for
// long.
type Games interface {
	// GameNames returns the names of the registered games, sorted.
	GameNames() []string
	// Live returns a match running on this node as it is now; false when
	// it does not run here (not adopted yet, or gone).
	Live(matchID string) (Live, bool)
	// Kick frees player's seat in matchID, running here, and closes its
	// connection with the "kicked" error (close 4013). It returns an error
	// that wraps replication.ErrPlayerNotFound when the match has no such
	// player, replication.ErrMatchNotFound when the match does not run
	// here.
	Kick(matchID string, player uint32) error
}
