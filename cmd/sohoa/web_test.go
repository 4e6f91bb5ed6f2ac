package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// safeBuffer is a log destination for a server's goroutines.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveWithAuth serves a 200 handler through serveMetrics with basic auth
// (user prometheus, password secret) on loopback; it returns the URL, the
// web config's path and the log.
func serveWithAuth(t *testing.T) (url, webYML string, log *safeBuffer) {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webYML = filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webYML, fmt.Appendf(nil, "basic_auth_users:\n  prometheus: %s\n", hash), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "metrics") })}
	log = &safeBuffer{}
	go serveMetrics(ln, srv, webYML, slog.New(slog.NewTextHandler(log, nil)))
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/metrics", webYML, log
}

func get(t *testing.T, url, user, password string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Failed basic-auth attempts are rate-limited per client: each costs a
// bcrypt comparison, and a LAN client must not keep the cores busy with them.
func TestFailedBasicAuthIsRateLimited(t *testing.T) {
	url, _, log := serveWithAuth(t)
	if code := get(t, url, "prometheus", "secret"); code != http.StatusOK {
		t.Fatalf("right password: %d", code)
	}
	codes := map[int]int{}
	for i := range 30 {
		codes[get(t, url, "prometheus", fmt.Sprintf("guess%d", i))]++
	}
	// 10 failures, perhaps one more as the bucket refills, then refused.
	if codes[http.StatusUnauthorized] < 10 || codes[http.StatusUnauthorized] > 11 || codes[http.StatusTooManyRequests] < 19 {
		t.Errorf("30 wrong passwords: %v, want 10 (or 11) 401 and the rest 429", codes)
	}
	if code := get(t, url, "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want the 401 challenge", code)
	}
	if !strings.Contains(log.String(), "too many failed logins") || strings.Count(log.String(), "too many failed logins") > 1 {
		t.Errorf("want one warning for the client:\n%s", log.String())
	}
}

// A web config replaced by a file that is not one (web_config: /etc/shadow)
// is logged by its lines, never its text.
func TestWebConfigErrorsHideTheFile(t *testing.T) {
	url, webYML, log := serveWithAuth(t)
	if code := get(t, url, "prometheus", "secret"); code != http.StatusOK { // serving, its file read
		t.Fatalf("right password: %d", code)
	}
	shadow := "root:$6$Zx9secretHASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
	if err := os.WriteFile(webYML, []byte(shadow), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := get(t, url, "prometheus", "secret"); code != http.StatusInternalServerError {
		t.Errorf("with the file gone bad: %d, want 500", code)
	}
	if l := log.String(); strings.Contains(l, "Zx9secret") || strings.Contains(l, "daemon:") || !strings.Contains(l, "line 1: unknown key") {
		t.Errorf("log shows the file's text or not its lines:\n%s", l)
	}
}
