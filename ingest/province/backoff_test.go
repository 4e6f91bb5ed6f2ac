package province

import (
	"testing"
	"time"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	lo := func() float64 { return 0 }
	hi := func() float64 { return 0.999999 }
	for _, tt := range []struct {
		attempts int
		min, max time.Duration
	}{{1, 500 * time.Millisecond, time.Second}, {2, time.Second, 2 * time.Second}, {4, 4 * time.Second, 8 * time.Second},
		{20, 30 * time.Second, time.Minute}, {1000, 30 * time.Second, time.Minute}} {
		if d := b.Delay(tt.attempts, lo); d != tt.min {
			t.Errorf("Delay(%d) low = %v, want %v", tt.attempts, d, tt.min)
		}
		if d := b.Delay(tt.attempts, hi); d < tt.max-time.Millisecond || d > tt.max {
			t.Errorf("Delay(%d) high = %v, want about %v", tt.attempts, d, tt.max)
		}
	}
}
