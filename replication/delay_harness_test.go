package replication

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ticksync/ticksync/internal/testutil"
)

// This file is the harness of the delay tests (delay_test.go): a Raft
// stream layer that delivers replies late, an HTTP transport that delivers
// heartbeat acknowledgements late, a recorder of what each supervisor's
// victim held when it was declared dead, and a sampler of every node's
// lease against the bounds of the fencing argument (DESIGN.md, "Fencing").

// ---- Raft: replies delivered late ----

// lagStream wraps a node's Raft stream layer so that whatever comes back on
// the connections it dials (the replies to its AppendEntries, heartbeats,
// votes and snapshots) is delivered lag() late. Requests it receives are
// not delayed: followers store a leader's entries at once, the leader hears
// that they did only lag() later.
type lagStream struct {
	raft.StreamLayer
	lag func() time.Duration
}

func (s *lagStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := s.StreamLayer.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	return newLagConn(c, s.lag), nil
}

// lagOpt delays the replies to this node's Raft RPCs by *lag (0: none),
// on top of whatever stream wrapper an earlier option installed.
func lagOpt(lag *atomic.Int64) nodeOpt {
	return func(cfg *Config) {
		prev := cfg.wrapStream
		cfg.wrapStream = func(s raft.StreamLayer) raft.StreamLayer {
			if prev != nil {
				s = prev(s)
			}
			return &lagStream{StreamLayer: s, lag: func() time.Duration { return time.Duration(lag.Load()) }}
		}
	}
}

// lagConn delivers what it reads lag() after it arrived. A reader goroutine
// (owned by the conn, it ends when the underlying conn fails or closes)
// stamps each chunk with its release time; Read waits for it, honouring
// the read deadline. Order and bytes are preserved; only latency is added.
type lagConn struct {
	net.Conn
	lag    func() time.Duration
	chunks chan lagChunk
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	deadline time.Time // read deadline (the inner conn's is left unset)

	pend *lagChunk // a chunk whose release time has not come (Read timed out)
	cur  []byte    // the released rest of a chunk
	err  error     // the inner conn's error, once released
}

type lagChunk struct {
	b   []byte
	at  time.Time
	err error
}

func newLagConn(c net.Conn, lag func() time.Duration) *lagConn {
	lc := &lagConn{Conn: c, lag: lag, chunks: make(chan lagChunk, 256), closed: make(chan struct{})}
	go lc.pump()
	return lc
}

func (c *lagConn) pump() {
	for {
		buf := make([]byte, 32<<10)
		n, err := c.Conn.Read(buf)
		now := time.Now()
		if n > 0 {
			select {
			case c.chunks <- lagChunk{b: buf[:n], at: now.Add(c.lag())}:
			case <-c.closed:
				return
			}
		}
		if err != nil {
			select {
			case c.chunks <- lagChunk{err: err, at: now.Add(c.lag())}:
			case <-c.closed:
			}
			return
		}
	}
}

func (c *lagConn) Read(p []byte) (int, error) {
	if len(c.cur) > 0 {
		n := copy(p, c.cur)
		c.cur = c.cur[n:]
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		expired = t.C
	}
	if c.pend == nil {
		select {
		case ch := <-c.chunks:
			c.pend = &ch
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	if wait := time.Until(c.pend.at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	ch := *c.pend
	c.pend = nil
	if ch.err != nil {
		c.err = ch.err
		return 0, ch.err
	}
	n := copy(p, ch.b)
	c.cur = ch.b[n:]
	return n, nil
}

func (c *lagConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *lagConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return nil
}

func (c *lagConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// ---- node-to-node HTTP: heartbeat acknowledgements delivered late ----

// heartbeatLag is a node's HTTP transport for node-to-node calls that
// holds each heartbeat's answer until lag after the request left, and
// records when every acknowledged heartbeat left and when its answer was
// handed to the node. cutNext lets exactly one more heartbeat through and
// refuses the ones after it (the one let through still answers late); lose
// delivers every heartbeat and loses every answer (a one-way cut).
type heartbeatLag struct {
	inner   http.RoundTripper
	lag     atomic.Int64 // time.Duration
	cutNext atomic.Bool
	cut     atomic.Bool
	lose    atomic.Bool // heartbeats reach the leader, their answers are lost

	mu   sync.Mutex
	acks []hbAck
}

// hbAck is one acknowledged heartbeat: when it left (taken after the node
// took its own start time) and when its answer was handed back.
type hbAck struct{ sent, delivered time.Time }

func newHeartbeatLag() *heartbeatLag {
	return &heartbeatLag{inner: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}}
}

func (h *heartbeatLag) opt() nodeOpt {
	return func(cfg *Config) { cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: h} }
}

func (h *heartbeatLag) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path != PathRaftHeartbeat {
		return h.inner.RoundTrip(req)
	}
	if h.cut.Load() {
		return nil, errCut
	}
	if h.cutNext.CompareAndSwap(true, false) {
		h.cut.Store(true)
	}
	sent := time.Now()
	resp, err := h.inner.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if h.lose.Load() {
		_ = resp.Body.Close()
		return nil, errCut
	}
	if wait := time.Until(sent.Add(time.Duration(h.lag.Load()))); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			_ = resp.Body.Close()
			return nil, req.Context().Err()
		}
	}
	if resp.StatusCode/100 == 2 {
		// Recorded before the node sees the answer, so before it can
		// extend its lease from it.
		h.mu.Lock()
		h.acks = append(h.acks, hbAck{sent: sent, delivered: time.Now()})
		h.mu.Unlock()
	}
	return resp, nil
}

