package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/hostilepdf"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/sandbox"
	"github.com/sohoa/sohoa/ingest/testenv"
)

// newPool returns a pool whose parser processes are this test binary.
func newPool(t testing.TB, lim sandbox.Limits) *sandbox.Pool {
	t.Helper()
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestSamplesAsInProcess: every corpus sample gets the same verdict and the
// same codes through the parser process as in process.
func TestSamplesAsInProcess(t *testing.T) {
	testenv.SkipUnderRace(t, "a sweep of the corpus, one file after the other (TestConcurrentRequests races the pool)")
	files, err := filepath.Glob(filepath.Join(testenv.Corpus(t), "*.pdf"))
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus samples: %d files, %v", len(files), err)
	}
	p := newPool(t, sandbox.Limits{})
	withBlanks, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, CheckBlanks: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { withBlanks.Close() })
	local := &pdfcheck.Checker{}
	reader := &barcode.Reader{}
	ctx := context.Background()
	dir := t.TempDir()
	for i, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := local.Check(ctx, f, "")
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, strings.Repeat("r", i+1)+".pdf")
			got, err := p.Check(ctx, f, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.Reason != want.Reason || got.Pages != want.Pages || got.MinDPI != want.MinDPI || got.Repaired != want.Repaired {
				t.Errorf("isolated %+v, in process %+v", got, want)
			}
			if _, err := os.Stat(dst); (err == nil) != got.Repaired {
				t.Errorf("repaired %v, repaired copy written: %v", got.Repaired, err == nil)
			}
			if want.Reason != "" {
				return
			}
			wp, err := reader.ReadFirst(ctx, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			gp, err := p.ReadFirst(ctx, f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if codes(gp) != codes(wp) || len(gp) != len(wp) {
				t.Errorf("isolated pages %d codes %q, in process %d %q", len(gp), codes(gp), len(wp), codes(wp))
			}
			wb, err := (&barcode.BlankFinder{}).Find(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			gb, err := p.Find(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(gb.Blank, wb.Blank) || gb.Pages != wb.Pages {
				t.Errorf("isolated blank pages %v of %d, in process %v of %d", gb.Blank, gb.Pages, wb.Blank, wb.Pages)
			}
			if strings.HasPrefix(filepath.Base(f), "duplex") && len(gb.Blank) == 0 {
				t.Error("no blank back side found in the duplex sample through the parser process")
			}
			// Checked and searched for blank pages in one request, one parse:
			// the same verdict and the same blank pages (the repaired copy's
			// for a repaired file, which is what would be trimmed).
			both, err := withBlanks.Check(ctx, f, dst+".both.pdf")
			if err != nil {
				t.Fatal(err)
			}
			alone := wb.Blank
			if both.Repaired {
				rb, err := (&barcode.BlankFinder{}).Find(ctx, dst+".both.pdf")
				if err != nil {
					t.Fatal(err)
				}
				alone = rb.Blank
			}
			if got.Pages < 2 {
				alone = nil // a single page is never searched (never dropped)
			}
			if both.Reason != got.Reason || both.BlankSearched != (got.Pages > 1) || !slices.Equal(both.Blank, alone) {
				t.Errorf("check with blank pages %+v, want verdict %q and blank pages %v", both, got.Reason, alone)
			}
		})
	}
	if n := p.Started(); n != 1 {
		t.Errorf("%d parser processes started for healthy files, want 1 (a long-lived one)", n)
	}
	if p.PeakRSS() <= 0 {
		t.Error("no peak RSS read of the parser process")
	}
	t.Logf("parser process peak RSS over the samples: %d MiB", p.PeakRSS()>>20)
}

func codes(pages []barcode.Page) string {
	var s []string
	for _, p := range pages {
		for _, c := range p.Codes {
			s = append(s, c.Code)
		}
		if p.Blank {
			s = append(s, "blank")
		}
	}
	return strings.Join(s, ",")
}

// TestHostile: each hostile file gets its verdict from the parser process,
// and a healthy scan checked right after it is still valid.
func TestHostile(t *testing.T) {
	testenv.SkipUnderRace(t, "the parser process's memory and CPU limits")
	p := newPool(t, sandbox.Limits{Memory: 512 << 20, CPU: 20 * time.Second, Timeout: 40 * time.Second})
	dir := t.TempDir()
	good := healthyFile(t)
	ctx := context.Background()
	for i, c := range hostilepdf.Cases() {
		t.Run(c.Name, func(t *testing.T) {
			f := filepath.Join(dir, fmt.Sprintf("hostile-%d.pdf", i))
			if err := os.WriteFile(f, c.File(), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := p.Check(ctx, f, filepath.Join(dir, fmt.Sprintf("repaired-%d.pdf", i)))
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Reason) != c.Reason {
				t.Fatalf("reason %q (%s), want %q", got.Reason, got.Detail, c.Reason)
			}
			if c.Pages > 0 && got.Pages != c.Pages {
				t.Errorf("%d pages, want %d", got.Pages, c.Pages)
			}
			if c.DPI > 0 && math.Round(got.MinDPI) != c.DPI {
				t.Errorf("min dpi %.1f, want %.0f", got.MinDPI, c.DPI)
			}
			if !slices.Equal(got.Flags, c.Flags) {
				t.Errorf("flags %q, want %q", got.Flags, c.Flags)
			}
			if got.Reason == "" {
				// The receipt search decodes page images: bounded, no error.
				if _, err := p.ReadFirst(ctx, f, 1); err != nil {
					t.Errorf("barcodes: %v", err)
				}
			}
			after, err := p.Check(ctx, good, "")
			if err != nil || after.Reason != "" {
				t.Fatalf("healthy scan after it: %+v, %v", after, err)
			}
		})
	}
	if peak := p.PeakRSS(); peak > 512<<20 {
		t.Errorf("parser process peak RSS %d MiB over its limit", peak>>20)
	}
	t.Logf("parser processes started: %d; peak RSS %d MiB", p.Started(), p.PeakRSS()>>20)
}

// manyPages writes a document of n pages (hostilepdf.ManyPages).
func manyPages(t *testing.T, n int) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "many.pdf")
	if err := os.WriteFile(f, hostilepdf.ManyPages(n), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLimits: a parse that outgrows the process's memory, CPU time or
// wall-clock time ends the process; the file gets parser_limit, the next
// one a fresh process.
func TestLimits(t *testing.T) {
	big := manyPages(t, 100_000)
	good := healthyFile(t)
	tests := []struct {
		name   string
		limits sandbox.Limits
		detail string
	}{
		// The daemon's polling of the resident set ends it, not the
		// address-space backstop ("memory: out of address space").
		{"memory", sandbox.Limits{Memory: 64 << 20}, "MiB resident, over the limit of 64 MiB"},
		{"CPU time", sandbox.Limits{Memory: 4 << 30, CPU: time.Second}, "CPU time limit"},
		{"wall-clock time", sandbox.Limits{Memory: 4 << 30, Timeout: 2 * time.Second}, "time: no answer after 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPool(t, tt.limits)
			ctx := context.Background()
			if r, err := p.Check(ctx, good, ""); err != nil || r.Reason != "" {
				t.Fatalf("healthy scan: %+v, %v", r, err)
			}
			r, err := p.Check(ctx, big, "")
			if err != nil {
				t.Fatal(err)
			}
			if r.Reason != reason.ParserLimit || !strings.Contains(r.Detail, tt.detail) {
				t.Fatalf("got %q (%s), want parser_limit with %q", r.Reason, r.Detail, tt.detail)
			}
			if pages, err := p.ReadFirst(ctx, big, 0); err != nil || pages != nil {
				t.Errorf("barcodes past the limit: %d pages, %v; want none, no error", len(pages), err)
			}
			if r, err := p.Check(ctx, good, ""); err != nil || r.Reason != "" {
				t.Fatalf("healthy scan after the limit: %+v, %v", r, err)
			}
			if n := p.Started(); n != 3 {
				t.Errorf("%d parser processes started, want 3 (the first, one after each kill)", n)
			}
			// The blank page search reads less than the check: it may end
			// within the limit or be killed by it; either way no page is
			// called blank and the next file is served.
			if b, err := p.Find(ctx, big); err != nil || b.Blank != nil {
				t.Errorf("blank pages of the huge file: %v, %v; want none (every page kept), no error", b.Blank, err)
			}
			if r, err := p.Check(ctx, good, ""); err != nil || r.Reason != "" {
				t.Fatalf("healthy scan after the blank page search: %+v, %v", r, err)
			}
		})
	}
}

