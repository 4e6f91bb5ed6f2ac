// Package ingest takes one scanned file from the inbox and carries it as far
// as the upload queue: it copies the file into the data dir while hashing it,
// checks it, links it to its dossier, records the outcome in the store in one
// transaction, and only then removes it from the inbox or moves it to the
// folder where staff see what needs doing.
//
// Crash safety rests on that order. Until the record is committed the inbox
// file is untouched, so a crash means the file is simply taken again; the
// spool copy left behind is found by its content hash (Recover keeps it
// while the inbox holds that content, and gives it back to the inbox else).
//
// Ingest, in this file, runs the steps in that order; each lives in the file
// named after it: take.go (into the spool), link.go (what was read decides
// the scan's fate: Linker.Decide), batch.go (a batch cut at its receipts),
// blank.go (blank pages left out), staffdir.go (staff folders and notes),
// seen.go (content seen before, and waiting scans renamed). Beside the flow:
// archive.go (Recover at start; the archive after upload) and abandon.go
// (waiting scans whose file staff removed).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pdfcheck"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

// Checker validates a PDF; *pdfcheck.Checker is the real one.
type Checker interface {
	Check(ctx context.Context, src, repairedDst string) (pdfcheck.Result, error)
}

// BarcodeReader finds dossier codes on a scan's pages, decoding only the
// first n pages with images when n > 0; *barcode.Reader is the real one.
type BarcodeReader interface {
	ReadFirst(ctx context.Context, path string, n int) ([]barcode.Page, error)
}

// Config wires an Ingester. Fields marked required must be set.
type Config struct {
	Inbox   string  // required: the watched folder
	DataDir string  // required: spool and archive live here
	Errors  string  // required: staff folder for rejected files, directly under Inbox
	Waiting string  // required: staff folder for scans that need a code, directly under Inbox
	Linker  *Linker // required
	// Checker is required. The blank pages it finds in its own parse
	// (pdfcheck.Result.BlankSearched) are left out of what is uploaded.
	Checker Checker
	// Barcodes reads receipts' QR and Code 128 from valid scans' page
	// images; nil: linking by name and folder only.
	Barcodes BarcodeReader
	// SkipNamedReceipts: scans that their name links are not checked against
	// a receipt on their first page (faster; a wrong name goes unnoticed).
	SkipNamedReceipts bool
	Store             *store.Store // required
	// MaxBytes is the size cap; larger files are rejected by their size, unread.
	MaxBytes int64
	// Link takes a file by a hard link into the spool instead of a copy
	// when it is on the data dir's file system and nobody writes it (see
	// takeLinked): its bytes are written to disk once, not twice.
	Link bool
	// CheckTimeout bounds the check of one file; zero means 2 minutes.
	CheckTimeout time.Duration
	// Queued is called after a scan was queued for upload; may be nil.
	Queued func()
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
	// DropReceipts leaves the pages on which a receipt's code was read out
	// of what is uploaded (never every page of a dossier).
	DropReceipts bool
	// StaffFolderReplaced is called with a staff folder's name when it was
	// not a real folder and was moved aside (see staffDir); may be nil.
	StaffFolderReplaced func(folder string)
}

// Ingester runs the pipeline. Its methods may be called concurrently, but
// Ingest not twice at once for the same path (the watcher never does).
type Ingester struct {
	cfg      Config
	spool    string
	archive  string
	contents contentLocks
	// moving makes choosing a free name in a staff folder, writing the
	// note and moving the file there one step, so two files of the same
	// name cannot both pick the same free name and one replace the other.
	moving sync.Mutex
	// missing is Reconcile's memory of waiting scans whose file is gone.
	missing missingScans
	// taking holds, by inbox path, the version (fs.FileInfo) of each file
	// being ingested: only that version leaves the inbox (stillTaken).
	taking sync.Map
}

// ErrBusy means the file was still changing or was replaced while it was
// read; it should be offered again later.
var ErrBusy = errors.New("file changed while it was being taken")