// lastSent is when the latest acknowledged heartbeat whose answer was
// delivered left (false: none yet).
func (h *heartbeatLag) lastSent() (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last time.Time
	for _, a := range h.acks {
		if a.sent.After(last) {
			last = a.sent
		}
	}
	return last, !last.IsZero()
}

// lateAcks counts the acknowledgements delivered at least d after their
// heartbeat left, since since.
func (h *heartbeatLag) lateAcks(since time.Time, d time.Duration) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.acks {
		if a.sent.After(since) && a.delivered.Sub(a.sent) >= d {
			n++
		}
	}
	return n
}

// ---- what a declared node held when it was declared dead ----

// fenceRecorder records, for every death a supervisor decides, what the
// victim held at that moment (read on the supervisor's goroutine, before the
// death's entry is applied): whether its lease was valid, and the furthest
// end of any lease it held (its follower-earned expiry and its own lease as
// leader, whatever its Raft state: an upper bound of what it could run on).
type fenceRecorder struct {
	mu    sync.Mutex
	nodes map[string]*testNode
	list  []fenceRecord
}

type fenceRecord struct {
	x     declaration
	alive bool      // the victim's process was running
	valid bool      // its LeaseValid() at the decision
	end   time.Time // the furthest end of its leases
	term  uint64    // the declaring leader's term at the decision
}

func (f *fenceRecorder) opt() nodeOpt {
	return func(cfg *Config) { cfg.onDeclared = f.record }
}

// track registers the nodes the recorder may be asked about (again after a
// restart: the newest node of an id counts).
func (f *fenceRecorder) track(ns ...*testNode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nodes == nil {
		f.nodes = make(map[string]*testNode)
	}
	for _, n := range ns {
		f.nodes[n.ID()] = n
	}
}

func (f *fenceRecorder) record(x declaration) {
	f.mu.Lock()
	victim, by := f.nodes[x.id], f.nodes[x.by]
	f.mu.Unlock()
	rec := fenceRecord{x: x}
	if by != nil {
		rec.term = by.r().CurrentTerm()
	}
	if victim != nil && running(victim) {
		rec.alive = true
		rec.valid = victim.LeaseValid()
		rec.end = rawLeaseEnd(victim)
	}
	f.mu.Lock()
	f.list = append(f.list, rec)
	f.mu.Unlock()
}

// running reports whether n's process has not been stopped or crashed.
func running(n *testNode) bool {
	n.Node.mu.Lock()
	defer n.Node.mu.Unlock()
	return n.started && !n.stopped
}

// rawLeaseEnd is the furthest end of any lease n holds: its follower-earned
// expiry and its lease as leader of whatever term, whether or not they
// count now.
func rawLeaseEnd(n *testNode) time.Time {
	end := n.t0.Add(time.Duration(n.lease.expiry.Load()))
	if ll := n.lease.leader.Load(); ll != nil {
		if le := n.t0.Add(ll.expiry); le.After(end) {
			end = le
		}
	}
	return end
}

// first returns the first record of a death of id decided after since.
func (f *fenceRecorder) first(id string, since time.Time) (fenceRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.list {
		if r.x.id == id && !r.x.decided.Before(since) {
			return r, true
		}
	}
	return fenceRecord{}, false
}

func (f *fenceRecorder) waitDeclared(t testing.TB, id string, since time.Time, timeout time.Duration) fenceRecord {
	t.Helper()
	var r fenceRecord
	testutil.CheckFor(t, timeout, func() error {
		var ok bool
		if r, ok = f.first(id, since); !ok {
			return fmt.Errorf("no supervisor declared %s dead", id)
		}
		return nil
	})
	return r
}

