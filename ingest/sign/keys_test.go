package sign

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sohoa/sohoa/ingest/sign/key"
	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// TestSignWithKeys: the whole check with independent tools (pdfsig,
// pdfcpu, qpdf, pdftotext, a changed byte) on scans signed with a SoftHSM2
// token through PKCS #11 and with a .p12 file.
func TestSignWithKeys(t *testing.T) {
	ca := signtest.NewCA(t)
	trustCA(t, ca)
	dir := t.TempDir()

	k, chain := ca.Issue(t, "Phạm Thị Hồng", true)
	certDER := filepath.Join(dir, "cert.der")
	if err := os.WriteFile(certDER, chain[0].Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.SoftHSM(t, "sohoa", "135790", signtest.WriteKey(t, dir, "token-key.pem", k), certDER, "signer")
	pin := filepath.Join(dir, "sign-pin")
	if err := os.WriteFile(pin, []byte("135790\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p12dir := t.TempDir()
	p12, pw, _ := ca.WriteP12(t, p12dir, "Võ Văn Kiệt", "mật khẩu", false)

	for _, tt := range []struct {
		name string
		cfg  key.Config
		who  string
	}{
		{"pkcs11", key.Config{Kind: "pkcs11", PKCS11: key.PKCS11{Module: testenv.SoftHSMModule, TokenLabel: "sohoa", PINFile: pin}}, "Phạm Thị Hồng"},
		{"pkcs12", key.Config{Kind: "pkcs12", PKCS12: key.PKCS12{File: p12, PasswordFile: pw}}, "Võ Văn Kiệt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := key.NewSource(tt.cfg)
			defer src.Close()
			k, err := src.Get()
			if err != nil {
				t.Fatal(err)
			}
			in, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := (&Signer{Key: k.Signer, Chain: k.Chain}).Sign(context.Background(), in, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "signed.pdf")
			if err := os.WriteFile(p, out, 0o600); err != nil {
				t.Fatal(err)
			}
			verifyWithTools(t, p, tt.who, "07/12/2026 22:04")
		})
	}
}
