package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"
)

// checkWebConfig reads the web configuration file as the metrics server
// will (its YAML, the TLS certificate and key it names, the users' bcrypt
// hashes), so a mistake stops the daemon at start with the key and line
// instead of failing the first scrape.
func checkWebConfig(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := web.Validate(path); err != nil {
		// yaml's "unmarshal errors:\n  line 1: ..." on one line, naming the file.
		msg := strings.Join(strings.Fields(strings.Replace(err.Error(), "yaml: unmarshal errors:", "", 1)), " ")
		if strings.Contains(msg, "bcrypt") {
			msg += " (basic_auth_users takes bcrypt hashes, not passwords: htpasswd -nBC 10 USER)"
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	return nil
}
