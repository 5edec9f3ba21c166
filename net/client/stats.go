package client

import (
	"sync/atomic"
	"time"
)

// Stats are a client's counters since Dial. Read them with Client.Stats
// from any goroutine.
type Stats struct {
	SnapshotsFull  uint64 // snapshots with baseline 0 applied
	SnapshotsDelta uint64 // delta snapshots applied
	ApplyErrors    uint64 // snapshots that did not apply (and server events that did not verify)
	// SnapshotsStale counts snapshots not newer than the newest world
	// (reordered or repeated); they are ignored.
	SnapshotsStale uint64
	// TickGaps counts snapshots missed on a live connection: for each
	// snapshot, tick − previous tick − 1 when positive. The downtime of a
	// reconnect is not counted.
	TickGaps    uint64
	MessagesIn  uint64 // server messages received
	MessagesOut uint64 // client messages sent (Hello, Input, Event, Ping, Leave)
	BytesIn     uint64 // payload bytes received (WebSocket framing excluded)
	BytesOut    uint64 // payload bytes sent
	Inputs      uint64 // inputs sent

	Dials      uint64 // connection attempts (redirect hops included)
	Redirects  uint64 // Redirects followed
	Reconnects uint64 // sessions resumed (or rejoined) after a drop or a stall
	Drops      uint64 // sessions lost without Close or Leave, stalls not included
	// Stalls counts sessions the client dropped itself because no snapshot
	// arrived within Config.StallTimeout (a frozen node or room); each is
	// then resumed like a drop.
	Stalls uint64

	// LastResume is the downtime of the newest resume: from the drop to the
	// first snapshot after it. For a stall the drop is when the client
	// gave up waiting: the snapshots had stopped a stall timeout earlier. ResumeTotal sums them (mean = total/count of
	// resumes); Handler.OnResumed sees each one.
	LastResume  time.Duration
	ResumeTotal time.Duration
	Resumes     uint64

	AckTick      uint32 // newest snapshot tick applied
	LastInputSeq uint32 // newest input seq the server reported processed

	// The game's events.
	EventsIn uint64 // server events delivered (each seq once)
	// EventsDuplicate counts server events received again (the node
	// repeats each one until an input acknowledges it) and dropped.
	EventsDuplicate uint64
	EventsOut       uint64 // client events taken by SendEvent
	EventsResent    uint64 // client events written again after a reconnect
	EventsDropped   uint64 // client events dropped unacknowledged by a new seat
	EventsPending   int    // client events not yet acknowledged (now)
}

type counters struct {
	full, delta, applyErrors, gaps, stale atomic.Uint64
	msgsIn, msgsOut, bytesIn, bytesOut    atomic.Uint64
	inputs, dials, redirects, reconnects  atomic.Uint64
	drops, stalls, resumes                atomic.Uint64
	lastResume, resumeTotal               atomic.Int64
	eventsIn, eventsDup, eventsOut        atomic.Uint64
	eventsResent, eventsDropped           atomic.Uint64
}

// Stats returns the client's counters. Safe from any goroutine; the fields
// are read one by one, not as one atomic snapshot.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		SnapshotsFull:  s.full.Load(),
		SnapshotsDelta: s.delta.Load(),
		ApplyErrors:    s.applyErrors.Load(),
		SnapshotsStale: s.stale.Load(),
		TickGaps:       s.gaps.Load(),
		MessagesIn:     s.msgsIn.Load(),
		MessagesOut:    s.msgsOut.Load(),
		BytesIn:        s.bytesIn.Load(),
		BytesOut:       s.bytesOut.Load(),
		Inputs:         s.inputs.Load(),
		Dials:          s.dials.Load(),
		Redirects:      s.redirects.Load(),
		Reconnects:     s.reconnects.Load(),
		Drops:          s.drops.Load(),
		Stalls:         s.stalls.Load(),
		LastResume:     time.Duration(s.lastResume.Load()),
		ResumeTotal:    time.Duration(s.resumeTotal.Load()),
		Resumes:        s.resumes.Load(),
		AckTick:        c.ack.Load(),
		LastInputSeq:   c.lastSeq.Load(),

		EventsIn:        s.eventsIn.Load(),
		EventsDuplicate: s.eventsDup.Load(),
		EventsOut:       s.eventsOut.Load(),
		EventsResent:    s.eventsResent.Load(),
		EventsDropped:   s.eventsDropped.Load(),
		EventsPending:   int(c.evPending.Load()),
	}
}
