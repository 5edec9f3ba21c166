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
	// CloseInvalidPayload: a malformed FlatBuffer or a value out of range.
	CloseInvalidPayload CloseCode = 1007
	// ClosePolicy: no Hello within Config.HelloTimeout, or a message not
	// allowed in this state (an Input before Hello, a second Hello).
	ClosePolicy CloseCode = 1008
	// CloseTooBig: a message over Config.MaxMessageSize (sent by gws).
	CloseTooBig CloseCode = 1009
	// CloseInternal: a handler failed (panicked); the node keeps running.
	CloseInternal CloseCode = 1011
	// CloseErrorBase: 4000+N follows an Error message with ErrorCode N.
	CloseErrorBase CloseCode = 4000
	// CloseSlowConsumer: the client did not take a write for
	// Config.SlowConsumerAfter.
	CloseSlowConsumer CloseCode = 4010
	// CloseRedirect: a Redirect message was sent just before.
	CloseRedirect CloseCode = 4011
)

// CloseCodeFor returns the close code that follows an Error with code c.
func CloseCodeFor(c schema.ErrorCode) CloseCode { return CloseErrorBase + CloseCode(c) }

// Close reasons (short, they travel in the close frame).
const (
	reasonLeave        = "leave"
	reasonShutdown     = "server shutting down"
	reasonHeartbeat    = "heartbeat timeout"
	reasonText         = "text frames are not supported"
	reasonNoHello      = "no hello in time"
	reasonExpectHello  = "first message must be hello"
	reasonSecondHello  = "second hello"
	reasonMalformed    = "malformed message"
	reasonOutOfRange   = "value out of range"
	reasonInternal     = "internal error"
	reasonSlowConsumer = "slow consumer"
	reasonRedirect     = "redirect"
	reasonUnauthorized = "unauthorized"
	reasonUnavailable  = "cannot join now"
)
