package config

import (
	"fmt"
	"os"
	"regexp"
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
		msg := WebConfigProblem(err)
		if strings.Contains(msg, "bcrypt") {
			msg += " (basic_auth_users takes bcrypt hashes, not passwords: htpasswd -nBC 10 USER)"
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	return nil
}

// WebConfigProblem says what is wrong with a web configuration file from
// the exporter-toolkit's error about it, by line only: web_config may name
// any file (/etc/shadow), and yaml's errors quote its text ("field
// root:$6$… not found"), which must not reach a terminal or a log. Errors
// that are not about the YAML (a certificate, a hash) are kept.
func WebConfigProblem(err error) string {
	msg := err.Error()
	rest, ok := strings.CutPrefix(msg, "yaml: ")
	if !ok {
		return msg
	}
	rest = strings.TrimPrefix(rest, "unmarshal errors:\n")
	var lines []string
	unknown := false
	for _, l := range strings.Split(rest, "\n") {
		l = strings.TrimSpace(l)
		n, what, ok := lineAndMessage(l)
		switch {
		case l == "":
			continue
		case !ok:
			lines = append(lines, "not YAML: "+unquote(l))
		case strings.Contains(what, " not found in type "):
			lines, unknown = append(lines, fmt.Sprintf("line %d: unknown key", n)), true
		case strings.Contains(what, "cannot unmarshal"):
			lines = append(lines, fmt.Sprintf("line %d: a value of the wrong type", n))
		default:
			lines = append(lines, fmt.Sprintf("line %d: not YAML: %s", n, unquote(what)))
		}
	}
	if len(lines) > 3 { // a whole file that is not one: its first lines say enough
		lines = append(lines[:3], fmt.Sprintf("and %d more", len(lines)-3))
	}
	msg = strings.Join(lines, "; ")
	if unknown {
		msg += " (a web configuration's keys are tls_server_config, http_server_config, basic_auth_users, rate_limit)"
	}
	return msg
}

// unquote drops what a yaml syntax error quotes of the file.
func unquote(s string) string {
	return regexp.MustCompile("`[^`]*`|'[^']*'|\"[^\"]*\"").ReplaceAllString(s, "…")
}
