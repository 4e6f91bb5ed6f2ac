package main

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// authLimiter refuses with 429 the requests that carry basic-auth
// credentials from a client (an IP address) whose attempts failed too often
// (burst failures, then one every every) or that has two such requests in
// flight. Each failed attempt costs the toolkit a bcrypt comparison (some
// 70 ms of a core at cost 10), so without it a LAN client guessing passwords
// keeps the cores busy. Successful attempts do not count; requests without
// credentials cost nothing and pass. now nil means time.Now. Safe for
// concurrent use.
type authLimiter struct {
	next    http.Handler
	every   time.Duration
	burst   int
	now     func() time.Time
	log     *slog.Logger
	mu      sync.Mutex
	clients map[string]*authClient
}

type authClient struct {
	failures *rate.Limiter // a token a failure
	inflight int
	refused  bool // logged as refused since its last allowed attempt
}

const (
	// authClientsMax bounds the clients remembered; past it, those idle
	// and back to a full bucket are forgotten.
	authClientsMax = 1024
	// authInflightMax is how many requests with credentials one client
	// may have in flight.
	authInflightMax = 2
)

func (a *authLimiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := r.BasicAuth(); !ok {
		a.next.ServeHTTP(w, r)
		return
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	c, wait := a.admit(host)
	if c == nil {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		http.Error(w, "too many failed logins, try again later", http.StatusTooManyRequests)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() { a.done(c, sw.status == http.StatusUnauthorized) }()
	a.next.ServeHTTP(sw, r)
}

// admit returns host's client with one more request in flight, or nil and
// how long to wait when it may not try now.
func (a *authLimiter) admit(host string) (c *authClient, wait time.Duration) {
	now := a.clock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.clients == nil {
		a.clients = make(map[string]*authClient)
	}
	c = a.clients[host]
	if c == nil {
		if len(a.clients) >= authClientsMax {
			for h, old := range a.clients {
				if old.inflight == 0 && old.failures.TokensAt(now) >= float64(a.burst) {
					delete(a.clients, h)
				}
			}
		}
		c = &authClient{failures: rate.NewLimiter(rate.Every(a.every), a.burst)}
		a.clients[host] = c
	}
	if tokens := c.failures.TokensAt(now); tokens < 1 || c.inflight >= authInflightMax {
		if !c.refused {
			c.refused = true
			a.log.Warn("too many failed logins on the metrics port; refusing this client's attempts for a while",
				"client", host, "burst", a.burst, "every", a.every)
		}
		return nil, time.Duration((1 - min(tokens, 1)) * float64(a.every))
	}
	c.refused = false
	c.inflight++
	return c, 0
}

// done ends a request admit let through; a failed one takes a token.
func (a *authLimiter) done(c *authClient, failed bool) {
	now := a.clock()
	a.mu.Lock()
	defer a.mu.Unlock()
	c.inflight--
	if failed {
		c.failures.AllowN(now, 1)
	}
}

func (a *authLimiter) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

// statusWriter remembers the status the handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
