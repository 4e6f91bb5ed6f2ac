package upload

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sohoa/sohoa/ingest/province"
)

// Body kinds of a Request.
const (
	BodyMultipart = "multipart" // multipart/form-data: the Fields, then the file under FileField
	BodyRaw       = "raw"       // the file itself
	BodyJSON      = "json"      // the JSON template
	BodyForm      = "form"      // the Fields, application/x-www-form-urlencoded
	BodyNone      = "none"      // no body
)

// Request describes one HTTP request of an upload. Method, URL, field
// values, header values and JSON are province.Templates over Variables (and, in
// HTTPConfig.Attach, the names of HTTPConfig.Values).
type Request struct {
	Method string // "": POST
	URL    string
	// Body is BodyMultipart ("" too) or BodyRaw for the upload itself,
	// BodyJSON, BodyForm or BodyNone for the attach request.
	Body      string
	FileField string // multipart: the file's field name; "": "file"
	Fields    map[string]string
	JSON      string
	Headers   map[string]string
	// Accept lists statuses besides 2xx that also mean success: the
	// server's "already have it" (409, say).
	Accept []int
}

// Variables every request template may use; see Item.
var Variables = []string{"dossier", "filename", "sha256", "size", "ward", "pages"}

type request struct {
	method, url province.Template
	body        string
	fileField   string
	fields      []field
	json        province.Template
	headers     []field
	accept      []int
}

type field struct {
	name  string
	value province.Template
}

// CheckHTTPConfig reports the first mistake NewHTTPSink would find in c's
// requests, as a *province.KeyError whose Key is the configuration's key below
// upload.http ("url", "fields.maHoSo", "attach.values.file_id"); nil when
// there is none. It reads no file and builds no client.
func CheckHTTPConfig(c HTTPConfig) error {
	_, err := compileConfig(c)
	return err
}

func compileConfig(c HTTPConfig) (*HTTPSink, error) {
	s := &HTTPSink{idemHeader: c.IdempotencyHeader}
	if s.idemHeader == "" {
		s.idemHeader = "Idempotency-Key"
	}
	if !province.ValidHeaderName(s.idemHeader) {
		return nil, keyErr("idempotency_header", fmt.Errorf("%q is not a header name", s.idemHeader))
	}
	var err error
	if s.upload, err = s.compile(c.Upload, Variables, true); err != nil {
		return nil, err
	}
	if c.Attach == nil {
		if len(c.Values) > 0 {
			return nil, keyErr("attach.values", errors.New("values of the first answer are only for an attach request"))
		}
		return s, nil
	}
	if len(c.Values) == 0 {
		return nil, keyErr("attach.values", errors.New("must name at least one value of the upload's answer, e.g. {file_id: data.id}"))
	}
	s.values = map[string]province.JSONPath{}
	for _, name := range slices.Sorted(maps.Keys(c.Values)) {
		if !province.IsName(name) || slices.Contains(Variables, name) {
			return nil, keyErr("attach.values", fmt.Errorf("%q must be lower-case letters, digits and _, and not one of %s",
				name, strings.Join(Variables, ", ")))
		}
		if s.values[name], err = province.ParseJSONPath(c.Values[name]); err != nil {
			return nil, keyErr("attach.values."+name, err)
		}
	}
	names := append(slices.Clone(Variables), slices.Sorted(maps.Keys(s.values))...)
	if s.attach, err = s.compile(*c.Attach, names, false); err != nil {
		var ke *province.KeyError
		if errors.As(err, &ke) {
			ke.Key = "attach." + ke.Key
		}
		return nil, err
	}
	return s, nil
}

