package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/admin"
)

// TestParkedUploadRetried: the province answers 400 (a field it does not
// take), so the upload is parked, not retried, and IT sees it with `sohoa
// parked`. Once the cause is fixed, `sohoa retry` queues it again and it is
// uploaded exactly once: through the running daemon, and, with the daemon
// stopped, on the database directly.
func TestParkedUploadRetried(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	requests := map[string]int{} // content sha256 -> requests
	stored := map[string]int{}   // content sha256 -> times stored
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sha, ok := uploadedSHA(w, r)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		requests[sha]++
		if broken.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"truong maHoSo khong hop le"}`)
			return
		}
		stored[sha]++
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: http
  retry: {min_backoff: 50ms, max_backoff: 300ms}
  http:
    url: "%s/api/dossiers/{dossier}/files"
`, srv.URL))
	sohoa := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(binPath, args...).CombinedOutput()
		return string(out), exitCode(err)
	}

	e.start()
	codes := []string{"000.00.12.H57-200327-0001", "000.00.12.H57-200327-0002"}
	var shas []string
	for i, code := range codes {
		p := filepath.Join(e.inbox, code+".pdf")
		variant(t, "000.00.12.H57-200320-0001.pdf", p, i+1)
		shas = append(shas, fileSHA(t, p))
	}
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("both uploads parked", 60*time.Second, func() bool { return e.metric("sohoa_upload_parked"+ward) == 2 })

	out, code := sohoa("parked", "-config", e.config)
	if code != 0 {
		t.Fatalf("sohoa parked: exit %d\n%s", code, out)
	}
	for i, sha := range shas {
		if !strings.Contains(out, sha[:12]) || !strings.Contains(out, codes[i]) {
			t.Errorf("sohoa parked does not show %s (%s):\n%s", sha[:12], codes[i], out)
		}
	}
	if !strings.Contains(out, "400") || !strings.Contains(out, "khong hop le") {
		t.Errorf("sohoa parked does not give the status and the answer:\n%s", out)
	}
	out, code = sohoa("parked", "--json", "-config", e.config)
	var got []admin.Parked
	for sc := bufio.NewScanner(strings.NewReader(out)); sc.Scan(); {
		var p admin.Parked
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("sohoa parked --json: %v\n%s", err, out)
		}
		got = append(got, p)
	}
	if code != 0 || len(got) != 2 || got[0].Status != 400 || got[0].Parked.IsZero() {
		t.Errorf("sohoa parked --json: exit %d, %+v", code, got)
	}

	// Parked means not retried on its own.
	time.Sleep(time.Second)
	mu.Lock()
	for _, sha := range shas {
		if requests[sha] != 1 {
			t.Errorf("parked scan %.8s was sent %d times, want once", sha, requests[sha])
		}
	}
	mu.Unlock()

	broken.Store(false)
	if out, code := sohoa("retry", "-config", e.config, "--all", "x"); code != 2 {
		t.Errorf("sohoa retry --all x: exit %d, want 2\n%s", code, out)
	}
	if out, code := sohoa("retry", "-config", e.config, "0123456789ab"); code != 1 {
		t.Errorf("retry of an unknown prefix: exit %d, want 1\n%s", code, out)
	}
	out, code = sohoa("retry", "-config", e.config, shas[0][:10])
	if code != 0 || !strings.Contains(out, "1 requeued") || strings.Contains(out, "directly") {
		t.Fatalf("sohoa retry through the daemon: exit %d\n%s", code, out)
	}
	e.waitFor("the retried scan uploaded", 30*time.Second, func() bool {
		return e.metric("sohoa_uploads_total"+ward) == 1 && e.metric("sohoa_upload_parked"+ward) == 1
	})
	out, _ = sohoa("parked", "-config", e.config)
	if strings.Contains(out, shas[0][:12]) || !strings.Contains(out, shas[1][:12]) {
		t.Errorf("after retrying the first, sohoa parked shows:\n%s", out)
	}
	e.stop()

	// No daemon: the commands use the database directly.
	out, code = sohoa("parked", "-config", e.config)
	if code != 0 || !strings.Contains(out, shas[1][:12]) || !strings.Contains(out, "not running") {
		t.Errorf("sohoa parked without the daemon: exit %d\n%s", code, out)
	}
	out, code = sohoa("retry", "-config", e.config, "--dossier", codes[1])
	if code != 0 || !strings.Contains(out, "1 requeued; they upload when sohoa starts") {
		t.Fatalf("sohoa retry without the daemon: exit %d\n%s", code, out)
	}
	e.start()
	e.waitFor("the second scan uploaded", 30*time.Second, func() bool {
		return e.metric("sohoa_uploads_total"+ward) == 2 && e.metric("sohoa_upload_parked"+ward) == 0 &&
			e.metric("sohoa_upload_queue_length"+ward) == 0
	})
	out, code = sohoa("parked", "-config", e.config)
	if code != 0 || !strings.Contains(out, "no parked uploads") {
		t.Errorf("sohoa parked at the end: exit %d\n%s", code, out)
	}
	if out, code := sohoa("retry", "-config", e.config, "--all"); code != 1 || !strings.Contains(out, "no parked uploads") { // nothing done: 1, as the README says
		t.Errorf("sohoa retry --all with nothing parked: exit %d\n%s", code, out)
	}
	e.logMu.Lock()
	logged := bytes.Contains(e.log.Bytes(), []byte("upload rejected; parked"))
	e.logMu.Unlock()
	if !logged {
		t.Error("no log line says an upload was parked")
	}
	e.stop()

	mu.Lock()
	defer mu.Unlock()
	for _, sha := range shas {
		if stored[sha] != 1 || requests[sha] != 2 {
			t.Errorf("scan %.8s: stored %d times in %d requests, want once in 2", sha, stored[sha], requests[sha])
		}
	}
	if _, err := os.Lstat(admin.SocketPath(e.data)); err == nil {
		t.Error("the admin socket is left after the daemon stopped")
	}
}
