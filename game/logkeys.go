package game

// Log keys of package game.
const (
	keyMatch   = "match"
	keyGame    = "game"
	keyPlayer  = "player"
	keyEntity  = "entity"
	keyPlayers = "players"
	keyReason  = "reason"
)
