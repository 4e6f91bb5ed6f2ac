package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sohoa/sohoa/ingest/sign/signtest"
)

// signConfig makes a .p12 key of a test CA in dir and returns the sign:
// section that has the daemon sign every upload with it.
func signConfig(t *testing.T, dir string) string {
	t.Helper()
	p12, pw, _ := signtest.NewCA(t).WriteP12(t, dir, "Nguyễn Văn An", "mật khẩu", false)
	return fmt.Sprintf("sign:\n  enabled: true\n  key: pkcs12\n  pkcs12: {file: %q, password_file: %q}\n", p12, pw)
}

// sigDict begins the signature dictionary ingest/sign appends.
var sigDict = []byte("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached")

// unsignedSHA returns the SHA-256 of the file a signed delivery was made
// from: the bytes before the incremental update holding its signature,
// the one of the candidates that known holds (the update may begin with a
// line break of its own). A file without exactly one signature is an error.
func unsignedSHA(t *testing.T, p string, known map[string]bool) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, sigDict); n != 1 {
		t.Errorf("UNSIGNED: %s holds %d signatures, want 1", p, n)
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	at := bytes.Index(b, sigDict)
	start := bytes.LastIndexByte(b[:at-1], '\n') + 1 // the line "N 0 obj"
	for _, end := range []int{start, start - 1} {
		s := sha256.Sum256(b[:end])
		if sha := hex.EncodeToString(s[:]); known[sha] {
			return sha
		}
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkSignedCopies: after the final run every upload is recorded, so no
// signed copy is left in the data dir, nor a temporary file.
func (h *crashRun) checkSignedCopies() {
	entries, _ := os.ReadDir(filepath.Join(h.e.data, "signed"))
	var left []string
	for _, ent := range entries {
		left = append(left, ent.Name())
	}
	if len(left) > 0 {
		h.t.Errorf("left in data/signed after every upload was recorded: %s", strings.Join(left, ", "))
	}
}