// New checks the configuration and creates the data dir layout.
func New(cfg Config) (*Ingester, error) {
	if cfg.Inbox == "" || cfg.DataDir == "" || cfg.Errors == "" || cfg.Waiting == "" ||
		cfg.Linker == nil || cfg.Checker == nil || cfg.Store == nil {
		return nil, errors.New("ingest: incomplete config")
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Queued == nil {
		cfg.Queued = func() {}
	}
	in := &Ingester{cfg: cfg, spool: filepath.Join(cfg.DataDir, "spool"), archive: filepath.Join(cfg.DataDir, "archive")}
	for _, d := range []string{in.spool, in.archive} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	return in, nil
}

// Skip reports whether a path under the inbox belongs to the staff folders
// in a way that must never be taken: the errors folder entirely, and our
// notes in the waiting folder. rel is slash-separated.
func (in *Ingester) Skip(rel string, isDir bool) bool {
	first, rest, _ := strings.Cut(rel, "/")
	first = norm.NFC.String(first)
	if first == norm.NFC.String(in.cfg.Errors) {
		return true
	}
	return first == norm.NFC.String(in.cfg.Waiting) && rest != "" && !isDir && strings.HasSuffix(strings.ToLower(rest), ".txt")
}

// SpoolPath is where a scan's content lives until it is uploaded; with
// repaired, its repaired copy.
func (in *Ingester) SpoolPath(sha string, repaired bool) string {
	if repaired {
		return filepath.Join(in.spool, sha+".repaired.pdf")
	}
	return filepath.Join(in.spool, sha+".pdf")
}

// Ingest takes the file at path (rel under the inbox, slash-separated; info
// from Lstat). It returns nil when the file is settled: recorded, and removed
// or moved to a staff folder. An error means it stays where it is and should
// be offered again later (ErrBusy, or a failure of our own such as a full disk).
func (in *Ingester) Ingest(ctx context.Context, p, rel string, info fs.FileInfo) (err error) {
	// Records and notes hold names as valid UTF-8 (JSON would otherwise
	// change them behind our back); the file itself is reached by p.
	rel = norm.NFC.String(strings.ToValidUTF8(filepath.ToSlash(rel), "\uFFFD"))
	log := in.cfg.Logger.With("file", rel)
	defer func() {
		// Our own failure (a full or read-only data dir, say) is what IT
		// must see: the file waits in the inbox until it is fixed.
		if err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, errCheckAgain) && ctx.Err() == nil {
			log.Warn("cannot take the file now; it stays in the inbox and is tried again at the next rescan", "err", err)
		}
	}()
	in.taking.Store(p, info)
	defer in.taking.Delete(p)
	if !info.Mode().IsRegular() {
		return in.rejectUnhashed(p, rel, reason.NotRegular, "file type "+info.Mode().Type().String(), log)
	}
	if info.Size() > in.cfg.MaxBytes {
		// Judged by its size alone, before a byte is read: a huge file
		// costs no time and holds no place in the queue.
		return in.rejectUnhashed(p, rel, reason.TooLarge,
			fmt.Sprintf("%d bytes, over the cap of %d", info.Size(), in.cfg.MaxBytes), log)
	}

	// Take: the file's bytes into the spool (take.go).
	t, err := in.take(ctx, p, info)
	tmp, sum, synced := t.tmp, t.sum, t.synced
	if errors.Is(err, fs.ErrPermission) {
		// We may move what we cannot read: staff see why in the errors folder.
		return in.rejectUnhashed(p, rel, reason.Unreadable, err.Error(), log)
	}
	if err != nil {
		return err
	}
	// Check, as soon as the copy's bytes are final, while its hash is
	// finished and the disk makes it durable. Nothing is recorded, and
	// nothing leaves the inbox, before all three are done.
	repaired := tmp + ".repaired.pdf" // where the check puts a repaired copy
	defer os.Remove(tmp)              // no-ops once renamed into the spool
	defer os.Remove(repaired)
	// Whatever happens next, the copy's fsync has ended and its file is
	// closed before we return (deferred calls run last first).
	defer synced() //nolint:errcheck // its result is kept: the step that needs it reads it
	checked := in.startCheck(ctx, tmp, repaired)
	defer func() { <-checked }() // never return with the check still on our files
	sha, err := sum()
	if err != nil {
		return fmt.Errorf("copy %s into the spool: %w", rel, err)
	}

	// The same content is recorded once (seen.go), unless its verdict may
	// change: then it is judged again, under the settings in force.
	defer in.contents.lock(sha)()
	sc, err := in.cfg.Store.Scan(sha)
	var before *store.Scan // the verdict judged again
	switch {
	case err == nil && store.Rejudged(sc) && (sc.Settled || sc.Source != rel):
		before = &sc
	case err == nil:
		return in.seenAgain(ctx, p, rel, t, sc, log)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up %s: %w", sha, err)
	}
	sc = store.Scan{SHA256: sha, Size: info.Size(), Name: path.Base(rel), Source: rel, Seen: in.cfg.Now()}
	c := <-checked
	if c.err != nil {
		return fmt.Errorf("check %s: %w", rel, c.err)
	}
	res := c.res
	if res.Reason == reason.ParserLimit {
		if sc.ParserTries, err = in.parserDied(sha, res.Detail, log); err != nil {
			return err
		}
	}
	if err := in.keep(t, sha, repaired, res.Repaired, rel); err != nil {
		return err
	}
	sc.Pages, sc.MinDPI, sc.Repaired = res.Pages, res.MinDPI, res.Repaired
	if sc.Repaired {
		if sc.RepairedSHA256, sc.RepairedSize, err = hashFile(in.SpoolPath(sha, true)); err != nil {
			return err
		}
	}

	// Link: what was read decides whether the scan is rejected, linked,
	// split or held for a person (link.go).
	found, err := in.cfg.Linker.Examine(ctx, in.cfg.Barcodes, in.cfg.SkipNamedReceipts, in.SpoolPath(sha, false), rel, res)
	if err != nil {
		return fmt.Errorf("read barcodes of %s: %w", rel, err)
	}
	fate := in.cfg.Linker.Decide(found)
	if fate.State == store.Queued && fate.Via != viaName && fate.Via != viaFolder {
		log.Info("linked by receipt barcode", "sha256", sha, "dossiers", fate.Dossiers, "via", fate.Via)
	}
	if res.BlankSearched && res.Pages > 1 {
		log.Debug("looked for blank pages", "pages", res.Pages, "blank", res.Blank, "by", "check")
	}
	claim := func(state store.State) error { return in.claim(ctx, t.shared, sha, state) }
	if fate.State == store.Split { // batch.go
		done, err := in.split(ctx, p, sc, fate, claim, log)
		if done || err != nil {
			return err
		}
		fate = *fate.Whole // a part failed its check: the batch waits whole
	}
	if fate.State != store.Rejected { // blank.go
		if err := in.trim(ctx, &sc, fate.Blank, found.Receipts, log); err != nil {
			return err
		}
	}

	// Record, and only then does the file leave the inbox or move to a
	// staff folder (settle, below; staffdir.go).
	sc.State, sc.Reason, sc.Detail, sc.Dossiers = fate.State, fate.Reason, fate.Detail, fate.Dossiers
	if err := claim(sc.State); err != nil {
		return err
	}
	if err := in.cfg.Store.Record(sc); err != nil {
		return err
	}
	if before != nil {
		log.Info("rejected content dropped again, judged again under the settings in force", "sha256", sha,
			"was", before.Reason, "is", sc.Reason, "first_seen_as", before.Source)
	}
	log.Info("scan recorded", "sha256", sha, "state", sc.State, "reason", sc.Reason, "detail", sc.Detail,
		"dossiers", sc.Dossiers, "pages", sc.Pages, "min_dpi", sc.MinDPI, "repaired", sc.Repaired, "bytes", sc.Size, "flags", res.Flags)
	if sc.State == store.Queued {
		in.cfg.Queued()
	}
	return in.settle(p, sc, log)
}

