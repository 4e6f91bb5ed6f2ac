package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestCheckJSONOverCorpus(t *testing.T) {
	rows := readExpected(t)
	args := []string{"check", "--json"}
	for _, r := range rows {
		args = append(args, filepath.Join(corpus, r.file))
	}
	out, err := exec.Command(binPath, args...).Output()
	if code := exitCode(err); code != 1 {
		t.Fatalf("exit %d, want 1 (the corpus has invalid files): %v", code, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	for ; sc.Scan(); i++ {
		var got checkResult
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, sc.Text())
		}
		r := rows[i]
		if got.Valid != (r.verdict == "valid") {
			t.Errorf("%s: valid=%v, expected %s (%s: %s)", r.file, got.Valid, r.verdict, got.Reason, got.Detail)
		}
		if !got.Valid && got.Message == "" {
			t.Errorf("%s: invalid without a Vietnamese message", r.file)
		}
		if strings.Contains(r.file, r.dossiers) && r.verdict == "valid" && (len(got.Dossiers) != 1 || got.Dossiers[0] != r.dossiers) {
			t.Errorf("%s: dossiers %q, want %s", r.file, got.Dossiers, r.dossiers)
		}
		if got.Valid && (got.Pages < 1 || got.MinDPI < 200) {
			t.Errorf("%s: valid with %d pages at %.0f dpi", r.file, got.Pages, got.MinDPI)
		}
	}
	if i != len(rows) {
		t.Errorf("%d JSON lines for %d files", i, len(rows))
	}
}

func TestCLIExitCodes(t *testing.T) {
	good := filepath.Join(corpus, "000.00.12.H57-200320-0001.pdf")
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badCfg, []byte("ward:\n  code: x\nwatch:\n  mode: inotify\n"), 0o600)
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", good}, 0, "valid"},
		{[]string{"check", filepath.Join(corpus, "lowres_0001.pdf")}, 1, "low_dpi"},
		{[]string{"check", "/nonexistent.pdf"}, 1, "unreadable"},
		{[]string{"check"}, 2, "no files"},
		{[]string{"check", "--bogus", good}, 2, "flag provided but not defined"},
		{[]string{"check", "-config", badCfg}, 2, "line 4: watch.mode"},
		{[]string{"run", "-config", badCfg}, 2, "line 4: watch.mode"},
		{[]string{"version"}, 0, "sohoa "},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{nil, 2, "Usage"},
	}
	for _, tt := range tests {
		out, err := exec.Command(binPath, tt.args...).CombinedOutput()
		if code := exitCode(err); code != tt.code || !strings.Contains(string(out), tt.out) {
			t.Errorf("sohoa %q: exit %d, output %q; want exit %d with %q", tt.args, code, out, tt.code, tt.out)
		}
	}
}

func TestSecondDaemonOnSameDataDirFails(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	out, err := exec.Command(binPath, "run", "-config", e.config).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "locked by another process") {
		t.Errorf("second daemon: %v\n%s", err, out)
	}
}
