package schema

import "errors"

// FileIdentifier is the FlatBuffers file identifier of every ticksync message.
const FileIdentifier = "TSY1"

// Input is one decoded client input (see ticksync.fbs).
type Input struct {
	Seq        uint32
	TargetTick uint32
	AckTick    uint32
	// Data is the game's input: a buffer whose root is the game's
	// (ticksync_input) table, verified by the transport with the game's
	// schema. After decoding it aliases the message buffer.
	Data []byte
	// EventAck is the newest server event seq the client has received.
	EventAck uint32
}

// Event is one game event, either way: Data is a buffer whose root is the
// game's (ticksync_events) wrapper of that direction. Seq numbers one
// seat's events of one direction from 1, kept across resumes; Tick is the
// tick that produced a server event (0 from a client). After decoding,
// Data aliases the message buffer.
type Event struct {
	Seq  uint32
	Tick uint32
	Data []byte
}

// Hello is a decoded Hello message.
type Hello struct {
	Token       string
	MatchID     string
	ResumeToken string
	LastTick    uint32
	Name        string
	Game        string
	// Join is the game's join payload (a buffer of its (ticksync_join)
	// table), empty for none; after decoding it aliases the message buffer.
	Join []byte
	// SchemaHash is the hex sha256 of the game schema the client was built
	// for; empty accepts any.
	SchemaHash string
	// EventAck is, in a resume, the newest server event seq the client has
	// received (0: none): the match numbers the seat's next server events
	// after it, so that none reuses a seq the client already holds (a node
	// that adopted the match after a failover may not know the newest).
	EventAck uint32
}

// String limits the verifier enforces on Hello.
const (
	MaxTokenLen       = 1024
	MaxMatchIDLen     = 64
	MaxResumeTokenLen = 1024
	MaxNameLen        = 32
	MaxGameLen        = 32
	MaxSchemaHashLen  = 64 // hex sha256
	MaxJoinLen        = 1024
)

// Limits of the game's bytes the envelope verifier enforces (the
// game's schema verifies their content).
const (
	MaxInputDataLen   = 1024
	MaxEventDataLen   = 4096
	MaxSnapshotEvents = 1024 // events in one Snapshot
)

// MaxSnapshotState caps Snapshot.State on the client side. It is far above
// what a room sends and only bounds the work a hostile server can cause.
const MaxSnapshotState = 1 << 20

// ClientKind says which member of the ClientBody union a message holds.
type ClientKind uint8

// Client message kinds; the values equal fb.ClientBody's.
const (
	ClientNone  ClientKind = 0
	ClientHello ClientKind = 1
	ClientInput ClientKind = 2
	ClientLeave ClientKind = 3
	ClientPing  ClientKind = 4
	ClientEvent ClientKind = 5
)

// ClientMessage is a decoded client message. Only the field that matches Kind
// is set.
type ClientMessage struct {
	Kind       ClientKind
	Hello      Hello
	Input      Input
	Event      Event
	ClientTime uint64 // Ping
}

// ServerKind says which member of the ServerBody union a message holds.
type ServerKind uint8

// Server message kinds; the values equal fb.ServerBody's.
const (
	ServerNone     ServerKind = 0
	ServerWelcome  ServerKind = 1
	ServerSnapshot ServerKind = 2
	ServerRedirect ServerKind = 3
	ServerError    ServerKind = 4
	ServerPong     ServerKind = 5
)

// Welcome is a decoded (or to be encoded) Welcome message.
type Welcome struct {
	SessionID   string
	ResumeToken string
	PlayerID    uint32
	EntityID    uint32
	TickRate    uint16
	ServerTick  uint32
	NodeID      string
	MatchID     string
	Game        string // the match's game
	SchemaHash  string // hex sha256 of its schema
	EventSeq    uint32 // newest client event seq the match applied: a resumed client re-sends later ones
}

// Snapshot is a decoded (or to be encoded) Snapshot message. Decoding reuses
// the capacity of Events, so a client that keeps one Snapshot value decodes
// without allocating.
type Snapshot struct {
	Tick         uint32
	BaselineTick uint32 // 0: full snapshot
	LastInputSeq uint32
	ServerTimeMS uint64
	// State is the game's world as gamedelta bytes
	// (schema/gamedelta/DELTA.md), against BaselineTick.
	State []byte
	// Events are this player's server events not yet acknowledged,
	// ascending Seq. Decoding reuses their capacity.
	Events []Event
	// EventSeq is the newest client event seq the match applied.
	EventSeq uint32
}

