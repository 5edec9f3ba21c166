package bots

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // substring of the error; "" for valid
	}{
		{"default", func(c *Config) {}, ""},
		{"two urls", func(c *Config) { c.URLs = []string{"ws://a:1/ws", "wss://b/ws"} }, ""},
		{"no url", func(c *Config) { c.URLs = nil }, "url"},
		{"http url", func(c *Config) { c.URLs = []string{"http://a/ws"} }, "url"},
		{"no host", func(c *Config) { c.URLs = []string{"ws:///ws"} }, "url"},
		{"zero bots", func(c *Config) { c.Bots = 0 }, "bots 0"},
		{"too many bots", func(c *Config) { c.Bots = MaxBots + 1 }, "bots"},
		{"per room 0", func(c *Config) { c.PerRoom = 0 }, "per-room 0"},
		{"per room big", func(c *Config) { c.PerRoom = 65 }, "per-room 65"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "duration"},
		{"negative ramp", func(c *Config) { c.Ramp = -time.Second }, "ramp"},
		{"negative warmup", func(c *Config) { c.Warmup = -time.Second }, "warmup"},
		{"tick rate from server", func(c *Config) { c.TickRate = 0 }, ""},
		{"tick rate high", func(c *Config) { c.TickRate = 500 }, "tick-rate 500: must be 1..128"},
		{"error rate", func(c *Config) { c.MaxErrorRate = 1.5 }, "max-error-rate"},
		{"behavior", func(c *Config) { c.Behavior = "dance" }, "behavior"},
		{"chase", func(c *Config) { c.Behavior = Chase }, ""},
		{"server stats url", func(c *Config) { c.ServerStatsURL = "ftp://x" }, "server-stats"},
		{"server stats ok", func(c *Config) { c.ServerStatsURL = "http://127.0.0.1:7350/metrics" }, ""},
		{"join-timeout", func(c *Config) { c.JoinTimeout = 0 }, "join-timeout"},
		{"world ring", func(c *Config) { c.WorldRing = -1 }, "world-ring"},
		{"world ring default", func(c *Config) { c.WorldRing = 0 }, ""},
		{"read buffer", func(c *Config) { c.ReadBufferSize = 100 }, "read-buffer"},
		{"skip world", func(c *Config) { c.SkipWorld = true }, ""},
		{"stall watch off", func(c *Config) { c.StallTimeout = 0 }, ""},
		{"stall timeout short", func(c *Config) { c.StallTimeout = 500 * time.Millisecond }, "stall-timeout 500ms: must be 0 (off) or at least 1s"},
		{"skip world chase", func(c *Config) { c.SkipWorld = true; c.Behavior = Chase }, "skip-world"},
		{"no game", func(c *Config) { c.Game = "" }, "game: must name the game (default arena)"},
		{"player id base 0", func(c *Config) { c.TokenSecret = "s"; c.PlayerIDBase = 0 }, "player-id-base"},
		{"player id overflow", func(c *Config) { c.TokenSecret = "s"; c.PlayerIDBase = 1<<32 - 10 }, "player-id-base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseBehavior(t *testing.T) {
	for in, want := range map[string]Behavior{"wander": Wander, "CHASE": Chase, " idle ": Idle} {
		got, err := ParseBehavior(in)
		if err != nil || got != want {
			t.Errorf("ParseBehavior(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseBehavior("run"); err == nil {
		t.Error("ParseBehavior(run): want an error")
	}
}
