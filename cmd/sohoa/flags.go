package main

import (
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
