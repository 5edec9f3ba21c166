// Package buildinfo names the version of the running program, from the
// build information the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo): the main module's version when it was
// built from a module (go install …@v1.2.3), else the VCS revision it was
// built from, else "devel". Commands print it for -version and version.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is the program's version: the main module's version (v1.2.3),
// else the first 12 digits of the VCS revision, with "-dirty" when the
// tree had local changes, else "devel" (go run, go test, or a build without
// VCS information).
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return version(bi)
}

// String is "<program> <version> (<go version> <os>/<arch>)", e.g.
// "ticksync v1.2.3 (go1.26.8 linux/amd64)".
func String(program string) string {
	return program + " " + Version() + " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// version picks the version out of bi (see Version).
func version(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range bi.Settings {
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