func (s *HTTPSink) compile(r Request, names []string, withFile bool) (*request, error) {
	c := &request{body: r.Body, fileField: r.FileField, accept: r.Accept}
	var err error
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	if c.method, err = province.ParseTemplate(method, names); err != nil {
		return nil, keyErr("method", err)
	}
	if m := c.method.Render(sampleVars(names), nil); !province.ValidHeaderName(m) {
		return nil, keyErr("method", fmt.Errorf("%q is not an HTTP method", method))
	}
	if c.url, err = province.ParseTemplate(r.URL, names); err != nil {
		return nil, keyErr("url", err)
	}
	u, err := url.Parse(c.url.RenderURL(sampleVars(names)))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, keyErr("url", fmt.Errorf("%q is not an http:// or https:// URL", r.URL))
	}
	if u.User != nil {
		return nil, keyErr("url", errors.New("must not carry credentials; use auth"))
	}
	switch {
	case withFile && c.body == "":
		c.body = BodyMultipart
	case !withFile && c.body == "" && r.JSON != "":
		c.body = BodyJSON
	case !withFile && c.body == "" && len(r.Fields) > 0:
		c.body = BodyForm
	case !withFile && c.body == "":
		c.body = BodyNone
	}
	switch {
	case withFile && c.body != BodyMultipart && c.body != BodyRaw:
		return nil, keyErr("body", fmt.Errorf("%q: the upload is sent as %s or %s", c.body, BodyMultipart, BodyRaw))
	case !withFile && c.body != BodyJSON && c.body != BodyForm && c.body != BodyNone:
		return nil, keyErr("body", fmt.Errorf("%q: the attach request is sent as %s, %s or %s", c.body, BodyJSON, BodyForm, BodyNone))
	case len(r.Fields) > 0 && c.body != BodyMultipart && c.body != BodyForm:
		return nil, keyErr("fields", fmt.Errorf("are sent only with body %s or %s", BodyMultipart, BodyForm))
	case r.JSON != "" && c.body != BodyJSON:
		return nil, keyErr("json", fmt.Errorf("is sent only with body %s", BodyJSON))
	case c.body == BodyJSON && r.JSON == "":
		return nil, keyErr("json", errors.New("must be set with body json"))
	}
	if c.body == BodyMultipart && c.fileField == "" {
		c.fileField = "file"
	}
	for _, name := range slices.Sorted(maps.Keys(r.Fields)) {
		if name == "" {
			return nil, keyErr("fields", errors.New("a field has no name"))
		}
		t, err := province.ParseTemplate(r.Fields[name], names)
		if err != nil {
			return nil, keyErr("fields."+name, err)
		}
		c.fields = append(c.fields, field{name, t})
	}
	if c.body == BodyJSON {
		if c.json, err = province.ParseTemplate(r.JSON, names); err != nil {
			return nil, keyErr("json", err)
		}
		// {size} and {pages} are numbers; a value of the first answer may be
		// either, quoted or not.
		asText, asNumber := sampleVars(names), sampleVars(names)
		for _, n := range names {
			if !slices.Contains(Variables, n) {
				asNumber[n] = "1"
			}
		}
		if !json.Valid([]byte(c.json.Render(asText, province.JSONEscape))) && !json.Valid([]byte(c.json.Render(asNumber, province.JSONEscape))) {
			return nil, keyErr("json", fmt.Errorf("%q does not give valid JSON", r.JSON))
		}
	}
	forbidden := []string{"Authorization", "Content-Length", "Transfer-Encoding", "Host", "Content-Digest", "Expect",
		http.CanonicalHeaderKey(s.idemHeader)}
	if c.body == BodyMultipart || c.body == BodyForm {
		forbidden = append(forbidden, "Content-Type")
	}
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		if !province.ValidHeaderName(name) {
			return nil, keyErr("headers", fmt.Errorf("%q is not a header name", name))
		}
		if slices.Contains(forbidden, http.CanonicalHeaderKey(name)) {
			return nil, keyErr("headers."+name, errors.New("is set by sohoa (credentials go under auth)"))
		}
		t, err := province.ParseTemplate(r.Headers[name], names)
		if err != nil {
			return nil, keyErr("headers."+name, err)
		}
		c.headers = append(c.headers, field{name, t})
	}
	for _, code := range c.accept {
		if code < 200 || code > 499 {
			return nil, keyErr("accept", fmt.Errorf("status %d is not between 200 and 499", code))
		}
	}
	return c, nil
}

func keyErr(key string, err error) error { return &province.KeyError{Key: key, Err: err} }

// sampleVars gives each name a value that exercises escaping (a number
// for {size} and {pages}), to check that templates render to a valid URL or
// JSON.
func sampleVars(names []string) map[string]string {
	v := map[string]string{}
	for _, n := range names {
		v[n] = `000.00.12.H57-200320-0001 "Hồ sơ"/1`
		if n == "size" || n == "pages" {
			v[n] = "1024"
		}
	}
	return v
}