// errCheckAgain means the parser did not survive the file's check, fewer
// than store.MaxParserTries times so far: the file stays in the inbox and is
// checked again at the next rescan.
var errCheckAgain = errors.New("the parser was stopped on the file; it is checked again at the next rescan")

// parserDied counts a check of the content sha that the parser did not
// survive, and returns how many there were: with errCheckAgain while that
// verdict is not yet final (see store.MaxParserTries).
func (in *Ingester) parserDied(sha, detail string, log *slog.Logger) (int, error) {
	n, err := in.cfg.Store.ParserDied(sha)
	if err != nil {
		return 0, err
	}
	if n < store.MaxParserTries {
		log.Warn("the parser was stopped on this file (memory, CPU or time limit); it stays in the inbox and is checked again at the next rescan",
			"sha256", sha, "try", n, "of", store.MaxParserTries, "detail", detail)
		return n, errCheckAgain
	}
	return n, nil
}

// checkOutcome is what a check started by startCheck found.
type checkOutcome struct {
	res pdfcheck.Result
	err error
}

// startCheck checks the file at src (a repaired copy, if it needs one, goes
// to repaired) on another goroutine; the channel gets the outcome and is
// then closed, so receiving again does not block once the check ended.
func (in *Ingester) startCheck(ctx context.Context, src, repaired string) <-chan checkOutcome {
	out := make(chan checkOutcome, 1)
	go func() {
		defer close(out)
		cctx, cancel := context.WithTimeout(ctx, in.cfg.CheckTimeout)
		defer cancel()
		res, err := in.cfg.Checker.Check(cctx, src, repaired)
		out <- checkOutcome{res, err}
	}()
	return out
}

// settle removes a recorded file from the inbox, or moves it to the staff
// folder its state calls for with a note beside it, and records that.
func (in *Ingester) settle(p string, sc store.Scan, log *slog.Logger) error {
	var place string
	switch sc.State {
	case store.Queued, store.Uploaded, store.Split:
		// Its content is safe in the spool and recorded: it leaves the inbox.
		// No further transaction: a crash before the removal shows up as the
		// same file at the same place, which seenAgain finishes.
		return in.removeTaken(p, sc.Source, log)
	case store.Waiting:
		var err error
		if place, err = in.toStaffFolder(p, in.cfg.Waiting, sc); err != nil {
			return err
		}
	case store.Rejected:
		var err error
		if place, err = in.toStaffFolder(p, in.cfg.Errors, sc); err != nil {
			return err
		}
		// The file is in the errors folder; our copy is not needed.
		os.Remove(in.SpoolPath(sc.SHA256, false))
		os.Remove(in.SpoolPath(sc.SHA256, true))
	}
	if place == "" {
		return nil // replaced since it was taken, and no copy to show staff (toStaffFolder)
	}
	if err := in.cfg.Store.Settle(sc.SHA256, place); err != nil {
		return err
	}
	log.Info("moved for staff", "to", place, "reason", sc.Reason)
	return nil
}
