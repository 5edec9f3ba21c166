package ws

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticksync/ticksync/schema"
)

// metrics are plain atomics on the hot path; Prometheus reads them through
// CounterFunc/GaugeFunc at scrape time, and Stats reads them for the admin
// API and tests.
type metrics struct {
	sessions         atomic.Int64
	upgrades         atomic.Uint64
	refusedOrigin    atomic.Uint64
	refusedBad       atomic.Uint64
	refusedStopping  atomic.Uint64
	refusedIPConns   atomic.Uint64 // MaxConnsPerIP
	refusedIPRate    atomic.Uint64 // MaxUpgradesPerIP
	rateLimited      atomic.Uint64 // sessions closed over MaxMessageRate
	messagesIn       atomic.Uint64
	bytesIn          atomic.Uint64
	snapshotsOut     atomic.Uint64
	controlOut       atomic.Uint64
	bytesOut         atomic.Uint64
	snapshotsDropped atomic.Uint64
	inputsDropped    atomic.Uint64
	slowConsumers    atomic.Uint64
	panics           atomic.Uint64
	directOut        atomic.Uint64 // snapshots written on the room's goroutine
	backlogs         atomic.Uint64 // direct writes the socket did not take at once
	eventsIn         atomic.Uint64 // client events handed to seats
	eventFloodRate   atomic.Uint64 // sessions closed 4017 over MaxEventRate
	eventFloodQueue  atomic.Uint64 // sessions closed 4017: the seat's event queue was full

	serverCloses [len(closeSlots)]atomic.Uint64
	peerNormal   atomic.Uint64 // the peer closed with 1000 or 1001
	peerOther    atomic.Uint64 // the peer closed with another code
	transport    atomic.Uint64 // no close frame either way (1006)

	// The players' side of the cluster, counted where the session sees it.
	resumes        atomic.Uint64 // a Hello with a resume token seated its player
	resumesRefused atomic.Uint64 // … was refused with resume_refused
	redirectsJoin  atomic.Uint64 // a Hello was sent to the node that runs its match
	redirectsMoved atomic.Uint64 // a seated player's match moved (game.Conn.Redirect)
	kicks          [len(kickSlots)]atomic.Uint64
}

// kickSlots are the codes of the kicks counted apart (game.Conn.Kick), in
// the order of metrics.kicks, with their label; the last slot counts any
// other code.
var kickSlots = [...]struct {
	code  schema.ErrorCode
	label string
}{
	{schema.ErrCodeReplaced, "replaced"},
	{schema.ErrCodeUnavailable, "unavailable"},
	{schema.ErrCodeShuttingDown, "shutting_down"},
	{schema.ErrCodeUnknown, "other"},
}

func kickSlot(c schema.ErrorCode) int {
	for i, s := range kickSlots[:len(kickSlots)-1] {
		if s.code == c {
			return i
		}
	}
	return len(kickSlots) - 1
}

// closeSlots are the codes the server sends, in the order of serverCloses.
var closeSlots = [...]CloseCode{
	CloseNormal, CloseGoingAway, CloseProtocolError, CloseUnsupportedData,
	CloseInvalidPayload, ClosePolicy, CloseTooBig, CloseInternal,
	4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, CloseNodeFull,
	CloseSlowConsumer, CloseRedirect, CloseRateLimited,
	4013, 4014, 4015, 4016, CloseEventFlood,
	0, // any other code
}

func closeSlot(c CloseCode) int {
	for i, s := range closeSlots[:len(closeSlots)-1] {
		if s == c {
			return i
		}
	}
	return len(closeSlots) - 1
}

func (m *metrics) serverClosed(c CloseCode) { m.serverCloses[closeSlot(c)].Add(1) }

