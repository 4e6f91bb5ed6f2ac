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

func TestRedactSecrets(t *testing.T) {
	const s = `p@ss/wörd "1"+😀`
	tests := []struct{ name, answer, want string }{
		{"raw", "x " + s + " y", "x [redacted] y"},
		{"url", "pw=p%40ss%2Fw%C3%B6rd+%221%22%2B%F0%9F%98%80&x=1", "pw=[redacted]&x=1"},
		{"url, lower hex", "pw=p%40ss%2fw%c3%b6rd+%221%22%2b%f0%9f%98%80", "pw=[redacted]"},
		{"url, mixed", "p@ss%2Fw%C3%B6rd %221%22+%F0%9F%98%80", "[redacted]"},
		{"json", `{"pw":"p@ss\/w\u00f6rd \"1\"+\ud83d\ude00"}`, `{"pw":"[redacted]"}`},
		{"json, upper hex", `"p\u0040ss/w\u00F6rd \u00221\u0022\u002B\uD83D\uDE00"`, `"[redacted]"`},
		{"json in json", `"{\"pw\":\"p@ss\\/wörd \\\"1\\\"+😀\"}"`, `"{\"pw\":\"[redacted]\"}"`},
		{"html", "<b>p&#64;ss/w&#xF6;rd &quot;1&#34;+&#128512;</b>", "<b>[redacted]</b>"},
		{"python repr", `'p@ss/w\xf6rd "1"+😀'`, `'[redacted]'`},
		{"cut short by the read limit", "pw=p@ss/wö", "pw=[redacted]"},
		{"three characters at the end are not a secret", "p@s", "p@s"},
		{"other text", "p@ss/word \"1\"", "p@ss/word \"1\""},
	}
	for _, tt := range tests {
		if got := string(RedactSecrets([]byte(tt.answer), s, "")); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
