package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
)

// serveMetrics serves /metrics, /healthz and /readyz on ln: plain HTTP, or
// with the TLS and basic auth of an exporter-toolkit web configuration file
// (webConfig, "" for none). The file is read again as clients connect, so a
// renewed certificate or a changed password needs no restart. Failed basic
// auth is rate-limited per client (authLimiter), and what the toolkit and
// the server log of a file that went bad names its lines, not its text.
func serveMetrics(ln net.Listener, srv *http.Server, webConfig string, log *slog.Logger) error {
	noSocket := false
	flags := &web.FlagConfig{
		WebListenAddresses: &[]string{ln.Addr().String()},
		WebSystemdSocket:   &noSocket,
		WebConfigFile:      &webConfig,
	}
	if webConfig == "" {
		return web.Serve(ln, srv, flags, log)
	}
	log = slog.New(scrubHandler{log.Handler()})
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	// web.Serve puts its basic-auth handler in front of srv.Handler and
	// then serves; the first Accept runs in that same goroutine, before any
	// request, so the limiter goes in front of the toolkit's handler there.
	limited := &hookListener{Listener: ln, hook: func() {
		srv.Handler = &authLimiter{next: srv.Handler, every: time.Second, burst: 10, log: log}
	}}
	return web.Serve(limited, srv, flags, log)
}

// hookListener calls hook once, at the first Accept.
type hookListener struct {
	net.Listener
	once sync.Once
	hook func()
}

func (l *hookListener) Accept() (net.Conn, error) {
	l.once.Do(l.hook)
	return l.Listener.Accept()
}

// scrubHandler is a slog.Handler that makes a yaml error about the web
// configuration file, in a message or an attribute, say its lines only
// (config.WebConfigProblem): the toolkit logs the file's errors as clients
// connect, and the file may be any file.
type scrubHandler struct{ slog.Handler }

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, scrubYAML(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if v := a.Value.Resolve(); v.Kind() == slog.KindString || v.Kind() == slog.KindAny {
			if clean := scrubYAML(v.String()); clean != v.String() {
				a = slog.String(a.Key, clean)
			}
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return scrubHandler{h.Handler.WithAttrs(as)}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.Handler.WithGroup(name)}
}

// scrubYAML replaces a yaml error in s, and what follows it, with what
// config.WebConfigProblem says of it.
func scrubYAML(s string) string {
	i := strings.Index(s, "yaml: ")
	if i < 0 {
		return s
	}
	return s[:i] + config.WebConfigProblem(yamlError(s[i:]))
}

type yamlError string

func (e yamlError) Error() string { return string(e) }

// metricsURL is where the metrics are served, for the log: https when the
// web configuration sets up TLS.
func metricsURL(addr net.Addr, webConfig string) string {
	scheme := "http"
	if webConfig != "" {
		var c web.Config
		if b, err := os.ReadFile(webConfig); err == nil && yaml.Unmarshal(b, &c) == nil && c.TLSConfig.IsEnabled() {
			scheme = "https"
		}
	}
	return scheme + "://" + addr.String() + "/metrics"
}
