package barcode

import (
	"context"
	"testing"
	"time"
)

// TestGenerated reads scans made by mkscan.sh with the options a counter's
// scanner may use: each must give its code on page 1 and no code on the
// other pages, and exactly its blank backs must be blank.
func TestGenerated(t *testing.T) {
	specs, files := gen.scans(t)
	var r Reader
	for i, s := range specs {
		t.Run(s.name(), func(t *testing.T) {
			start := time.Now()
			pages, err := r.Read(context.Background(), files[i])
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d pages in %v", len(pages), time.Since(start).Round(time.Millisecond))
			if len(pages) != 1+s.pages*(1+btoi(s.backs)) {
				t.Fatalf("%d pages: %+v", len(pages), pages)
			}
			if got := pages[0].Codes; len(got) != 1 || got[0].Code != s.code {
				t.Errorf("page 1: codes %+v, want %s (%s)", got, s.code, pages[0].Detail)
			}
			for _, p := range pages {
				if p.Index > 1 && len(p.Codes) != 0 {
					t.Errorf("page %d: codes %+v, want none", p.Index, p.Codes)
				}
				if !p.Image || p.Detail != "" {
					t.Errorf("page %d: image %v, detail %q", p.Index, p.Image, p.Detail)
				}
				if want := s.blank(p.Index); p.Blank != want {
					t.Errorf("page %d: blank %v, want %v", p.Index, p.Blank, want)
				}
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
