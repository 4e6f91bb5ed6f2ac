// Package config reads sohoa's YAML configuration: embedded defaults for
// every setting, strict decoding (an unknown key is an error), and errors
// that name the key and its line in the file.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry/search"
)

// Config is the whole daemon configuration. The zero value is not useful:
// start from Default or Load.
type Config struct {
	Ward     Ward     `yaml:"ward"`
	Inbox    string   `yaml:"inbox"`
	DataDir  string   `yaml:"data_dir"`
	Listen   string   `yaml:"listen"`
	LogLevel string   `yaml:"log_level"`
	Watch    Watch    `yaml:"watch"`
	Folders  Folders  `yaml:"folders"`
	Check    Check    `yaml:"check"`
	Link     Link     `yaml:"link"`
	Upload   Upload   `yaml:"upload"`
	Archive  Archive  `yaml:"archive"`
	Registry Registry `yaml:"registry"`
	Pages    Pages    `yaml:"pages"`
	UI       UI       `yaml:"ui"` // the counter's page (ui.go)
	Sign     Sign     `yaml:"sign"`

	// WebConfig is an exporter-toolkit web configuration file (TLS, basic
	// auth) for the listen address; "" serves plain HTTP.
	WebConfig string `yaml:"web_config"`
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
	// Workers is how many files are taken (copied, checked, linked) at once.
	Workers int `yaml:"workers"`
	// Link takes a file into the data dir by a hard link instead of a copy
	// when both are on one file system and nobody has it open for writing.
	Link bool `yaml:"link"`
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
	// Isolate parses files in a separate parser process with the limits
	// below; false parses them inside the daemon (no limit on memory).
	Isolate      bool     `yaml:"isolate"`
	ParserMemory ByteSize `yaml:"parser_memory"` // the parser process's resident memory cap
	ParserCPU    Duration `yaml:"parser_cpu"`    // CPU time per file
	Timeout      Duration `yaml:"timeout"`       // wall-clock time per file
	// Parsers is how many parser processes may run at once; 0: one a watch
	// worker. Fewer bound the memory parsing may take below the workers'.
	Parsers int `yaml:"parsers"`
	// RequireColor rejects scans with no colour page image (not_color);
	// false reports them only (many provinces accept grey).
	RequireColor bool `yaml:"require_color"`
}

// Link says how scans are linked to dossiers.
type Link struct {
	Pattern       string `yaml:"pattern"`
	AcceptForeign bool   `yaml:"accept_foreign"`
	// Barcodes says when receipts' QR and Code 128 are read: always (a
	// scan without a code is searched whole, a named one has its first page
	// checked against its name), unnamed (only scans without a code), off.
	Barcodes string `yaml:"barcodes"`
}

// Pages says which pages of a scan are uploaded.
type Pages struct {
	// DropBlank leaves the blank back sides of duplex scans out of the
	// uploaded PDF (the original is kept in the data dir).
	DropBlank bool `yaml:"drop_blank"`
	// BlankWhite is the brightness, in percent, under which a pixel counts
	// as ink (NAPS2's white threshold).
	BlankWhite float64 `yaml:"blank_white_threshold"`
	// BlankMaxInk is the share of ink pixels, in percent, at or under which
	// a page is blank (NAPS2's coverage, much stricter here).
	BlankMaxInk float64 `yaml:"blank_max_ink"`
	// DropReceipts leaves the receipt pages out of the uploaded PDF; by
	// default they stay, being part of the dossier. A dossier that is only
	// its receipt keeps it.
	DropReceipts bool `yaml:"drop_receipts"`
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
		Watch:    Watch{Mode: "events", Quiet: Duration(5 * time.Second), Rescan: Duration(60 * time.Second), Workers: 2, Link: true},
		Folders:  Folders{Errors: "Lỗi", Waiting: "Chờ mã hồ sơ"},
		Check:    Check{MinDPI: 200, MaxBytes: 30 << 20, Isolate: true, ParserMemory: 1 << 30, ParserCPU: Duration(time.Minute), Timeout: Duration(2 * time.Minute)},
		Link:     Link{Pattern: dossier.StrictPattern, Barcodes: "always"},
		Upload: Upload{
			Sink:          "dir",
			Concurrency:   1,
			QueueMaxBytes: 4 << 30,
			Retry:         Retry{MinBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute)},
			Dir:           DirSink{Path: "var/outbox", Link: true},
		},
		Archive: Archive{Retention: Duration(90 * 24 * time.Hour)},
		Registry: Registry{Pull: Pull{
			Method: "GET", DateFormat: search.DefaultDateFormat, PageSize: search.DefaultPageSize, Paging: search.PagingShort,
			MaxPages: search.DefaultMaxPages, MaxBytes: search.DefaultMaxBytes, Interval: Duration(search.DefaultInterval),
			LookbackDays: search.DefaultLookbackDays, Timeout: Duration(search.DefaultTimeout),
			Retry: PullRetry{Attempts: search.DefaultAttempts, MinBackoff: Duration(time.Second), MaxBackoff: Duration(5 * time.Minute)},
		}},
		Pages: Pages{DropBlank: true, BlankWhite: 70, BlankMaxInk: 0.01},
		UI:    defaultUI(),
		Sign:  defaultSign(),
	}
}

