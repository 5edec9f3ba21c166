package client

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ticksync/ticksync/games/arena"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/gamedelta"
)

// rawServer is a WebSocket server written by hand on a TCP listener, so
// that a benchmark counts the client's allocations only: it upgrades, sends
// a Welcome, drains what the client sends and writes frames it builds
// itself, allocating nothing per frame.
type rawServer struct {
	ln    net.Listener
	url   string
	conns chan net.Conn
	wg    sync.WaitGroup
}

func newRawServer(tb testing.TB) *rawServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	rs := &rawServer{ln: ln, url: "ws://" + ln.Addr().String() + "/ws", conns: make(chan net.Conn, 16)}
	rs.wg.Add(1)
	go rs.accept()
	tb.Cleanup(func() {
		_ = ln.Close()
		rs.wg.Wait()
	})
	return rs
}

func (rs *rawServer) accept() {
	defer rs.wg.Done()
	for {
		nc, err := rs.ln.Accept()
		if err != nil {
			return
		}
		br := bufio.NewReaderSize(nc, 512)
		req, err := http.ReadRequest(br)
		if err != nil {
			_ = nc.Close()
			continue
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(h[:]))
		enc := schema.NewEncoder(256)
		_, _ = nc.Write(appendFrame(nil, enc.Welcome(&schema.Welcome{
			PlayerID: 1, EntityID: 1, TickRate: 30, ResumeToken: "t", NodeID: "raw",
			Game: arena.Name, SchemaHash: arena.Schema().HashString(),
		})))
		rs.wg.Add(1)
		go func() { // drain the client's frames (Hello, inputs, close)
			defer rs.wg.Done()
			buf := make([]byte, 512) // not io.Discard: it holds 8 KiB per reader
			for {
				if _, err := br.Read(buf); err != nil {
					break
				}
			}
			_ = nc.Close()
		}()
		rs.conns <- nc
	}
}

// appendFrame appends an unmasked binary frame (server to client).
func appendFrame(dst, payload []byte) []byte {
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, 0x82, byte(n))
	case n < 1<<16:
		dst = append(dst, 0x82, 126, byte(n>>8), byte(n))
	default:
		panic("frame too large")
	}
	return append(dst, payload...)
}

// arenaWorld is 64 arena entities moving like arena-8x64's: constant
// velocity most ticks, a new heading for one entity in 60 each tick, hp
// changes now and then.
type arenaWorld struct {
	ents []arena.Entity
	rnd  uint64
}

func newArenaWorld() *arenaWorld {
	w := &arenaWorld{rnd: 1}
	for i := range 64 {
		w.ents = append(w.ents, arena.Entity{ID: uint32(i + 1), Kind: arena.KindNPC, X: int32(i * 100), Y: int32(i * 50), VX: 32, VY: -16, HP: arena.MaxHP})
	}
	return w
}

func (w *arenaWorld) next() uint32 {
	w.rnd ^= w.rnd << 13
	w.rnd ^= w.rnd >> 7
	w.rnd ^= w.rnd << 17
	return uint32(w.rnd)
}

// step advances one tick and writes it into dst (reset first).
func (w *arenaWorld) step(dst *gamedelta.World) {
	dst.Reset()
	for k := range w.ents {
		e := &w.ents[k]
		e.X = (e.X + int32(e.VX) + arena.MaxPos + 1) % (arena.MaxPos + 1)
		e.Y = (e.Y + int32(e.VY) + arena.MaxPos + 1) % (arena.MaxPos + 1)
		if w.next()%60 == 0 {
			e.VX, e.VY = int16(w.next()%64)-32, int16(w.next()%64)-32
			e.Angle = uint16(w.next())
		}
		if w.next()%500 == 0 && e.HP > 1 {
			e.HP--
		}
		i := dst.Add(e.ID, e.Kind, e.Owner)
		dst.SetInt(i, arena.FieldX, int64(e.X))
		dst.SetInt(i, arena.FieldY, int64(e.Y))
		dst.SetInt(i, arena.FieldVX, int64(e.VX))
		dst.SetInt(i, arena.FieldVY, int64(e.VY))
		dst.SetInt(i, arena.FieldAngle, int64(e.Angle))
		dst.SetInt(i, arena.FieldHP, int64(e.HP))
	}
}

