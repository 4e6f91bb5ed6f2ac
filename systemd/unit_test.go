// Tests for the systemd integration files: the service unit's hardening score and its
// contract with the daemon, and the sysusers.d / tmpfiles.d fragments. They run systemd's own
// tools (systemd-analyze, systemd-sysusers, systemd-tmpfiles) offline, against these files and
// a scratch root directory: nothing on the host is changed. A test skips only when the
// tool is not installed (CI installs systemd).
package systemd_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"
	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/testenv"
)

const (
	unitFile     = "sohoa.service"
	sysusersFile = "sohoa.sysusers"
	tmpfilesFile = "sohoa.tmpfiles"
	sampleConfig = "../configs/sohoa.yaml"

	// maxExposure is the highest "Overall exposure level" systemd-analyze security may report
	// for the unit (its scale: 0.0 fully locked down, 10.0 unprotected).
	maxExposure = 1.5 // issue 6: 1.5 or less
)

// run runs a tool with colours and pager off and returns its stdout, stderr and exit code
// (-1 with an error when it could not run at all).
func run(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "SYSTEMD_LOG_COLOR=0")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return o.String(), e.String(), 0
	case errors.As(err, &ee):
		return o.String(), e.String(), ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		return "", "", -1
	}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

func TestSecurityExposure(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze", "systemd")
	// --threshold is on the tool's internal 0-100 scale: 15 is the 1.5 it prints.
	threshold := fmt.Sprintf("--threshold=%d", int(maxExposure*10))
	out, errOut, code := run(t, sa, "security", "--offline=true", "--no-pager", threshold, abs(t, unitFile))
	if strings.Contains(errOut, "unrecognized option") {
		t.Skipf("this systemd-analyze cannot analyse a unit file offline (needs systemd >= 250): %s", strings.TrimSpace(errOut))
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Overall exposure level") {
			line = strings.TrimSpace(l)
		}
	}
	m := exposureRe.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no \"Overall exposure level\" line in the output (exit %d):\n%s\n%s", code, out, errOut)
	}
	t.Logf("%s", line)
	exposure, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("exposure %q: %v", m[1], err)
	}
	// What is still exposed, for whoever tightens the unit next.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "✗") {
			t.Logf("  %s", strings.Join(strings.Fields(l), " "))
		}
	}
	if exposure > maxExposure {
		t.Errorf("exposure %.1f is above %.1f", exposure, maxExposure)
	}
	if code != 0 {
		t.Errorf("systemd-analyze security %s exited %d:\n%s", threshold, code, errOut)
	}
}

