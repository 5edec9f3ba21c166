package sim

import "testing"

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"tick rate 1", func(c *Config) { c.TickRate = 1 }, ""},
		{"tick rate 128", func(c *Config) { c.TickRate = 128 }, ""},
		{"tick rate 0", func(c *Config) { c.TickRate = 0 }, "tick rate 0: must be 1..128"},
		{"tick rate 500", func(c *Config) { c.TickRate = 500 }, "tick rate 500: must be 1..128"},
		{"input queue 0", func(c *Config) { c.InputQueue = 0 }, "input queue 0: must be 1..1024"},
		{"input queue 2000", func(c *Config) { c.InputQueue = 2000 }, "input queue 2000: must be 1..1024"},
		{"history 1", func(c *Config) { c.History = 1 }, "history 1: must be 2..1024"},
		{"history 2000", func(c *Config) { c.History = 2000 }, "history 2000: must be 2..1024"},
		{"input buffer 0", func(c *Config) { c.InputBuffer = 0 }, "input buffer 0: must be 1..64"},
		{"catch-up 0", func(c *Config) { c.MaxCatchUp = 0 }, "max catch-up 0: must be 1..1000"},
		{"entity hint -1", func(c *Config) { c.EntityHint = -1 }, "entity hint -1: must be 0..65536"},
		{"max input bytes 0", func(c *Config) { c.MaxInputBytes = 0 }, "max input bytes 0: must be 1..4096"},
		{"max input bytes 4097", func(c *Config) { c.MaxInputBytes = 4097 }, "max input bytes 4097: must be 1..4096"},
		{"client event queue 0", func(c *Config) { c.ClientEventQueue = 0 }, "client event queue 0: must be 1..1024"},
		{"event queue 2000", func(c *Config) { c.EventQueue = 2000 }, "event queue 2000: must be 1..1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.TickRate != 30 || c.History != 64 || c.MaxInputBytes != 256 || c.ClientEventQueue != 64 || c.EventQueue != 256 {
		t.Fatalf("DefaultConfig() = %+v, want 30 Hz, 64 ticks of history, 256 input bytes, event queues of 64 and 256", c)
	}
	if _, err := NewRoom("bad", Config{}, &fakeWorld{}, nil); err == nil {
		t.Fatal("NewRoom accepted a zero Config")
	}
}
