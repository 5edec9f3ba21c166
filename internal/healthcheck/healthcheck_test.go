package healthcheck

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCommand(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ready\n")) }))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no cluster lease\nsecond line", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	tlsReady := httptest.NewTLSServer(ready.Config.Handler) // a self-signed certificate on 127.0.0.1
	defer tlsReady.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string // in stderr (code != 0) or stdout
	}{
		{"ready", []string{"-url", ready.URL + "/readyz"}, 0, "ok: " + ready.URL},
		{"not ready", []string{"-url", notReady.URL + "/readyz"}, 1, "503 Service Unavailable: no cluster lease"},
		{"no answer in time", []string{"-url", slow.URL, "-timeout", "200ms"}, 1, "no answer in time"},
		{"nobody listening", []string{"-url", closedURL + "/readyz"}, 1, "connection refused"},
		{"loopback https", []string{"-url", tlsReady.URL + "/readyz"}, 0, "ok: "},
		{"bad url", []string{"-url", "ftp://x/readyz"}, 1, "must be http:// or https://"},
		{"bad flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"argument", []string{"extra"}, 2, "unexpected argument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			start := time.Now()
			code := Main(tt.args, func(string) string { return "" }, &stdout, &stderr)
			out := stdout.String()
			if code != 0 {
				out = stderr.String()
			}
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out, tt.code, tt.want)
			}
			if took := time.Since(start); took > Timeout+time.Second {
				t.Fatalf("took %v", took)
			}
		})
	}
}

func TestDefaultURL(t *testing.T) {
	for _, tt := range []struct {
		addr, cert, want string
	}{
		{"", "", "http://127.0.0.1:7350/readyz"},
		{"0.0.0.0:8080", "", "http://127.0.0.1:8080/readyz"},
		{"[::]:8080", "/etc/ticksync/cert.pem", "https://127.0.0.1:8080/readyz"},
		{"localhost:9000", "", "http://127.0.0.1:9000/readyz"},
		{"10.0.0.5:7350", "", "http://10.0.0.5:7350/readyz"},
		{"garbage", "", "http://127.0.0.1:7350/readyz"},
	} {
		env := map[string]string{"TICKSYNC_HTTP_ADDR": tt.addr, "TICKSYNC_TLS_CERT": tt.cert}
		if got := DefaultURL(func(k string) string { return env[k] }); got != tt.want {
			t.Errorf("addr %q cert %q: %s, want %s", tt.addr, tt.cert, got, tt.want)
		}
	}
}
