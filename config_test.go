package ticksync

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// parseConfig is what the ticksync command does with its arguments.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("ticksync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := c.ParseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	return &c, nil
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:7350" || c.RaftAddr != "127.0.0.1:7351" || c.DataDir != "./ticksync-data" ||
		c.TickRate != 30 || c.FailoverAfter != 750*time.Millisecond || c.OwnerLease != 500*time.Millisecond ||
		c.CheckpointInterval != 500*time.Millisecond || c.ResumeGrace != 15*time.Second ||
		c.LogFormat != "console" || c.LogLevel != zerolog.InfoLevel || c.Advertise != "" || c.NodeID == "" || c.AllowedOrigins != nil ||
		c.Logger != nil || c.DefaultGame != "" {
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
		"TICKSYNC_METRICS_ADDR":    "10.0.0.1:7359",
	})
	c, err := parseConfig([]string{"-tick-rate", "20", "-advertise", "wss://n1.example.com/ws"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "0.0.0.0:8000" || c.TickRate != 20 || !c.Bootstrap || len(c.AllowedOrigins) != 2 ||
		c.Advertise != "wss://n1.example.com/ws" || c.LogLevel.String() != "debug" || c.MetricsAddr != "10.0.0.1:7359" {
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
		{[]string{"-metrics-addr", "7359"}, nil, "-metrics-addr \"7359\": must be host:port"},
		{[]string{"-metrics-addr", "127.0.0.1:7350"}, nil, "-metrics-addr \"127.0.0.1:7350\": must differ from -http-addr"},
		{[]string{"-api-advertise", "ws://10.0.0.1:7350"}, nil, "-api-advertise"},
		{[]string{"-join", "http://a:7350", "-bootstrap"}, nil, "-join"},
		{[]string{"-join", "a:7350"}, nil, "-join \"a:7350\": must be the http://"},
		{[]string{"-join", "http://a:7350"}, nil, "-join \"http://a:7350\": needs -admin-token"},
		{[]string{"-tls-cert", junk}, nil, "-tls-cert"},
		{[]string{"-tls-cert", junk, "-tls-key", junk}, nil, "-tls-cert"},
		{[]string{"-allowed-origins", "https://a.com/path"}, nil, "-allowed-origins"},
		{[]string{"-auth-secret", "short"}, nil, "-auth-secret"},
		{[]string{"-owner-lease", "2s"}, nil, "-owner-lease 2s: must be shorter than -failover-after"},
		{[]string{"-owner-lease", "700ms"}, nil, "-failover-after 750ms: must exceed -owner-lease (700ms) by at least 170ms"},
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
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := parseConfig([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("checkpoint-interval"); got != "TICKSYNC_CHECKPOINT_INTERVAL" {
		t.Fatal(got)
	}
	if got := sanitizeID("my host.local"); got != "my-host.local" {
		t.Fatal(got)
	}
}

// TestBindFlagsOwnFlagSet: a program with flags of its own binds the
// node's next to them; the environment reaches both, a flag on the command
// line wins, and the defaults come from the Config bound.
func TestBindFlagsOwnFlagSet(t *testing.T) {
	c := DefaultConfig()
	c.TickRate = 20 // the program's own default
	fs := flag.NewFlagSet("mygame", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	level := fs.String("level", "easy", "the game's own flag")
	c.BindFlags(fs)
	for _, name := range []string{"node-id", "http-addr", "raft-addr", "raft-advertise", "api-advertise", "advertise", "data-dir",
		"bootstrap", "join", "tick-rate", "tls-cert", "tls-key", "allowed-origins", "admin-token", "auth-secret",
		"failover-after", "owner-lease", "checkpoint-interval", "resume-grace", "log-format", "log-level"} {
		if fs.Lookup(name) == nil {
			t.Errorf("no -%s", name)
		}
	}
	if f := fs.Lookup("tick-rate"); f.DefValue != "20" {
		t.Fatalf("-tick-rate default %q, want the bound Config's 20", f.DefValue)
	}
	if f := fs.Lookup("log-level"); f.DefValue != "info" {
		t.Fatalf("-log-level default %q", f.DefValue)
	}
	e := env(map[string]string{"TICKSYNC_LEVEL": "hard", "TICKSYNC_DATA_DIR": "/tmp/x", "TICKSYNC_NODE_ID": "from-env"})
	if err := ApplyEnv(fs, e); err != nil {
		t.Fatal(err)
	}
	if err := fs.Parse([]string{"-node-id", "from-flag", "-allowed-origins", "a.example.com,*.b.example.com"}); err != nil {
		t.Fatal(err)
	}
	if *level != "hard" || c.DataDir != "/tmp/x" || c.NodeID != "from-flag" || c.TickRate != 20 ||
		strings.Join(c.AllowedOrigins, " ") != "a.example.com *.b.example.com" {
		t.Fatalf("level %q, config %+v", *level, c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs, env(map[string]string{"TICKSYNC_OWNER_LEASE": "soon"})); err == nil ||
		!strings.Contains(err.Error(), "-owner-lease: TICKSYNC_OWNER_LEASE=\"soon\"") {
		t.Fatalf("err %v", err)
	}
}

// TestValidateProgrammatic: a Config filled in code, not from flags, is
// checked as strictly, and the message still names the flag.
func TestValidateProgrammatic(t *testing.T) {
	for _, tt := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.AllowedOrigins = []string{"https://a.com/path"} }, "-allowed-origins"},
		{func(c *Config) { c.Advertise = "http://x/ws" }, "-advertise"},
		{func(c *Config) { c.DataDir = " " }, "-data-dir"},
		{func(c *Config) { c.AdminToken = "a b" }, "-admin-token"},
		{func(c *Config) { c.LogFormat = "" }, "-log-format"},
	} {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err %v, want %q", err, tt.want)
		}
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New: err %v, want %q", err, tt.want)
		}
	}
}
