package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"tagged module", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: setting("vcs.revision", "0123456789abcdef")}, "v1.2.3"},
		{"checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: setting("vcs.revision", "0123456789abcdef0123", "vcs.modified", "false")}, "0123456789ab"},
		{"dirty checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: setting("vcs.revision", "0123456789abcdef", "vcs.modified", "true")}, "0123456789ab-dirty"},
		{"short revision", &debug.BuildInfo{Settings: setting("vcs.revision", "abc")}, "abc"},
		{"nothing known", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read = func() (*debug.BuildInfo, bool) { return tc.info, true }
			t.Cleanup(func() { read = debug.ReadBuildInfo })
			if got := Version(); got != tc.want {
				t.Fatalf("Version() = %q, want %q", got, tc.want)
			}
			want := "prog " + tc.want + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
			if got := String("prog"); got != want {
				t.Fatalf("String = %q, want %q", got, want)
			}
		})
	}
	read = func() (*debug.BuildInfo, bool) { return nil, false }
	t.Cleanup(func() { read = debug.ReadBuildInfo })
	if got := Version(); got != "devel" {
		t.Fatalf("without build info: %q", got)
	}
	if !strings.HasPrefix(String("x"), "x devel (") {
		t.Fatalf("String without build info: %q", String("x"))
	}
}
