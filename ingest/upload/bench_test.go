package upload

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// BenchmarkUploadVsCurl uploads the same scans to a loopback server that
// hashes what it receives, once through the daemon's path with one worker
// (store queue, HTTP sink, multipart streamed from the file, confirmation
// recorded in the store) and once with `curl -F` (one process for all the
// files, one connection), and reports both throughputs and their ratio.
//
//	go test ./ingest/upload/ -run '^$' -bench UploadVsCurl -benchtime 5x
func BenchmarkUploadVsCurl(b *testing.B) {
	curl := testenv.OptionalTool(b, "curl", "curl")
	var received atomic.Int64
	srv := newHTTPServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			h := sha256.New()
			n, _ := io.Copy(h, part)
			if part.FormName() == "file" {
				received.Add(n)
			}
		}
		io.WriteString(w, `{"status":"ok"}`)
	}))

	// Scans of a few MB, as a 200 dpi grey scan of a few pages is.
	const files, size = 16, 4 << 20
	h := newHarness(b, time.Now)
	var paths []string
	var scans []testScan
	for i := range files {
		s := h.add("000.00.12.H57-260323-"+strconv.Itoa(1000+i), size+i*4096)
		scans = append(scans, s)
		paths = append(paths, filepath.Join(h.spool, s.sha+".pdf"))
	}
	var total int64
	for _, s := range scans {
		total += s.size
	}
	sink, err := NewHTTPSink(HTTPConfig{Upload: Request{URL: srv.URL + "/api/dossiers/{dossier}/files",
		Fields: map[string]string{"maHoSo": "{dossier}", "sha256": "{sha256}"}}})
	if err != nil {
		b.Fatal(err)
	}

	// sohoa: a fresh queue of the same files, drained by one worker.
	viaSohoa := func() time.Duration {
		b.StopTimer()
		defer b.StartTimer()
		st, err := store.Open(filepath.Join(b.TempDir(), "q.db"), time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		for _, s := range scans {
			if err := st.Record(store.Scan{SHA256: s.sha, Size: s.size, Name: s.name, State: store.Queued,
				Dossiers: []string{s.dossier}, Seen: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
		done := make(chan store.Job, files)
		w := NewWorker(Worker{Queue: st, Sink: sink, Ward: "000.00.12.H57", Concurrency: 1,
			Path: func(j store.Job) string { return filepath.Join(h.spool, j.Content+".pdf") },
			Done: func(j store.Job) { done <- j }})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan error, 1)
		received.Store(0)
		b.StartTimer()
		start := time.Now()
		go func() { stopped <- w.Run(ctx) }()
		for range files {
			<-done
		}
		took := time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-stopped; err != nil {
			b.Fatal(err)
		}
		if received.Load() != total {
			b.Fatalf("the server received %d bytes from sohoa, want %d", received.Load(), total)
		}
		return took
	}
	// curl -F, all files in one process over one connection.
	args := []string{"-sS", "--fail"}
	for j, p := range paths {
		if j > 0 {
			args = append(args, "--next")
		}
		args = append(args, "-o", os.DevNull, "-F", "maHoSo="+scans[j].dossier, "-F", "sha256="+scans[j].sha,
			"-F", "file=@"+p+";type=application/pdf", srv.URL+"/api/dossiers/"+scans[j].dossier+"/files")
	}
	viaCurl := func() time.Duration {
		b.StopTimer()
		defer b.StartTimer()
		received.Store(0)
		b.StartTimer()
		start := time.Now()
		out, err := exec.Command(curl, args...).CombinedOutput()
		took := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatalf("curl: %v\n%s", err, out)
		}
		if received.Load() != total {
			b.Fatalf("the server received %d bytes from curl, want %d", received.Load(), total)
		}
		return took
	}

	var sohoaTime, curlTime time.Duration
	for b.Loop() {
		sohoaTime += viaSohoa()
		curlTime += viaCurl()
	}
	mibs := func(d time.Duration) float64 { return float64(total) * float64(b.N) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mibs(curlTime), "curl-MiB/s")
	b.ReportMetric(mibs(sohoaTime), "sohoa-MiB/s")
	b.ReportMetric(100*mibs(sohoaTime)/mibs(curlTime), "%-of-curl")
	b.ReportMetric(0, "ns/op")
}
