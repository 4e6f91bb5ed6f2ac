package page

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/store"
)

// answer is what the page says after a code was typed.
type answer struct {
	OK   bool
	Text string
}

// maxAnswers bounds the answers kept until their page is shown.
const maxAnswers = 64

// serveLink links a waiting scan to the typed code the way a person does:
// the file in the staff folder is renamed to the code, the daemon's watcher
// takes it, and ingest links it (or holds it again) with the same checks;
// the answer waits for the store to show which, then the browser is sent
// back to the page (303), where the answer is shown once.
func (s *Server) serveLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Yêu cầu không hợp lệ.", http.StatusBadRequest)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("token")), []byte(s.token)) != 1 {
		s.cfg.Logger.Warn("link refused: bad or old token", "remote", r.RemoteAddr)
		s.redirect(w, r, answer{Text: "Trang đã cũ (sohoa vừa khởi động lại). Trang đã được tải lại: hãy gõ mã lần nữa."})
		return
	}
	a := s.link(r.Context(), r.PostForm.Get("sha"), r.PostForm.Get("code"))
	s.redirect(w, r, a)
}

// link renames the waiting scan sha to the code and waits for its outcome.
func (s *Server) link(ctx context.Context, sha, typed string) answer {
	typed = strings.TrimSpace(typed)
	if typed == "" {
		return answer{Text: "Chưa gõ mã hồ sơ."}
	}
	code := dossier.Canonical(typed)
	if !validSHA(sha) {
		return answer{Text: "Không tìm thấy bản quét này."}
	}
	s.linking.Lock()
	defer s.linking.Unlock()
	sc, err := s.cfg.Store.Scan(sha)
	if err != nil || sc.State != store.Waiting || sc.Gone || sc.Place == "" {
		return answer{Text: "Bản quét này không còn chờ mã hồ sơ (đã được gắn mã hoặc đã bị xóa)."}
	}
	dir := path.Dir(sc.Place)
	// The daemon's one decision, on the name the file will get: the
	// grammar and the ward rule, as when a person renames it.
	fate := s.cfg.Linker.Decide(ingest.Findings{Path: path.Join(dir, code+".pdf")})
	if fate.Hold != "" || len(fate.Dossiers) != 1 || fate.Dossiers[0] != code {
		if len(fate.Dossiers) == 0 {
			return answer{Text: fmt.Sprintf("«%s» không phải là mã hồ sơ. Mã có dạng 000.00.12.H57-200320-0001.", typed)}
		}
		return answer{Text: fmt.Sprintf("Không gắn được mã %s: %s", code, fate.Hold.Vietnamese())}
	}
	newRel, err := s.rename(sc.Place, dir, code)
	if err != nil {
		s.cfg.Logger.Warn("page: renaming a waiting scan failed", "sha256", sha, "place", sc.Place, "err", err)
		if errors.Is(err, fs.ErrNotExist) {
			return answer{Text: "Không thấy tệp trong thư mục «" + s.cfg.Waiting + "» nữa: có thể đã bị đổi tên hoặc xóa."}
		}
		return answer{Text: "Không đổi tên được tệp. Báo cán bộ CNTT."}
	}
	s.cfg.Logger.Info("page: waiting scan renamed to its code", "sha256", sha, "from", sc.Place, "to", newRel)
	return s.outcome(ctx, sha, code, newRel)
}

// rename gives the file at place (under the inbox) the name code.pdf in dir,
// or "code (2).pdf" and so on when taken, never replacing a file. Paths
// come from the store and the code, and stay inside the inbox (os.Root).
func (s *Server) rename(place, dir, code string) (string, error) {
	root, err := os.OpenRoot(s.cfg.Inbox)
	if err != nil {
		return "", err
	}
	defer root.Close()
	from := filepath.FromSlash(place)
	if _, err := root.Lstat(from); err != nil {
		return "", err
	}
	for i := 1; i < 100; i++ {
		name := code + ".pdf"
		if i > 1 {
			name = fmt.Sprintf("%s (%d).pdf", code, i)
		}
		rel := path.Join(dir, name)
		if rel == place {
			return rel, nil
		}
		to := filepath.FromSlash(rel)
		// A hard link does not replace a file of that name; then the old name
		// goes. Where links are not supported, a rename after a look.
		err := root.Link(from, to)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err == nil {
			return rel, root.Remove(from)
		}
		if _, lerr := root.Lstat(to); lerr == nil {
			continue
		}
		return rel, root.Rename(from, to)
	}
	return "", fmt.Errorf("no free name for %s in %s", code, dir)
}

// outcome waits until the store shows what the daemon did with the renamed
// file: linked (queued or already uploaded) or held again for a reason.
func (s *Server) outcome(ctx context.Context, sha, code, rel string) answer {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Settle)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return answer{OK: true, Text: fmt.Sprintf("Tệp đã được đổi tên thành «%s». sohoa sẽ gắn mã %s trong giây lát; trang tự cập nhật.",
				path.Base(rel), code)}
		case <-tick.C:
		}
		sc, err := s.cfg.Store.Scan(sha)
		if err != nil {
			continue
		}
		switch {
		case sc.State == store.Queued || sc.State == store.Uploaded:
			return answer{OK: true, Text: fmt.Sprintf("Đã gắn mã %s cho «%s». Bản quét đang được tải lên; tệp đã rời thư mục «%s».",
				strings.Join(sc.Dossiers, ", "), path.Base(rel), s.cfg.Waiting)}
		case sc.State == store.Waiting && sc.Source == rel && sc.Place == rel:
			return answer{Text: fmt.Sprintf("Tệp đã được đổi tên thành «%s» nhưng vẫn chưa gắn được: %s %s",
				path.Base(rel), sc.Reason.Vietnamese(), sc.Reason.Advice())}
		}
	}
}

// redirect keeps the answer and sends the browser back to the page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, a answer) {
	b := make([]byte, 12)
	rand.Read(b) //nolint:errcheck // never fails (crypto/rand)
	id := hex.EncodeToString(b)
	s.mu.Lock()
	s.answers[id] = a
	s.order = append(s.order, id)
	if len(s.order) > maxAnswers {
		delete(s.answers, s.order[0])
		s.order = s.order[1:]
	}
	s.mu.Unlock()
	http.Redirect(w, r, "/?answer="+id+"#answer", http.StatusSeeOther)
}

// takeAnswer returns an answer once.
func (s *Server) takeAnswer(id string) *answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.answers[id]
	if !ok {
		return nil
	}
	delete(s.answers, id)
	return &a
}

func validSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}
