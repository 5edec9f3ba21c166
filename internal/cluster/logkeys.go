package cluster

// Log keys of the package.
const (
	keyComponent = "component"
	keyMatch     = "match"
	keyEpoch     = "epoch"
	keyOwner     = "owner"
	keyMatchKey  = "match_key"
)
