package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
)

// TestParkedBlanksOldSecrets: a reason recorded before answers were
// redacted at the source, holding the configured password as the province
// echoed it, is shown by `sohoa parked` (text and JSON) without it.
func TestParkedBlanksOldSecrets(t *testing.T) {
	const password = `p@ss "word"+Đ1`
	t.Setenv("SOHOA_TEST_PARKED_PW", password)
	dir := t.TempDir()
	data, inbox := filepath.Join(dir, "data"), filepath.Join(dir, "inbox")
	for _, d := range []string{data, inbox} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(filepath.Join(data, "sohoa.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sha := strings.Repeat("ab", 32)
	now := time.Now()
	if err := st.Record(store.Scan{SHA256: sha, Size: 10, Name: "a.pdf", State: store.Queued,
		Dossiers: []string{"000.00.12.H57-260323-0001"}, Seen: now}); err != nil {
		t.Fatal(err)
	}
	jobs, _, err := st.Due(now.Add(time.Hour), 1, nil)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("%d jobs: %v", len(jobs), err)
	}
	reason := fmt.Sprintf(`http_4xx: HTTP 400: {"error":"maHoSo sai","password":%q,"form":"%s"}`, password, url.QueryEscape(password))
	if err := st.Park(jobs[0], "http_4xx", 400, reason, now); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := filepath.Join(dir, "sohoa.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `inbox: %q
data_dir: %q
upload:
  sink: http
  http:
    url: "https://dvc.example/api/{dossier}/files"
    auth: {type: basic, username: sohoa, password_env: SOHOA_TEST_PARKED_PW}
`, inbox, data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-config", cfg}, {"-config", cfg, "--json"}} {
		var out, errb bytes.Buffer
		if code := cmdParked(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("sohoa parked %v: exit %d\n%s", args, code, errb.String())
		}
		shown := out.String()
		if !strings.Contains(shown, "maHoSo sai") || !strings.Contains(shown, "[redacted]") {
			t.Errorf("sohoa parked %v does not show the reason, redacted:\n%s", args, shown)
		}
		for _, form := range []string{password, url.QueryEscape(password), `p@ss \"word\"`, "Đ1"} {
			if strings.Contains(shown, form) {
				t.Errorf("sohoa parked %v shows %q:\n%s", args, form, shown)
			}
		}
	}
}
