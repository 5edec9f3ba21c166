package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestBadFlagsExit2NamingTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		flag string
	}{
		{[]string{"-bots", "0"}, "-bots"},
		{[]string{"-bots", "x"}, "-bots"},
		{[]string{"-per-room", "100"}, "-per-room"},
		{[]string{"-duration", "0s"}, "-duration"},
		{[]string{"-duration", "soon"}, "-duration"},
		{[]string{"-ramp", "-1s"}, "-ramp"},
		{[]string{"-tick-rate", "500"}, "-tick-rate"},
		{[]string{"-behavior", "dance"}, "-behavior"},
		{[]string{"-url", "http://x/ws"}, "-url"},
		{[]string{"-url", ""}, "-url"},
		{[]string{"-max-error-rate", "2"}, "-max-error-rate"},
		{[]string{"-server-stats", "x"}, "-server-stats"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"-stall-timeout", "100ms"}, "-stall-timeout"},
		{[]string{"-event-rate", "100"}, "-event-rate"},
		{[]string{"-event-rate", "-1"}, "-event-rate"},
		{[]string{"-nope"}, "-nope"},
		{[]string{"extra"}, "extra"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			code := run(tt.args, io.Discard, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2 (stderr %q)", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.flag) {
				t.Errorf("stderr %q does not name %s", stderr.String(), tt.flag)
			}
		})
	}
}

func TestFlagsToConfig(t *testing.T) {
	cfg, jsonPath, _, err := parseFlags([]string{
		"-url", "ws://a:1/ws, wss://b/ws", "-bots", "50", "-per-room", "4", "-duration", "3s",
		"-ramp", "1s", "-tick-rate", "20", "-behavior", "chase", "-json", "r.json", "-seed", "7",
		"-insecure", "-max-error-rate", "0.05", "-token-secret", "k", "-origin", "http://o",
		"-server-stats", "http://a:1/metrics", "-server-stats-token", "tok", "-stall-timeout", "3s",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.URLs) != 2 || cfg.URLs[1] != "wss://b/ws" || cfg.Bots != 50 || cfg.PerRoom != 4 ||
		cfg.Duration.Seconds() != 3 || cfg.Ramp.Seconds() != 1 || cfg.TickRate != 20 || cfg.Behavior != "chase" ||
		jsonPath != "r.json" || cfg.Seed != 7 || !cfg.Insecure || cfg.MaxErrorRate != 0.05 ||
		cfg.TokenSecret != "k" || cfg.Origin != "http://o" || cfg.ServerStatsURL != "http://a:1/metrics" || cfg.ServerStatsToken != "tok" || cfg.StallTimeout != 3*time.Second {
		t.Errorf("config = %+v", cfg)
	}
}

func TestStallTimeoutDefault(t *testing.T) {
	cfg, _, _, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StallTimeout != 2*time.Second {
		t.Errorf("-stall-timeout default %v, want 2s (the client's)", cfg.StallTimeout)
	}
	if cfg, _, _, err = parseFlags([]string{"-stall-timeout", "0"}, io.Discard); err != nil || cfg.StallTimeout != 0 {
		t.Errorf("-stall-timeout 0: %v, %v; want the watch off", cfg.StallTimeout, err)
	}
}

func TestGameFlags(t *testing.T) {
	cfg, _, _, err := parseFlags([]string{"-game", "cards", "-event-rate", "2.5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Game != "cards" || cfg.EventRate != 2.5 || cfg.Schema != nil {
		t.Errorf("config = %+v", cfg)
	}
	if cfg, _, _, err = parseFlags(nil, io.Discard); err != nil || cfg.EventRate != 0.5 {
		t.Errorf("-event-rate default %v, %v; want 0.5", cfg.EventRate, err)
	}
}