// check fails t for any death declared while its victim could still run:
// a valid lease at the decision, or a lease ending less than FailoverAfter −
// OwnerLease before the deadline of the rule that allowed the decision
// (DESIGN.md, "Fencing": N stops by s + OwnerLease ≤ r + OwnerLease; the
// deadline is no earlier than r + FailoverAfter). It returns how many
// deaths of running nodes it checked.
func (f *fenceRecorder) check(t testing.TB, cfg Config) int {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	margin := cfg.FailoverAfter - cfg.OwnerLease
	checked := 0
	for _, r := range f.list {
		if !r.alive {
			continue
		}
		checked++
		if r.valid {
			t.Errorf("%s declared %s dead (rule %q) while %s still held a valid lease (to %s)",
				r.x.by, r.x.id, r.x.rule, r.x.id, r.end.Format("15:04:05.000"))
		}
		if got := r.x.due.Sub(r.end); got < margin {
			t.Errorf("%s's deadline for %s (rule %q, %s) is only %v after the end of %s's lease (%s), want at least FailoverAfter − OwnerLease = %v",
				r.x.by, r.x.id, r.x.rule, r.x.due.Format("15:04:05.000"), got, r.x.id, r.end.Format("15:04:05.000"), margin)
		}
	}
	return checked
}

// ---- leases sampled against the argument's bounds ----

// leaseSampler reads every node's lease state every millisecond and checks
// two bounds of the fencing argument, each from facts observed outside the
// lease code:
//
//   - leader: a lease earned by a Barrier started at s ends by s +
//     OwnerLease, and every node that stored that Barrier stored it after
//     s. So the leader's lease (as leader) may not end later than
//     OwnerLease after the moment any follower (in the same term) was first
//     seen holding the leader's last index read just after the lease.
//     Evaluated once a follower reaches that index.
//   - follower: a lease granted by a leader is capped by that leader's own
//     remaining lease, and every lease starts from some leader's; so no
//     node's follower-earned expiry may end later than the furthest end any
//     node ever had as leader (read after it).
//
// It also remembers every lease end it saw (with the moment it first saw
// it), for checks after the fact, and optionally a per-node bound supplied
// by the test (bound: n's follower-earned expiry ends no later than
// OwnerLease after the time it returns; false: no bound for n).
type leaseSampler struct {
	nodes func() []*testNode
	ol    time.Duration
	bound func(n *testNode) (time.Time, bool)

	stop, done chan struct{}

	mu         sync.Mutex
	samples    int
	checkedA   int
	checkedB   int
	violations []string
	maxLL      time.Time // furthest end of any leader lease seen
	logs       map[*testNode]*indexLog
	pending    []leaderSample
	renewals   []renewal            // each new leader lease, with when it was first seen
	lastLL     map[*testNode]uint64 // expiry of the last leader lease recorded per node (ns)
	ends       []endSeen
}

// indexLog is when a node was first seen with its last index ≥ i, in one
// term (reset when the term changes).
type indexLog struct {
	term uint64
	base uint64 // last index when the term was first seen: not evidence
	pts  []indexPoint
}

type indexPoint struct {
	idx uint64
	at  time.Time
}

// leaderSample: leader n held a lease as leader of term to end; its last
// index read just after was idx.
type leaderSample struct {
	n    *testNode
	term uint64
	end  time.Time
	idx  uint64
	at   time.Time
}

// renewal is a leader lease as first seen: started at start (end −
// OwnerLease), seen at seen.
type renewal struct {
	node        string
	term        uint64
	start, seen time.Time
}

// endSeen is a lease end first seen at seen: a follower-earned one (term
// 0) or a leader's of term.
type endSeen struct {
	node string
	term uint64
	end  time.Time
	seen time.Time
}

func startLeaseSampler(nodes func() []*testNode, ownerLease time.Duration, bound func(*testNode) (time.Time, bool)) *leaseSampler {
	s := &leaseSampler{
		nodes: nodes, ol: ownerLease, bound: bound,
		stop: make(chan struct{}), done: make(chan struct{}),
		logs: make(map[*testNode]*indexLog), lastLL: make(map[*testNode]uint64),
	}
	go s.run()
	return s
}

func (s *leaseSampler) run() {
	defer close(s.done)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	lastFE := make(map[*testNode]int64)
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.sample(lastFE)
	}
}

func (s *leaseSampler) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(s.violations) < 20 && !slices.Contains(s.violations, msg) {
		s.violations = append(s.violations, msg)
	}
}