// countHandler counts snapshots and signals when it has seen want.
type countHandler struct {
	NopHandler
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
}

func (h *countHandler) OnSnapshot(*Client, *schema.Snapshot, *World) {
	if h.n.Add(1) == h.want.Load() {
		h.done <- struct{}{}
	}
}

// BenchmarkReceiveSnapshot measures the client's receive path through a
// real loopback socket with the arena's schema (games/arena): gws's read,
// verify+decode, the gamedelta Receiver's apply, the Handler. One op is one snapshot; allocs/op are the whole process's,
// and the server allocates nothing per frame.
func BenchmarkReceiveSnapshot(b *testing.B) {
	for _, kind := range []string{"full64", "delta64"} {
		b.Run(kind, func(b *testing.B) {
			rs := newRawServer(b)
			h := &countHandler{done: make(chan struct{}, 1)}
			cfg := DefaultConfig()
			cfg.URLs = []string{rs.url}
			cfg.Schema, cfg.Codec = arena.Schema(), arena.Codec()
			cfg.Handler = h
			c, err := Dial(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			nc := <-rs.conns

			w := newArenaWorld()
			cur := gamedelta.NewWorld(arena.Codec())
			genc, err := gamedelta.NewEncoder(arena.Codec(), gamedelta.DefaultEncoderConfig())
			if err != nil {
				b.Fatal(err)
			}
			cl := genc.NewClient(1)
			enc := schema.NewEncoder(4096)
			var frame []byte
			tick := uint32(0)
			send := func() int {
				tick++
				w.step(cur)
				if err := genc.Record(tick, cur); err != nil {
					b.Fatal(err)
				}
				if kind == "delta64" && tick > 1 {
					cl.Ack(tick - 1)
				} else {
					cl.Reset()
				}
				e, err := genc.Encode(cl, nil)
				if err != nil {
					b.Fatal(err)
				}
				msg, _ := enc.Snapshot(&schema.Snapshot{Tick: tick, BaselineTick: e.Baseline, State: e.Data})
				frame = appendFrame(frame[:0], msg)
				if _, err := nc.Write(frame); err != nil {
					b.Error(err)
				}
				return len(msg)
			}
			// Warm up: slices and pools grown, first full snapshot applied.
			h.want.Store(100)
			for range 100 {
				send()
			}
			<-h.done
			h.n.Store(0)
			h.want.Store(int64(b.N))
			bytes := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				bytes += send()
			}
			<-h.done
			b.StopTimer()
			b.SetBytes(int64(bytes / b.N))
			if st := c.Stats(); st.ApplyErrors != 0 {
				b.Fatalf("apply errors: %+v", st)
			}
		})
	}
}

// BenchmarkSendInput measures SendInput through a real socket (the server
// drains): encode, frame, one write.
func BenchmarkSendInput(b *testing.B) {
	rs := newRawServer(b)
	cfg := DefaultConfig()
	cfg.URLs = []string{rs.url}
	cfg.Schema, cfg.Codec = arena.Schema(), arena.Codec()
	cfg.StallTimeout = 0 // the raw server sends no snapshots here
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	<-rs.conns
	in := schema.Input{Data: arena.AppendInput(nil, arena.Input{MoveX: 50, MoveY: -50, Aim: 1234})}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := c.SendInput(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleClients measures the memory of idle connected clients: one
// op dials one client and keeps it (run it with -benchtime=1000x for 1,000
// clients). Heap and goroutine stacks are the whole process's: the raw
// server's side of each connection (a socket and a drain goroutine with a
// 512-byte buffer) is included.
func BenchmarkIdleClients(b *testing.B) {
	rs := newRawServer(b)
	cfg := DefaultConfig()
	cfg.URLs = []string{rs.url}
	cfg.Schema, cfg.Codec = arena.Schema(), arena.Codec()
	cfg.StallTimeout = 0 // idle: the raw server sends no snapshots
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	clients := make([]*Client, 0, b.N)
	b.ResetTimer()
	for range b.N {
		c, err := Dial(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		<-rs.conns
		clients = append(clients, c)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(b.N)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heapB/client")
	b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stackB/client")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/client")
	for _, c := range clients {
		_ = c.Close()
	}
}
