package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	wd, _ := os.Getwd()
	if c.Inbox != filepath.Join(wd, "var/inbox") || c.Upload.Dir.Path != filepath.Join(wd, "var/outbox") ||
		c.Check.MinDPI != 200 || c.Check.MaxBytes != 30<<20 {
		t.Errorf("defaults changed: %+v", c)
	}
}

func TestContractKeys(t *testing.T) {
	c, err := Parse([]byte(`
ward:
  code: "000.00.12.H57"
  name: "Phường Hương Văn"
inbox: /srv/scans
data_dir: /var/lib/sohoa
listen: "127.0.0.1:9120"
upload:
  sink: dir
  dir:
    path: /mnt/provincial-drop
watch: {mode: poll, quiet: 2s, rescan: 30s}
check: {min_dpi: 300, max_bytes: 10MiB}
archive: {retention: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Ward.Name != "Phường Hương Văn" || c.Inbox != "/srv/scans" || c.Upload.Dir.Path != "/mnt/provincial-drop" ||
		c.Watch.Mode != "poll" || time.Duration(c.Watch.Quiet) != 2*time.Second || c.Check.MaxBytes != 10<<20 ||
		c.Check.MinDPI != 300 || c.Archive.Retention != 0 {
		t.Errorf("decoded %+v", c)
	}
	// Keys not written keep their defaults.
	if c.Folders.Errors != "Lỗi" || c.Upload.Concurrency != 1 || !c.Watch.Link || c.Check.Parsers != 0 {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"ward:\n  code: x\n  nmae: y\n", "line 3: unknown key nmae"},
		{"inbox: /a\nwatch:\n  mode: inotify\n", "line 3: watch.mode"},
		{"watch:\n  quiet: soon\n", `line 2: watch.quiet: "soon" is not a duration`},
		{"watch:\n  workers: two\n", "line 2: watch.workers: cannot unmarshal !!str `two`"},
		{"watch: {quiet: 1s, workers: [2]}\n", "line 1: watch.workers: cannot unmarshal !!seq"},
		{"check:\n  max_bytes: 30 parsecs\n", "line 2: check.max_bytes: "},
		{"ward:\n  code: [a]\n", "line 2: ward.code: cannot unmarshal"},
		{"watch:\n  workers: 0\n", "line 2: watch.workers"},
		{"check:\n  max_bytes: 30 parsecs\n", "line 2: "},
		{"check:\n  min_dpi: -1\n", "line 2: check.min_dpi"},
		{"check:\n  isolate: true\n  parser_memory: 1MiB\n", "line 3: check.parser_memory"},
		{"check:\n  parser_cpu: 0s\n", "line 2: check.parser_cpu"},
		{"check:\n  timeout: 10ms\n", "line 2: check.timeout"},
		{"check:\n  parsers: -1\n", "line 2: check.parsers"},
		{"check:\n  parsers: 65\n", "line 2: check.parsers"},
		{"watch:\n  link: sometimes\n", "line 2: "},
		{"upload:\n  sink: ftp\n", "line 2: upload.sink"},
		{"link:\n  pattern: '('\n", "line 2: link.pattern"},
		{"listen: nowhere\n", "line 1: listen"},
		{"link:\n  barcodes: sometimes\n", "line 2: link.barcodes"},
		{"folders:\n  errors: a/b\n", "line 2: folders.errors"},
		{"upload:\n  sink: http\n", "upload.http.url"},
		{"inbox: [unclosed\n", "line"},
		{"ward:\n  code: ''\n", "line 2: ward.code"},
		{"pages:\n  blank_max_ink: 5\n", "line 2: pages.blank_max_ink"},
		{"pages:\n  blank_white_threshold: 0\n", "line 2: pages.blank_white_threshold"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sohoa.yaml")
	if err := os.WriteFile(p, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 1: unknown key bogus") {
		t.Errorf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestShippedExampleParses(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "sohoa.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil { // its inbox, /srv/scans, is not on this machine
		t.Fatalf("the shipped example config does not load: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"31457280": 31457280, "30MiB": 30 << 20, "30 MB": 30e6, "1.5GiB": 3 << 29, "0": 0} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1", "5 furlongs"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q): no error", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("web_config: /nonexistent/web.yml\nlisten: '[::1]:9120'\n"))
	for _, name := range []string{"sohoa.yaml", "http-single.yaml", "http-igate.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("ward: {code: x}\n"))
	f.Add([]byte("watch:\n  quiet: 5s\ncheck: {max_bytes: 30MiB}\n"))
	f.Add([]byte("upload: {sink: http, http: {url: 'https://x/{dossier}'}}\n"))
	f.Add([]byte("registry: {pull: {url: 'https://x/?f={from}&p={page}', paging: total_pages, paths: {total: n, code: a, received: b.c}}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		if c.validate() != nil {
			t.Fatalf("Parse accepted a config that does not validate: %+v", c)
		}
	})
}

func TestHTTPContractKeys(t *testing.T) {
	c, err := Parse([]byte(`
upload:
  sink: http
  concurrency: 2                  # uploads in flight
  retry: {min_backoff: 1s, max_backoff: 5m}
  http:
    url: "https://dvc.example.gov.vn/api/dossiers/{dossier}/files"
    method: POST
    file_field: file
    fields: {maHoSo: "{dossier}", sha256: "{sha256}"}
    headers: {X-Unit: "{ward}"}
    timeout: 60s
    connect_timeout: 10s
    response_header_timeout: 30s
    idempotency_header: X-Idempotency-Key
    accept: [409]
    rate_limit: 2MiB
    tls: {ca_file: /etc/sohoa/ca.pem, cert_file: /etc/sohoa/client.pem, key_file: /etc/sohoa/client.key}
    auth: {type: bearer, token_file: "${CREDENTIALS_DIRECTORY}/token"}
`))
	if err != nil {
		t.Fatal(err)
	}
	h := c.Upload.HTTP
	if c.Upload.Concurrency != 2 || h.FileField != "file" || h.Fields["maHoSo"] != "{dossier}" || h.Headers["X-Unit"] != "{ward}" ||
		time.Duration(h.Timeout) != time.Minute || h.RateLimit != 2<<20 || h.Accept[0] != 409 || h.TLS.KeyFile != "/etc/sohoa/client.key" {
		t.Errorf("decoded %+v", h)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/sohoa.service")
	if got := h.Auth.AuthConfig().Token.File; got != "/run/credentials/sohoa.service/token" {
		t.Errorf("token file %q", got)
	}
	u := h.UploadConfig()
	if u.Upload.URL != h.URL || u.IdempotencyHeader != "X-Idempotency-Key" || u.Attach != nil || u.Timeout != time.Minute {
		t.Errorf("upload config %+v", u)
	}
	if tc := h.Transport(time.Duration(h.ConnectTimeout), time.Duration(h.ResponseHeaderTimeout)); tc.CAFile != "/etc/sohoa/ca.pem" || tc.ConnectTimeout != 10*time.Second {
		t.Errorf("transport config %+v", tc)
	}
}

func TestHTTPTwoStepKeycloak(t *testing.T) {
	c, err := Parse([]byte(`
upload:
  sink: http
  http:
    url: "https://igate.example.gov.vn/pa/file/--multiple"
    file_field: files
    attach:
      method: PUT
      url: "https://igate.example.gov.vn/pa/dossier/--by-code/{dossier}/attachment"
      json: '{"files":[{"id":"{file_id}","filename":"{filename}"}]}'
      values: {file_id: "[0].id"}
    auth:
      type: oauth2_password
      token_url: "https://sso.example.gov.vn/auth/realms/digo/protocol/openid-connect/token"
      client_id: sohoa
      username: canbo.huongvan
      password_file: /run/credentials/sohoa.service/igate-password
`))
	if err != nil {
		t.Fatal(err)
	}
	u := c.Upload.HTTP.UploadConfig()
	if u.Attach == nil || u.Attach.Method != "PUT" || u.Values["file_id"] != "[0].id" || u.Upload.FileField != "files" {
		t.Errorf("upload config %+v", u)
	}
	a := c.Upload.HTTP.Auth.AuthConfig()
	if a.Type != "oauth2_password" || a.Password.File == "" || a.ClientSecret.File != "" || a.ClientID != "sohoa" {
		t.Errorf("auth %+v", a)
	}
}

func TestHTTPErrorsNameKeyAndLine(t *testing.T) {
	head := "upload:\n  sink: http\n  http:\n    url: https://x.gov.vn/{dossier}\n"
	tests := []struct{ yaml, want string }{
		{"upload:\n  sink: http\n  http:\n    url: 'https://x/{dosier}'\n", "line 4: upload.http.url: unknown placeholder {dosier}"},
		{"upload:\n  sink: http\n  http:\n    url: 'ftp://x/'\n", "line 4: upload.http.url"},
		{head + "    body: form\n", "line 5: upload.http.body"},
		{head + "    body: raw\n    file_field: f\n", "line 6: upload.http.file_field"},
		{head + "    body: raw\n    fields: {a: b}\n", "line 6: upload.http.fields"},
		{head + "    fields:\n      maHoSo: '{ma_ho_so}'\n", "line 6: upload.http.fields.maHoSo"},
		{head + "    headers:\n      Authorization: 'Bearer abc'\n", "line 6: upload.http.headers.Authorization"},
		{head + "    accept: [503]\n", "line 5: upload.http.accept"},
		{head + "    timeout: -1s\n", "line 5: upload.http.timeout"},
		{head + "    rate_limit: 10\n", "line 5: upload.http.rate_limit"},
		{head + "    tls: {cert_file: /a.pem}\n", "line 5: upload.http.tls.cert_file"},
		{head + "    auth: {type: kerberos}\n", "line 5: upload.http.auth.type"},
		{head + "    auth: {type: bearer}\n", "line 5: upload.http.auth.type: bearer needs token_file or token_env"},
		{head + "    auth:\n      type: bearer\n      token_file: /t\n      password_file: /p\n", "line 8: upload.http.auth.password_file: is not used with auth type bearer"},
		{head + "    auth:\n      type: basic\n      username: u\n      password_file: /p\n      password_env: P\n", "line 9: upload.http.auth.password_env"},
		{head + "    auth:\n      type: oauth2_client_credentials\n      token_url: sso\n      client_id: x\n      client_secret_file: /s\n", "line 7: upload.http.auth.token_url"},
		{head + "    auth:\n      type: oauth2_client_credentials\n      token_url: https://sso/t\n      client_id: x\n", "upload.http.auth.type: oauth2_client_credentials needs client_secret_file or client_secret_env"},
		{head + "    auth:\n      type: oauth2_password\n      token_url: https://sso/t\n      client_id: x\n      password_env: P\n", "line 5: upload.http.auth.username: must be set"},
		{head + "    auth:\n      type: none\n      token: abc\n", "line 7: unknown key token"},
		{head + "    attach:\n      url: https://x/{file_id}\n", "line 5: upload.http.attach.values"},
		{head + "    attach:\n      url: https://x/{fileid}\n      values: {file_id: data.id}\n", "line 6: upload.http.attach.url: unknown placeholder {fileid}"},
		{head + "    attach:\n      url: https://x/\n      values: {dossier: data.id}\n", "line 7: upload.http.attach.values"},
		{head + "    attach:\n      url: https://x/\n      values: {file_id: 'a..b'}\n", "line 7: upload.http.attach.values.file_id"},
		{head + "    attach:\n      url: https://x/\n      json: '{\"id\": \"{file_id}\"'\n      values: {file_id: id}\n", "line 7: upload.http.attach.json"},
		{head + "    attach:\n      url: https://x/\n      json: '{}'\n      fields: {a: b}\n      values: {file_id: id}\n", "line 7: upload.http.attach.json"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q)\n  = %v\n  want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestRegistryPull(t *testing.T) {
	c, err := Parse([]byte(`
registry:
  pull:
    url: "https://igate.example.gov.vn/pa/dossier/search?fromDate={from}&toDate={to}&page={page}&size={size}"
    paging: total_pages
    page_size: 100
    interval: 30m
    paths: {list: content, total: totalPages, code: code, received: acceptedDate, procedure: procedure.name}
    auth:
      type: oauth2_password
      token_url: https://sso.example.gov.vn/realms/igate/protocol/openid-connect/token
      client_id: sohoa
      username: canbo.huongvan
      password_file: /run/credentials/sohoa.service/igate-password
`))
	if err != nil {
		t.Fatal(err)
	}
	sc := c.Registry.Pull.SearchConfig()
	if sc.Method != "GET" || sc.PageSize != 100 || sc.Paging != "total_pages" || sc.Paths.Procedure != "procedure.name" ||
		sc.Interval != 30*time.Minute || sc.LookbackDays != 45 || sc.DateFormat != "2006-01-02" || sc.MaxPages != 100 ||
		sc.Attempts != 4 || sc.Timeout != time.Minute {
		t.Errorf("search config %+v", sc)
	}
	if a := c.Registry.Pull.Auth.AuthConfig(); a.Type != "oauth2_password" || a.Password.File == "" {
		t.Errorf("auth %+v", a)
	}
	off, err := Parse(nil)
	if err != nil || off.Registry.Pull.URL != "" {
		t.Errorf("the pull is on by default: %+v %v", off.Registry.Pull, err)
	}

	const head = "registry:\n  pull:\n    url: https://lgsp.example.gov.vn/hoso?tu={from}\n    paths: {code: maHoSo, received: ngayTiepNhan}\n"
	tests := []struct{ yaml, want string }{
		{"registry:\n  pull:\n    url: https://x/{dossier}\n", "line 3: registry.pull.url: unknown placeholder {dossier}"},
		{head + "    method: PUT\n", "line 5: registry.pull.method"},
		{head + "    paging: total_pages\n", "line 4: registry.pull.paths.total: must be set"},
		{head + "    date_format: dd/mm/yyyy\n", "line 5: registry.pull.date_format"},
		{head + "    interval: 10s\n", "line 5: registry.pull.interval: must be at least 1m"},
		{head + "    lookback_days: 0\n", "line 5: registry.pull.lookback_days"},
		{head + "    method: POST\n    body: '{\"tuNgay\": {from}}'\n", "line 6: registry.pull.body: is not JSON"},
		{head + "    retry: {min_backoff: 1m, max_backoff: 1s}\n", "line 5: registry.pull.retry.max_backoff"},
		{head + "    auth: {type: bearer}\n", "line 5: registry.pull.auth.type: bearer needs token_file or token_env"},
		{head + "    auth: {type: basic, token_file: /x}\n", "line 5: registry.pull.auth.token_file: is not used"},
		{head + "    tls: {cert_file: /c.pem}\n", "line 5: registry.pull.tls.cert_file"},
		{head + "    pathz: {}\n", "line 5: unknown key pathz"},
		{"registry:\n  pull:\n    url: https://x/{from}\n    paths: {code: a}\n", "line 4: registry.pull.paths.received: must be set"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestWatchLinkAndParsers(t *testing.T) {
	c, err := Parse([]byte("watch:\n  link: false\ncheck:\n  parsers: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Watch.Link || c.Check.Parsers != 3 {
		t.Errorf("watch.link %v, check.parsers %d; want false, 3", c.Watch.Link, c.Check.Parsers)
	}
}

// ward.code is an agency code as dossier codes carry it: lowercase would
// split the ward label, and a whole dossier code matches no scan.
func TestWardCodeIsAnAgencyCode(t *testing.T) {
	for _, code := range []string{"H57.12.000", "000.00.12.h57", "000.00.12.H57-200320-0001", "000.00.12", "000 00 12 H57"} {
		_, err := Parse(fmt.Appendf(nil, "ward:\n  code: %q\n", code))
		if err == nil || !strings.Contains(err.Error(), "line 2: ward.code") {
			t.Errorf("ward.code %q: %v", code, err)
		}
	}
	if _, err := Parse([]byte("ward: {code: G22.38.01.H57}\n")); err != nil {
		t.Errorf("a commune's code: %v", err)
	}
}

// Every path is absolute after loading, whatever the working directory was
// (a relative inbox broke removing emptied code-named folders).
func TestPathsAreAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("inbox", 0o755)
	os.WriteFile("web.yml", nil, 0o600)
	os.WriteFile("sohoa.yaml", []byte("inbox: ./inbox\ndata_dir: data\nweb_config: web.yml\nupload: {dir: {path: ../out}}\n"), 0o600)
	c, err := Load("sohoa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{c.Inbox: filepath.Join(dir, "inbox"), c.DataDir: filepath.Join(dir, "data"),
		c.WebConfig: filepath.Join(dir, "web.yml"), c.Upload.Dir.Path: filepath.Join(filepath.Dir(dir), "out")}
	for got, w := range want {
		if got != w {
			t.Errorf("path %q, want %q", got, w)
		}
	}
}

// No folder sohoa writes lies in another, either way, through a relative
// path or a symlink: a data dir in the inbox had its database taken as a scan.
func TestWrittenFoldersDoNotNest(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"scans", "var"} {
		os.Mkdir(d, 0o755)
	}
	os.Symlink(filepath.Join(dir, "scans"), "link-to-scans")
	tests := []struct{ yaml, want string }{
		{"inbox: scans\ndata_dir: scans/.sohoa\n", "line 2: data_dir: " + dir + "/scans/.sohoa is inside inbox"},
		{"inbox: scans/in\ndata_dir: scans\n", "line 1: inbox: " + dir + "/scans/in is inside data_dir"},
		{"inbox: scans\nupload: {dir: {path: ./scans/out}}\n", "line 2: upload.dir.path: " + dir + "/scans/out is inside inbox"},
		{"inbox: scans\ndata_dir: link-to-scans/data\n", "data_dir: " + dir + "/link-to-scans/data is inside inbox"},
		{"inbox: scans\ndata_dir: link-to-scans\n", "data_dir: " + dir + "/link-to-scans is the same folder as inbox"},
		{"inbox: /tmp/../" + dir + "/scans\nupload: {dir: {path: scans}}\n", "upload.dir.path: " + dir + "/scans is the same folder as inbox"},
		{"data_dir: var/data\nupload: {dir: {path: var/data/out}}\n", "upload.dir.path: " + dir + "/var/data/out is inside data_dir"},
		{"data_dir: var/out/data\nupload: {dir: {path: var/out}}\n", "data_dir: " + dir + "/var/out/data is inside upload.dir.path"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q)\n  = %v\n  want an error containing %q", tt.yaml, err, tt.want)
		}
	}
	// Siblings, and an inbox elsewhere with an http sink, are fine.
	for _, ok := range []string{"inbox: scans\ndata_dir: var/data\nupload: {dir: {path: var/outbox}}\n",
		"inbox: scans\ndata_dir: var/scans\n", "inbox: scans\nupload: {sink: http, dir: {path: scans}, http: {url: 'https://x.example/up'}}\n"} {
		if _, err := Parse([]byte(ok)); err != nil {
			t.Errorf("Parse(%q) = %v", ok, err)
		}
	}
}

// An inbox a configuration file names must exist: a typo does not create a
// folder nobody scans into.
func TestLoadNeedsTheInbox(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sohoa.yaml")
	os.WriteFile(p, []byte("ward: {code: 000.00.12.H57}\ninbox: "+dir+"/scnas\n"), 0o600)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "line 2: inbox: "+dir+"/scnas does not exist") {
		t.Errorf("Load with a missing inbox: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "scnas")); err == nil {
		t.Error("loading created the inbox")
	}
	os.WriteFile(filepath.Join(dir, "scnas"), nil, 0o600)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "inbox: "+dir+"/scnas is not a folder") {
		t.Errorf("Load with a file as inbox: %v", err)
	}
	os.Remove(filepath.Join(dir, "scnas"))
	os.Mkdir(filepath.Join(dir, "scnas"), 0o755)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InboxWritable(); err != nil {
		t.Errorf("writable inbox: %v", err)
	}
	if os.Getuid() != 0 { // root writes anywhere
		os.Chmod(c.Inbox, 0o555)
		if err := c.InboxWritable(); err == nil || !strings.Contains(err.Error(), "inbox: "+c.Inbox+" is not writable") {
			t.Errorf("read-only inbox: %v", err)
		}
	}
}
