package province

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	vars := map[string]string{"dossier": "000.00.12.H57-200320-0001", "filename": `Tờ khai "A"/1.pdf`,
		"sha256": "ab12", "size": "1024", "ward": "000.00.12.H57", "pages": "3", "file_id": "f 1"}
	names := []string{"dossier", "filename", "sha256", "size", "ward", "pages", "file_id"}
	tests := []struct {
		name, tmpl string
		render     func(Template) string
		want       string
	}{
		{"plain", "{dossier}/{pages}", func(t Template) string { return t.Render(vars, nil) }, "000.00.12.H57-200320-0001/3"},
		{"literal braces", `{"maHoSo":"{dossier}","x":{}, "{Not}": "{9}"}`, func(t Template) string { return t.Render(vars, JSONEscape) },
			`{"maHoSo":"000.00.12.H57-200320-0001","x":{}, "{Not}": "{9}"}`},
		{"json escaping", `{"name":"{filename}"}`, func(t Template) string { return t.Render(vars, JSONEscape) },
			`{"name":"Tờ khai \"A\"/1.pdf"}`},
		{"url path and query", "https://x/api/{dossier}/{filename}?name={filename}&id={file_id}",
			func(t Template) string { return t.RenderURL(vars) },
			"https://x/api/000.00.12.H57-200320-0001/T%E1%BB%9D%20khai%20%22A%22%2F1.pdf?name=T%E1%BB%9D+khai+%22A%22%2F1.pdf&id=f+1"},
		{"no placeholder", "POST", func(t Template) string { return t.Render(vars, nil) }, "POST"},
		{"unclosed", "{dossier", func(t Template) string { return t.Render(vars, nil) }, "{dossier"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.tmpl, names)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.render(tmpl); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if _, err := ParseTemplate("https://x/{dosier}", names); err == nil || !strings.Contains(err.Error(), "{dosier}") {
		t.Errorf("a misspelt placeholder: %v", err)
	}
	if got := HeaderValue("a\r\nX-Evil: 1"); got != "aX-Evil: 1" {
		t.Errorf("HeaderValue kept a line break: %q", got)
	}
}

func TestJSONPath(t *testing.T) {
	doc := []byte(`{"data":{"id":"f-1","n":42,"ok":true,"files":[{"fileId":"a"},{"fileId":"b"}],"empty":"","obj":{}}}`)
	tests := []struct{ path, want string }{
		{"data.id", "f-1"}, {"$.data.id", "f-1"}, {"data.n", "42"}, {"data.ok", "true"},
		{"data.files[1].fileId", "b"}, {"data.files.0.fileId", "a"},
	}
	for _, tt := range tests {
		p, err := ParseJSONPath(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if got, err := p.Lookup(doc); err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
	for _, path := range []string{"data.missing", "data.files[2].fileId", "data.files.x", "data.empty", "data.obj", "data.id.x"} {
		p, _ := ParseJSONPath(path)
		if _, err := p.Lookup(doc); !errors.Is(err, errNoValue) {
			t.Errorf("%s: %v, want errNoValue", path, err)
		}
	}
	arr, _ := ParseJSONPath("[0].id")
	if got, err := arr.Lookup([]byte(`[{"id":"x"}]`)); got != "x" || err != nil {
		t.Errorf("[0].id = %q, %v", got, err)
	}
	if _, err := arr.Lookup([]byte(`<html>`)); err == nil || errors.Is(err, errNoValue) {
		t.Errorf("not JSON: %v", err)
	}
	for _, bad := range []string{"", "$", "a..b"} {
		if _, err := ParseJSONPath(bad); err == nil {
			t.Errorf("ParseJSONPath(%q): no error", bad)
		}
	}
}