// Load reads a config file over the defaults, after the shared files of the
// conf.d folder beside it (ConfD): the file itself wins. Errors name the
// file, the key and the line. Besides Parse's checks, the inbox must exist.
func Load(path string) (Config, error) {
	layers, err := readLayers(path)
	if err != nil {
		return Config{}, err
	}
	return parse(layers, true)
}

// Parse decodes YAML over the defaults, makes its paths absolute and
// validates the result.
func Parse(b []byte) (Config, error) { return parse([]layer{{data: b}}, false) }

// parse decodes the layers in order over the defaults (a later one's keys
// win); onDisk also checks the folders that must already exist. An error
// names the layer (its file) that set the key, else the last layer.
func parse(layers []layer, onDisk bool) (Config, error) {
	c := Default()
	for i := range layers {
		if err := layers[i].decode(&c); err != nil {
			return Config{}, layers[i].named(err)
		}
	}
	err := c.absolute()
	if err == nil {
		err = c.validate()
	}
	if err == nil && onDisk {
		err = c.checkInbox()
	}
	if err == nil {
		return c, nil
	}
	last := layers[len(layers)-1]
	var ke *keyError
	if !errors.As(err, &ke) {
		return Config{}, last.named(err)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		if line, exact := lineOf(&layers[i].root, ke.key); exact {
			return Config{}, layers[i].named(fmt.Errorf("line %d: %s: %s", line, ke.key, ke.msg))
		}
	}
	if line, _ := lineOf(&last.root, ke.key); line > 0 {
		return Config{}, last.named(fmt.Errorf("line %d: %s: %s", line, ke.key, ke.msg))
	}
	return Config{}, last.named(err)
}

// cleanYAMLError makes yaml's "yaml: unmarshal errors:\n  line 3: field x not
// found in type config.Ward" read as one line that names the key, and names
// the key of a value of the wrong type ("line 2: watch.workers: cannot
// unmarshal !!str `two` into int").
func cleanYAMLError(err error, root *yaml.Node) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " not found in type "); i >= 0 {
			l = strings.Replace(l[:i], "field ", "unknown key ", 1)
		} else if n, what, ok := lineAndMessage(l); ok {
			if key := keyAt(root, n, what); key != "" {
				l = fmt.Sprintf("line %d: %s: %s", n, key, what)
			}
		}
		if l != "" {
			lines = append(lines, l)
		}
	}
	return errors.New(strings.Join(lines, "; "))
}

// lineAndMessage splits "line 3: cannot unmarshal ...".
func lineAndMessage(l string) (line int, msg string, ok bool) {
	rest, ok := strings.CutPrefix(l, "line ")
	if !ok {
		return 0, "", false
	}
	n, msg, ok := strings.Cut(rest, ": ")
	line, err := strconv.Atoi(n)
	return line, msg, ok && err == nil
}

// quoted is the value a decoding error quotes, `two` or "two"; "" if none.
func quoted(msg string) string {
	for _, q := range []string{"`", `"`} {
		if i := strings.Index(msg, q); i >= 0 {
			if j := strings.Index(msg[i+1:], q); j >= 0 {
				return msg[i+1 : i+1+j]
			}
		}
	}
	return ""
}

// keyAt returns the dotted key whose value starts at line: of those, the
// one whose value is the value quoted in msg, or else the innermost of the
// type msg names (cannot unmarshal !!seq), or else the first; "" if none.
func keyAt(root *yaml.Node, line int, msg string) string {
	value, tag := quoted(msg), ""
	if i := strings.Index(msg, "!!"); i >= 0 {
		tag, _, _ = strings.Cut(msg[i:], " ")
	}
	var first, exact, typed string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := strings.TrimPrefix(path+"."+k.Value, ".")
				if v.Line == line {
					if v.Kind != yaml.MappingNode { // a block mapping starts at its first key's line
						first = cmp.Or(first, key)
					}
					if value != "" && v.Kind == yaml.ScalarNode && v.Value == value {
						exact = cmp.Or(exact, key)
					}
					if tag != "" && v.ShortTag() == tag {
						typed = key
					}
				}
				walk(v, key)
			}
		}
	}
	walk(root, "")
	return cmp.Or(exact, typed, first)
}

type keyError struct{ key, msg string }

func (e *keyError) Error() string { return e.key + ": " + e.msg }
func bad(key, format string, a ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, a...)}
}

