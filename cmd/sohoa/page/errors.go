package page

import (
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/sohoa/sohoa/ingest/reason"
)

// maxNote is how much of a note the page reads: sohoa writes them short.
const maxNote = 16 << 10

// notePrefix starts the note's line for IT, which names the reason's code
// (ingest/staffdir.go writes it).
const notePrefix = "(Dành cho cán bộ CNTT: "

// unrecorded adds to rows the files in the errors folder that no scan
// record places there: what sohoa rejected without reading (an empty file,
// a FIFO, a symlink), with the reason its note names. Only the configured
// folder is listed, inside the inbox (os.Root).
func (s *Server) unrecorded(inbox *os.Root, rows []errorRow, now time.Time) []errorRow {
	if inbox == nil {
		return rows
	}
	dir, err := inbox.Open(s.cfg.Errors)
	if err != nil {
		return rows
	}
	defer dir.Close()
	entries, err := dir.ReadDir(1000)
	if err != nil && len(entries) == 0 {
		return rows
	}
	for _, e := range entries {
		name := e.Name()
		place := path.Join(s.cfg.Errors, name)
		if strings.HasSuffix(name, ".txt") || slices.ContainsFunc(rows, func(r errorRow) bool { return r.Place == place }) {
			continue
		}
		code, at := noteReason(inbox, place+".txt")
		if code == "" {
			continue // not sohoa's: no note
		}
		rows = append(rows, errorRow{Name: name, Time: when(at, now), Reason: code.Vietnamese(), Advice: code.Advice(),
			Place: place, seen: at, unrecorded: true, code: code})
	}
	return rows
}

// noteReason reads the reason code from the IT line of a note sohoa wrote,
// and the note's time; "" when there is no such note or no known rejection.
func noteReason(inbox *os.Root, name string) (reason.Code, time.Time) {
	f, err := inbox.Open(name)
	if err != nil {
		return "", time.Time{}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", time.Time{}
	}
	b, _ := io.ReadAll(io.LimitReader(f, maxNote))
	for line := range strings.SplitSeq(string(b), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), notePrefix)
		if !ok {
			continue
		}
		code, _, _ := strings.Cut(rest, ":")
		if c := reason.Code(code); slices.Contains(reason.Rejections, c) {
			return c, fi.ModTime()
		}
	}
	return "", time.Time{}
}
