package province

import "time"

// Backoff bounds the delay between attempts: Min doubled per failed
// attempt, capped at Max, with jitter over the upper half.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the wait after the given number of failed attempts (1 or more).
func (b Backoff) Delay(attempts int, rnd func() float64) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	// Jitter over [d/2, d): many counters coming back after one outage do
	// not all hit the province at the same moment.
	return d/2 + time.Duration(rnd()*float64(d/2))
}
