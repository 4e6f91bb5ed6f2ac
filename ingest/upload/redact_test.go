package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/store"
)

// lockedBuffer is a log's destination read while the worker writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecretsStayOutOfLogsAndReasons: a token endpoint that refuses the
// grant echoing its form (URL-encoded, and JSON with \u escapes), and an
// upload endpoint that refuses a file echoing the bearer token, leave no
// secret in the worker's log lines, nor in the reason kept for the job
// (what `sohoa parked` shows), on every retry.
func TestSecretsStayOutOfLogsAndReasons(t *testing.T) {
	const clientSecret, password, token = `cl/ient+s3cr"et\&ñ`, `mật khẩu "1"`, "tok/en+42=="
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		j, _ := json.Marshal(form)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "%s %s", body, strings.ReplaceAll(string(j), "ậ", `\u1ead`))
	}))
	defer tokens.Close()
	uploads := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"bad request","auth":%q,"q":%q}`, strings.ReplaceAll(r.Header.Get("Authorization"), "/", `\/`),
			url.QueryEscape(r.Header.Get("Authorization")))
	}))
	defer uploads.Close()
	t.Setenv("SOHOA_TEST_CLIENT_SECRET", clientSecret)
	t.Setenv("SOHOA_TEST_PASSWORD", password)
	t.Setenv("SOHOA_TEST_TOKEN", token)

	for _, tt := range []struct {
		name   string
		auth   province.AuthConfig
		parked bool
	}{
		{"token endpoint refuses", province.AuthConfig{Type: province.AuthOAuth2Password, TokenURL: tokens.URL, ClientID: "sohoa",
			ClientSecret: province.Secret{Env: "SOHOA_TEST_CLIENT_SECRET"}, Username: "canbo",
			Password: province.Secret{Env: "SOHOA_TEST_PASSWORD"}}, false},
		{"upload refused", province.AuthConfig{Type: province.AuthBearer, Token: province.Secret{Env: "SOHOA_TEST_TOKEN"}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := province.NewAuth(tt.auth, tokens.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			sink, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: uploads.URL + "/up/{dossier}"}, Auth: auth,
				Client: uploads.Client(), Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, time.Now)
			h.add("000.00.12.H57-260323-0001", 2000)
			var log lockedBuffer
			w := NewWorker(Worker{Queue: h.st, Sink: sink, Ward: "000.00.12.H57",
				Path:    func(j store.Job) string { return h.spool + "/" + j.Content + ".pdf" },
				Backoff: province.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond},
				Logger:  slog.New(slog.NewTextHandler(&log, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			go func() { stopped <- w.Run(ctx) }()
			var reasons []string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				s, _ := h.st.Stats()
				if tt.parked && s.Parked == 1 || !tt.parked && s.UploadRetries >= 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("stats %+v", s)
				}
			}
			cancel()
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			jobs, _ := h.st.Parked()
			due, _, _ := h.st.Due(time.Now().Add(time.Hour), 10, nil)
			for _, j := range append(jobs, due...) {
				reasons = append(reasons, j.LastError)
			}
			text := log.String() + strings.Join(reasons, "\n")
			if !strings.Contains(text, "[redacted]") || len(reasons) != 1 {
				t.Fatalf("no echo reached the log and reasons %q:\n%s", reasons, text)
			}
			for _, s := range []string{clientSecret, password, token} {
				for _, form := range []string{s, url.QueryEscape(s), strings.ReplaceAll(s, "/", `\/`), "s3cr", "khẩu", "kh%E1", "en+42", "en%2B42"} {
					if strings.Contains(text, form) {
						t.Errorf("%q in the log or a reason:\n%s", form, text)
					}
				}
			}
		})
	}
}
