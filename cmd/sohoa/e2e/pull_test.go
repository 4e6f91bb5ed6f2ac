package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
)

// TestRegistryPull runs the real binary against an LGSP-like search API
// (a POST with a JSON body, a bearer token) and checks that what it answers
// becomes the ward's received dossiers: in the metrics and in the report.
func TestRegistryPull(t *testing.T) {
	now := time.Now().In(dossier.ICT()).Add(-time.Minute)
	yesterday := now.AddDate(0, 0, -1)
	code := func(day time.Time, agency string, n int) string {
		return fmt.Sprintf("%s-%s-%04d", agency, day.Format("060102"), n)
	}
	items := []map[string]any{
		{"maHoSo": code(yesterday, "000.00.12.H57", 1), "ngayTiepNhan": yesterday.Format("02/01/2006 15:04:05"), "hanXuLy": now.AddDate(0, 0, 3).Format("02/01/2006")},
		{"maHoSo": code(now, "000.00.12.H57", 2), "ngayTiepNhan": now.Format("02/01/2006 15:04:05")},
		{"maHoSo": code(now, "000.00.01.H57", 1), "ngayTiepNhan": now.Format("02/01/2006 15:04:05")}, // another agency's
	}
	var mu sync.Mutex
	var bodies []map[string]any
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		if r.Method != http.MethodPost || json.Unmarshal(b, &body) != nil {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		mu.Lock()
		bodies, auths = append(bodies, body), append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		page := []map[string]any{}
		if body["trang"] == float64(1) {
			page = items
		}
		json.NewEncoder(w).Encode(map[string]any{"data": page})
	}))
	defer srv.Close()

	e := newEnv(t)
	token := writeFile(t, filepath.Join(e.dir, "lgsp-token"), "s3cret-lgsp-token\n")
	e.writeConfig(registryConfig(e) + fmt.Sprintf(`registry:
  pull:
    url: %q
    method: POST
    body: '{"maDonVi": "{ward}", "tuNgay": "{from}", "denNgay": "{to}", "trang": {page}, "soBanGhi": {size}}'
    date_format: "02/01/2006"
    first_page: 1
    paging: short
    page_size: 50
    paths: {list: data, code: maHoSo, received: ngayTiepNhan, due: hanXuLy}
    auth: {type: bearer, token_file: %q}
`, srv.URL+"/api/hoso/tiepnhan", token))
	e.start()
	ward := `{ward="000.00.12.H57"}`
	e.waitFor("a successful pull", 30*time.Second, func() bool {
		return e.metric(`sohoa_registry_pulls_total{result="success",ward="000.00.12.H57"}`) >= 1
	})
	if got := e.metric("sohoa_dossiers_received_total" + ward); got != 2 {
		t.Errorf("sohoa_dossiers_received_total = %v, want 2 (the other agency's dossier is not counted)", got)
	}
	if got := e.metric(`sohoa_registry_pull_rejected_items_total{reason="foreign",ward="000.00.12.H57"}`); got != 1 {
		t.Errorf("foreign items rejected = %v, want 1", got)
	}
	mu.Lock()
	first, auth := bodies[0], auths[0]
	mu.Unlock()
	if first["maDonVi"] != "000.00.12.H57" || first["denNgay"] != now.Format("02/01/2006") || auth != "Bearer s3cret-lgsp-token" {
		t.Errorf("first request: body %v, Authorization %q", first, auth)
	}
	month := yesterday.Format("2006-01")
	rc, stdout, stderr := sohoa(t, "report", "-config", e.config, "--month", month, "--format", "csv")
	want := 2
	if now.Format("2006-01") != month {
		want = 1 // yesterday was last month
	}
	if rc != 0 || !strings.Contains(stdout, fmt.Sprintf("1,Phường Hương Văn,%d,0,0", want)) {
		t.Errorf("report of %s: exit %d\n%s\n%s", month, rc, stdout, stderr)
	}
	if strings.Contains(e.logText(), "s3cret-lgsp-token") {
		t.Error("the bearer token appears in the log")
	}
}
