package ws

import "github.com/ticksync/ticksync/schema"

// CloseCode is a WebSocket close code sent by the server. This is the table
// the README shows; every close the package initiates uses one of them.
type CloseCode uint16

// Close codes.
const (
	// CloseNormal: the client sent Leave (or closed first).
	CloseNormal CloseCode = 1000
	// CloseGoingAway: the node is shutting down, or the peer was silent for
	// Config.PeerTimeout (reason "heartbeat timeout"); reconnect.
	CloseGoingAway CloseCode = 1001
	// CloseProtocolError: a frame that breaks RFC 6455 (sent by gws).
	CloseProtocolError CloseCode = 1002
	// CloseUnsupportedData: a text frame.
	CloseUnsupportedData CloseCode = 1003
	// CloseInvalidPayload: a malformed FlatBuffer or a value out of range,
	// in the envelope or in the game's bytes its schema describes (an
	// Input's data, an Event's data, a Hello's join payload); game bytes
	// sent to a seat without a schema.
	CloseInvalidPayload CloseCode = 1007
	// ClosePolicy: no Hello within Config.HelloTimeout, or a message not
	// allowed in this state (an Input before Hello, a second Hello, an
	// Event to a match whose game takes none).
	ClosePolicy CloseCode = 1008
	// CloseTooBig: a message over Config.MaxMessageSize (sent by gws).
	CloseTooBig CloseCode = 1009
	// CloseInternal: a handler failed (panicked); the node keeps running.
	CloseInternal CloseCode = 1011
	// CloseErrorBase: 4000+N follows an Error message with ErrorCode N
	// (4001..4009, 4012..4017; the reason is ErrorCode.String, and so is
	// the Error's message, except for a game's refusal, 4015, and a schema
	// mismatch, 4016, whose message is the game's or names the schema).
	CloseErrorBase CloseCode = 4000
	// CloseNodeFull: Error node full was sent just before (the node holds
	// its maximum of players or matches).
	CloseNodeFull CloseCode = 4009
	// CloseSlowConsumer: the client did not take a write for
	// Config.SlowConsumerAfter.
	CloseSlowConsumer CloseCode = 4010
	// CloseRedirect: a Redirect message was sent just before.
	CloseRedirect CloseCode = 4011
	// CloseRateLimited: Error rate limited was sent just before: the client
	// sent more than Config.MaxMessageRate messages a second, or its address
	// created too many matches (game.Config.MaxMatchesPerIP).
	CloseRateLimited CloseCode = 4012
	// CloseEventFlood: Error too many events was sent just before: the
	// client sent more than Config.MaxEventRate events a second, or its
	// events not yet applied filled its queue in the match.
	CloseEventFlood CloseCode = 4017
)

// CloseCodeFor returns the close code that follows an Error with code c.
func CloseCodeFor(c schema.ErrorCode) CloseCode { return CloseErrorBase + CloseCode(c) }

// Close reasons (short, they travel in the close frame). A close that
// follows an Error carries the code's fixed text (schema.ErrorCode.String)
// instead, and so does the Error: nothing else reaches a client, no Go
// error text, no address.
const (
	reasonLeave        = "leave"
	reasonShutdown     = "server shutting down"
	reasonHeartbeat    = "heartbeat timeout"
	reasonText         = "text frames are not supported"
	reasonNoHello      = "no hello in time"
	reasonExpectHello  = "first message must be hello"
	reasonSecondHello  = "second hello"
	reasonNoEvents     = "events not supported"
	reasonMalformed    = "malformed message"
	reasonOutOfRange   = "value out of range"
	reasonInternal     = "internal error"
	reasonSlowConsumer = "slow consumer"
	reasonRedirect     = "redirect"
	// reasonConnLost is the text gws's own close frame carries when a read
	// fails (readGuard), in place of the error's.
	reasonConnLost = "connection lost"
)
