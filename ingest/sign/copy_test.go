package sign

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetrics: the failure counter exists at zero for every kind, carries
// the ward label and passes promlint.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewMetrics(reg, "000.00.12.H57"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %v", err, problems)
	}
	want := "# HELP sohoa_sign_failures_total " + strings.SplitN(helpOf(t, reg), "\n", 2)[0] + "\n# TYPE sohoa_sign_failures_total counter\n"
	for _, k := range []string{"key", "pdf", "pin", "token", "tsa"} {
		want += `sohoa_sign_failures_total{kind="` + k + `",ward="000.00.12.H57"} 0` + "\n"
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sohoa_sign_failures_total"); err != nil {
		t.Error(err)
	}
}

func helpOf(t *testing.T, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetHelp()
}

// TestPrune: at start, copies no job needs and temporary files go; the
// others stay.
func TestPrune(t *testing.T) {
	c := &Copies{Dir: t.TempDir()}
	keep, gone := c.Path("000.00.12.H57-200320-0001", "aa"), c.Path("000.00.12.H57-200320-0002", "bb")
	temp := filepath.Join(c.Dir, ".atomicfile-123.tmp")
	for _, p := range []string{keep, gone, temp} {
		if err := os.WriteFile(p, []byte("%PDF"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.Prune(func(p string) bool { return p == keep })
	if err != nil || n != 2 {
		t.Fatalf("pruned %d: %v, want 2", n, err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Error("the copy a job needs was removed")
	}
	for _, p := range []string{gone, temp} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", filepath.Base(p))
		}
	}
	if n, err := (&Copies{Dir: filepath.Join(c.Dir, "none")}).Prune(func(string) bool { return false }); n != 0 || err != nil {
		t.Errorf("no folder yet: %d, %v", n, err)
	}
}
