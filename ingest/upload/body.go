package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/sohoa/sohoa/ingest/province"
)

// digest is an RFC 9530 Content-Digest field value for a SHA-256.
func digest(sum []byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
}

// newRequest builds a request whose body, when it carries the file, is
// streamed from the file (never held in memory) and checked against the
// scan's SHA-256 on the way.
func (s *HTTPSink) newRequest(ctx context.Context, r *request, it Item, vars map[string]string) (*http.Request, *sourceError, error) {
	method := strings.ToUpper(r.method.Render(vars, nil))
	target := r.url.RenderURL(vars)
	src := &sourceError{}
	h := http.Header{}
	for _, f := range r.headers {
		h.Set(f.name, province.HeaderValue(f.value.Render(vars, nil)))
	}
	h.Set(s.idemHeader, it.key())

	var open func() (io.ReadCloser, error)
	var length int64
	switch r.body {
	case BodyMultipart, BodyRaw:
		sum, err := hex.DecodeString(it.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, nil, &Error{Kind: KindSource, Err: fmt.Errorf("%q is not a SHA-256", it.SHA256)}
		}
		fi, err := os.Stat(it.Path)
		if err != nil {
			return nil, nil, &Error{Kind: KindSource, Err: err}
		}
		if fi.Size() != it.Size {
			return nil, nil, &Error{Kind: KindSource, Err: fmt.Errorf("%s: %d bytes, want %d", it.Path, fi.Size(), it.Size)}
		}
		var pre, post []byte
		if r.body == BodyMultipart {
			pre, post = s.multipart(r, it, vars, digest(sum), h)
		} else {
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/pdf")
			}
			h.Set("Content-Digest", digest(sum))
		}
		length = int64(len(pre)) + it.Size + int64(len(post))
		open = func() (io.ReadCloser, error) {
			f, err := os.Open(it.Path)
			if err != nil {
				src.set(err)
				return nil, err
			}
			var body io.Reader = &verifier{r: f, h: sha256.New(), want: it.SHA256, size: it.Size, src: src, path: it.Path}
			if s.limiter != nil {
				body = &limitedReader{ctx: ctx, r: body, lim: s.limiter}
			}
			if pre != nil {
				body = io.MultiReader(bytes.NewReader(pre), body, bytes.NewReader(post))
			}
			return readCloser{body, f}, nil
		}
		h.Set("Expect", "100-continue")
	case BodyJSON, BodyForm:
		var b []byte
		if r.body == BodyJSON {
			b = []byte(r.json.Render(vars, province.JSONEscape))
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/json")
			}
		} else {
			form := url.Values{}
			for _, f := range r.fields {
				form.Set(f.name, f.value.Render(vars, nil))
			}
			b = []byte(form.Encode())
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		sum := sha256.Sum256(b)
		h.Set("Content-Digest", digest(sum[:]))
		length = int64(len(b))
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}

	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, nil, &Error{Kind: KindHTTP4xx, Permanent: true, Err: fmt.Errorf("build request: %w", err)}
	}
	req.Header = h
	if open != nil {
		body, err := open()
		if err != nil {
			return nil, nil, &Error{Kind: KindSource, Err: err}
		}
		req.Body, req.GetBody, req.ContentLength = body, open, length
		if length == 0 {
			req.Body = http.NoBody
			body.Close()
		}
	}
	return req, src, nil
}

// multipart returns the bytes before and after the file's content in a
// multipart/form-data body, and sets its Content-Type in h. The file's part
// carries its Content-Digest: RFC 9530's field for the request would have to
// cover the whole multipart body, which costs a second pass over the file.
func (s *HTTPSink) multipart(r *request, it Item, vars map[string]string, dig string, h http.Header) (pre, post []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range r.fields {
		_ = mw.WriteField(f.name, f.value.Render(vars, nil)) // writes to memory
	}
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Disposition", multipart.FileContentDisposition(r.fileField, province.HeaderValue(it.Name)))
	ph.Set("Content-Type", "application/pdf")
	ph.Set("Content-Digest", dig)
	_, _ = mw.CreatePart(ph)
	pre = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = mw.Close()
	post = bytes.Clone(buf.Bytes())
	h.Set("Content-Type", mw.FormDataContentType())
	return pre, post
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sourceError remembers that reading our own copy of the scan failed, to
// tell it from a network failure when the transport reports either.
type sourceError struct {
	mu  sync.Mutex
	err error
}

func (s *sourceError) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *sourceError) get() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// verifier reads the file and fails, before it passes on the last bytes,
// when the content is not the one the job names: the server then gets an
// incomplete body, never a wrong file. (Hashing on the way costs SHA-256's
// CPU time, about 2 ms per 4 MB, done while the previous bytes are sent.)
type verifier struct {
	r    io.Reader
	h    hash.Hash
	want string
	size int64
	n    int64
	done bool
	src  *sourceError
	path string
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.done {
		return 0, io.EOF
	}
	if rem := v.size - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n := 0
	var err error
	if len(p) > 0 {
		n, err = v.r.Read(p)
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n == v.size {
		var one [1]byte
		if m, _ := io.ReadFull(v.r, one[:]); m > 0 {
			return 0, v.fail(fmt.Errorf("%s grew beyond %d bytes", v.path, v.size))
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return 0, v.fail(fmt.Errorf("%s: content changed in the data dir (sha256 %s, want %s)", v.path, got, v.want))
		}
		v.done = true
		return n, nil
	}
	switch {
	case err == io.EOF:
		return 0, v.fail(fmt.Errorf("%s shrank to %d bytes, want %d", v.path, v.n, v.size))
	case err != nil:
		return 0, v.fail(err)
	}
	return n, nil
}

func (v *verifier) fail(err error) error {
	v.src.set(err)
	return err
}
