package main

import "testing"

func TestParserCount(t *testing.T) {
	for _, tt := range []struct{ configured, workers, want int }{
		{0, 2, 2}, // one a watch worker: files taken at once are parsed at once
		{0, 1, 1},
		{1, 2, 1}, // as configured: a PC short of memory
		{3, 2, 3},
	} {
		if got := parserCount(tt.configured, tt.workers); got != tt.want {
			t.Errorf("parserCount(%d, %d) = %d, want %d", tt.configured, tt.workers, got, tt.want)
		}
	}
}
