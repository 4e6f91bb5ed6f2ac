package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/testenv"
)

var pageLine = regexp.MustCompile(`msg="counter page ready" url=(http://\S+)/`)

// browser starts headless Chromium (Debian's chromium) at 1366×768 with a
// fresh profile and nothing that reaches the network, and returns its
// context.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := testenv.NeedTool(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 768))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshots is where the test writes its screenshots: $SOHOA_SCREENSHOTS,
// or a temporary folder kept when the test fails.
func screenshots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SOHOA_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sohoa-page-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(dir)
			}
		})
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of the page at 1366×768 in %s", dir)
	return dir
}

// TestPageInBrowser drives the counter's page in Chromium against the real
// daemon: scans dropped in the inbox appear without a reload, a received
// dossier leaves the list of those without a scan when its scan is
// uploaded, the month's rate moves, a waiting scan is linked by typing its
// code with the keyboard alone and is uploaded, and a cross-site form
// posting to the page is refused.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	shots := screenshots(t)
	e := newEnv(t)
	e.writeConfig(fmt.Sprintf(`upload:
  sink: dir
  retry: {min_backoff: 50ms, max_backoff: 500ms}
  dir: {path: %q}
ui: {listen: "127.0.0.1:0"}
`, e.outbox))
	var pageURL string
	e.start()
	e.waitFor("the page's address in the log", 10*time.Second, func() bool {
		m := pageLine.FindStringSubmatch(e.logText())
		if m != nil {
			pageURL = m[1]
		}
		return m != nil
	})
	// Three dossiers received today: A is scanned by its name, B by typing
	// its code on the page, C never.
	day := time.Now().In(dossier.ICT())
	code := func(n int) string { return fmt.Sprintf("%s-%s-%04d", e.ward, day.Format("060102"), n) }
	a, b, c := code(1), code(2), code(3)
	list := writeFile(t, filepath.Join(e.dir, "list.csv"), "\uFEFFSTT,Mã hồ sơ,Ngày tiếp nhận\r\n"+
		fmt.Sprintf("1,%s,%s\r\n2,%s,%s\r\n3,%s,%s\r\n", a, day.Format("02/01/2006"), b, day.Format("02/01/2006"), c, day.Format("02/01/2006")))
	if code, _, stderr := sohoa(t, "import", "-config", e.config, list); code != 0 {
		t.Fatalf("sohoa import: %d %s", code, stderr)
	}

	textOf := func(sel string) (string, error) {
		return chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := textOf(sel)
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}
	// waitText waits, without reloading, until sel's text holds want.
	waitText := func(what, sel string, holds func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for s, err := textOf(sel); err != nil || !holds(s); s, err = textOf(sel) { // an error: the page is loading
			if time.Now().After(deadline) {
				t.Fatalf("%s: not seen on the page within 20 s; %s reads:\n%s\nlog:\n%s", what, sel, strings.Join(strings.Fields(s), " "), e.logText())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	// rate is this month's cells: received, digitized, rate, target.
	rate := func() string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`[...document.querySelectorAll("#thang tbody tr:first-child td")].map(c => c.textContent.trim()).join(" ")`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shot := func(name, section string) {
		t.Helper()
		err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("`+section+`").scrollIntoView()`),
			chromedp.Sleep(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A mark on the window, gone if the page is loaded again.
	mark := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.sohoaLoaded = true`)); err != nil {
			t.Fatal(err)
		}
	}
	notReloaded := func(what string) {
		t.Helper()
		if loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.sohoaLoaded === true`)); err != nil || !loaded {
			t.Errorf("%s: the page was loaded again (%v); updates must come without a reload", what, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"/"), chromedp.WaitVisible(chromedp.CSS("#thang"))); err != nil {
		t.Fatal(err)
	}
	mark()
	for _, want := range []string{a, b, c} {
		if s := text("#chua-so-hoa"); !strings.Contains(s, want) {
			t.Errorf("%s is not among the dossiers without a scan: %s", want, s)
		}
	}
	if r := rate(); r != "3 0 0 100" {
		t.Errorf("this month before any scan: %q, want 3 received, 0 digitized, rate 0", r)
	}

	// Drop scans: A's by its name, one with no code, one too coarse.
	samples := testenv.Corpus(t)
	copyFile(t, filepath.Join(samples, "000.00.12.H57-200320-0001.pdf"), filepath.Join(e.inbox, a+".pdf"))
	copyFile(t, filepath.Join(samples, "scan_0009.pdf"), filepath.Join(e.inbox, "scan_0009.pdf"))
	copyFile(t, filepath.Join(samples, "lowres_0001.pdf"), filepath.Join(e.inbox, "lowres_0001.pdf"))
	// uploaded: today's row of the file says so.
	uploaded := func(name string) func(string) bool {
		return func(string) bool {
			row, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#hom-nay tbody tr")].map(r => r.textContent).filter(s => s.includes(`+"`"+name+"`"+`)).join("|")`))
			return strings.Contains(row, "Đã tải lên")
		}
	}
	waitText("A's scan uploaded", "#hom-nay", uploaded(a+".pdf"))
	waitText("A leaving the dossiers without a scan", "#chua-so-hoa", func(s string) bool { return !strings.Contains(s, a) && strings.Contains(s, c) })
	waitText("the rate after A", "#thang", func(string) bool { return rate() == "3 1 33,33 100" })
	waitText("the waiting scan", "#cho-ma", func(s string) bool { return strings.Contains(s, "scan_0009.pdf") })
	waitText("the rejected scan", "#loi", func(s string) bool { return strings.Contains(s, "lowres_0001.pdf") && strings.Contains(s, "200 dpi") })
	notReloaded("the scans dropped")
	// The thumbnail is the page's picture from the parser process, not
	// the placeholder.
	if w, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const i = document.querySelector("#cho-ma img"); return i && i.complete && i.naturalWidth; })()`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil || w == 120 {
		t.Errorf("thumbnail: width %d, %v; want the first page's picture", w, err)
	}
	shot("1-thang", "thang")
	shot("2-cho-ma", "cho-ma")
	shot("3-hom-nay", "hom-nay")
	shot("4-chua-so-hoa", "chua-so-hoa")
	shot("5-loi", "loi")

	// The cover sheet of C opens as a PDF.
	resp, err := http.Get(pageURL + "/coversheet/" + c)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Errorf("cover sheet of %s: %s", c, resp.Status)
	}

	// A page elsewhere posting to the page, even with the form's token, is
	// refused, and the scan still waits.
	resp, err = http.Get(pageURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="token" value="(\w+)">\s*<input type="hidden" name="sha" value="(\w+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no link form on the page")
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!DOCTYPE html><form id=f method=post action="%s/link"><input name=token value=%s><input name=sha value=%s><input name=code value=%s></form><script>document.getElementById("f").submit()</script>`,
			pageURL, m[1], m[2], b)
	}))
	defer evil.Close()
	evilCtx, cancelEvil := chromedp.NewContext(ctx) // another tab
	defer cancelEvil()
	if err := chromedp.Do(evilCtx, chromedp.Navigate(evil.URL)); err != nil {
		t.Fatal(err)
	}
	refused, err := chromedp.Run(evilCtx, chromedp.Poll[string](`location.href.endsWith("/link") && document.body.innerText`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !strings.Contains(refused, "từ chối") {
		t.Errorf("the cross-site post got %q, %v; want it refused", refused, err)
	}
	time.Sleep(time.Second)
	if s := text("#cho-ma"); !strings.Contains(s, "scan_0009.pdf") {
		t.Fatalf("the cross-site post linked the scan: %s", s)
	}

	// Link the waiting scan with the keyboard alone: Tab to its field, type
	// the code, Enter.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector("#cho-ma").scrollIntoView(); document.activeElement.blur()`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.name || ""`))
		if err != nil {
			t.Fatal(err)
		}
		if id == "code" {
			break
		}
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent(b+"\r")); err != nil {
		t.Fatal(err)
	}
	waitText("the answer to the link", "body", func(s string) bool { return strings.Contains(s, "Đã gắn mã "+b) })
	mark()
	// The answer is in view, below the page's header.
	if seen, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const r = document.getElementById("answer").getBoundingClientRect();
		return r.top >= document.querySelector("header").getBoundingClientRect().bottom && r.bottom <= innerHeight; })()`)); err != nil || !seen {
		t.Errorf("the answer is not in view (%v)", err)
	}
	shot("6-gan-ma", "answer")
	waitText("B's scan uploaded", "#hom-nay", func(s string) bool {
		return strings.Contains(s, b+".pdf") && !strings.Contains(s, "Chờ mã hồ sơ")
	})
	waitText("the rate after B", "#thang", func(string) bool { return rate() == "3 2 66,67 100" })
	waitText("B leaving the dossiers without a scan", "#chua-so-hoa", func(s string) bool { return !strings.Contains(s, b) && strings.Contains(s, c) })
	if s := text("#cho-ma"); strings.Contains(s, "scan_0009.pdf") {
		t.Errorf("the linked scan still waits: %s", s)
	}
	if _, err := os.Stat(filepath.Join(e.inbox, "Chờ mã hồ sơ", "scan_0009.pdf.txt")); err == nil {
		t.Error("the linked scan's note is still in the staff folder")
	}
	if out := e.outboxFiles(); len(out) != 2 {
		t.Errorf("outbox: %v, want A's and B's scans", out)
	}
	notReloaded("B's upload")
}
