package systemd_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestDebianPackage builds the package for this machine's architecture with `make deb`,
// checks it with lintian, then installs it, upgrades it, removes and purges it with dpkg into
// a scratch root (dpkg --root, the maintainer scripts run chrootless with DPKG_ROOT set, as
// where systemd does not run): nothing on the host is changed. `make deb` for arm64 is
// .ci/run's.
func TestDebianPackage(t *testing.T) {
	testenv.SkipUnderRace(t, "builds and installs a package: nothing for the race detector to see")
	testenv.NeedRoot(t, "dpkg --root (files owned by root and by sohoa)")
	mk := testenv.NeedTool(t, "make", "make")
	dpkg := testenv.NeedTool(t, "dpkg", "dpkg")
	dpkgDeb := testenv.NeedTool(t, "dpkg-deb", "dpkg")
	dpkgQuery := testenv.NeedTool(t, "dpkg-query", "dpkg")
	lintian := testenv.NeedTool(t, "lintian", "lintian")
	for _, tool := range []string{"systemd-sysusers", "systemd-tmpfiles", "systemctl"} {
		testenv.NeedTool(t, tool, "systemd")
	}
	testenv.NeedTool(t, "objdump", "binutils")

	// Version 1.0.0 as `make deb` builds it; 1.0.1 the same files under a later version, as
	// the next build would be.
	dir := t.TempDir()
	arch := runtime.GOARCH
	if out, errOut, code := run(t, mk, "-C", "..", "deb", "DEB_ARCHES="+arch, "DEBDIR="+dir, "VERSION=1.0.0"); code != 0 {
		t.Fatalf("make deb: exit %d\n%s%s", code, out, errOut)
	}
	v1 := filepath.Join(dir, "sohoa_1.0.0_"+arch+".deb")
	out, errOut, code := run(t, lintian, "--fail-on", "error", v1)
	t.Logf("lintian:\n%s%s", out, errOut)
	if code != 0 {
		t.Errorf("lintian reports errors (exit %d)", code)
	}
	tree := filepath.Join(dir, "tree")
	mustRun(t, dpkgDeb, "-R", v1, tree)
	control := filepath.Join(tree, "DEBIAN", "control")
	b, err := os.ReadFile(control)
	if err != nil {
		t.Fatal(err)
	}
	write(t, control, strings.Replace(string(b), "Version: 1.0.0\n", "Version: 1.0.1\n", 1))
	v2 := filepath.Join(dir, "sohoa_1.0.1_"+arch+".deb")
	mustRun(t, dpkgDeb, "--root-owner-group", "-b", tree, v2)

	root := t.TempDir()
	for _, d := range []string{"info", "updates", "triggers"} {
		if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "var/lib/dpkg/status"), "")
	write(t, filepath.Join(root, "var/lib/dpkg/available"), "")
	dpkgIn := func(args ...string) {
		t.Helper()
		// --force-depends: the scratch root has no libc6 or systemd package installed.
		mustRun(t, dpkg, append([]string{"--root=" + root, "--force-script-chrootless", "--force-depends",
			"--log=" + filepath.Join(root, "dpkg.log")}, args...)...)
	}
	status := func() string {
		t.Helper()
		out, _, _ := run(t, dpkgQuery, "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${Version} ${db:Status-Status}", "sohoa")
		return out
	}
	at := func(rel string) string { return filepath.Join(root, rel) }
	const (
		conf    = "etc/sohoa/sohoa.yaml"
		data    = "var/lib/sohoa/sohoa.db"
		enabled = "etc/systemd/system/multi-user.target.wants/sohoa.service"
		staff   = "srv/scans/Lỗi/hs-001.pdf"
	)

	// Install: the accounts, the folders, the config, the unit enabled.
	dpkgIn("-i", v1)
	if s := status(); s != "1.0.0 installed" {
		t.Fatalf("after install: %q", s)
	}
	pw := entries(t, at("etc/passwd"))
	gr := entries(t, at("etc/group"))
	if _, ok := pw["sohoa"]; !ok {
		t.Fatal("no sohoa user in the root's /etc/passwd")
	}
	owned := func(rel string, perm os.FileMode, uid, gid string) {
		t.Helper()
		fi, err := os.Stat(at(rel))
		if err != nil {
			t.Error(err)
			return
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != perm || strconv.Itoa(int(st.Uid)) != uid || strconv.Itoa(int(st.Gid)) != gid {
			t.Errorf("%s: mode %v uid %d gid %d, want %v %s %s", rel, fi.Mode().Perm(), st.Uid, st.Gid, perm, uid, gid)
		}
	}
	owned("var/lib/sohoa", 0o750, pw["sohoa"][2], gr["sohoa"][2])
	owned("srv/scans", 0o770, pw["sohoa"][2], gr["sohoa-inbox"][2])
	owned("srv/scans/Chờ mã hồ sơ", 0o770, pw["sohoa"][2], gr["sohoa-inbox"][2])
	owned(conf, 0o640, "0", gr["sohoa"][2])
	owned("etc/sohoa/conf.d", 0o750, "0", gr["sohoa"][2])
	if l, err := os.Readlink(at(enabled)); err != nil || l != "/usr/lib/systemd/system/sohoa.service" {
		t.Errorf("unit not enabled: %q %v", l, err)
	}
	bin := at("usr/bin/sohoa")
	if out, _, _ := run(t, bin, "version"); !strings.HasPrefix(out, "sohoa 1.0.0 (revision ") {
		t.Errorf("sohoa version: %q", out)
	}
	// The shipped config refuses to start until the ward code is set, and says so.
	_, errOut, code = run(t, bin, "check", "-config", at(conf))
	if code != 2 || !regexp.MustCompile(`sohoa\.yaml: line \d+: ward\.code: must be set to this unit's agency code`).MatchString(errOut) {
		t.Errorf("check of the shipped config: exit %d: %s", code, errOut)
	}

	// The IT officer's edit and the daemon's data survive an upgrade.
	b, err = os.ReadFile(at(conf))
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`(?m)^  code: ""`).ReplaceAllString(string(b), `  code: "000.00.12.H57"`)
	if edited == string(b) {
		t.Fatal(`the shipped config has no "  code: \"\"" line`)
	}
	write(t, at(conf), edited)
	write(t, at(data), "the database")
	dpkgIn("-i", v2)
	if s := status(); s != "1.0.1 installed" {
		t.Fatalf("after upgrade: %q", s)
	}
	same := func(rel, want string) {
		t.Helper()
		if b, err := os.ReadFile(at(rel)); err != nil || string(b) != want {
			t.Errorf("%s changed (%v)", rel, err)
		}
	}
	same(conf, edited)
	same(data, "the database")
	if m, _ := filepath.Glob(at(conf + ".dpkg-*")); len(m) > 0 {
		t.Errorf("upgrade left %q", m)
	}

	// Remove: the program goes, config and data stay.
	write(t, at(staff), "a clerk's file")
	dpkgIn("-r", "sohoa")
	if s := status(); s != "1.0.1 config-files" {
		t.Errorf("after remove: %q", s)
	}
	if _, err := os.Stat(bin); err == nil {
		t.Error("remove left /usr/bin/sohoa")
	}
	same(conf, edited)
	same(data, "the database")

	// Purge: data and config go; staff's file in the inbox stays.
	dpkgIn("-P", "sohoa")
	if s := status(); s != "" {
		t.Errorf("after purge: %q", s)
	}
	for _, rel := range []string{"var/lib/sohoa", "etc/sohoa", enabled, "srv/scans/Chờ mã hồ sơ"} {
		if _, err := os.Lstat(at(rel)); err == nil {
			t.Errorf("purge left %s", rel)
		}
	}
	same(staff, "a clerk's file")
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	out, errOut, code := run(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", filepath.Base(name), strings.Join(args, " "), code, out, errOut)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
