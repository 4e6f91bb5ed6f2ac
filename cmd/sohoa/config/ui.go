package config

import (
	"net"
	"strconv"
	"strings"
)

// UI is the counter's page (cmd/sohoa/page): what was scanned today, what
// waits for a dossier code, which received dossiers have no scan yet.
type UI struct {
	// Listen is where the page is served, host:port; "" turns it off.
	// Apart from listen (the metrics), so that /metrics can face the
	// province's Prometheus while the page stays on the counter PC.
	Listen string `yaml:"listen"`
	// Hosts are more names the page may be reached by (the PC's name on
	// the ward's network), besides localhost and IP addresses: a request
	// naming any other host is refused, so a web page elsewhere that
	// points its own name at this PC (DNS rebinding) gets nothing.
	Hosts []string `yaml:"hosts"`
	// WebConfig is an exporter-toolkit web configuration file (TLS, basic
	// auth) for the page; "" serves plain HTTP.
	WebConfig string `yaml:"web_config"`
}

// defaultUI serves the page on the PC itself.
func defaultUI() UI { return UI{Listen: "127.0.0.1:9121"} }

func (u UI) validate(metricsListen string) error {
	if u.Listen == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(u.Listen)
	if err != nil {
		return bad("ui.listen", "%q is not host:port (or \"\" to turn the page off)", u.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return bad("ui.listen", "bad port in %q", u.Listen)
	}
	if u.Listen == metricsListen && port != "0" {
		return bad("ui.listen", "must differ from listen (the metrics)")
	}
	for _, h := range u.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ ") {
			return bad("ui.hosts", "%q is not a host name", h)
		}
	}
	if u.WebConfig != "" {
		if err := checkWebConfig(u.WebConfig); err != nil {
			return bad("ui.web_config", "%v", err)
		}
	}
	return nil
}
