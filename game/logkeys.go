package game

// Log keys of package game.
const (
	keyMatch    = "match"
	keyGame     = "game"
	keyPlayer   = "player"
	keyEntity   = "entity"
	keyPlayers  = "players"
	keyReason   = "reason"
	keyEpoch    = "epoch"
	keyNewEpoch = "new_epoch"
	keyTick     = "tick"
	keyURL      = "url"
	keyEmptyFor = "empty_for"
	keyReplayed = "replayed_ticks"
	keyFromTick = "checkpoint_tick"
	keyMatchKey = "match_key"
)