// TestCancel: the caller's context ending is an error (try again later),
// not a verdict, and the next request works.
func TestCancel(t *testing.T) {
	big := manyPages(t, 100_000)
	p := newPool(t, sandbox.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if r, err := p.Check(ctx, big, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %+v, %v; want the context's error", r, err)
	}
	good := healthyFile(t)
	if r, err := p.Check(context.Background(), good, ""); err != nil || r.Reason != "" {
		t.Fatalf("after a cancelled request: %+v, %v", r, err)
	}
}

// TestIdleProcessExits: a parser process unused for Idle exits; the next
// request starts another.
func TestIdleProcessExits(t *testing.T) {
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Idle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good := healthyFile(t)
	for range 2 {
		if r, err := p.Check(context.Background(), good, ""); err != nil || r.Reason != "" {
			t.Fatalf("%+v, %v", r, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n := p.Started(); n != 2 {
		t.Errorf("%d processes started, want 2 (the first exited while idle)", n)
	}
}

// healthyFile writes a one-page A4 scan at 200 dpi.
func healthyFile(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "healthy.pdf")
	if err := os.WriteFile(f, hostilepdf.Healthy(0), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLargestHealthyPage: the largest page image the receipt search
// decodes (an A3 page in colour at 600 dpi, 70 million pixels, just under
// barcode.DefaultMaxPixels) goes through the parser process under the
// default limits; its peak RSS is logged.
func TestLargestHealthyPage(t *testing.T) {
	testenv.SkipUnderRace(t, "the parser process's default memory limit")
	p := hostilepdf.New()
	doc := p.Pages("", p.Page("[0 0 842 1191]", p.RGB(7016, 9921), ""))
	f := filepath.Join(t.TempDir(), "a3.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	pool := newPool(t, sandbox.Limits{})
	ctx := context.Background()
	r, err := pool.Check(ctx, f, "")
	if err != nil || r.Reason != "" || math.Round(r.MinDPI) != 600 {
		t.Fatalf("check: %+v, %v; want valid at 600 dpi", r, err)
	}
	pages, err := pool.ReadFirst(ctx, f, 0)
	if err != nil || len(pages) != 1 || !pages[0].Image || pages[0].Detail != "" || !pages[0].Blank {
		t.Fatalf("barcodes: %+v, %v; want the page decoded (and found blank)", pages, err)
	}
	if n := pool.Started(); n != 1 {
		t.Errorf("%d parser processes started, want 1: a limit ended one", n)
	}
	t.Logf("peak RSS of the parser process: %d MiB", pool.PeakRSS()>>20)
}

// TestConcurrentRequests: two parser processes serve four callers at once,
// a hostile file among them; every caller gets its own verdict.
func TestConcurrentRequests(t *testing.T) {
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Workers: 2,
		Limits: sandbox.Limits{CPU: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good := healthyFile(t)
	big := manyPages(t, 100_000)
	files := []string{good, big, good, good, good, good}
	got := make([]reason.Code, len(files))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			r, err := p.Check(context.Background(), f, "")
			if err != nil {
				t.Error(err)
			}
			got[i] = r.Reason
		})
	}
	wg.Wait()
	for i, r := range got {
		if want := map[bool]reason.Code{true: reason.ParserLimit}[files[i] == big]; r != want {
			t.Errorf("file %d: %q, want %q", i, r, want)
		}
	}
	// Checks run one at a time in the process used last, so how many
	// processes start depends on the order the requests arrive in: one,
	// when the big file comes last and its kill ends the run; never more
	// than the two workers and one replacing the killed process.
	if n := p.Started(); n < 1 || n > 3 {
		t.Errorf("%d parser processes started, want 1 to 3 (two workers, one replaced after the kill)", n)
	}
}

// Warm starts the parser process the next request will use, without
// waiting for it; checks one after the other then all find it running, and
// warming again, or while a process works, starts no other. After Close it
// does nothing.
func TestWarm(t *testing.T) {
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	p.Warm()
	p.Warm() // again while the first starts: no more processes
	deadline := time.Now().Add(20 * time.Second)
	for p.Started() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx := context.Background()
	f := filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf")
	for range 4 {
		p.Warm()
		if r, err := p.Check(ctx, f, ""); err != nil || r.Reason != "" {
			t.Fatalf("check after warming: %+v, %v", r, err)
		}
	}
	if n := p.Started(); n != 1 {
		t.Errorf("%d parser processes started, want the 1 warmed one", n)
	}
	p.Close()
	p.Warm()
	time.Sleep(100 * time.Millisecond)
	if n := p.Started(); n != 1 {
		t.Errorf("Warm after Close started processes: %d", n)
	}
	if _, err := p.Check(ctx, f, ""); err == nil {
		t.Error("check after Close: no error")
	}
}

// TestChecksOneAtATime: checks sent at once by four callers run one after
// the other in one process, the most recently used, while they are quick.
func TestChecksOneAtATime(t *testing.T) {
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Workers: 2,
		Overlap: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := filepath.Join(testenv.Corpus(t), "000.00.12.H57-200320-0001.pdf")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				if r, err := p.Check(context.Background(), f, ""); err != nil || r.Reason != "" {
					t.Errorf("check: %+v, %v", r, err)
				}
			}
		})
	}
	wg.Wait()
	if n := p.Started(); n != 1 {
		t.Errorf("%d parser processes started for 12 quick checks, want 1", n)
	}
}

