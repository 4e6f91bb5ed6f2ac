package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// tokenConfig makes a SoftHSM2 token holding a key and certificate of a
// test CA (SOFTHSM2_CONF is set for the test, and so for the daemon), and
// returns the sign: section using it, the token's folder and the PIN file.
func tokenConfig(t *testing.T, dir string) (cfg, tokens, pinFile string) {
	t.Helper()
	k, chain := signtest.NewCA(t).Issue(t, "Nguyễn Văn An", true)
	certDER := filepath.Join(dir, "cert.der")
	if err := os.WriteFile(certDER, chain[0].Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tokens = testenv.SoftHSM(t, "sohoa", "246810", signtest.WriteKey(t, dir, "key.pem", k), certDER, "signer")
	pinFile = filepath.Join(dir, "sign-pin")
	if err := os.WriteFile(pinFile, []byte("246810\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = fmt.Sprintf("sign:\n  enabled: true\n  pkcs11: {module: %q, token_label: sohoa, pin_file: %q}\n", testenv.SoftHSMModule, pinFile)
	return cfg, tokens, pinFile
}

func pdfsigValid(t *testing.T, p string) {
	t.Helper()
	out, _ := exec.Command(testenv.NeedTool(t, "pdfsig", "poppler-utils"), "-nocert", p).CombinedOutput()
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Total document signed", "Common Name: Nguyễn Văn An"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("pdfsig %s: no %q in:\n%s", p, want, out)
		}
	}
}

// TestSignWithToken: the daemon signs every upload with a SoftHSM2 token.
// Pulled out, the token holds the uploads (the metric and /readyz say so,
// nothing is delivered); plugged back in, the upload goes ahead signed.
func TestSignWithToken(t *testing.T) {
	e := newEnv(t)
	cfg, tokens, _ := tokenConfig(t, e.dir)
	e.writeConfig(cfg + fmt.Sprintf("upload:\n  sink: dir\n  retry: {min_backoff: 50ms, max_backoff: 500ms}\n  dir: {path: %q}\n", e.outbox))
	if err := os.Rename(tokens, tokens+".out"); err != nil {
		t.Fatal(err)
	}
	e.start()
	copyFile(t, filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf"), filepath.Join(e.inbox, "000.00.12.H57-200320-0001.pdf"))
	ward := `{kind="token",ward="000.00.12.H57"}`
	e.waitFor("a token failure", time.Minute, func() bool { return e.metric("sohoa_sign_failures_total"+ward) > 0 })
	if code, body := readyz(t, e); code != http.StatusServiceUnavailable || !strings.Contains(body, "uploads held, signing fails") {
		t.Errorf("/readyz with the token out: %d %q", code, body)
	}
	if files := e.outboxFiles(); len(files) != 0 {
		t.Fatalf("delivered with the token out: %v", files)
	}

	if err := os.Rename(tokens+".out", tokens); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the signed upload", time.Minute, func() bool { return len(e.outboxFiles()) == 1 })
	for _, p := range e.outboxFiles() {
		pdfsigValid(t, p)
	}
	if code, body := readyz(t, e); code != http.StatusOK {
		t.Errorf("/readyz with the token back: %d %q", code, body)
	}
	e.stop()
	if entries, _ := os.ReadDir(filepath.Join(e.data, "signed")); len(entries) != 0 {
		t.Errorf("signed copies left after the upload was recorded: %v", entries)
	}
}

func readyz(t *testing.T, e *env) (int, string) {
	t.Helper()
	resp, err := http.Get(e.metricsURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSignTestCommand: `sohoa sign-test` signs a sample with the token and
// verifies it; with a wrong PIN it fails without showing the PIN.
func TestSignTestCommand(t *testing.T) {
	dir := t.TempDir()
	cfg, _, pin := tokenConfig(t, dir)
	conf := filepath.Join(dir, "sohoa.yaml")
	if err := os.WriteFile(conf, []byte(existingInbox(t, dir)+cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join(dir, "sample.pdf")
	out, err := exec.Command(binPath, "sign-test", "-config", conf, "-o", sample).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "signed and verified") || !strings.Contains(string(out), "Người số hóa: Nguyễn Văn An") {
		t.Fatalf("sign-test: %v\n%s", err, out)
	}
	pdfsigValid(t, sample)

	if err := os.WriteFile(pin, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binPath, "sign-test", "-config", conf).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "refused the PIN") || strings.Contains(string(out), "999999") {
		t.Errorf("sign-test with a wrong PIN: %v\n%s", err, out)
	}
}

// TestCheckReportsSigning: `sohoa check` says what signing will do, for the
// configuration and for each file.
func TestCheckReportsSigning(t *testing.T) {
	dir := t.TempDir()
	p12, pw, _ := signtest.NewCA(t).WriteP12(t, dir, "Nguyễn Văn An", "x", false)
	conf := filepath.Join(dir, "sohoa.yaml")
	inbox := existingInbox(t, dir)
	write := func(s string) {
		if err := os.WriteFile(conf, []byte(inbox+s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("sign: {enabled: false}\n")
	if out, err := exec.Command(binPath, "check", "-config", conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "signing: off") {
		t.Errorf("check -config, signing off: %v\n%s", err, out)
	}
	write(fmt.Sprintf("sign:\n  enabled: true\n  key: pkcs12\n  pkcs12: {file: %q, password_file: %q}\n", p12, pw))
	if out, err := exec.Command(binPath, "check", "-config", conf).CombinedOutput(); err != nil || !strings.Contains(string(out), "signing: on: each upload signed with the key in "+p12) {
		t.Errorf("check -config, signing on: %v\n%s", err, out)
	}
	scan := filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf")
	out, err := exec.Command(binPath, "check", "-config", conf, "--json", scan).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"sign":"signed"`) {
		t.Errorf("check --json: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"format":["not_color"]`) { // grey; PDF 1.3 raised to 1.7 by the signature
		t.Errorf("check --json, format: %s", out)
	}
	out, _ = exec.Command(binPath, "check", "-config", conf, scan).CombinedOutput()
	if !strings.Contains(string(out), ", format not_color, signed at upload") {
		t.Errorf("check: %s", out)
	}
	// check.require_color: the grey scan is rejected with the Vietnamese note.
	write(fmt.Sprintf("check: {require_color: true}\nsign:\n  enabled: true\n  key: pkcs12\n  pkcs12: {file: %q, password_file: %q}\n", p12, pw))
	out, err = exec.Command(binPath, "check", "-config", conf, "--json", scan).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), `"reason":"not_color"`) || !strings.Contains(string(out), "quét màu") {
		t.Errorf("check with require_color: %v\n%s", err, out)
	}
}

// existingInbox makes an inbox in dir and returns the config lines naming
// it and a data dir beside it: a config file's inbox must exist.
func existingInbox(t *testing.T, dir string) string {
	t.Helper()
	inbox := filepath.Join(dir, "inbox")
	if err := os.MkdirAll(inbox, 0o750); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("inbox: %q\ndata_dir: %q\n", inbox, filepath.Join(dir, "data"))
}
