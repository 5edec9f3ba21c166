package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	const rev = "1f2e679abcdef0123456789abcdef0123456789a"
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tt := range []struct {
		name     string
		main     string
		settings []debug.BuildSetting
		want     string
	}{
		{"module version", "v1.2.3", settings("vcs.revision", rev), "v1.2.3"},
		{"revision", "(devel)", settings("vcs.revision", rev, "vcs.modified", "false"), "1f2e679abcde"},
		{"dirty revision", "", settings("vcs.revision", rev, "vcs.modified", "true"), "1f2e679abcde-dirty"},
		{"short revision", "(devel)", settings("vcs.revision", "abc"), "abc"},
		{"nothing", "(devel)", nil, "devel"},
		{"empty", "", nil, "devel"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/ticksync/ticksync", Version: tt.main}, Settings: tt.settings}
			if got := version(bi); got != tt.want {
				t.Fatalf("version = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	s := String("ticksync")
	want := "ticksync " + Version() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	// A test binary has no module version and no VCS stamp.
	if v := Version(); v == "" || strings.ContainsAny(v, " \n") {
		t.Fatalf("Version = %q", v)
	}
}