// TestSlowCheckLetsOthersBy: a file slow to parse runs alone only for
// Overlap; a healthy file sent after it is checked in another process and
// answered first.
func TestSlowCheckLetsOthersBy(t *testing.T) {
	p, err := sandbox.New(sandbox.Config{Command: []string{os.Args[0]}, Env: []string{childEnv}, Workers: 2,
		Overlap: 50 * time.Millisecond, Limits: sandbox.Limits{CPU: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := manyPages(t, 100_000)
	done := make(chan string, 2)
	go func() {
		r, err := p.Check(context.Background(), big, "")
		if err != nil || r.Reason != reason.ParserLimit {
			t.Errorf("slow file: %+v, %v; want %s", r, err, reason.ParserLimit)
		}
		done <- "slow"
	}()
	deadline := time.Now().Add(20 * time.Second)
	for p.Started() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r, err := p.Check(context.Background(), healthyFile(t), ""); err != nil || r.Reason != "" {
		t.Errorf("healthy file: %+v, %v", r, err)
	}
	done <- "healthy"
	if first := <-done; first != "healthy" {
		t.Errorf("the healthy file waited for the slow one to end")
	}
	<-done
}

// TestEnvironment: a parser process sees the environment it is given and
// GOMAXPROCS=1, nothing of the daemon's (which may hold secrets: an upload
// token in an environment variable).
func TestEnvironment(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the parser's environment in /proc")
	}
	t.Setenv("SOHOA_TEST_SECRET", "hunter2")
	p := newPool(t, sandbox.Limits{})
	p.Warm()
	var env []string
	deadline := time.Now().Add(20 * time.Second)
	for env == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		env = childEnviron(t)
	}
	slices.Sort(env)
	want := []string{"GOMAXPROCS=1", childEnv}
	if !slices.Equal(env, want) {
		t.Errorf("parser process environment %q, want %q", env, want)
	}
}

// childEnviron returns the environment of this process's child, nil while
// it has none.
func childEnviron(t *testing.T) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 || f[1] != fmt.Sprint(os.Getpid()) {
			continue
		}
		e, err := os.ReadFile(filepath.Join(filepath.Dir(st), "environ"))
		if err != nil || len(e) == 0 {
			continue // still starting
		}
		return strings.Split(strings.TrimSuffix(string(e), "\x00"), "\x00")
	}
	return nil
}
