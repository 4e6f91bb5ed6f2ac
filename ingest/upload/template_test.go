package upload

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	vars := map[string]string{"dossier": "000.00.12.H57-200320-0001", "filename": `Tờ khai "A"/1.pdf`,
		"sha256": "ab12", "size": "1024", "ward": "000.00.12.H57", "pages": "3", "file_id": "f 1"}
	names := append(Variables, "file_id")
	tests := []struct {
		name, tmpl string
		render     func(Template) string
		want       string
	}{
		{"plain", "{dossier}/{pages}", func(t Template) string { return t.Render(vars, nil) }, "000.00.12.H57-200320-0001/3"},
		{"literal braces", `{"maHoSo":"{dossier}","x":{}, "{Not}": "{9}"}`, func(t Template) string { return t.Render(vars, jsonEscape) },
			`{"maHoSo":"000.00.12.H57-200320-0001","x":{}, "{Not}": "{9}"}`},
		{"json escaping", `{"name":"{filename}"}`, func(t Template) string { return t.Render(vars, jsonEscape) },
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
	if _, err := ParseTemplate("https://x/{dosier}", Variables); err == nil || !strings.Contains(err.Error(), "{dosier}") {
		t.Errorf("a misspelt placeholder: %v", err)
	}
	if got := headerValue("a\r\nX-Evil: 1"); got != "aX-Evil: 1" {
		t.Errorf("headerValue kept a line break: %q", got)
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

func TestCheckHTTPConfig(t *testing.T) {
	ok := Request{URL: "https://dvc.example.gov.vn/api/dossiers/{dossier}/files", Fields: map[string]string{"maHoSo": "{dossier}"},
		Headers: map[string]string{"X-Unit": "{ward}"}, Accept: []int{409}}
	if err := CheckHTTPConfig(HTTPConfig{Upload: ok}); err != nil {
		t.Fatal(err)
	}
	attach := func(r Request) HTTPConfig {
		return HTTPConfig{Upload: ok, Attach: &r, Values: map[string]string{"file_id": "data.id"}}
	}
	tests := []struct {
		c   HTTPConfig
		key string
	}{
		{HTTPConfig{Upload: Request{URL: "ftp://x/"}}, "url"},
		{HTTPConfig{Upload: Request{URL: "https://u:p@x/"}}, "url"},
		{HTTPConfig{Upload: Request{URL: "https://x/{nope}"}}, "url"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Method: "PO ST"}}, "method"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Body: BodyJSON}}, "body"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Body: BodyRaw, Fields: map[string]string{"a": "b"}}}, "fields"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Fields: map[string]string{"a": "{file_id}"}}}, "fields.a"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Headers: map[string]string{"Authorization": "Bearer x"}}}, "headers.Authorization"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Headers: map[string]string{"Idempotency-Key": "x"}}}, "headers.Idempotency-Key"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Headers: map[string]string{"X-Key": "x"}}, IdempotencyHeader: "X-Key"}, "headers.X-Key"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Headers: map[string]string{"Content-Type": "x"}}}, "headers.Content-Type"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Headers: map[string]string{"X Y": "x"}}}, "headers"},
		{HTTPConfig{Upload: Request{URL: "https://x/", Accept: []int{500}}}, "accept"},
		{HTTPConfig{Upload: ok, IdempotencyHeader: "Idempotency Key"}, "idempotency_header"},
		{HTTPConfig{Upload: ok, Values: map[string]string{"file_id": "id"}}, "attach.values"},
		{HTTPConfig{Upload: ok, Attach: &Request{URL: "https://x/"}}, "attach.values"},
		{HTTPConfig{Upload: ok, Attach: &Request{URL: "https://x/"}, Values: map[string]string{"dossier": "id"}}, "attach.values"},
		{HTTPConfig{Upload: ok, Attach: &Request{URL: "https://x/"}, Values: map[string]string{"file_id": "a..b"}}, "attach.values.file_id"},
		{attach(Request{URL: "https://x/", JSON: `{"id": "{file_id}"`}), "attach.json"},
		{attach(Request{URL: "https://x/", Body: BodyMultipart}), "attach.body"},
		{attach(Request{URL: "https://x/{fileid}"}), "attach.url"},
	}
	for _, tt := range tests {
		err := CheckHTTPConfig(tt.c)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.Key != tt.key {
			t.Errorf("%+v: %v, want an error about %s", tt.c, err, tt.key)
		}
	}
	// Numbers may go unquoted: {size}, {pages}, and a value of the first answer.
	if err := CheckHTTPConfig(attach(Request{URL: "https://x/", JSON: `{"id":{file_id},"size":{size},"n":{pages}}`})); err != nil {
		t.Error(err)
	}
	if err := CheckHTTPConfig(attach(Request{URL: "https://x/", JSON: `{"name":{filename}}`})); err == nil {
		t.Error("an unquoted file name passed")
	}
	// A JSON template whose values are strings renders valid JSON for any value.
	if err := CheckHTTPConfig(attach(Request{URL: "https://x/{dossier}/{file_id}", Method: "PUT",
		JSON: `{"fileIds":["{file_id}"],"maHoSo":"{dossier}"}`})); err != nil {
		t.Error(err)
	}
}
