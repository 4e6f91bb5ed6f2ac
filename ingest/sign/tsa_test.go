package sign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sohoa/sohoa/ingest/sign/key"
	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// opensslTSA is an RFC 3161 timestamp authority on loopback: OpenSSL's
// `openssl ts -reply` answers each request, with a key and certificate
// of the test CA. refuse makes it answer 500.
type opensslTSA struct {
	*httptest.Server
	mu     sync.Mutex
	refuse bool
	served int
}

func newOpenSSLTSA(t *testing.T, ca *signtest.CA) *opensslTSA {
	t.Helper()
	openssl := testenv.NeedTool(t, "openssl", "openssl")
	dir := t.TempDir()
	key, cert := ca.IssueTSA(t)
	keyPEM := signtest.WriteKey(t, dir, "tsa-key.pem", key)
	certPEM := signtest.WritePEM(t, dir, "tsa.pem", cert)
	caPEM := signtest.WritePEM(t, dir, "ca.pem", ca.Cert)
	serial := filepath.Join(dir, "serial")
	cnf := filepath.Join(dir, "tsa.cnf")
	conf := fmt.Sprintf(`[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = %s
crypto_device = builtin
signer_cert = %s
certs = %s
signer_key = %s
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`, serial, certPEM, caPEM, keyPEM)
	for p, s := range map[string]string{serial: "01\n", cnf: conf} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tsa := &opensslTSA{}
	tsa.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tsa.mu.Lock()
		defer tsa.mu.Unlock()
		if tsa.refuse || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		q := filepath.Join(dir, "req.tsq")
		out := filepath.Join(dir, "resp.tsr")
		if err := os.WriteFile(q, body, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if b, err := exec.Command(openssl, "ts", "-reply", "-config", cnf, "-queryfile", q, "-out", out).CombinedOutput(); err != nil {
			t.Errorf("openssl ts -reply: %v\n%s", err, b)
			http.Error(w, "openssl", http.StatusInternalServerError)
			return
		}
		resp, _ := os.ReadFile(out)
		tsa.served++
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(tsa.Close)
	return tsa
}

// TestSignBT: with a TSA the signature carries its timestamp token (B-T),
// and the tools still find it valid; a TSA that fails fails the signature
// with ErrTimestamp.
func TestSignBT(t *testing.T) {
	ca := signtest.NewCA(t)
	trustCA(t, ca)
	tsa := newOpenSSLTSA(t, ca)
	k, chain := ca.Issue(t, "Nguyễn Văn An", true)
	var digest, token []byte
	s := &Signer{Key: k, Chain: chain, Timestamp: func(ctx context.Context, d []byte) ([]byte, error) {
		tok, err := (&TSA{URL: tsa.URL}).Timestamp(ctx, d)
		digest, token = d, tok
		return tok, err
	}}
	in, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "scan_0003.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Sign(context.Background(), in, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	if tsa.mu.Lock(); tsa.served != 1 {
		t.Fatalf("the TSA answered %d requests, want 1", tsa.served)
	}
	tsa.mu.Unlock()
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	verifyWithTools(t, p, "Nguyễn Văn An", "07/12/2026 22:04")
	// pdfcpu finds the token where PAdES puts it; OpenSSL verifies it
	// against the signature value's digest and the test CA.
	if r := pdfcpuVerdict(t, p); len(r.Details.Signers) != 1 || !r.Details.Signers[0].HasTimestamp || r.Details.Signers[0].Timestamp.IsZero() {
		t.Errorf("pdfcpu finds no timestamp: %+v", r.Details.Signers)
	}
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token.der")
	if err := os.WriteFile(tokFile, token, 0o600); err != nil {
		t.Fatal(err)
	}
	caPEM := signtest.WritePEM(t, dir, "ca.pem", ca.Cert)
	if b, err := exec.Command(testenv.NeedTool(t, "openssl", "openssl"), "ts", "-verify", "-token_in", "-in", tokFile,
		"-digest", fmt.Sprintf("%x", digest), "-CAfile", caPEM).CombinedOutput(); err != nil || !strings.Contains(string(b), "Verification: OK") {
		t.Errorf("openssl ts -verify: %v\n%s", err, b)
	}
	if !bytes.Contains(out, []byte(fmt.Sprintf("%x", token[:32]))) {
		t.Error("the token is not in the signature")
	}

	tsa.mu.Lock()
	tsa.refuse = true
	tsa.mu.Unlock()
	if _, err := s.Sign(context.Background(), in, signedAt); err == nil || !strings.Contains(err.Error(), "timestamp authority") {
		t.Errorf("with the TSA failing: %v", err)
	}
}

// TestCopiesHoldForTSA: while the TSA fails, Copies fails with kind tsa
// (uploads wait) and Ready says why; once it answers, the copy is made.
func TestCopiesHoldForTSA(t *testing.T) {
	ca := signtest.NewCA(t)
	tsa := newOpenSSLTSA(t, ca)
	tsa.refuse = true
	dir := t.TempDir()
	p12, pw, _ := ca.WriteP12(t, dir, "Nguyễn Văn An", "x", false)
	c := &Copies{Dir: filepath.Join(dir, "signed"), Key: key.NewSource(key.Config{Kind: "pkcs12", PKCS12: key.PKCS12{File: p12, PasswordFile: pw}}),
		Timestamp: (&TSA{URL: tsa.URL}).Timestamp}
	src := filepath.Join(testenv.Corpus(t), "scan_0003.pdf")
	if _, _, _, err := c.Sign(context.Background(), "000.00.12.H57-200320-0003", "abc", src); key.KindOf(err) != KindTSA {
		t.Fatalf("TSA down: %v, want kind %s", err, KindTSA)
	}
	if err := c.Ready(); err == nil || !strings.Contains(err.Error(), "timestamp authority") {
		t.Errorf("Ready with the TSA down: %v", err)
	}
	tsa.mu.Lock()
	tsa.refuse = false
	tsa.mu.Unlock()
	p, _, _, err := c.Sign(context.Background(), "000.00.12.H57-200320-0003", "abc", src)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(); err != nil {
		t.Errorf("Ready after a signature: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Error(err)
	}
}
