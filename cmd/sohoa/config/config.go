// Package config reads sohoa's YAML configuration: embedded defaults for
// every setting, strict decoding (an unknown key is an error), and errors
// that name the key and its line in the file.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// Config is the whole daemon configuration. The zero value is not useful:
// start from Default or Load.
type Config struct {
	Ward     Ward    `yaml:"ward"`
	Inbox    string  `yaml:"inbox"`
	DataDir  string  `yaml:"data_dir"`
	Listen   string  `yaml:"listen"`
	LogLevel string  `yaml:"log_level"`
	Watch    Watch   `yaml:"watch"`
	Folders  Folders `yaml:"folders"`
	Check    Check   `yaml:"check"`
	Link     Link    `yaml:"link"`
	Upload   Upload  `yaml:"upload"`
	Archive  Archive `yaml:"archive"`
}

// Ward identifies the unit this counter belongs to.
type Ward struct {
	Code string `yaml:"code"` // agency code as in its dossier codes, e.g. 000.00.12.H57
	Name string `yaml:"name"` // e.g. Phường Hương Văn
}

// Watch says how the inbox is watched.
type Watch struct {
	Mode   string   `yaml:"mode"`   // events | poll
	Quiet  Duration `yaml:"quiet"`  // a file is taken after it stopped changing this long
	Rescan Duration `yaml:"rescan"` // full rescan (events) or poll interval (poll)
}

// Folders names the staff-facing folders inside the inbox.
type Folders struct {
	Errors  string `yaml:"errors"`
	Waiting string `yaml:"waiting"`
}

// Check holds the validation limits.
type Check struct {
	MinDPI   float64  `yaml:"min_dpi"`
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// Link says how scans are linked to dossiers.
type Link struct {
	Pattern       string `yaml:"pattern"`
	AcceptForeign bool   `yaml:"accept_foreign"`
}

// Upload says where confirmed scans go.
type Upload struct {
	Sink        string  `yaml:"sink"` // dir | http
	Concurrency int     `yaml:"concurrency"`
	Retry       Retry   `yaml:"retry"`
	Dir         DirSink `yaml:"dir"`
	HTTP        HTTP    `yaml:"http"`
}

// Retry bounds the upload backoff.
type Retry struct {
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

// DirSink is the folder sink: a mounted share, or a local outbox.
type DirSink struct {
	Path         string `yaml:"path"`
	RequireMount bool   `yaml:"require_mount"` // wait while Path is not a mount point
}

// HTTP describes an upload request to the provincial system. Its keys are
// accepted and checked now; the HTTP sink itself is not built yet.
type HTTP struct {
	URL       string            `yaml:"url"`
	Method    string            `yaml:"method"`
	FileField string            `yaml:"file_field"`
	Body      string            `yaml:"body"`
	Fields    map[string]string `yaml:"fields"`
	Headers   map[string]string `yaml:"headers"`
	Timeout   Duration          `yaml:"timeout"`
	Auth      map[string]string `yaml:"auth"`
}

// Archive says how long uploaded scans are kept in the data dir.
type Archive struct {
	Retention Duration `yaml:"retention"` // 0: forever
}

// Default returns the embedded defaults: everything under ./var, uploads to a
// local outbox, the ward of the sample corpus.
func Default() Config {
	return Config{
		Ward:     Ward{Code: "000.00.12.H57", Name: "Phường Hương Văn"},
		Inbox:    "var/inbox",
		DataDir:  "var/data",
		Listen:   "127.0.0.1:9120",
		LogLevel: "info",
		Watch:    Watch{Mode: "events", Quiet: Duration(5 * time.Second), Rescan: Duration(60 * time.Second)},
		Folders:  Folders{Errors: "Lỗi", Waiting: "Chờ mã hồ sơ"},
		Check:    Check{MinDPI: 200, MaxBytes: 30 << 20},
		Link:     Link{Pattern: dossier.StrictPattern},
		Upload: Upload{
			Sink:        "dir",
			Concurrency: 1,
			Retry:       Retry{MinBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute)},
			Dir:         DirSink{Path: "var/outbox"},
		},
		Archive: Archive{Retention: Duration(90 * 24 * time.Hour)},
	}
}

// Load reads a config file over the defaults. Errors name the file, the key
// and the line.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults and validates the result.
func Parse(b []byte) (Config, error) {
	c := Default()
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return Config{}, cleanYAMLError(err)
	}
	if len(bytes.TrimSpace(b)) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil {
			return Config{}, cleanYAMLError(err)
		}
	}
	if err := c.validate(); err != nil {
		var ke *keyError
		if errors.As(err, &ke) {
			if line := lineOf(&root, ke.key); line > 0 {
				return Config{}, fmt.Errorf("line %d: %s: %s", line, ke.key, ke.msg)
			}
		}
		return Config{}, err
	}
	return c, nil
}

