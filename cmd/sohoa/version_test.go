package main

import (
	"runtime/debug"
	"testing"

	"github.com/sohoa/sohoa/metrics"
)

// Without -ldflags, version and revision come from what the Go build
// recorded, so two builds of different commits tell apart.
func TestBuildFrom(t *testing.T) {
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/sohoa/sohoa", Version: "v0.0.0-20261207222345-93fcded079fa+dirty"},
		Settings: []debug.BuildSetting{{Key: "-tags", Value: "netgo"},
			{Key: "vcs.revision", Value: "93fcded079fa992315afc3c33a6b0a0ae585584e"}, {Key: "vcs.modified", Value: "true"}},
	}
	tests := []struct {
		ld   metrics.Build
		info *debug.BuildInfo
		want metrics.Build
	}{
		{metrics.Build{}, info, metrics.Build{Version: "v0.0.0-20261207222345-93fcded079fa+dirty",
			Revision: "93fcded079fa992315afc3c33a6b0a0ae585584e-modified", Tags: "netgo"}},
		{metrics.Build{Version: "1.4.0", Revision: "abc", Branch: "main"}, info,
			metrics.Build{Version: "1.4.0", Revision: "abc", Branch: "main", Tags: "netgo"}},
		{metrics.Build{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, metrics.Build{}},
		{metrics.Build{Version: "1.4.0"}, nil, metrics.Build{Version: "1.4.0"}},
	}
	for _, tt := range tests {
		if got := buildFrom(tt.ld, tt.info); got != tt.want {
			t.Errorf("buildFrom(%+v) = %+v, want %+v", tt.ld, got, tt.want)
		}
	}
}
