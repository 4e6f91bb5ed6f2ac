package upload

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// NewLimiter returns a limiter for HTTPConfig.Limiter that lets
// bytesPerSecond through on average, or nil (no limit) when it is 0 or less.
func NewLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return nil
	}
	burst := int(min(max(bytesPerSecond/8, 4<<10), 256<<10))
	return rate.NewLimiter(rate.Limit(bytesPerSecond), burst)
}

// limitedReader paces reads through a limiter shared by every upload, so
// that all of them together stay under the line's limit.
type limitedReader struct {
	ctx context.Context
	r   io.Reader
	lim *rate.Limiter
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if b := l.lim.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if werr := l.lim.WaitN(l.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}
