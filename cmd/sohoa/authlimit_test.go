package main

import (
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// The bucket refills with time, and successes do not use it up.
func TestAuthLimiterRefills(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, _ := r.BasicAuth(); p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	a := &authLimiter{next: ok, every: 2 * time.Second, burst: 2, now: func() time.Time { return now },
		log: slog.New(slog.DiscardHandler)}
	try := func(password string) int {
		req, _ := http.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "192.0.2.7:4000"
		req.SetBasicAuth("prometheus", password)
		rec := &statusRecorder{h: http.Header{}}
		a.ServeHTTP(rec, req)
		return max(rec.code, http.StatusOK) // nothing written: 200
	}
	for i, tt := range []struct {
		password string
		advance  time.Duration
		want     int
	}{
		{"secret", 0, 200}, {"secret", 0, 200}, {"secret", 0, 200}, // successes take nothing
		{"x", 0, 401}, {"x", 0, 401}, {"x", 0, 429}, {"secret", 0, 429},
		{"x", time.Second, 429}, {"secret", time.Second, 200}, // a token back after 2s
		{"x", 0, 401}, {"x", 0, 429}, {"x", 2 * time.Second, 401},
	} {
		now = now.Add(tt.advance)
		if got := try(tt.password); got != tt.want {
			t.Errorf("attempt %d (%s after %v): %d, want %d", i, tt.password, tt.advance, got, tt.want)
		}
	}
}

type statusRecorder struct {
	h    http.Header
	code int
}

func (r *statusRecorder) Header() http.Header { return r.h }
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return len(b), nil
}
func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
