package sign

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"

	"github.com/sohoa/sohoa/ingest/pages"
	"github.com/sohoa/sohoa/ingest/pdfdoc"
	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/testenv"
)

var signedAt = time.Date(2026, 12, 7, 15, 4, 0, 0, time.UTC) // 22:04 in Vietnam

// TestSign signs scans of every kind the pipeline uploads (a classic
// cross-reference table, linearized, xref streams as pdfcpu writes the
// parts of a batch, a page shown upside down, one shown turned) and checks
// each with tools that share no code with the signer.
func TestSign(t *testing.T) {
	corpus := testenv.Corpus(t)
	dir := t.TempDir()
	part := filepath.Join(dir, "part.pdf")
	if err := pages.Extract(context.Background(), filepath.Join(corpus, "batch_0001.pdf"), part, []int{3, 4}); err != nil {
		t.Fatal(err)
	}
	rotated := filepath.Join(dir, "rotated.pdf")
	qpdf := testenv.NeedTool(t, "qpdf", "qpdf")
	if out, err := exec.Command(qpdf, "--rotate=+90:1", filepath.Join(corpus, "scan_0005.pdf"), rotated).CombinedOutput(); err != nil {
		t.Fatalf("qpdf --rotate: %v: %s", err, out)
	}
	ca := signtest.NewCA(t)
	trustCA(t, ca)
	rsaKey, rsaChain := ca.Issue(t, "Nguyễn Văn An", true)
	ecKey, ecChain := ca.Issue(t, "Trần Thị Ưởng", false)
	tests := []struct {
		name, file string
		signer     Signer
		wantName   string
	}{
		{"classic", filepath.Join(corpus, "000.00.12.H57-200320-0001.pdf"), Signer{Key: rsaKey, Chain: rsaChain}, "Nguyễn Văn An"},
		{"colour", filepath.Join(corpus, "HS 000.00.12.H57-200320-0002 to khai.pdf"), Signer{Key: ecKey, Chain: ecChain}, "Trần Thị Ưởng"},
		{"upside down", filepath.Join(corpus, "scan_0004.pdf"), Signer{Key: rsaKey, Chain: rsaChain, Name: "Lê Đức Thọ"}, "Lê Đức Thọ"},
		{"ghostscript", filepath.Join(corpus, "scan_0006.pdf"), Signer{Key: ecKey, Chain: ecChain}, "Trần Thị Ưởng"},
		{"xref streams", part, Signer{Key: rsaKey, Chain: rsaChain}, "Nguyễn Văn An"},
		{"rotated", rotated, Signer{Key: ecKey, Chain: ecChain}, "Trần Thị Ưởng"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tt.signer.Sign(context.Background(), in, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, in) {
				t.Fatal("the signed file does not begin with the original's bytes")
			}
			p := filepath.Join(t.TempDir(), "signed.pdf")
			if err := os.WriteFile(p, out, 0o600); err != nil {
				t.Fatal(err)
			}
			verifyWithTools(t, p, tt.wantName, "07/12/2026 22:04")
		})
	}
}

// verifyWithTools checks a signed file with independent tools: pdfsig finds one
// valid signature over the whole file, pdfcpu's validation agrees, qpdf
// finds no fault, the top-left of page 1 reads name and time, and a byte
// changed in the scanned part makes pdfsig and pdfcpu report it.
func verifyWithTools(t *testing.T, path, name, when string) {
	t.Helper()
	pdfsig := testenv.NeedTool(t, "pdfsig", "poppler-utils")
	out, _ := exec.Command(pdfsig, "-nocert", path).CombinedOutput()
	s := string(out)
	for _, want := range []string{"Signature #1", "Signature Type: ETSI.CAdES.detached", "Total document signed", "Signature Validation: Signature is Valid.", "Signing Hash Algorithm: SHA-256"} {
		if !strings.Contains(s, want) {
			t.Errorf("pdfsig: no %q in:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Signature #2") {
		t.Errorf("pdfsig: more than one signature:\n%s", s)
	}
	// pdfcpu, offline, cannot check revocation: it calls the signature's
	// validity unknown for that alone, and finds nothing wrong.
	if r := pdfcpuVerdict(t, path); r.Status == model.SignatureStatusInvalid || r.DocModified == model.True || r.Reason != model.SignatureReasonCertRevocationUnknown {
		t.Errorf("pdfcpu: %s, %s, problems %q", r.Status, r.Reason, r.Problems)
	}

	qpdf := testenv.NeedTool(t, "qpdf", "qpdf")
	if out, err := exec.Command(qpdf, "--check", path).CombinedOutput(); err != nil || strings.Contains(strings.ToLower(string(out)), "warning") {
		t.Errorf("qpdf --check: %v:\n%s", err, out)
	}

	pdftotext := testenv.NeedTool(t, "pdftotext", "poppler-utils")
	// Page 1's top-left 300 x 120 points, whichever way the page is turned.
	text, err := exec.Command(pdftotext, "-f", "1", "-l", "1", "-x", "0", "-y", "0", "-W", "300", "-H", "120", "-r", "72", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, text)
	}
	for _, want := range []string{"Người số hóa: " + name, "Thời gian: " + when} {
		if !strings.Contains(string(text), want) {
			t.Errorf("pdftotext of page 1's top-left: no %q in %q", want, text)
		}
	}

	// One byte of the scanned part changed (inside a stream, so the file
	// still parses).
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("stream")) + 20
	data[i] ^= 0x01
	bad := filepath.Join(t.TempDir(), "changed.pdf")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command(pdfsig, "-nocert", bad).CombinedOutput()
	if !strings.Contains(string(out), "Signature Validation: Digest Mismatch.") {
		t.Errorf("pdfsig on a changed byte: no digest mismatch in:\n%s", out)
	}
	if r := pdfcpuVerdict(t, bad); r.Status != model.SignatureStatusInvalid || r.DocModified != model.True {
		t.Errorf("pdfcpu on a changed byte: %s, %s, modified %d", r.Status, r.Reason, r.DocModified)
	}
}