// keyed is err, a mistake of the block whose keys start with prefix, as a
// keyError: a *province.KeyError names its key, another error is the url's.
// nil stays nil.
func keyed(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var ke *province.KeyError
	if errors.As(err, &ke) {
		return bad(prefix+ke.Key, "%v", ke.Err)
	}
	return bad(prefix+"url", "%v", err)
}

func (c *Config) validate() error {
	switch {
	case c.Ward.Code == "":
		return bad("ward.code", "must be set to this unit's agency code, e.g. 000.00.12.H57: sohoa does not start without it")
	case !dossier.ValidAgency(c.Ward.Code):
		return bad("ward.code", "%q is not an agency code: QCVN 102:2016's V1V2V3.Z1Z2.Y1Y2.MX1X2 in capitals, "+
			"as its dossier codes begin, e.g. 000.00.12.H57", c.Ward.Code)
	case c.Inbox == "":
		return bad("inbox", "must be set")
	case c.DataDir == "":
		return bad("data_dir", "must be set")
	case c.LogLevel != "debug" && c.LogLevel != "info" && c.LogLevel != "warn" && c.LogLevel != "error":
		return bad("log_level", "%q is not one of debug, info, warn, error", c.LogLevel)
	case c.Link.Barcodes != "always" && c.Link.Barcodes != "unnamed" && c.Link.Barcodes != "off":
		return bad("link.barcodes", "%q is not one of always, unnamed, off", c.Link.Barcodes)
	case c.Watch.Mode != "events" && c.Watch.Mode != "poll":
		return bad("watch.mode", "%q is not one of events, poll", c.Watch.Mode)
	case c.Watch.Quiet <= 0:
		return bad("watch.quiet", "must be positive")
	case c.Watch.Rescan <= 0:
		return bad("watch.rescan", "must be positive")
	case c.Watch.Workers < 1 || c.Watch.Workers > 64:
		return bad("watch.workers", "%d is not between 1 and 64", c.Watch.Workers)
	case c.Check.MinDPI <= 0:
		return bad("check.min_dpi", "must be positive")
	case c.Check.MaxBytes <= 0:
		return bad("check.max_bytes", "must be positive")
	case c.Check.ParserMemory < 64<<20:
		return bad("check.parser_memory", "must be at least 64MiB")
	case c.Check.ParserCPU < Duration(time.Second):
		return bad("check.parser_cpu", "must be at least 1s")
	case c.Check.Timeout < Duration(time.Second):
		return bad("check.timeout", "must be at least 1s")
	case c.Check.Parsers < 0 || c.Check.Parsers > 64:
		return bad("check.parsers", "%d is not between 0 (automatic) and 64", c.Check.Parsers)
	case c.Upload.Concurrency < 1 || c.Upload.Concurrency > 64:
		return bad("upload.concurrency", "must be between 1 and 64")
	case c.Upload.QueueMaxBytes <= 0:
		return bad("upload.queue_max_bytes", "must be positive, e.g. 4GiB")
	case c.Upload.Retry.MinBackoff <= 0:
		return bad("upload.retry.min_backoff", "must be positive")
	case c.Upload.Retry.MaxBackoff < c.Upload.Retry.MinBackoff:
		return bad("upload.retry.max_backoff", "must not be below min_backoff")
	case c.Archive.Retention < 0:
		return bad("archive.retention", "must not be negative")
	case c.Pages.BlankWhite <= 0 || c.Pages.BlankWhite > 100:
		return bad("pages.blank_white_threshold", "must be a percentage above 0 and at most 100")
	case c.Pages.BlankMaxInk <= 0 || c.Pages.BlankMaxInk > 1:
		return bad("pages.blank_max_ink", "must be a percentage above 0 and at most 1 (a signature alone is about 0.15)")
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return bad("listen", "%q is not host:port", c.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return bad("listen", "bad port in %q", c.Listen)
	}
	if c.WebConfig != "" {
		if err := checkWebConfig(c.WebConfig); err != nil {
			return bad("web_config", "%v", err)
		}
	}
	if err := c.UI.validate(c.Listen); err != nil {
		return err
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
	if err := c.Sign.validate(); err != nil {
		return err
	}
	switch c.Upload.Sink {
	case "dir":
		if c.Upload.Dir.Path == "" {
			return bad("upload.dir.path", "must be set when upload.sink is dir")
		}
	case "http":
		if err := c.Upload.HTTP.validate(); err != nil {
			return err
		}
	default:
		return bad("upload.sink", "%q is not one of dir, http", c.Upload.Sink)
	}
	if err := c.checkNesting(); err != nil {
		return err
	}
	if c.Registry.Pull.URL != "" {
		return c.Registry.Pull.validate()
	}
	return nil
}

// lineOf finds the line of a dotted key in a YAML document, 0 if absent;
// exact says the whole key is there (else the line is its nearest parent's).
func lineOf(doc *yaml.Node, key string) (line int, exact bool) {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return line, false
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
			return line, false
		}
		n = next
	}
	return line, true
}