// unit is a parsed unit file: section -> key -> values, one per assignment, in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	n, cont := 0, ""
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if cont == "" && (l == "" || l[0] == '#' || l[0] == ';') {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cont += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		l, cont = cont+l, ""
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			section = l[1 : len(l)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, l)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		u[section][k] = append(u[section][k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// last is the effective value of a single-valued setting ("" when unset).
func (u unit) last(section, key string) string {
	vs := u[section][key]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// list is the effective value of a list setting: assignments accumulate, "" resets.
func (u unit) list(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		if v == "" {
			out = nil
			continue
		}
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "1", "yes", "y", "true", "t", "on":
		return true
	}
	return false
}

// sampleCfg is the part of configs/sohoa.yaml the unit and tmpfiles depend on.
type sampleCfg struct {
	Inbox   string `yaml:"inbox"`
	DataDir string `yaml:"data_dir"`
	Listen  string `yaml:"listen"`
	Folders struct {
		Errors  string `yaml:"errors"`
		Waiting string `yaml:"waiting"`
	} `yaml:"folders"`
	Upload struct {
		Sink string `yaml:"sink"`
		Dir  struct {
			Path string `yaml:"path"`
		} `yaml:"dir"`
	} `yaml:"upload"`
}

func loadSample(t *testing.T) sampleCfg {
	t.Helper()
	b, err := os.ReadFile(sampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var c sampleCfg
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", sampleConfig, err)
	}
	return c
}

// TestUnitContract checks what the daemon and the packaging rely on, and that hardening has
// not taken away something the daemon needs.
func TestUnitContract(t *testing.T) {
	u := parseUnit(t, unitFile)
	want := map[string]string{
		"Type":                   "notify",
		"NotifyAccess":           "main",
		"User":                   "sohoa",
		"Group":                  "sohoa",
		"Restart":                "on-failure",
		"StateDirectory":         "sohoa",
		"UMask":                  "0027",
		"ConfigurationDirectory": "sohoa",
	}
	for k, v := range want {
		if got := u.last("Service", k); got != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}

	wd := u.last("Service", "WatchdogSec")
	if d, err := parseSec(wd); err != nil || d <= 0 {
		t.Errorf("WatchdogSec=%q: want a positive duration (%v)", wd, err)
	} else if d != 60*time.Second {
		t.Errorf("WatchdogSec=%s, want 60s", d)
	}

	// ExecStart: `sohoa run -config /etc/sohoa/sohoa.yaml`, no privilege-raising prefix.
	execs := u["Service"]["ExecStart"]
	if len(execs) != 1 {
		t.Fatalf("ExecStart set %d times, want once", len(execs))
	}
	argv := strings.Fields(execs[0])
	if len(argv) == 0 || strings.ContainsAny(argv[0][:1], "@-:+!|") {
		t.Fatalf("ExecStart=%q: want a plain absolute path without prefixes", execs[0])
	}
	bin := argv[0]
	if !filepath.IsAbs(bin) || filepath.Base(bin) != "sohoa" {
		t.Errorf("ExecStart binary %q: want an absolute path to sohoa", bin)
	}
	if got, want := argv[1:], []string{"run", "-config", "/etc/sohoa/sohoa.yaml"}; !slices.Equal(got, want) {
		t.Errorf("ExecStart arguments %q, want %q", got, want)
	}
	if cd := u.last("Service", "ConfigurationDirectory"); cd != "" && !strings.HasPrefix(argv[len(argv)-1], "/etc/"+cd+"/") {
		t.Errorf("config %s is not in ConfigurationDirectory=%s", argv[len(argv)-1], cd)
	}

	// Settings that would break the daemon (or the sysusers account) however good they score.
	if isTrue(u.last("Service", "PrivateNetwork")) {
		t.Error("PrivateNetwork=yes: the daemon must upload over HTTPS and serve metrics")
	}
	if isTrue(u.last("Service", "DynamicUser")) {
		t.Error("DynamicUser=yes: the account comes from sohoa.sysusers and owns the inbox")
	}
	if u.last("Service", "IPAddressDeny") != "" && len(u.list("Service", "IPAddressAllow")) == 0 {
		t.Error("IPAddressDeny= without IPAddressAllow=: uploads could not reach the provincial system")
	}
	families := u.list("Service", "RestrictAddressFamilies")
	for _, f := range []string{"AF_UNIX", "AF_INET", "AF_INET6"} {
		if len(families) > 0 && (strings.HasPrefix(families[0], "~") || !slices.Contains(families, f)) {
			t.Errorf("RestrictAddressFamilies=%q must allow %s", families, f)
		}
	}
	// The daemon re-executes its own binary (PDF-parser child); inotify, sockets and processes
	// must stay available.
	for _, v := range u["Service"]["SystemCallFilter"] {
		if !strings.HasPrefix(v, "~") {
			continue // an allow list; @system-service covers all of the below
		}
		for _, denied := range strings.Fields(strings.TrimPrefix(v, "~")) {
			switch denied {
			case "@process", "execve", "clone", "clone3", "@network-io", "@file-system", "@io-event",
				"@default", "@basic-io", "@signal", "inotify_init1", "prlimit64", "@system-service":
				t.Errorf("SystemCallFilter=%s denies %s, which the daemon needs", v, denied)
			}
		}
	}
	if noexec := u.list("Service", "NoExecPaths"); len(noexec) > 0 {
		ok := false
		for _, p := range u.list("Service", "ExecPaths") {
			p = strings.TrimPrefix(p, "-")
			if bin == p || strings.HasPrefix(bin, strings.TrimSuffix(p, "/")+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("NoExecPaths=%q without an ExecPaths= entry covering %s: the daemon could not start or re-execute itself", noexec, bin)
		}
	}

	// The sample config's paths must be usable under ProtectSystem=strict.
	c := loadSample(t)
	rw := map[string]bool{}
	for _, p := range u.list("Service", "ReadWritePaths") {
		rw[strings.TrimPrefix(p, "-")] = true
	}
	if !rw["/srv/scans"] || !rw[c.Inbox] {
		t.Errorf("ReadWritePaths=%q must include /srv/scans and the sample inbox %s", u.list("Service", "ReadWritePaths"), c.Inbox)
	}
	if c.Upload.Sink == "dir" && !rw[c.Upload.Dir.Path] {
		t.Errorf("ReadWritePaths=%q must include the sample drop folder %s", u.list("Service", "ReadWritePaths"), c.Upload.Dir.Path)
	}
	if want := "/var/lib/" + u.last("Service", "StateDirectory"); c.DataDir != want {
		t.Errorf("sample data_dir %s is not StateDirectory= (%s)", c.DataDir, want)
	}
}

// parseSec reads a systemd time span: a bare number is seconds; "1min 30s" style otherwise.
func parseSec(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	v = strings.NewReplacer("min", "m", "sec", "s", "hour", "h", " ", "").Replace(v)
	return time.ParseDuration(v)
}

// TestUnitVerifies runs systemd-analyze verify on a copy of the unit whose ExecStart points at
// an existing executable (this test binary), since verify insists the binary exists.
func TestUnitVerifies(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze", "systemd")
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^ExecStart=\S+`)
	if !re.Match(b) {
		t.Fatal("no ExecStart= line")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, unitFile)
	if err := os.WriteFile(p, re.ReplaceAll(b, []byte("ExecStart="+self)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, sa, "verify", "--man=no", p)
	// verify also loads the units ours depends on (multi-user.target, ...), and a host may have
	// warnings about those: only lines about our unit count.
	var ours, other []string
	for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, unitFile) || strings.Contains(l, dir):
			ours = append(ours, l)
		default:
			other = append(other, l)
		}
	}
	if len(other) > 0 {
		t.Logf("systemd-analyze verify, about other units:\n%s", strings.Join(other, "\n"))
	}
	if len(ours) > 0 {
		t.Errorf("systemd-analyze verify (exit %d):\n%s", code, strings.Join(ours, "\n"))
	} else if code != 0 {
		t.Logf("systemd-analyze verify exited %d with nothing about %s", code, unitFile)
	}
}

// scratchRoot is a directory standing in for / with the sysusers accounts created in its
// /etc/passwd and /etc/group.
func scratchRoot(t *testing.T) string {
	t.Helper()
	su := testenv.NeedTool(t, "systemd-sysusers", "systemd")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := abs(t, sysusersFile)
	if _, errOut, code := run(t, su, "--dry-run", "--root="+root, conf); code != 0 || strings.Contains(errOut, conf+":") {
		t.Fatalf("systemd-sysusers --dry-run exited %d:\n%s", code, errOut)
	}
	if _, errOut, code := run(t, su, "--root="+root, conf); code != 0 {
		t.Fatalf("systemd-sysusers --root exited %d:\n%s", code, errOut)
	}
	return root
}

// entries reads a passwd- or group-style file into name -> fields.
func entries(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, ":")
		m[f[0]] = f
	}
	return m
}

func TestSysusers(t *testing.T) {
	root := scratchRoot(t)
	pw := entries(t, filepath.Join(root, "etc/passwd"))
	gr := entries(t, filepath.Join(root, "etc/group"))
	u, ok := pw["sohoa"]
	if !ok || len(u) != 7 {
		t.Fatalf("no sohoa user in %v", pw)
	}
	t.Logf("sohoa: %s", strings.Join(u, ":"))
	if uid, _ := strconv.Atoi(u[2]); uid <= 0 || uid >= 1000 {
		t.Errorf("sohoa uid %s: want a system uid", u[2])
	}
	if u[5] != "/var/lib/sohoa" {
		t.Errorf("sohoa home %q, want /var/lib/sohoa", u[5])
	}
	if filepath.Base(u[6]) != "nologin" {
		t.Errorf("sohoa shell %q, want nologin", u[6])
	}
	if g, ok := gr["sohoa"]; !ok || g[2] != u[3] {
		t.Errorf("group sohoa %v is not sohoa's primary group %s", g, u[3])
	}
	// Every supplementary group of the service exists and lists sohoa.
	for _, name := range parseUnit(t, unitFile).list("Service", "SupplementaryGroups") {
		g, ok := gr[name]
		if !ok {
			t.Errorf("SupplementaryGroups=%s: sohoa.sysusers does not create it", name)
			continue
		}
		if !slices.Contains(strings.Split(g[3], ","), "sohoa") {
			t.Errorf("group %s members %q: want sohoa", name, g[3])
		}
	}
}

func TestTmpfiles(t *testing.T) {
	tf := testenv.NeedTool(t, "systemd-tmpfiles", "systemd")
	c := loadSample(t)
	for key, name := range map[string]string{"folders.errors": c.Folders.Errors, "folders.waiting": c.Folders.Waiting} {
		if !norm.NFC.IsNormalString(name) {
			t.Errorf("sample %s %q is not NFC", key, name)
		}
	}

	// No line may carry an age: --clean would delete scans or the database.
	b, err := os.ReadFile(tmpfilesFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if f := tmpfilesFields(l); len(f) >= 6 && f[5] != "-" {
			t.Errorf("%s:%d: age %q: nothing of sohoa's may be cleaned by age", tmpfilesFile, i+1, f[5])
		}
	}

	root := scratchRoot(t)
	_, errOut, code := run(t, tf, "--create", "--root="+root, abs(t, tmpfilesFile))
	asRoot := os.Geteuid() == 0
	switch code {
	case 0:
	case 73: // EX_CANTCREAT: some file operation failed, the configuration itself parsed
		for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
			switch {
			case !asRoot && strings.Contains(l, "chown") && strings.Contains(l, "not permitted"):
				// only root may give files to sohoa
			case strings.Contains(l, "ACL") && strings.Contains(l, "not supported"):
				t.Logf("this file system has no POSIX ACLs: %s", l)
			default:
				t.Errorf("systemd-tmpfiles --create: %s", l)
			}
		}
	default: // 65 (EX_DATAERR) is a configuration error
		t.Fatalf("systemd-tmpfiles --create exited %d:\n%s", code, errOut)
	}
	if !asRoot {
		t.Log("not root: ownership and setgid bits not checked")
	}

	pw := entries(t, filepath.Join(root, "etc/passwd"))
	gr := entries(t, filepath.Join(root, "etc/group"))
	check := func(rel string, perm os.FileMode, setgid bool, user, group string) {
		t.Helper()
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Error(err)
			return
		}
		if !fi.IsDir() {
			t.Errorf("%s is not a directory", rel)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s mode %v, want %v", rel, fi.Mode().Perm(), perm)
		}
		if !asRoot {
			return
		}
		if got := fi.Mode()&os.ModeSetgid != 0; got != setgid {
			t.Errorf("%s setgid %v, want %v", rel, got, setgid)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if got := strconv.Itoa(int(st.Uid)); got != pw[user][2] {
			t.Errorf("%s owner uid %s, want %s (%s)", rel, got, pw[user][2], user)
		}
		if got := strconv.Itoa(int(st.Gid)); got != gr[group][2] {
			t.Errorf("%s group gid %s, want %s (%s)", rel, got, gr[group][2], group)
		}
	}
	check("var/lib/sohoa", 0o750, false, "sohoa", "sohoa")
	check(c.Inbox, 0o770, true, "sohoa", "sohoa-inbox")
	for _, f := range []string{c.Folders.Errors, c.Folders.Waiting} {
		// sohoa.tmpfiles must create the folders the sample config names.
		check(filepath.Join(c.Inbox, f), 0o770, true, "sohoa", "sohoa-inbox")
	}
	// The default ACL that keeps the daemon's UMask=0027 from closing the inbox to the clerks.
	if n, err := unix.Getxattr(filepath.Join(root, c.Inbox), "system.posix_acl_default", nil); err != nil || n == 0 {
		if errors.Is(err, unix.ENOTSUP) {
			t.Logf("no default ACL check: this file system has no POSIX ACLs")
		} else {
			t.Errorf("%s has no default ACL (%v)", c.Inbox, err)
		}
	}
}

// tmpfilesFields splits a tmpfiles.d line into fields, honouring double quotes; nil for
// comments and blank lines.
func tmpfilesFields(l string) []string {
	l = strings.TrimSpace(l)
	if l == "" || l[0] == '#' {
		return nil
	}
	var f []string
	var cur strings.Builder
	inQuote, inField := false, false
	for _, r := range l {
		switch {
		case r == '"':
			inQuote, inField = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if inField {
				f = append(f, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteRune(r)
			inField = true
		}
	}
	if inField {
		f = append(f, cur.String())
	}
	return f
}