// trustCA makes pdfcpu's validation trust the test CA (pdfcpu reads its
// trusted certificates from a folder named by a package variable).
func trustCA(t *testing.T, ca *signtest.CA) {
	dir := t.TempDir()
	signtest.WritePEM(t, dir, "ca.pem", ca.Cert)
	old := model.TrustedCertDir
	model.TrustedCertDir = dir
	t.Cleanup(func() { model.TrustedCertDir = old })
}

// pdfcpuVerdict is pdfcpu's signature validation of the file's single
// signature.
func pdfcpuVerdict(t *testing.T, path string) *model.SignatureValidationResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := api.ValidateSignaturesRaw(f, true, pdfdoc.Config(pdfdoc.Options{Cmd: model.VALIDATESIGNATURES}))
	if err != nil {
		t.Fatalf("pdfcpu: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("pdfcpu: %d signatures", len(res))
	}
	return res[0]
}

// TestVerify: Verify accepts what Sign made, on the sample page too, and
// finds a changed byte. The sample also passes pdfsig and qpdf.
func TestVerify(t *testing.T) {
	ca := signtest.NewCA(t)
	for _, rsa := range []bool{true, false} {
		k, chain := ca.Issue(t, "Nguyễn Văn An", rsa)
		out, err := (&Signer{Key: k, Chain: chain}).Sign(context.Background(), Sample(), signedAt)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := Verify(out); err != nil || !c.Equal(chain[0]) {
			t.Fatalf("rsa %v: %v", rsa, err)
		}
		if rsa {
			p := filepath.Join(t.TempDir(), "sample.pdf")
			if err := os.WriteFile(p, out, 0o600); err != nil {
				t.Fatal(err)
			}
			trustCA(t, ca)
			verifyWithTools(t, p, "Nguyễn Văn An", "07/12/2026 22:04")
		}
		out[100] ^= 1
		if _, err := Verify(out); err == nil || !strings.Contains(err.Error(), "changed") {
			t.Errorf("rsa %v, a byte changed: %v", rsa, err)
		}
	}
}

// TestVersionRaised: a PDF 1.3 scan (img2pdf's) is uploaded saying PDF 1.7
// in its catalog, the version of the signature it carries, above the
// archives' minimum of 1.4 (ISO 32000-1 7.7.2: a later catalog /Version
// wins over the header; pdfinfo, Poppler, reads it so).
func TestVersionRaised(t *testing.T) {
	pdfinfo := testenv.NeedTool(t, "pdfinfo", "poppler-utils")
	in, err := os.ReadFile(filepath.Join(testenv.Corpus(t), "scan_0003.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(in, []byte("%PDF-1.3")) {
		t.Fatal("the sample is no longer PDF 1.3")
	}
	k, chain := signtest.NewCA(t).Issue(t, "Nguyễn Văn An", false)
	out, err := (&Signer{Key: k, Chain: chain}).Sign(context.Background(), in, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command(pdfinfo, p).CombinedOutput()
	if err != nil || !regexp.MustCompile(`(?m)^PDF version:\s+1\.7$`).Match(info) {
		t.Errorf("pdfinfo: %v\n%s", err, info)
	}
}
