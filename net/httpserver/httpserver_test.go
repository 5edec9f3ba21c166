package httpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticksync/ticksync/internal/testutil"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/healthz", Healthz())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

func TestPlainHTTP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s := start(t, cfg)
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := testutil.SelfSignedCert(t, t.TempDir())
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	s := start(t, cfg)
	addr := s.Addr().String()

	t.Run("tls 1.2 and 1.3, http/1.1", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			client := &http.Client{Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: v, MaxVersion: v},
				ForceAttemptHTTP2: true,
			}}
			resp, err := client.Get("https://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("version %x: %v", v, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ProtoMajor != 1 || resp.TLS.Version != v {
				t.Fatalf("version %x: status %d proto %s tls %x", v, resp.StatusCode, resp.Proto, resp.TLS.Version)
			}
		}
	})
	t.Run("tls 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
		if !strings.Contains(err.Error(), "protocol version") {
			t.Logf("refused with: %v", err)
		}
	})
	t.Run("plain http on the tls port", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func TestBadTLSFiles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TLSCertFile = filepath.Join(t.TempDir(), "missing.pem")
	cfg.TLSKeyFile = cfg.TLSCertFile
	if _, err := New(cfg); err == nil {
		t.Fatal("missing key pair accepted")
	}
	cfg.TLSKeyFile = ""
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("err %v", err)
	}
}

func TestReadyz(t *testing.T) {
	var notReady error = errors.New("raft: no leader")
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("/readyz", Readyz(func() error { return notReady }))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	get := func() (int, string) {
		resp, err := http.Get("http://" + s.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 503 || !strings.Contains(body, "no leader") {
		t.Fatalf("%d %q", code, body)
	}
	notReady = nil
	if code, body := get(); code != 200 || body != "ready\n" {
		t.Fatalf("%d %q", code, body)
	}
}

func TestSlowHeadersCut(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.ReadHeaderTimeout = 200 * time.Millisecond
	s := start(t, cfg)
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\n")) // never finishes
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, _ = io.ReadAll(conn)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("connection held for %v", d)
	}
}

// TestIdleKeepAliveClosed: a plain HTTP keep-alive connection left idle
// after a request is closed by the server once IdleTimeout has passed, and
// the default keeps idle connections at most 10 s.
func TestIdleKeepAliveClosed(t *testing.T) {
	if d := DefaultConfig().IdleTimeout; d <= 0 || d > 10*time.Second {
		t.Fatalf("default idle timeout %v, want at most 10s", d)
	}
	s, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if s.srv.IdleTimeout != DefaultConfig().IdleTimeout {
		t.Fatalf("http.Server.IdleTimeout %v, want the config's %v", s.srv.IdleTimeout, DefaultConfig().IdleTimeout)
	}
	for _, bad := range []time.Duration{0, -time.Second, time.Hour} {
		cfg := DefaultConfig()
		cfg.IdleTimeout = bad
		if err := cfg.Validate(); err == nil {
			t.Fatalf("idle timeout %v accepted", bad)
		}
	}

	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.IdleTimeout = 300 * time.Millisecond
	srv := start(t, cfg)
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.Close {
		t.Fatal("the server did not keep the connection alive")
	}
	idle := time.Now()
	// The next read ends when the server closes the idle connection.
	if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read %d bytes, %v; want EOF", n, err)
	}
	if d := time.Since(idle); d < cfg.IdleTimeout-50*time.Millisecond {
		t.Fatalf("closed after %v idle, before the idle timeout %v", d, cfg.IdleTimeout)
	}
}
