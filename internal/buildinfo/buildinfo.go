// Package buildinfo says which build of ticksync is running, from what the
// Go toolchain stamps into every binary (runtime/debug.ReadBuildInfo): the
// module version when built from a tagged module (go install …@v1.2.3),
// else the VCS revision of a build from a checkout, else "devel". The
// programs print it for -version and ticksyncctl version.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// read is runtime/debug.ReadBuildInfo (tests replace it).
var read = debug.ReadBuildInfo

// Version returns the build's version: the main module's version (e.g.
// "v1.2.3"), or the VCS revision it was built from (12 hex digits, with
// "-dirty" when the work tree had changes), or "devel" when neither is
// known (go run, go test, a build without VCS stamping).
func Version() string {
	info, ok := read()
	if !ok {
		return "devel"
	}
	return version(info)
}

func version(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// String returns one line naming program and its build, e.g.
// "ticksyncctl v1.2.3 (go1.26.0 linux/amd64)".
func String(program string) string {
	return fmt.Sprintf("%s %s (%s %s/%s)", program, Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
