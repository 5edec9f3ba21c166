package ws

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
	"github.com/ticksync/ticksync/schema"
	"github.com/ticksync/ticksync/schema/fb"
)

// startTLS serves a Server over wss through httpserver, as the node does.
func startTLS(t *testing.T, mod func(*Config)) (*Server, *fakeJoiner, string, *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := testutil.SelfSignedCert(t, t.TempDir())
	j := &fakeJoiner{}
	cfg := DefaultConfig()
	cfg.Joiner = j
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, j, serve(t, srv, certFile, keyFile, nil), pool
}

func TestWSS(t *testing.T) {
	srv, _, addr, pool := startTLS(t, nil)
	t.Run("session", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		c, resp, err := dialWS(t, addr, dialOpts{conn: conn, origin: "https://" + addr})
		if err != nil || c == nil {
			t.Fatalf("upgrade over tls: %v %v", resp, err)
		}
		c.hello(schema.Hello{})
		c.mustNext(fb.ServerBodyWelcome)
		c.send(c.enc.Leave())
		c.expectClose(CloseNormal, 5*time.Second)
	})
	t.Run("tls 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
	})
	t.Run("text frame over tls", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := dialWS(t, addr, dialOpts{conn: conn})
		if err != nil || c == nil {
			t.Fatal(err)
		}
		_ = c.writeFrame(0x1, []byte("hi"))
		c.expectClose(CloseUnsupportedData, 5*time.Second)
	})
	if st := srv.Stats(); st.Upgrades != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestWSSSlowConsumer: over TLS the 4010 frame cannot follow a timed-out
// write (crypto/tls refuses further writes), but the session is still
// closed and counted, and the room never blocks.
func TestWSSSlowConsumer(t *testing.T) {
	srv, j, addr, pool := startTLS(t, func(c *Config) {
		c.SlowConsumerAfter = 200 * time.Millisecond
		c.SendBufferBytes = 4 << 10
	})
	d := net.Dialer{Control: rcvBufControl(4 << 10)}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	c, _, err := dialWS(t, addr, dialOpts{conn: conn})
	if err != nil || c == nil {
		t.Fatal(err)
	}
	c.hello(schema.Hello{})
	c.mustNext(fb.ServerBodyWelcome)
	seat := j.seat(0)
	msg := snapshotBytes(1, 80)
	start := time.Now()
	for srv.Stats().Sessions > 0 {
		t0 := time.Now()
		seat.conn.SendSnapshot(msg)
		// A blocked write would wait for the deadline (300 ms+); 50 ms
		// leaves room for a loaded machine under -race.
		if d := time.Since(t0); d > 50*time.Millisecond {
			t.Fatalf("SendSnapshot blocked %v", d)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("slow consumer not closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := srv.Stats(); st.SlowConsumers != 1 || st.Closes[CloseSlowConsumer] != 1 || seat.disconnected.Load() != 1 {
		t.Fatalf("stats %+v, disconnected %d", st, seat.disconnected.Load())
	}
}
