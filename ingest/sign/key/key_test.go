package key_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/sign"
	"github.com/sohoa/sohoa/ingest/sign/key"
	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// token makes a SoftHSM2 token "sohoa" (PIN 123456) holding a key issued
// by a test CA, with its certificate when withCert, and returns the
// config, the token's folder and the chain.
func token(t *testing.T, withCert bool) (key.Config, string, []*x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	ca := signtest.NewCA(t)
	k, chain := ca.Issue(t, "Nguyễn Văn An", true)
	keyPEM := signtest.WriteKey(t, dir, "key.pem", k)
	certDER := ""
	if withCert {
		certDER = filepath.Join(dir, "cert.der")
		if err := os.WriteFile(certDER, chain[0].Raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tokens := testenv.SoftHSM(t, "sohoa", "123456", keyPEM, certDER, "signer")
	pin := filepath.Join(dir, "sign-pin")
	writeFile(t, pin, "123456\n")
	return key.Config{Kind: "pkcs11", PKCS11: key.PKCS11{Module: testenv.SoftHSMModule, TokenLabel: "sohoa", PINFile: pin}}, tokens, chain
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signs checks that the key signs and its certificate verifies it.
func signs(t *testing.T, s *key.Source, want *x509.Certificate) {
	t.Helper()
	k, err := s.Get()
	if err != nil {
		t.Fatal(err)
	}
	if !k.Chain[0].Equal(want) {
		t.Fatalf("certificate %q, want %q", k.Chain[0].Subject, want.Subject)
	}
	d := sha256.Sum256([]byte("sohoa"))
	sig, err := k.Signer.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Chain[0].CheckSignature(x509.SHA256WithRSA, []byte("sohoa"), sig); err != nil {
		t.Fatalf("the token's signature does not verify: %v", err)
	}
	signsPDF(t, k)
}

// signsPDF signs a scan with the key and has pdfsig check it.
func signsPDF(t *testing.T, k *key.Key) {
	t.Helper()
	pdfsig := testenv.NeedTool(t, "pdfsig", "poppler-utils")
	in, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "scan_0003.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&sign.Signer{Key: k.Signer, Chain: k.Chain}).Sign(context.Background(), in, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	res, _ := exec.Command(pdfsig, "-nocert", p).CombinedOutput()
	name := "Signer Certificate Common Name: " + k.Chain[0].Subject.CommonName
	for _, want := range []string{"Signature Validation: Signature is Valid.", "Total document signed", name} {
		if !strings.Contains(string(res), want) {
			t.Errorf("pdfsig: no %q in:\n%s", want, res)
		}
	}
}

func TestPKCS11(t *testing.T) {
	cfg, _, chain := token(t, true)
	s := key.NewSource(cfg)
	defer s.Close()
	signs(t, s, chain[0])

	// The certificate from a file instead, with the CA's after it.
	cfg.Certificate = signtest.WritePEM(t, t.TempDir(), "chain.pem", chain[1], chain[0])
	s2 := key.NewSource(cfg)
	defer s2.Close()
	signs(t, s2, chain[0])
	k, _ := s2.Get()
	if len(k.Chain) != 2 || !k.Chain[1].Equal(chain[1]) {
		t.Errorf("chain of %d, want the signer's then the CA's", len(k.Chain))
	}
}

func TestPKCS11NoCertificate(t *testing.T) {
	cfg, _, _ := token(t, false)
	s := key.NewSource(cfg)
	defer s.Close()
	if _, err := s.Get(); key.KindOf(err) != key.KindKey || !strings.Contains(err.Error(), "sign.certificate") {
		t.Fatalf("a token without a certificate and none configured: %v", err)
	}
}

// TestPKCS11Unplugged: a token pulled out is a token failure, and the key
// opens again once it is back.
func TestPKCS11Unplugged(t *testing.T) {
	cfg, tokens, chain := token(t, true)
	s := key.NewSource(cfg)
	defer s.Close()
	signs(t, s, chain[0])
	s.Reset()
	away := tokens + ".away"
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(); key.KindOf(err) != key.KindToken {
		t.Fatalf("token pulled out: %v, want kind %s", err, key.KindToken)
	}
	if err := os.Rename(away, tokens); err != nil {
		t.Fatal(err)
	}
	signs(t, s, chain[0])
}

// TestPKCS11WrongPIN: a refused PIN is offered once, not again until the
// PIN file changes.
func TestPKCS11WrongPIN(t *testing.T) {
	cfg, tokens, chain := token(t, true)
	writeFile(t, cfg.PKCS11.PINFile, "654321\n")
	s := key.NewSource(cfg)
	defer s.Close()
	_, err := s.Get()
	if key.KindOf(err) != key.KindPIN {
		t.Fatalf("wrong PIN: %v, want kind %s", err, key.KindPIN)
	}
	if strings.Contains(err.Error(), "654321") {
		t.Fatalf("the error shows the PIN: %v", err)
	}
	// With the token pulled out, a second try that reached the token would
	// fail as KindToken: a key.KindPIN failure shows it was not offered again.
	away := tokens + ".away"
	if err := os.Rename(tokens, away); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Get(); key.KindOf(err) != key.KindPIN || !strings.Contains(err.Error(), "refused before") {
			t.Fatalf("the refused PIN again: %v", err)
		}
	}
	if err := os.Rename(away, tokens); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg.PKCS11.PINFile, "123456")
	signs(t, s, chain[0])
}

// p12 writes a .p12 file of a key issued by a test CA (legacy encryption,
// or AES as OpenSSL 3's default) and returns the config and the chain.
func p12(t *testing.T, password string, aes bool) (key.Config, []*x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	file, pw, chain := signtest.NewCA(t).WriteP12(t, dir, "Trần Thị Ưởng", password, true)
	if aes {
		keyPEM, certPEM, caPEM := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "ca.pem")
		testenv.PKCS12(t, file, keyPEM, certPEM, caPEM, pw, true)
	}
	return key.Config{Kind: "pkcs12", PKCS12: key.PKCS12{File: file, PasswordFile: pw}}, chain
}

func TestPKCS12(t *testing.T) {
	cfg, chain := p12(t, "mật khẩu", false)
	s := key.NewSource(cfg)
	signs(t, s, chain[0])
	k, _ := s.Get()
	if len(k.Chain) != 2 || !k.Chain[1].Equal(chain[1]) {
		t.Errorf("chain of %d, want the signer's then the CA's", len(k.Chain))
	}

	writeFile(t, cfg.PKCS12.PasswordFile, "wrong")
	s = key.NewSource(cfg)
	if _, err := s.Get(); key.KindOf(err) != key.KindPIN || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Get(); key.KindOf(err) != key.KindPIN || !strings.Contains(err.Error(), "refused before") {
		t.Fatalf("wrong password again: %v", err)
	}
}

// TestPKCS12AES: OpenSSL 3's default encryption is not read, and the error
// says how to re-export the file.
func TestPKCS12AES(t *testing.T) {
	cfg, _ := p12(t, "secret", true)
	if _, err := key.NewSource(cfg).Get(); key.KindOf(err) != key.KindKey || !strings.Contains(err.Error(), "-legacy") {
		t.Fatalf("AES .p12: %v", err)
	}
}
