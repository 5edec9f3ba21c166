// Package floor is the capacity benchmark's yardstick: the least a
// WebSocket game server can do on this machine. It accepts loopback clients
// with gws behind net/http, answers each Hello with a Welcome, and every tick
// (drift-free, default 30 Hz) writes one same-sized pre-encoded Snapshot
// frame to every client, while reading (and verifying) one Input from each.
// No rooms, no game, no deltas: what the real server costs above this floor
// is the price of its features.
//
// Data flow: a client's first message is its Hello (any match id is
// accepted; every client joins the one "floor" match) → Welcome → the client
// joins a writer shard. The tick goroutine runs on a sim.Clock, the room
// loops' own schedule (so that an overrun means the same here as on a
// node), encodes the tick's frame once (a full snapshot of enough arena
// NPCs, in the arena's own schema, to reach Config.FrameSize bytes) and hands each writer a copy, latest
// wins, as a room hands snapshots to its sessions; each writer takes the
// newest frame, patches in each client's last input seq (so that the bots
// measure input→ack RTT as on the real server) and writes it with a
// synchronous WriteMessage under a write deadline. gws's read goroutine of each connection verifies and counts its
// inputs. Stats are served as JSON on /stats, as Prometheus metrics
// under a node's metric names on /metrics, and the arena's schema on
// /games/arena/schema, as a node serves it.
//
// The frames are valid schema Snapshots whose state is the arena's (the
// Welcome names the arena and its schema hash), so the ordinary bots
// (package bots) are the floor's clients.
package floor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lxzan/gws"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
)

// Config configures a Server.
type Config struct {
	// Addr to listen on; it must be a loopback address (default
	// 127.0.0.1:0, a free port).
	Addr string
	// TickRate: frames per client per second (1..128).
	TickRate int
	// FrameSize is the target size of a frame's payload in bytes; the frame
	// is a full snapshot with as many entities as fit (24 B each).
	FrameSize int
	// Writers is the number of writer goroutines (0: GOMAXPROCS).
	Writers int
	// WriteTimeout bounds each write.
	WriteTimeout time.Duration
}

// DefaultConfig returns the load the floor is measured with (DESIGN.md,
// "Measured"): 30 Hz, 300 B frames.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:0", TickRate: 30, FrameSize: 300, WriteTimeout: 2 * time.Second}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %w", c.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("addr %q: must be a loopback IP address", c.Addr)
	}
	switch {
	case c.TickRate < 1 || c.TickRate > 128:
		return fmt.Errorf("tick rate %d: must be 1..128", c.TickRate)
	case c.FrameSize < 64 || c.FrameSize > 64<<10:
		return fmt.Errorf("frame size %d: must be 64..65536", c.FrameSize)
	case c.Writers < 0 || c.Writers > 64:
		return fmt.Errorf("writers %d: must be 0..64", c.Writers)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("write timeout %s: must be > 0", c.WriteTimeout)
	}
	return nil
}

// Stats are the floor's counters since Start.
type Stats struct {
	Clients int64  `json:"clients"`
	Ticks   uint64 `json:"ticks"`
	// LateTicks counts ticks that started after the next one was due
	// (sim.Clock overruns, as a node's rooms count them). A tick whose
	// writers are still busy with the previous one waits for them, so slow
	// writes show up here too.
	LateTicks    uint64  `json:"late_ticks"`
	SkippedTicks uint64  `json:"skipped_ticks"` // ticks skipped after a stall (sim.Clock)
	Delivered    uint64  `json:"delivered"`     // frames written
	Dropped      uint64  `json:"dropped"`       // frames replaced before their writer took them, per client
	WriteErrors  uint64  `json:"write_errors"`
	Inputs       uint64  `json:"inputs"`
	BadInputs    uint64  `json:"bad_inputs"`
	FrameBytes   int     `json:"frame_bytes"`
	Entities     int     `json:"entities"`
	CPUUserS     float64 `json:"cpu_user_s"`
	CPUSysS      float64 `json:"cpu_sys_s"`
}

