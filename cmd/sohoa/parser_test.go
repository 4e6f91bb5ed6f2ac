package main

import "testing"

func TestParserCount(t *testing.T) {
	for _, tt := range []struct{ configured, workers, cpus, want int }{
		{0, 2, 2, 1}, // a counter PC: one parser, one CPU left to hash and copy
		{0, 2, 4, 2}, // one a watch worker when CPUs allow
		{0, 8, 4, 3},
		{0, 2, 1, 1}, // never none
		{3, 2, 2, 3}, // as configured
	} {
		if got := parserCount(tt.configured, tt.workers, tt.cpus); got != tt.want {
			t.Errorf("parserCount(%d, %d, %d) = %d, want %d", tt.configured, tt.workers, tt.cpus, got, tt.want)
		}
	}
}
