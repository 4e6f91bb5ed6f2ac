package config

import (
	"strings"
	"testing"
)

// TestUI: the page is on by default on loopback; "" turns it off; mistakes
// name ui's key and line.
func TestUI(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.UI.Listen != "127.0.0.1:9121" {
		t.Errorf("default ui.listen %q, want 127.0.0.1:9121", c.UI.Listen)
	}
	if c, err = Parse([]byte("ui:\n  listen: \"\"\n")); err != nil || c.UI.Listen != "" {
		t.Errorf("empty ui.listen: %q, %v; want it off", c.UI.Listen, err)
	}
	if c, err = Parse([]byte("ui:\n  listen: 0.0.0.0:8080\n  hosts: [quay-1]\n")); err != nil || c.UI.Hosts[0] != "quay-1" {
		t.Errorf("ui.hosts: %v, %v", c.UI.Hosts, err)
	}
	for in, want := range map[string]string{
		"ui:\n  listen: nowhere\n":                                "line 2: ui.listen",
		"ui:\n  listen: 127.0.0.1:99999\n":                        "line 2: ui.listen",
		"listen: 127.0.0.1:9200\nui:\n  listen: 127.0.0.1:9200\n": "line 3: ui.listen: must differ",
		"ui:\n  hosts: [\"a b\"]\n":                               "line 2: ui.hosts",
		"ui:\n  web_config: /nonexistent/web.yml\n":               "line 2: ui.web_config",
		"ui:\n  port: 1\n":                                        "unknown key port",
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", in, err, want)
		}
	}
}
