package page

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"time"

	"github.com/sohoa/sohoa/ingest/coversheet"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
)

// thumbSide is the longest side of a thumbnail, in pixels.
const thumbSide = 240

// pdfCSP is the cover sheet's policy: csp, with the PDF itself allowed as
// the viewer's content.
const pdfCSP = "default-src 'none'; object-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// maxThumbs bounds the thumbnails kept in memory.
const maxThumbs = 64

// serveThumb serves the first-page thumbnail of a waiting scan, made from
// its copy in the data dir by the parser process; the placeholder when
// there is none. Only a scan the store knows as waiting has one.
func (s *Server) serveThumb(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !validSHA(sha) {
		http.NotFound(w, r)
		return
	}
	sc, err := s.cfg.Store.Scan(sha)
	if err != nil || sc.State != store.Waiting {
		http.NotFound(w, r)
		return
	}
	b := s.thumb(r.Context(), sha)
	if b == nil {
		http.Redirect(w, r, "/assets/noimage.svg", http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600") // a scan's content never changes
	w.Write(b)                                               //nolint:errcheck // the browser went away
}

// thumb returns the PNG of a scan's thumbnail, nil when there is none.
func (s *Server) thumb(ctx context.Context, sha string) []byte {
	s.mu.Lock()
	b, ok := s.thumbs[sha]
	s.mu.Unlock()
	if ok {
		return b
	}
	if s.cfg.Thumbnails == nil || s.cfg.SpoolPath == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	t, err := s.cfg.Thumbnails(ctx, s.cfg.SpoolPath(sha), thumbSide)
	if err != nil {
		s.cfg.Logger.Warn("page: thumbnail failed", "sha256", sha, "err", err)
		return nil // not remembered: tried again at the next view
	}
	if t.W > 0 && t.H > 0 && len(t.Pix) == t.W*t.H {
		var buf bytes.Buffer
		img := &image.Gray{Pix: t.Pix, Stride: t.W, Rect: image.Rect(0, 0, t.W, t.H)}
		if err := png.Encode(&buf, img); err == nil {
			b = buf.Bytes()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.thumbs[sha]; !ok {
		s.thumbs[sha] = b
		s.thumbAge = append(s.thumbAge, sha)
		if len(s.thumbAge) > maxThumbs {
			delete(s.thumbs, s.thumbAge[0])
			s.thumbAge = s.thumbAge[1:]
		}
	}
	return b
}

// serveCoversheet serves the cover sheet of a dossier the store knows (in
// its registry, or from a scan), as `sohoa coversheet` makes it, to print
// and scan on top of the dossier's papers.
func (s *Server) serveCoversheet(w http.ResponseWriter, r *http.Request) {
	code := dossier.Canonical(r.PathValue("code"))
	if !s.cfg.Linker.Grammar.Valid(code) || !s.known(code) {
		http.NotFound(w, r)
		return
	}
	var buf bytes.Buffer
	if err := coversheet.Write(&buf, []string{code}); err != nil {
		s.cfg.Logger.Error("page: cover sheet failed", "code", code, "err", err)
		http.Error(w, "Không tạo được phiếu bìa. Báo cán bộ CNTT.", http.StatusInternalServerError)
		return
	}
	// The browser shows a PDF in its viewer, which counts as a plugin:
	// object-src 'none' (from default-src) would leave the page blank.
	w.Header().Set("Content-Security-Policy", pdfCSP)
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `inline; filename="phieu-bia-`+code+`.pdf"`)
	w.Write(buf.Bytes()) //nolint:errcheck // the browser went away
}

func (s *Server) known(code string) bool {
	if _, err := s.cfg.Store.Entry(code); err == nil {
		return true
	}
	_, err := s.cfg.Store.Dossier(code)
	return err == nil
}
