package province

import (
	"net/http"
	"strings"
	"testing"
)

func TestWithoutCredentials(t *testing.T) {
	bearer, _ := http.NewRequest(http.MethodPost, "https://dvc.example/api", nil)
	bearer.Header.Set("Authorization", "Bearer tok/en+42")
	basic, _ := http.NewRequest(http.MethodPost, "https://dvc.example/api", nil)
	basic.SetBasicAuth("sohoa", "mật khẩu+1")
	none, _ := http.NewRequest(http.MethodPost, "https://dvc.example/api", nil)
	tests := []struct {
		name   string
		req    *http.Request
		answer string
		gone   []string // must not be left
		kept   string   // must be left
	}{
		{"header echoed", bearer, `{"error":"bad field","auth":"Bearer tok/en+42"}`, []string{"tok/en+42"}, "bad field"},
		{"token alone, JSON-escaped", bearer, `{"token":"tok\/en+42"}`, []string{`tok\/en+42`}, "token"},
		{"basic header and password", basic, "Authorization: " + basic.Header.Get("Authorization") + "; password=mật khẩu+1",
			[]string{strings.TrimPrefix(basic.Header.Get("Authorization"), "Basic "), "mật khẩu+1"}, "Authorization: "},
		{"no credentials sent", none, "Bearer tok/en+42", nil, "Bearer tok/en+42"},
		{"nothing to blank", bearer, "maHoSo khong hop le", nil, "maHoSo khong hop le"},
	}
	for _, tt := range tests {
		got := string(WithoutCredentials([]byte(tt.answer), tt.req))
		for _, g := range tt.gone {
			if strings.Contains(got, g) {
				t.Errorf("%s: %q still in %q", tt.name, g, got)
			}
		}
		if !strings.Contains(got, tt.kept) {
			t.Errorf("%s: %q lost from %q", tt.name, tt.kept, got)
		}
	}
}
