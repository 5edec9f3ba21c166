package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:7350" || c.RaftAddr != "127.0.0.1:7351" || c.DataDir != "./ticksync-data" ||
		c.TickRate != 30 || c.FailoverAfter != 1500*time.Millisecond || c.OwnerLease != time.Second ||
		c.CheckpointInterval != 500*time.Millisecond || c.ResumeGrace != 15*time.Second ||
		c.LogFormat != "console" || c.Advertise != "ws://127.0.0.1:7350/ws" || c.NodeID == "" || c.AllowedOrigins != nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigEnvAndFlags(t *testing.T) {
	e := env(map[string]string{
		"TICKSYNC_HTTP_ADDR":       "0.0.0.0:8000",
		"TICKSYNC_TICK_RATE":       "60",
		"TICKSYNC_BOOTSTRAP":       "true",
		"TICKSYNC_ALLOWED_ORIGINS": "https://game.example.com, *.example.org",
		"TICKSYNC_LOG_LEVEL":       "DEBUG",
	})
	c, err := parseConfig([]string{"-tick-rate", "20", "-advertise", "wss://n1.example.com/ws"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "0.0.0.0:8000" || c.TickRate != 20 || !c.Bootstrap || len(c.AllowedOrigins) != 2 ||
		c.Advertise != "wss://n1.example.com/ws" || c.LogLevel.String() != "debug" {
		t.Fatalf("%+v", c)
	}
	if a := defaultAdvertise("0.0.0.0:8000", true); !strings.HasPrefix(a, "wss://") || strings.Contains(a, "0.0.0.0") {
		t.Fatalf("advertise %q", a)
	}
}

func TestConfigErrorsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-tick-rate", "500"}, nil, "-tick-rate 500: must be 1..128"},
		{[]string{"-tick-rate", "0"}, nil, "-tick-rate 0: must be 1..128"},
		{[]string{"-tick-rate", "fast"}, nil, "-tick-rate"},
		{nil, map[string]string{"TICKSYNC_TICK_RATE": "fast"}, "-tick-rate"},
		{[]string{"-http-addr", "7350"}, nil, "-http-addr"},
		{[]string{"-raft-addr", "127.0.0.1:7350"}, nil, "-raft-addr"},
		{[]string{"-advertise", "http://x/ws"}, nil, "-advertise"},
		{[]string{"-raft-advertise", "10.0.0.1"}, nil, "-raft-advertise"},
		{[]string{"-api-advertise", "ws://10.0.0.1:7350"}, nil, "-api-advertise"},
		{[]string{"-join", "http://a:7350", "-bootstrap"}, nil, "-join"},
		{[]string{"-join", "a:7350"}, nil, "-join \"a:7350\": must be the http://"},
		{[]string{"-join", "http://a:7350"}, nil, "-join \"http://a:7350\": needs -admin-token"},
		{[]string{"-tls-cert", junk}, nil, "-tls-cert"},
		{[]string{"-tls-cert", junk, "-tls-key", junk}, nil, "-tls-cert"},
		{[]string{"-allowed-origins", "https://a.com/path"}, nil, "-allowed-origins"},
		{[]string{"-auth-secret", "short"}, nil, "-auth-secret"},
		{[]string{"-owner-lease", "2s"}, nil, "-owner-lease 2s: must be shorter than -failover-after"},
		{[]string{"-failover-after", "0s"}, nil, "-failover-after"},
		{[]string{"-checkpoint-interval", "1ms"}, nil, "-checkpoint-interval"},
		{[]string{"-resume-grace", "-1s"}, nil, "-resume-grace"},
		{[]string{"-log-format", "xml"}, nil, "-log-format"},
		{[]string{"-log-level", "loud"}, nil, "-log-level"},
		{[]string{"-node-id", "a b"}, nil, "-node-id"},
		{[]string{"-no-such-flag"}, nil, "no-such-flag"},
		{[]string{"stray"}, nil, "stray"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want a usage error containing %q", err, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := envName("checkpoint-interval"); got != "TICKSYNC_CHECKPOINT_INTERVAL" {
		t.Fatal(got)
	}
	if got := sanitizeID("my host.local"); got != "my-host.local" {
		t.Fatal(got)
	}
}