// register exposes the counters to r (nil: not exported).
func (m *metrics) register(r prometheus.Registerer, nodeID string) error {
	if r == nil {
		return nil
	}
	labels := prometheus.Labels{"node": nodeID}
	counter := func(name, help string, v *atomic.Uint64, extra prometheus.Labels) prometheus.Collector {
		l := prometheus.Labels{}
		for k, x := range labels {
			l[k] = x
		}
		for k, x := range extra {
			l[k] = x
		}
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ticksync", Subsystem: "ws", Name: name, Help: help, ConstLabels: l,
		}, func() float64 { return float64(v.Load()) })
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "ticksync", Subsystem: "ws", Name: "sessions", ConstLabels: labels,
			Help: "Open WebSocket sessions.",
		}, func() float64 { return float64(m.sessions.Load()) }),
		counter("upgrades_total", "Upgrade requests by result.", &m.upgrades, prometheus.Labels{"result": "ok"}),
		counter("upgrades_total", "Upgrade requests by result.", &m.refusedOrigin, prometheus.Labels{"result": "origin_refused"}),
		counter("upgrades_total", "Upgrade requests by result.", &m.refusedBad, prometheus.Labels{"result": "bad_request"}),
		counter("upgrades_total", "Upgrade requests by result.", &m.refusedStopping, prometheus.Labels{"result": "shutting_down"}),
		counter("upgrades_total", "Upgrade requests by result.", &m.refusedIPConns, prometheus.Labels{"result": "conns_per_ip"}),
		counter("upgrades_total", "Upgrade requests by result.", &m.refusedIPRate, prometheus.Labels{"result": "upgrades_per_ip"}),
		counter("rate_limited_total", "Sessions closed for sending more than the message rate (close 4012).", &m.rateLimited, nil),
		counter("events_in_total", "Client game events verified and handed to the match.", &m.eventsIn, nil),
		counter("event_floods_total", "Sessions closed with too many events (close 4017), by cause: rate (over the event rate) or queue (the match's queue of the player's events was full).", &m.eventFloodRate, prometheus.Labels{"cause": "rate"}),
		counter("event_floods_total", "Sessions closed with too many events (close 4017), by cause: rate (over the event rate) or queue (the match's queue of the player's events was full).", &m.eventFloodQueue, prometheus.Labels{"cause": "queue"}),
		counter("messages_in_total", "Client messages received.", &m.messagesIn, nil),
		counter("bytes_in_total", "Client message payload bytes received.", &m.bytesIn, nil),
		counter("messages_out_total", "Server messages written, by kind.", &m.snapshotsOut, prometheus.Labels{"kind": "snapshot"}),
		counter("messages_out_total", "Server messages written, by kind.", &m.controlOut, prometheus.Labels{"kind": "control"}),
		counter("bytes_out_total", "Server message payload bytes written.", &m.bytesOut, nil),
		counter("snapshots_dropped_total", "Snapshots replaced in a pending slot before they were written (latest wins).", &m.snapshotsDropped, nil),
		counter("inputs_dropped_total", "Inputs the seat refused: a full per-player input queue (the player's oldest input made room), a replaced connection, or a player no longer seated.", &m.inputsDropped, nil),
		counter("slow_consumers_total", "Sessions closed as slow consumers (close 4010): a write did not complete in time, or the client left its match's server events unacknowledged until their queue overflowed.", &m.slowConsumers, nil),
		counter("panics_total", "Panics recovered in session handlers.", &m.panics, nil),
		counter("snapshots_direct_total", "Snapshots written by the room's goroutine straight to a plain TCP socket (the rest go through the session's writer).", &m.directOut, nil),
		counter("socket_backlogs_total", "Writes a socket did not take at once; the rest was held back for the session's writer to drain.", &m.backlogs, nil),
		counter("closes_total", "Session closes by close code and by who closed.", &m.peerNormal, prometheus.Labels{"by": "peer", "code": "normal"}),
		counter("closes_total", "Session closes by close code and by who closed.", &m.peerOther, prometheus.Labels{"by": "peer", "code": "other"}),
		counter("closes_total", "Session closes by close code and by who closed.", &m.transport, prometheus.Labels{"by": "transport", "code": "1006"}),
	}
	for i, c := range closeSlots {
		code := strconv.Itoa(int(c))
		if c == 0 {
			code = "other"
		}
		cs = append(cs, counter("closes_total", "Session closes by close code and by who closed.", &m.serverCloses[i], prometheus.Labels{"by": "server", "code": code}))
	}
	// The players' side of the cluster, without a subsystem: resumes,
	// redirects and kicks are what a player sees of failovers and moves.
	player := func(name, help string, v *atomic.Uint64, label, value string) prometheus.Collector {
		l := prometheus.Labels{label: value}
		for k, x := range labels {
			l[k] = x
		}
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "ticksync", Name: name, Help: help, ConstLabels: l,
		}, func() float64 { return float64(v.Load()) })
	}
	const (
		resumesHelp   = "Hellos with a resume token, by result: ok (the player took its seat back, here or after a failover or move) or refused (token invalid or expired, seat gone, match ended)."
		redirectsHelp = "Redirects sent to players, by reason: join (a Hello for a match another node runs) or moved (a seated player's match moved: hand-over or failover)."
		kicksHelp     = "Seated players the server disconnected with an Error, by its code: replaced (a newer connection resumed the seat), unavailable (match crashed, moved with no owner yet, or this node lost the cluster), shutting_down, other."
	)
	cs = append(cs,
		player("resumes_total", resumesHelp, &m.resumes, "result", "ok"),
		player("resumes_total", resumesHelp, &m.resumesRefused, "result", "refused"),
		player("redirects_total", redirectsHelp, &m.redirectsJoin, "reason", "join"),
		player("redirects_total", redirectsHelp, &m.redirectsMoved, "reason", "moved"),
	)
	for i, k := range kickSlots {
		cs = append(cs, player("kicks_total", kicksHelp, &m.kicks[i], "code", k.label))
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Stats is a snapshot of the server's counters since New.
type Stats struct {
	Sessions        int64
	Upgrades        uint64 // accepted
	UpgradesRefused uint64 // refused with an HTTP status (Origin, bad request, shutting down, the per-address limits)
	// RefusedConnsPerIP and RefusedUpgradesPerIP count the upgrades (of
	// UpgradesRefused) refused by Config.MaxConnsPerIP (503) and
	// Config.MaxUpgradesPerIP (429); RateLimited the sessions closed over
	// Config.MaxMessageRate (4012).
	RefusedConnsPerIP, RefusedUpgradesPerIP, RateLimited uint64
	MessagesIn                                           uint64
	BytesIn                                              uint64
	SnapshotsOut                                         uint64
	ControlOut                                           uint64
	BytesOut                                             uint64
	SnapshotsDropped                                     uint64
	InputsDropped                                        uint64
	SlowConsumers                                        uint64
	Panics                                               uint64
	// EventsIn counts the client events handed to seats; EventFloodsRate
	// and EventFloodsQueue the sessions closed with 4017 over
	// Config.MaxEventRate and because the seat refused an event (its
	// queue was full).
	EventsIn, EventFloodsRate, EventFloodsQueue uint64
	// SnapshotsDirect counts the snapshots (of SnapshotsOut) written by the
	// room's goroutine; Backlogs the writes a socket did not take at once.
	SnapshotsDirect, Backlogs uint64
	// Closes counts the closes the server initiated, by code.
	Closes map[CloseCode]uint64
	// PeerCloses counts closes the client initiated; Transport counts
	// connections lost without a close frame.
	PeerCloses, Transport uint64
	// Resumes counts Hellos with a resume token that seated their player,
	// ResumesRefused those refused with resume_refused.
	Resumes, ResumesRefused uint64
	// RedirectsJoin counts Hellos redirected to the match's node,
	// RedirectsMoved seated players redirected because their match moved.
	RedirectsJoin, RedirectsMoved uint64
	// Kicks counts seated players disconnected with an Error, by its code
	// (codes other than replaced, unavailable and shutting_down under
	// ErrCodeUnknown).
	Kicks map[schema.ErrorCode]uint64
}

func (m *metrics) stats() Stats {
	s := Stats{
		Sessions: m.sessions.Load(),
		Upgrades: m.upgrades.Load(),
		UpgradesRefused: m.refusedOrigin.Load() + m.refusedBad.Load() + m.refusedStopping.Load() +
			m.refusedIPConns.Load() + m.refusedIPRate.Load(),
		RefusedConnsPerIP:    m.refusedIPConns.Load(),
		RefusedUpgradesPerIP: m.refusedIPRate.Load(),
		RateLimited:          m.rateLimited.Load(),
		MessagesIn:           m.messagesIn.Load(),
		BytesIn:              m.bytesIn.Load(),
		SnapshotsOut:         m.snapshotsOut.Load(),
		ControlOut:           m.controlOut.Load(),
		BytesOut:             m.bytesOut.Load(),
		SnapshotsDropped:     m.snapshotsDropped.Load(),
		InputsDropped:        m.inputsDropped.Load(),
		SlowConsumers:        m.slowConsumers.Load(),
		Panics:               m.panics.Load(),
		SnapshotsDirect:      m.directOut.Load(),
		Backlogs:             m.backlogs.Load(),
		EventsIn:             m.eventsIn.Load(),
		EventFloodsRate:      m.eventFloodRate.Load(),
		EventFloodsQueue:     m.eventFloodQueue.Load(),
		Closes:               map[CloseCode]uint64{},
		PeerCloses:           m.peerNormal.Load() + m.peerOther.Load(),
		Transport:            m.transport.Load(),
		Resumes:              m.resumes.Load(),
		ResumesRefused:       m.resumesRefused.Load(),
		RedirectsJoin:        m.redirectsJoin.Load(),
		RedirectsMoved:       m.redirectsMoved.Load(),
		Kicks:                map[schema.ErrorCode]uint64{},
	}
	for i, k := range kickSlots {
		if n := m.kicks[i].Load(); n > 0 {
			s.Kicks[k.code] += n
		}
	}
	for i, c := range closeSlots {
		if n := m.serverCloses[i].Load(); n > 0 {
			s.Closes[c] += n
		}
	}
	return s
}
