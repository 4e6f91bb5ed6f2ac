package upload

import (
	"github.com/sohoa/sohoa/ingest/province"

	"errors"
	"testing"
)

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
		var ke *province.KeyError
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