// Server is the floor server. New, Start, then Shutdown.
type Server struct {
	cfg     Config
	ln      net.Listener
	http    *http.Server
	up      *gws.Upgrader
	writers []*writer
	ents    int
	m       *metrics

	frameLen  atomic.Int64
	nextID    atomic.Uint32
	clients   atomic.Int64
	ticks     atomic.Uint64
	late      atomic.Uint64
	skipped   atomic.Uint64
	dropped   atomic.Uint64
	delivered atomic.Uint64
	bytesOut  atomic.Uint64
	werrs     atomic.Uint64
	inputs    atomic.Uint64
	bad       atomic.Uint64

	done     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// conn is one client.
type conn struct {
	ws      *gws.Conn
	joined  bool          // read goroutine only
	lastSeq atomic.Uint32 // newest input seq read
	closed  atomic.Bool
	msg     schema.ClientMessage // read goroutine only
	writeDL time.Time            // its writer only
}

// writer owns a shard of the clients and writes the newest frame to each.
// The tick goroutine hands it frames as a room hands a session snapshots:
// a copy into a pending slot under a short lock, latest wins (a frame the
// writer has not started is replaced and counted as dropped), never a wait.
type writer struct {
	mu      sync.Mutex // guards the fields below; held for a copy, never for I/O
	conns   []*conn    // replaced, never modified in place: the writer iterates a copy
	pending []byte     // the newest frame not yet taken by the writer
	off     int        // offset of last_input_seq in pending
	has     bool       // pending holds a frame
	wake    chan struct{}

	frame []byte // writer goroutine: the frame being written
}

// New validates cfg and prepares the server.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Writers == 0 {
		cfg.Writers = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, done: make(chan struct{})}
	s.ents = entitiesFor(cfg.FrameSize)
	s.m = newMetrics(s)
	s.up = gws.NewUpgrader(s, &gws.ServerOption{
		ReadMaxPayloadSize: 4 << 10,
		Recovery:           gws.Recovery,
		CheckUtf8Enabled:   false,
	})
	for range cfg.Writers {
		s.writers = append(s.writers, &writer{wake: make(chan struct{}, 1)})
	}
	return s, nil
}

// entitiesFor returns how many entities make a full snapshot closest to
// size: the frame of one entity, plus what each further one adds.
func entitiesFor(size int) int {
	frame := func(n int) int {
		st := newState(n)
		st.step()
		st.snap.Tick, st.snap.LastInputSeq, st.snap.ServerTimeMS = 1, 1, 1
		b, _ := schema.NewEncoder(size + 256).Snapshot(&st.snap)
		return len(b)
	}
	one, per := frame(1), float64(frame(65)-frame(1))/64
	n := 1 + int((float64(size-one)+per/2)/per)
	return max(n, 1)
}

// Start listens and starts the tick and writer goroutines.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("floor: listen: %w", err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", s.serveWS)
	mux.HandleFunc("/stats", s.serveStats)
	mux.HandleFunc("/games/"+arena.Name+"/schema", serveSchema)
	mux.Handle("/metrics", s.m.handler())
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(2 + len(s.writers))
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener closed under us: Shutdown is running
		}
	}()
	for _, w := range s.writers {
		go func() {
			defer s.wg.Done()
			s.write(w)
		}()
	}
	go func() {
		defer s.wg.Done()
		s.tick()
	}()
	return nil
}

// serveSchema serves the arena's compiled schema as a node does, for
// clients that fetch the schema of the game the Welcome names.
func serveSchema(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+arena.Schema().HashString()+`"`)
	_, _ = w.Write(arena.BFBS())
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the game endpoint's ws:// URL.
func (s *Server) URL() string { return "ws://" + s.Addr() + "/ws" }

// Shutdown stops ticking, closes the listener and every client, and waits.
// Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.done)
		_ = s.http.Shutdown(ctx) // stop accepting; hijacked conns are ours
		for _, w := range s.writers {
			w.mu.Lock()
			for _, c := range w.conns {
				_ = c.ws.NetConn().Close()
			}
			w.mu.Unlock()
		}
	})
	ch := make(chan struct{})
	go func() { s.wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counters and the process's CPU time.
func (s *Server) Stats() Stats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return Stats{
		Clients:      s.clients.Load(),
		Ticks:        s.ticks.Load(),
		LateTicks:    s.late.Load(),
		SkippedTicks: s.skipped.Load(),
		Dropped:      s.dropped.Load(),
		Delivered:    s.delivered.Load(),
		WriteErrors:  s.werrs.Load(),
		Inputs:       s.inputs.Load(),
		BadInputs:    s.bad.Load(),
		FrameBytes:   int(s.frameLen.Load()),
		Entities:     s.ents,
		CPUUserS:     time.Duration(ru.Utime.Nano()).Seconds(),
		CPUSysS:      time.Duration(ru.Stime.Nano()).Seconds(),
	}
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.Stats())
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	c := &conn{ws: ws}
	ws.Session().Store("c", c)
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	go ws.ReadLoop()
}
