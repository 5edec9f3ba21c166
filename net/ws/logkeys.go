package ws

// Log keys of this package.
const (
	keySession   = "session"
	keyRemote    = "remote"
	keyMatch     = "match"
	keyPlayer    = "player"
	keyCode      = "code"
	keyErrCode   = "error_code"
	keyBy        = "by"
	keyReason    = "reason"
	keyURL       = "url"
	keyOrigin    = "origin"
	keyPanic     = "panic"
	keyStack     = "stack"
	keyComponent = "component"
	keyDuration  = "duration"
	keyLimit     = "limit"
	keyWhat      = "what"
)
