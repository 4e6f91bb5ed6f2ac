package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/sohoa/sohoa/metrics"
)

// version, revision and branch may be set at build time, as release builds
// do: go build -ldflags "-X main.version=1.4.0 -X main.revision=$(git
// rev-parse HEAD) -X main.branch=$(git branch --show-current)". Left empty,
// version and revision come from what the Go build records (buildInfo).
var version, revision, branch string

// buildInfo describes this binary: the -ldflags values, else the module
// version Go stamps from the VCS (v0.0.0-20261207…-93fcded079fa+dirty in a
// checkout) and the commit it was built from, "-modified" when the work
// tree had changes. Two builds of different commits always differ.
func buildInfo() metrics.Build {
	info, _ := debug.ReadBuildInfo()
	return buildFrom(metrics.Build{Version: version, Revision: revision, Branch: branch}, info)
}

// buildFrom fills in what ld (the -ldflags values) leaves empty from info
// (nil: nothing recorded).
func buildFrom(ld metrics.Build, info *debug.BuildInfo) metrics.Build {
	b := ld
	if info == nil {
		return b
	}
	if v := info.Main.Version; b.Version == "" && v != "" && v != "(devel)" {
		b.Version = v
	}
	var rev string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		case "-tags":
			b.Tags = s.Value
		}
	}
	if rev != "" && modified {
		rev += "-modified"
	}
	b.Revision = cmp.Or(b.Revision, rev)
	return b
}

// cmdVersion prints the version: `sohoa version`.
func cmdVersion(stdout io.Writer) int {
	b := buildInfo()
	fmt.Fprintf(stdout, "sohoa %s (revision %s, branch %s) %s %s/%s\n", cmp.Or(b.Version, "unknown"),
		cmp.Or(b.Revision, "unknown"), cmp.Or(b.Branch, "unknown"), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