func (s *leaseSampler) sample(lastFE map[*testNode]int64) {
	nodes := s.nodes()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	// 1. Every node's follower-earned expiry, and the test's own bound on it
	// (read after it).
	fe := make([]time.Time, len(nodes))
	for i, n := range nodes {
		raw := n.lease.expiry.Load()
		fe[i] = n.t0.Add(time.Duration(raw))
		if raw != lastFE[n] {
			lastFE[n] = raw
			s.ends = append(s.ends, endSeen{node: n.ID(), end: fe[i], seen: time.Now()})
		}
		if s.bound != nil && raw != 0 {
			if b, ok := s.bound(n); ok && fe[i].After(b.Add(s.ol)) {
				s.violate("%s's lease runs to %s, more than OwnerLease after its last acknowledged heartbeat left (%s)",
					n.ID(), fe[i].Format("15:04:05.000"), b.Format("15:04:05.000"))
			}
		}
	}
	// 2. Leader leases (after the expiries), then each leader's last index.
	for _, n := range nodes {
		ll := n.lease.leader.Load()
		if ll == nil {
			continue
		}
		end := n.t0.Add(ll.expiry)
		if end.After(s.maxLL) {
			s.maxLL = end
		}
		if s.lastLL[n] != uint64(ll.expiry) {
			s.lastLL[n] = uint64(ll.expiry)
			now := time.Now()
			s.renewals = append(s.renewals, renewal{node: n.ID(), term: ll.term, start: end.Add(-s.ol), seen: now})
			s.ends = append(s.ends, endSeen{node: n.ID(), term: ll.term, end: end, seen: now})
		}
		r := n.r()
		if r == nil || r.State() != raft.Leader {
			continue
		}
		if term := r.CurrentTerm(); term == ll.term {
			s.pending = append(s.pending, leaderSample{n: n, term: term, end: end, idx: r.LastIndex(), at: time.Now()})
		}
	}
	// 3. Follower bound: no follower-earned lease beyond any leader's.
	for i, n := range nodes {
		if lastFE[n] == 0 {
			continue
		}
		s.checkedB++
		if fe[i].After(s.maxLL) {
			s.violate("%s's lease (earned as a follower) runs to %s, past the end of every leader's own lease (%s)",
				n.ID(), fe[i].Format("15:04:05.000"), s.maxLL.Format("15:04:05.000"))
		}
	}
	// 4. Index logs: when each node was first seen at each last index.
	for _, n := range nodes {
		r := n.r()
		if r == nil {
			continue
		}
		term, li := r.CurrentTerm(), r.LastIndex()
		at := time.Now() // after the read: an upper bound of when it was stored
		lg := s.logs[n]
		if lg == nil || lg.term != term {
			s.logs[n] = &indexLog{term: term, base: li}
			continue
		}
		if len(lg.pts) == 0 && li > lg.base || len(lg.pts) > 0 && li > lg.pts[len(lg.pts)-1].idx {
			lg.pts = append(lg.pts, indexPoint{idx: li, at: at})
		}
	}
	// 5. Leader bound, for the samples a follower has caught up with.
	keep := s.pending[:0]
	for _, p := range s.pending {
		var first time.Time
		for _, n := range nodes {
			if n == p.n {
				continue
			}
			lg := s.logs[n]
			if lg == nil || lg.term != p.term || p.idx <= lg.base {
				continue
			}
			i := sort.Search(len(lg.pts), func(i int) bool { return lg.pts[i].idx >= p.idx })
			if i < len(lg.pts) && (first.IsZero() || lg.pts[i].at.Before(first)) {
				first = lg.pts[i].at
			}
		}
		switch {
		case !first.IsZero():
			s.checkedA++
			if p.end.After(first.Add(s.ol)) {
				s.violate("leader %s (term %d) holds its lease to %s, but a follower held its index %d by %s: the Barrier behind the lease started after it was stored",
					p.n.ID(), p.term, p.end.Format("15:04:05.000"), p.idx, first.Format("15:04:05.000"))
			}
		case time.Since(p.at) < 10*time.Second:
			keep = append(keep, p)
		}
	}
	s.pending = keep
}

// lateRenewals counts the leader leases first seen at least d after their
// Barrier started, since since.
func (s *leaseSampler) lateRenewals(since time.Time, d time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.renewals {
		if r.start.After(since) && r.seen.Sub(r.start) >= d {
			n++
		}
	}
	return n
}

// renewalsSince counts the leader leases first seen since since.
func (s *leaseSampler) renewalsSince(since time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.renewals {
		if r.seen.After(since) {
			n++
		}
	}
	return n
}

// endsEarnedBefore returns the follower-earned lease ends first seen
// before at, and the leader leases of terms before term whenever seen:
// leases certainly granted before a leader of term, elected at at, began.
func (s *leaseSampler) endsEarnedBefore(at time.Time, term uint64) []endSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []endSeen
	for _, e := range s.ends {
		if e.seen.Before(at) && e.term == 0 || e.term != 0 && e.term < term {
			out = append(out, e)
		}
	}
	return out
}

// finish stops the sampler and fails t on any violation.
func (s *leaseSampler) finish(t testing.TB) {
	t.Helper()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.violations) > 0 {
		t.Errorf("lease bounds broken (%d samples):\n  %s", s.samples, strings.Join(s.violations, "\n  "))
	}
	t.Logf("lease sampler: %d samples, %d leader-bound checks, %d follower-bound checks, %d leader renewals seen",
		s.samples, s.checkedA, s.checkedB, len(s.renewals))
}
