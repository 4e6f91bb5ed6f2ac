package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/sign"
	"github.com/sohoa/sohoa/ingest/sign/key"
	"github.com/sohoa/sohoa/ingest/sign/signtest"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// signing sets the harness's worker to sign with a .p12 key of a test CA,
// as cmd/sohoa wires it, and returns the signed copies and the password
// file (holding a wrong password when wrongPassword).
func signing(t *testing.T, h *harness, wrongPassword bool) (*sign.Copies, string) {
	t.Helper()
	dir := t.TempDir()
	p12, pw, _ := signtest.NewCA(t).WriteP12(t, dir, "Nguyễn Văn An", "đúng", false)
	if wrongPassword {
		if err := os.WriteFile(pw, []byte("sai"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &sign.Copies{Dir: filepath.Join(dir, "signed"), Key: key.NewSource(key.Config{Kind: "pkcs12", PKCS12: key.PKCS12{File: p12, PasswordFile: pw}})}
	h.sign = func(ctx context.Context, j store.Job, path string) (Signed, error) {
		p, sha, size, err := c.Sign(ctx, j.Dossier, j.Content, path)
		if errors.Is(err, sign.ErrNotSignable) {
			return Signed{}, &Error{Kind: KindSource, Permanent: true, Err: err}
		}
		return Signed{Path: p, SHA256: sha, Size: size}, err
	}
	return c, pw
}

// addPDF records a corpus scan for dossier, as ingest would.
func (h *harness) addPDF(dossier, file string) []byte {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Corpus(h.t), file))
	if err != nil {
		h.t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(h.spool, sha+".pdf"), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.Record(store.Scan{SHA256: sha, Size: int64(len(b)), Name: file, State: store.Queued, Pages: 1,
		Dossiers: []string{dossier}, Seen: h.now()}); err != nil {
		h.t.Fatal(err)
	}
	return b
}

// TestWorkerSigns: with signing on, the folder sink receives the signed
// copy (valid for pdfsig, the scan's bytes unchanged before it); while the
// key is unavailable (its password refused) nothing is delivered and no
// attempt counts against the job; once the password file is right, the
// upload goes ahead. A file that cannot be signed is parked.
func TestWorkerSigns(t *testing.T) {
	pdfsig := testenv.NeedTool(t, "pdfsig", "poppler-utils")
	h := newHarness(t, time.Now)
	copies, pw := signing(t, h, true)
	orig := h.addPDF("000.00.12.H57-200320-0003", "scan_0003.pdf")
	bad := h.add("000.00.12.H57-200320-0004", 2000) // not a PDF
	out := t.TempDir()
	h.start(DirSink{Root: out}, 1, nil)
	time.Sleep(300 * time.Millisecond) // several pauses of the worker
	if entries, _ := os.ReadDir(filepath.Join(out, "000.00.12.H57-200320-0003")); len(entries) != 0 {
		t.Fatalf("delivered with the key unavailable: %v", entries)
	}
	if err := copies.Ready(); err == nil || !strings.Contains(err.Error(), "pin:") {
		t.Errorf("Ready with the password refused: %v", err)
	}
	due, _, _ := h.st.Jobs(time.Now().Add(time.Hour), 10)
	if len(due) != 2 || due[0].Attempts+due[1].Attempts != 0 || due[0].Signed+due[1].Signed != "" {
		t.Fatalf("queue while the key is unavailable: %+v", due)
	}

	if err := os.WriteFile(pw, []byte("đúng\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.wait(1, 1)
	if err := copies.Ready(); err != nil {
		t.Errorf("Ready after a signature: %v", err)
	}
	if p, _ := h.st.Parked(); len(p) != 1 || p[0].Content != bad.sha || !strings.Contains(p[0].LastError, "cannot be signed") {
		t.Fatalf("parked %+v, want the file that is not a PDF", p)
	}
	got, err := os.ReadFile(filepath.Join(out, "000.00.12.H57-200320-0003", "scan_0003.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, orig) || len(got) == len(orig) {
		t.Fatal("the delivered file is not the scan with a signature appended")
	}
	res, _ := exec.Command(pdfsig, "-nocert", filepath.Join(out, "000.00.12.H57-200320-0003", "scan_0003.pdf")).CombinedOutput()
	if !strings.Contains(string(res), "Signature is Valid.") || !strings.Contains(string(res), "Total document signed") {
		t.Errorf("pdfsig:\n%s", res)
	}
}

// TestSignedCopyReused: the signed copy made before a crash is the one
// delivered after it, however much later, and its hash is recorded on the
// job before delivery.
func TestSignedCopyReused(t *testing.T) {
	h := newHarness(t, time.Now)
	copies, _ := signing(t, h, false)
	h.addPDF("000.00.12.H57-200320-0001", "000.00.12.H57-200320-0001.pdf")
	due, _, _ := h.st.Jobs(time.Now(), 1)
	// Signed an hour ago, then the daemon was killed before recording it.
	copies.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	p, sha, _, err := copies.Sign(context.Background(), due[0].Dossier, due[0].Content, filepath.Join(h.spool, due[0].Content+".pdf"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(p)
	copies.Now = nil
	recorded := make(chan string, 1)
	sink := funcSink(func(_ context.Context, it Item) error {
		jobs, _, _ := h.st.Jobs(time.Now().Add(time.Hour), 10)
		recorded <- jobs[0].Signed
		if it.SHA256 != sha || it.Path != p {
			t.Errorf("delivered %s at %s, want the copy made before: %s at %s", it.SHA256, it.Path, sha, p)
		}
		return nil
	})
	h.start(sink, 1, nil)
	h.wait(1, 0)
	if r := <-recorded; r != sha {
		t.Errorf("recorded %q before delivery, want %s", r, sha)
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Error("the signed copy was made again")
	}
}

// TestHTTPSinkReceivesSigned: the HTTP sink sends the signed copy (its
// SHA-256 and size checked on the way, as for any upload) and the province
// stores exactly those bytes, once.
func TestHTTPSinkReceivesSigned(t *testing.T) {
	pdfsig := testenv.NeedTool(t, "pdfsig", "poppler-utils")
	p := newProvince(t)
	h := newHarness(t, time.Now)
	copies, _ := signing(t, h, false)
	h.addPDF("000.00.12.H57-200320-0002", "HS 000.00.12.H57-200320-0002 to khai.pdf")
	due, _, _ := h.st.Jobs(time.Now(), 1)
	h.start(p.sink(t, 10*time.Second, nil), 1, nil)
	h.wait(1, 0)
	signed := copies.Path(due[0].Dossier, due[0].Content)
	b, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sha := hex.EncodeToString(sum[:])
	p.mu.Lock()
	stored := p.byDoss["000.00.12.H57-200320-0002"]
	p.mu.Unlock()
	if len(stored) != 1 || stored[0] != sha {
		t.Fatalf("the province stored %v, want the signed copy %s", stored, sha)
	}
	res, _ := exec.Command(pdfsig, "-nocert", signed).CombinedOutput()
	if !strings.Contains(string(res), "Signature is Valid.") {
		t.Errorf("pdfsig:\n%s", res)
	}
}
