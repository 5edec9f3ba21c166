package replication

// Log keys, bound once per component logger or used on rare events only.
const (
	keyComponent = "component"
	keyNode      = "node"
	keyPeer      = "peer"
	keyMatch     = "match"
	keyEpoch     = "epoch"
	keyIndex     = "index"
	keyLeader    = "leader"
	keyOwner     = "owner"
	keyState     = "state"
	keyCount     = "count"
	keyAddr      = "addr"
	keyElapsed   = "elapsed"
	keyTick      = "tick"
	keyReason    = "reason"
	keySilent    = "silent"
	keyJoin      = "join"
	keyAPI       = "api"
	keyKind      = "kind"
	keyRule      = "rule"

	keyPrevLeader   = "prev_leader"
	keyPrevContact  = "prev_contact_before"
	keySinceElected = "since_elected"
)