// cleanYAMLError makes yaml's "yaml: unmarshal errors:\n  line 3: field x not
// found in type config.Ward" read as one line that names the key.
func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " not found in type "); i >= 0 {
			l = strings.Replace(l[:i], "field ", "unknown key ", 1)
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return errors.New(strings.Join(lines, "; "))
}

type keyError struct{ key, msg string }

func (e *keyError) Error() string { return e.key + ": " + e.msg }

func bad(key, format string, a ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, a...)}
}

func (c *Config) validate() error {
	switch {
	case c.Ward.Code == "":
		return bad("ward.code", "must be set to this unit's agency code, e.g. 000.00.12.H57")
	case strings.ContainsAny(c.Ward.Code, " /\\"):
		return bad("ward.code", "%q is not an agency code", c.Ward.Code)
	case c.Inbox == "":
		return bad("inbox", "must be set")
	case c.DataDir == "":
		return bad("data_dir", "must be set")
	case c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error":
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	case c.Watch.Mode != "events" && c.Watch.Mode != "poll":
		return bad("watch.mode", "%q is not one of events, poll", c.Watch.Mode)
	case c.Watch.Quiet <= 0:
		return bad("watch.quiet", "must be positive")
	case c.Watch.Rescan <= 0:
		return bad("watch.rescan", "must be positive")
	case c.Check.MinDPI <= 0:
		return bad("check.min_dpi", "must be positive")
	case c.Check.MaxBytes <= 0:
		return bad("check.max_bytes", "must be positive")
	case c.Upload.Concurrency < 1 || c.Upload.Concurrency > 64:
		return bad("upload.concurrency", "must be between 1 and 64")
	case c.Upload.Retry.MinBackoff <= 0:
		return bad("upload.retry.min_backoff", "must be positive")
	case c.Upload.Retry.MaxBackoff < c.Upload.Retry.MinBackoff:
		return bad("upload.retry.max_backoff", "must not be below min_backoff")
	case c.Archive.Retention < 0:
		return bad("archive.retention", "must not be negative")
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return bad("listen", "%q is not host:port", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return bad("listen", "bad port in %q", c.Listen)
	}
	for key, name := range map[string]string{"folders.errors": c.Folders.Errors, "folders.waiting": c.Folders.Waiting} {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
			return bad(key, "%q must be a plain folder name", name)
		}
	}
	if c.Folders.Errors == c.Folders.Waiting {
		return bad("folders.waiting", "must differ from folders.errors")
	}
	if _, err := dossier.NewGrammar(c.Link.Pattern); err != nil {
		return bad("link.pattern", "%v", err)
	}
	switch c.Upload.Sink {
	case "dir":
		if c.Upload.Dir.Path == "" {
			return bad("upload.dir.path", "must be set when upload.sink is dir")
		}
		if sameDir(c.Upload.Dir.Path, c.Inbox) {
			return bad("upload.dir.path", "must not be the inbox")
		}
	case "http":
		if c.Upload.HTTP.URL == "" {
			return bad("upload.http.url", "must be set when upload.sink is http")
		}
	default:
		return bad("upload.sink", "%q is not one of dir, http", c.Upload.Sink)
	}
	return nil
}

func sameDir(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// lineOf finds the line of a dotted key in a YAML document, 0 if absent.
func lineOf(doc *yaml.Node, key string) int {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, part := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// Duration is a time.Duration written as "30s", "5m", "2160h".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 30s, 5m or 24h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ByteSize is a size written as a number of bytes or with a unit: 30MiB, 500KB, 1GiB.
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = ByteSize(v)
	return nil
}

// ParseByteSize parses "31457280", "30MiB", "30 MB", "1.5GiB".
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size such as 30MiB", s)
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}
	m, ok := mult[strings.ToUpper(unit)]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit (B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return int64(f * m), nil
}