// Redirect is a decoded Redirect message.
type Redirect struct {
	URL     string
	MatchID string
}

// ErrorCode is the code of an Error message.
type ErrorCode uint16

// Error codes sent in Error messages. The README's error table lists them.
// The close code that follows an Error is 4000+code, so 10 and 11 are never
// used: 4010 and 4011 are the slow-consumer and redirect closes.
const (
	ErrCodeUnknown       ErrorCode = 0
	ErrCodeBadRequest    ErrorCode = 1  // the message was not what the protocol expects here
	ErrCodeUnauthorized  ErrorCode = 2  // the auth token is missing, malformed or expired
	ErrCodeMatchNotFound ErrorCode = 3  // no such match
	ErrCodeMatchFull     ErrorCode = 4  // the match has no free seat
	ErrCodeResumeRefused ErrorCode = 5  // the resume token is invalid, expired, superseded or its seat is gone
	ErrCodeReplaced      ErrorCode = 6  // a newer connection resumed this seat
	ErrCodeUnavailable   ErrorCode = 7  // the node cannot host the match now; retry
	ErrCodeShuttingDown  ErrorCode = 8  // the node is stopping
	ErrCodeNodeFull      ErrorCode = 9  // the node holds its maximum of players or matches; retry later or elsewhere
	ErrCodeRateLimited   ErrorCode = 12 // this client or its address sent too much (messages per second, matches created per minute); retry later
	// Operator actions (the admin API). The client stops: reconnecting
	// would not bring the seat or the match back.
	ErrCodeKicked     ErrorCode = 13 // an operator removed this player from the match
	ErrCodeMatchEnded ErrorCode = 14 // an operator ended the match
	// Generic games.
	ErrCodeJoinRefused    ErrorCode = 15 // the game refused the join; Error.message carries the game's reason
	ErrCodeSchemaMismatch ErrorCode = 16 // the client was built for another game schema; Error.message names the match's
	ErrCodeEventFlood     ErrorCode = 17 // the client sent events faster than allowed
)

// String returns the code's name in the README's error table. It is also
// the fixed text the node sends in Error.message and in the close reason
// that follows: nothing else (no Go error, no address) reaches a client.
func (c ErrorCode) String() string {
	switch c {
	case ErrCodeBadRequest:
		return "bad request"
	case ErrCodeUnauthorized:
		return "unauthorized"
	case ErrCodeMatchNotFound:
		return "match not found"
	case ErrCodeMatchFull:
		return "match full"
	case ErrCodeResumeRefused:
		return "resume refused"
	case ErrCodeReplaced:
		return "replaced"
	case ErrCodeUnavailable:
		return "unavailable"
	case ErrCodeShuttingDown:
		return "shutting down"
	case ErrCodeNodeFull:
		return "node full"
	case ErrCodeRateLimited:
		return "rate limited"
	case ErrCodeKicked:
		return "kicked"
	case ErrCodeMatchEnded:
		return "match ended"
	case ErrCodeJoinRefused:
		return "join refused"
	case ErrCodeSchemaMismatch:
		return "schema mismatch"
	case ErrCodeEventFlood:
		return "too many events"
	}
	return "unknown"
}

// ErrorMsg is a decoded Error message.
type ErrorMsg struct {
	Code    ErrorCode
	Message string
}

// ServerMessage is a decoded server message. Only the field that matches Kind
// is set.
type ServerMessage struct {
	Kind       ServerKind
	Welcome    Welcome
	Snapshot   Snapshot
	Redirect   Redirect
	Error      ErrorMsg
	ClientTime uint64 // Pong
	ServerTime uint64 // Pong, ms since the Unix epoch
}

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrMalformed: the bytes are not a valid message of our schema.
	ErrMalformed = errors.New("malformed message")
	// ErrOutOfRange: a well-formed message with a value outside its range.
	ErrOutOfRange = errors.New("value out of range")
)
