package main

import (
	"fmt"
	"io"
	"runtime"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// cmdVersion prints the version: `sohoa version`.
func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "sohoa %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
