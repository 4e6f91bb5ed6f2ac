package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SoftHSMModule is the PKCS #11 library of Debian's softhsm2.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM makes a SoftHSM2 token store in a temporary folder, points
// SOFTHSM2_CONF at it for the rest of the test, and makes a token labelled
// label with the user PIN pin, holding the private key of keyPEM (a PKCS #8
// PEM file) and the certificate of certDER (a DER file; "": none), both
// labelled keyLabel. It returns the folder holding the token's files
// (moving it away is pulling the token out).
func SoftHSM(t testing.TB, label, pin, keyPEM, certDER, keyLabel string) string {
	t.Helper()
	NeedFile(t, SoftHSMModule, "softhsm2")
	util := NeedTool(t, "softhsm2-util", "softhsm2")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin+"-so")
	run(util, "--import", keyPEM, "--token", label, "--label", keyLabel, "--id", "01", "--pin", pin)
	if certDER != "" {
		tool := NeedTool(t, "pkcs11-tool", "opensc")
		run(tool, "--module", SoftHSMModule, "--token-label", label, "--login", "--pin", pin,
			"--write-object", certDER, "--type", "cert", "--id", "01", "--label", keyLabel)
	}
	return tokens
}

// PKCS12 writes out, a .p12 file of the key and certificates of the PEM
// files given, encrypted with the password in passwordFile the legacy way
// (3DES, SHA-1 MAC) or, with aes, as OpenSSL 3 does by default.
func PKCS12(t testing.TB, out, keyPEM, certPEM, caPEM, passwordFile string, aes bool) {
	t.Helper()
	openssl := NeedTool(t, "openssl", "openssl")
	args := []string{"pkcs12", "-export", "-inkey", keyPEM, "-in", certPEM, "-certfile", caPEM, "-out", out, "-passout", "file:" + passwordFile}
	if !aes {
		args = append(args, "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")
	}
	if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, b)
	}
}
