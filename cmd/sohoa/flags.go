package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// interleave moves flags written after the positional arguments (as in
// `sohoa coversheet CODE -o x.pdf`) in front of them, for the flag package.
func interleave(args []string, valued ...string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		for _, v := range valued {
			if name == v && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	return append(flags, rest...)
}

// parseFlags parses a subcommand's flags. synopsis is its usage line after
// "usage: ", with its arguments. On --help it prints the usage and the
// flags on stdout and returns exit status 0; on a bad flag it prints them on
// stderr and returns 2; ok says the command goes on.
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stdout, stderr io.Writer) (code int, ok bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	fs.Usage = func() {
		fmt.Fprintf(&buf, "usage: %s\n", synopsis)
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		stdout.Write(buf.Bytes())
		return 0, false
	case err != nil:
		stderr.Write(buf.Bytes())
		return 2, false
	}
	return 0, true
}
