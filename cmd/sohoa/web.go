package main

import (
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v3"
)

// serveMetrics serves /metrics, /healthz and /readyz on ln: plain HTTP, or
// with the TLS and basic auth of an exporter-toolkit web configuration file
// (webConfig, "" for none). The file is read again as clients connect, so a
// renewed certificate or a changed password needs no restart.
func serveMetrics(ln net.Listener, srv *http.Server, webConfig string, log *slog.Logger) error {
	noSocket := false
	return web.Serve(ln, srv, &web.FlagConfig{
		WebListenAddresses: &[]string{ln.Addr().String()},
		WebSystemdSocket:   &noSocket,
		WebConfigFile:      &webConfig,
	}, log)
}

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
