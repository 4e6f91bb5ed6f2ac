// Package ingest takes one scanned file from the inbox and carries it as far
// as the upload queue: it copies the file into the data dir while hashing it,
// checks it, links it to its dossier, records the outcome in the store in one
// transaction, and only then removes it from the inbox or moves it to the
// folder where staff see what needs doing.
//
// Crash safety rests on that order. Until the record is committed the inbox
// file is untouched, so a crash means the file is simply taken again; the
// spool copy left behind is found by its content hash or removed by Recover.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/pages"
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
	Checker Checker // required
	// Barcodes reads receipts' QR and Code 128 from valid scans' page
	// images; nil: linking by name and folder only.
	Barcodes BarcodeReader
	// SkipNamedReceipts: scans that their name links are not checked against
	// a receipt on their first page (faster; a wrong name goes unnoticed).
	SkipNamedReceipts bool
	Store             *store.Store // required
	// MaxBytes is the size cap; larger files are hashed, not copied, and rejected.
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
	// Blanks finds the blank back sides of duplex scans, which are then
	// left out of what is uploaded; nil: every page is uploaded.
	Blanks BlankFinder
	// DropReceipts leaves the pages on which a receipt's code was read out
	// of what is uploaded (never every page of a dossier).
	DropReceipts bool
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
}

// ErrBusy means the file was still changing or was replaced while it was
// read; it should be offered again later.
var ErrBusy = errors.New("file changed while it was being taken")

// Vietnam keeps one offset all year; notes to staff use its local time.
var vietnam = time.FixedZone("ICT", 7*3600)

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
		if err != nil && !errors.Is(err, ErrBusy) && ctx.Err() == nil {
			log.Warn("cannot take the file now; it stays in the inbox and is tried again at the next rescan", "err", err)
		}
	}()
	if !info.Mode().IsRegular() {
		return in.rejectUnhashed(p, rel, reason.NotRegular, "file type "+info.Mode().Type().String(), log)
	}
	t, err := in.take(ctx, p, info)
	tmp, sum, synced := t.tmp, t.sum, t.synced
	if errors.Is(err, fs.ErrPermission) {
		// We may move what we cannot read: staff see why in the errors folder.
		return in.rejectUnhashed(p, rel, reason.Unreadable, err.Error(), log)
	}
	if err != nil {
		return err
	}
	var checked <-chan checkOutcome
	repaired := tmp + ".repaired.pdf" // where the check puts a repaired copy
	if tmp != "" {
		defer os.Remove(tmp) // no-ops once renamed into the spool
		defer os.Remove(repaired)
		// Whatever happens next, the copy's fsync has ended and its file
		// is closed before we return (deferred calls run last first).
		defer synced()
		// The copy's bytes are final: the file is checked while its hash
		// is finished and the disk makes it durable. Nothing is recorded,
		// and nothing leaves the inbox, before all three are done.
		checked = in.startCheck(ctx, tmp, repaired)
		defer func() { <-checked }() // never return with the check still on our files
	}
	sha, err := sum()
	if err != nil {
		return fmt.Errorf("copy %s into the spool: %w", rel, err)
	}
	defer in.contents.lock(sha)()
	sc, err := in.cfg.Store.Scan(sha)
	switch {
	case err == nil:
		return in.seenAgain(ctx, p, rel, sc, log)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("look up %s: %w", sha, err)
	}

	sc = store.Scan{SHA256: sha, Size: info.Size(), Name: path.Base(rel), Source: rel, Seen: in.cfg.Now()}
	var res pdfcheck.Result
	if tmp == "" {
		res = pdfcheck.Result{Reason: reason.TooLarge,
			Detail: fmt.Sprintf("%d bytes, over the cap of %d", info.Size(), in.cfg.MaxBytes)}
	} else {
		c := <-checked
		if c.err != nil {
			return fmt.Errorf("check %s: %w", rel, c.err)
		}
		res = c.res
		if err := os.Rename(tmp, in.SpoolPath(sha, false)); err != nil {
			return fmt.Errorf("spool %s: %w", rel, err)
		}
		if res.Repaired {
			if err := os.Rename(repaired, in.SpoolPath(sha, true)); err != nil {
				return fmt.Errorf("spool the repaired copy of %s: %w", rel, err)
			}
		}
		if err := synced(); err != nil {
			return err
		}
		if err := atomicfile.SyncDir(in.spool); err != nil {
			return err
		}
	}
	claim := func(state store.State) error { return in.claim(ctx, t.shared, sha, state) }
	sc.Pages, sc.MinDPI, sc.Repaired = res.Pages, res.MinDPI, res.Repaired
	if sc.Repaired {
		if sc.RepairedSHA256, sc.RepairedSize, err = hashFile(in.SpoolPath(sha, true)); err != nil {
			return err
		}
	}
	codes, hold, detail := in.cfg.Linker.Link(rel)
	var read []barcode.Page // what the receipts' reader saw
	if res.Reason == "" && tmp != "" && in.cfg.Barcodes != nil && (hold != "" || !in.cfg.SkipNamedReceipts) {
		// A scan its name links is checked against a receipt on its first
		// page, and read whole only when it opens with one; one without a
		// code is searched whole for receipts.
		pages, err := ReadReceipts(ctx, in.cfg.Barcodes, in.SpoolPath(sha, false), hold == "")
		if err != nil {
			return fmt.Errorf("read barcodes of %s: %w", rel, err)
		}
		read = pages
		var via string
		codes, hold, detail, via = in.cfg.Linker.Receipt(codes, hold, detail, pages)
		if via != "" {
			log.Info("linked by receipt barcode", "sha256", sha, "dossiers", codes, "via", via)
		}
		if hold == reason.Batch {
			if parts := in.cfg.Linker.Split(pages); parts != nil {
				done, err := in.split(ctx, p, sc, res, parts, claim, log)
				if done || err != nil {
					return err
				}
			}
		}
	}
	if res.Reason == "" && tmp != "" {
		if err := in.trim(ctx, &sc, res, read, log); err != nil {
			return err
		}
	}
	sc.Dossiers = codes
	switch {
	case res.Reason != "":
		sc.State, sc.Reason, sc.Detail = store.Rejected, res.Reason, res.Detail
	case hold != "":
		sc.State, sc.Reason, sc.Detail = store.Waiting, hold, detail
	default:
		sc.State = store.Queued
	}
	if err := claim(sc.State); err != nil {
		return err
	}
	if err := in.cfg.Store.Record(sc); err != nil {
		return err
	}
	log.Info("scan recorded", "sha256", sha, "state", sc.State, "reason", sc.Reason, "detail", sc.Detail,
		"dossiers", codes, "pages", sc.Pages, "min_dpi", sc.MinDPI, "repaired", sc.Repaired, "bytes", sc.Size, "flags", res.Flags)
	if sc.State == store.Queued {
		in.cfg.Queued()
	}
	return in.settle(p, sc, log)
}

// taken is a file being taken into the spool.
type taken struct {
	tmp string // its temporary name in the spool; "" when over the size cap (only hashed)
	// sum waits for the SHA-256 of the spooled bytes; synced for their
	// fsync, then closes what take opened. Both may be called again and
	// return the same.
	sum    func() (string, error)
	synced func() error
	// shared is set when tmp is a hard link to the inbox file rather than
	// a copy: the file as it was when linked, for unchanged.
	shared fs.FileInfo
}

// take copies a regular file into the spool, to a temporary name, and
// returns once every byte is written, while the copy's hash (sum) and fsync
// (synced) run on. With Config.Link, a file on the data dir's file system
// that no one has open for writing is hard-linked instead (see takeLinked):
// no second copy of the bytes is written. Files over the size cap are only
// hashed. It returns ErrBusy when the file changed or was replaced since
// info was taken.
func (in *Ingester) take(ctx context.Context, p string, info fs.FileInfo) (t taken, err error) {
	// O_NOFOLLOW: a file swapped for a symlink is not followed out of the
	// inbox; O_NONBLOCK: one swapped for a FIFO does not hang us.
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) {
		return taken{}, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	if err != nil {
		return taken{}, fmt.Errorf("open %s: %w", p, err)
	}
	keep := false // f stays open for a linked take's hash and fsync
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	before, err := f.Stat()
	if err != nil {
		return taken{}, fmt.Errorf("stat %s: %w", p, err)
	}
	if !before.Mode().IsRegular() || !sameVersion(before, info) {
		return taken{}, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	if in.cfg.Link && info.Size() <= in.cfg.MaxBytes {
		t, ok, err := in.takeLinked(ctx, p, f, before)
		if ok || err != nil {
			keep = ok
			return t, err
		}
	}
	copied := func(n int64) error {
		after, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if n != info.Size() || after.Size() != n || !after.ModTime().Equal(info.ModTime()) {
			return fmt.Errorf("%s: %w", p, ErrBusy)
		}
		return nil
	}
	if info.Size() > in.cfg.MaxBytes {
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return taken{}, fmt.Errorf("hash %s: %w", p, err)
		}
		if err := copied(n); err != nil {
			return taken{}, err
		}
		sha := hex.EncodeToString(h.Sum(nil))
		return taken{sum: func() (string, error) { return sha, nil }}, nil
	}
	out, err := os.CreateTemp(in.spool, ".tmp-*")
	if err != nil {
		return taken{}, fmt.Errorf("spool: %w", err)
	}
	n, sum, err := atomicfile.CopyThenHash(ctx, out, f)
	if err == nil {
		if err = out.Chmod(0o640); err != nil {
			err = fmt.Errorf("spool: %w", err)
		}
	} else {
		err = fmt.Errorf("copy %s into the spool: %w", p, err)
	}
	if err == nil {
		err = copied(n)
	}
	if err != nil {
		if sum != nil {
			sum() // the hash reads the copy: let it end first
		}
		out.Close()
		os.Remove(out.Name())
		return taken{}, err
	}
	synced := sync.OnceValue(func() error {
		err := out.Sync()
		if err != nil {
			err = fmt.Errorf("sync spool copy of %s: %w", p, err)
		}
		sum() // the hash may still read through the file: let it end first
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("spool: %w", cerr)
		}
		return err
	})
	go synced() // the fsync starts now; callers wait for its end
	return taken{tmp: out.Name(), sum: sum, synced: synced}, nil
}

// takeLinked takes the open inbox file f (its state before) into the spool
// by a hard link, when it can do so safely: it is ours (so that its mode
// may be set), it has no other name, no process has it open for writing
// (a read lease is granted only then: see noWriter), and the data dir is on
// its file system. ok is false, with nothing done, when any of these does
// not hold: the caller copies the file. The bytes are hashed through the
// shared inode and fsynced there; sum reports ErrBusy if the file changed
// meanwhile, and Ingest checks again (unchanged) before it records.
func (in *Ingester) takeLinked(ctx context.Context, p string, f *os.File, before fs.FileInfo) (t taken, ok bool, err error) {
	// Only a file we can also remove from the inbox once recorded: left
	// there, its name would still reach the spool's bytes.
	if !linkable(before) || !writableDir(filepath.Dir(p)) {
		return taken{}, false, nil
	}
	if noWriter(f) != nil {
		// Open for writing (a program may hold a finished file open), or
		// no leases here (a share): a copy, whose bytes are checked to
		// stay as they were while it is made, as before links.
		return taken{}, false, nil
	}
	var tmp string
	for {
		tmp = filepath.Join(in.spool, fmt.Sprintf(".tmp-%016x", rand.Uint64()))
		err := os.Link(p, tmp)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return taken{}, false, nil // another file system, or not allowed: copy
		}
	}
	linked, err := os.Lstat(tmp)
	if err != nil || !sameVersion(linked, before) {
		os.Remove(tmp) // p was replaced or changed between open and link
		return taken{}, false, fmt.Errorf("%s: %w", p, ErrBusy)
	}
	sum := sync.OnceValues(func() (string, error) {
		sha, err := atomicfile.Hash(ctx, f, before.Size())
		if uerr := unchanged(tmp, linked); uerr != nil {
			return "", uerr // cut short or rewritten meanwhile: taken again later
		}
		return sha, err
	})
	go sum()
	synced := sync.OnceValue(func() error {
		err := f.Sync()
		if err != nil {
			err = fmt.Errorf("sync %s: %w", p, err)
		}
		sum() // the hash reads through f: let it end first
		f.Close()
		return err
	})
	go synced()
	return taken{tmp: tmp, sum: sum, synced: synced, shared: linked}, true, nil
}

// claim makes a linked take's spool file (shared, the inbox file as it was
// linked; nil for a copy) the scan's own before the scan is recorded in
// state: it fails with ErrBusy if the file changed since it was linked,
// gives a scan that will leave the inbox its spool mode, and gives one that
// waits in a staff folder, where staff may open and change it, a copy of
// its own. A rejected scan's spool file is removed once it is in the errors
// folder: it stays as it is. On failure the scan's spool files go.
func (in *Ingester) claim(ctx context.Context, shared fs.FileInfo, sha string, state store.State) (err error) {
	if shared == nil {
		return nil
	}
	defer func() {
		if err != nil { // not recorded: the file is taken again, whole
			for _, q := range []string{in.SpoolPath(sha, false), in.SpoolPath(sha, true), in.TrimmedPath(sha)} {
				os.Remove(q)
			}
		}
	}()
	p := in.SpoolPath(sha, false)
	if err := unchanged(p, shared); err != nil {
		return err
	}
	switch state {
	case store.Rejected:
		return nil
	case store.Waiting:
		return in.unshare(ctx, p, sha)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// unshare replaces the spool file p, a hard link to an inbox file, with a
// copy of its own, fsynced, whose SHA-256 must still be sha.
func (in *Ingester) unshare(ctx context.Context, p, sha string) error {
	src, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer src.Close()
	out, err := os.CreateTemp(in.spool, ".tmp-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer os.Remove(out.Name()) // a no-op once renamed
	defer out.Close()
	got, _, err := atomicfile.Copy(ctx, out, src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	if got != sha {
		return fmt.Errorf("%s changed while it was being taken: %w", p, ErrBusy)
	}
	if err := out.Chmod(0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("sync spool copy of %s: %w", p, err)
	}
	if err := os.Rename(out.Name(), p); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return atomicfile.SyncDir(in.spool)
}

// unchanged returns ErrBusy unless the file at p is still the version of
// it that before describes (see sameVersion).
func unchanged(p string, before fs.FileInfo) error {
	now, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if !sameVersion(now, before) {
		return fmt.Errorf("%s changed while it was being taken: %w", p, ErrBusy)
	}
	return nil
}

// sameVersion reports whether a and b are the same file with the same size
// and modification time. (Not the change time: linking and renaming a file
// change that.)
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
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

// seenAgain handles a file whose content is already recorded: the rest of an
// interrupted ingest, a waiting scan that staff renamed, or a duplicate.
func (in *Ingester) seenAgain(ctx context.Context, p, rel string, sc store.Scan, log *slog.Logger) error {
	// The rest of an interrupted ingest, not a duplicate: the same file at
	// the same place. A queued scan is never marked settled (its inbox file
	// is simply removed), so for it the place alone says so.
	resumed := sc.Source == rel && (!sc.Settled || sc.State == store.Queued || sc.State == store.Uploaded || sc.State == store.Split)
	switch sc.State {
	case store.Waiting:
		in.missing.forget(sc.SHA256)
		return in.relink(p, rel, sc, log)
	case store.Rejected:
		if !resumed {
			if err := in.cfg.Store.CountDuplicate(); err != nil {
				return err
			}
			log.Info("rejected content dropped again", "sha256", sc.SHA256, "reason", sc.Reason)
		}
		sc.Name = path.Base(rel)
		return in.settle(p, sc, log)
	default: // queued or uploaded: its content is safe in the data dir
		if !resumed {
			if err := in.cfg.Store.CountDuplicate(); err != nil {
				return err
			}
			log.Info("duplicate of a recorded scan removed from the inbox", "sha256", sc.SHA256,
				"state", sc.State, "dossiers", sc.Dossiers, "first_seen_as", sc.Source)
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
		in.removeEmptyParents(filepath.Dir(p))
		return nil
	}
}

// relink tries again to link a waiting scan, under the name and folder it
// has now.
func (in *Ingester) relink(p, rel string, sc store.Scan, log *slog.Logger) error {
	if !fileExists(in.SpoolPath(sc.SHA256, false)) {
		return fmt.Errorf("waiting scan %s has no spool copy", sc.SHA256)
	}
	codes, hold, detail := in.cfg.Linker.Link(rel)
	if (sc.Reason == reason.CodeConflict || sc.Reason == reason.Batch || sc.Reason == reason.BeforeReceipt) && (rel == sc.Place || path.Base(rel) == sc.Name) {
		// Held because of what its receipts say, which the name alone
		// cannot show: the hold stands until a person renames the file.
		codes, hold, detail = sc.Dossiers, sc.Reason, sc.Detail
	}
	oldNote := ""
	if sc.Place != "" {
		oldNote = filepath.Join(in.cfg.Inbox, filepath.FromSlash(sc.Place)) + ".txt"
	}
	if hold == "" {
		if err := in.cfg.Store.Link(sc.SHA256, codes, path.Base(rel), rel, in.cfg.Now()); err != nil {
			return err
		}
		log.Info("waiting scan linked", "sha256", sc.SHA256, "dossiers", codes)
		in.cfg.Queued()
		if oldNote != "" {
			os.Remove(oldNote)
		}
		sc.State, sc.Dossiers = store.Queued, codes
		return in.settle(p, sc, log)
	}
	if sc.Settled && sc.Place == rel && sc.Reason == hold && !sc.Gone {
		return nil // still waiting, where staff see it, for the same reason
	}
	if oldNote != "" && sc.Place != rel {
		os.Remove(oldNote)
	}
	if err := in.cfg.Store.Hold(sc.SHA256, hold, detail, path.Base(rel), rel); err != nil {
		return err
	}
	sc.Reason, sc.Detail, sc.Name, sc.Source = hold, detail, path.Base(rel), rel
	return in.settle(p, sc, log)
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
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s from the inbox: %w", sc.Source, err)
		}
		in.removeEmptyParents(filepath.Dir(p))
		return nil
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
	if err := in.cfg.Store.Settle(sc.SHA256, place); err != nil {
		return err
	}
	if place != "" {
		log.Info("moved for staff", "to", place, "reason", sc.Reason)
	}
	return nil
}

// toStaffFolder moves the file at p into folder (directly under the inbox)
// unless it is already there, writes the note beside it, and returns its new
// slash-separated path under the inbox.
func (in *Ingester) toStaffFolder(p, folder string, sc store.Scan) (string, error) {
	dir := filepath.Join(in.cfg.Inbox, folder)
	if err := makeStaffDir(dir); err != nil {
		return "", err
	}
	target := p
	// Choosing the name, writing the note there and moving the file in are
	// one step for the other watch workers.
	in.moving.Lock()
	defer in.moving.Unlock()
	if filepath.Dir(p) != dir {
		// Named so that staff can see and rename it, and a note fits beside.
		base := strings.ToValidUTF8(filepath.Base(p), "\uFFFD")
		var err error
		if target, err = freeName(dir, noteRoom(base)); err != nil {
			return "", err
		}
	}
	// The note first: killed between the two steps, the file is still in
	// the inbox and is moved beside its note when taken again. The other
	// way round, a file would sit in the errors folder, which is never
	// watched, without a word of what is wrong with it.
	if err := writeNote(target+".txt", sc, in.cfg.Now()); err != nil {
		return "", err
	}
	if target != p {
		if err := os.Rename(p, target); err != nil {
			os.Remove(target + ".txt")
			return "", fmt.Errorf("move %s to %s: %w", sc.Source, folder, err)
		}
		in.removeEmptyParents(filepath.Dir(p))
	}
	rel, err := filepath.Rel(in.cfg.Inbox, target)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

// rejectUnhashed moves what cannot be read as a scan — a FIFO, socket,
// device or symlink, or a file we may not read — to the errors folder
// without opening or following it. There is no content to record; the
// rejection is counted.
func (in *Ingester) rejectUnhashed(p, rel string, r reason.Code, detail string, log *slog.Logger) error {
	sc := store.Scan{Name: path.Base(rel), Source: rel, State: store.Rejected, Reason: r, Detail: detail}
	place, err := in.toStaffFolder(p, in.cfg.Errors, sc)
	if err != nil {
		return err
	}
	if err := in.cfg.Store.CountRejected(r); err != nil {
		return err
	}
	log.Warn("rejected without reading", "reason", r, "detail", detail, "moved_to", place)
	return nil
}

// removeEmptyParents removes dir and its parents up to (not including) the
// inbox while they are empty: the folders staff made for one dossier.
func (in *Ingester) removeEmptyParents(dir string) {
	root := filepath.Clean(in.cfg.Inbox)
	for dir = filepath.Clean(dir); strings.HasPrefix(dir, root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if filepath.Dir(dir) == root && (filepath.Base(dir) == in.cfg.Errors || filepath.Base(dir) == in.cfg.Waiting) {
			return
		}
		if os.Remove(dir) != nil {
			return
		}
	}
}

// noteRoom shortens a file name, at a character boundary and keeping its
// extension, so that the name freeName may number and its note's name
// ("<name> (9999).pdf.txt") stay within the 255 bytes that Linux file
// systems allow: a file with the longest name cannot otherwise have a note
// beside it and would never leave the inbox.
func noteRoom(base string) string {
	const limit = 255 - len(" (9999)") - len(".txt")
	if len(base) <= limit {
		return base
	}
	ext := filepath.Ext(base)
	if len(ext) > 16 {
		ext = ""
	}
	stem := strings.TrimSuffix(base, ext)
	cut := limit - len(ext)
	for cut > 0 && !utf8.RuneStart(stem[cut]) {
		cut--
	}
	return stem[:cut] + ext
}

// freeName returns a path in dir for base that is not taken: "a.pdf",
// "a (2).pdf", "a (3).pdf", ...
func freeName(dir, base string) (string, error) {
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	for i := 1; i < 10000; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", base, dir)
}

// writeNote writes the Vietnamese note that tells staff what is wrong and
// what to do, beside the file, with a BOM and CRLF so that Windows Notepad
// shows it right.
func writeNote(p string, sc store.Scan, now time.Time) error {
	lines := []string{
		"Tệp: " + sc.Name,
		"Tình trạng: " + sc.Reason.Vietnamese(),
		"Cần làm: " + sc.Reason.Advice(),
	}
	if len(sc.Dossiers) > 0 {
		lines = append(lines, "Mã hồ sơ tìm thấy: "+strings.Join(sc.Dossiers, ", "))
	}
	lines = append(lines,
		"Thời gian: "+now.In(vietnam).Format("15:04 02/01/2006"),
		"",
		"(Dành cho cán bộ CNTT: "+string(sc.Reason)+": "+sc.Reason.English()+"; "+sc.Detail+")",
	)
	body := "\ufeff" + strings.Join(lines, "\r\n") + "\r\n"
	// The inbox may be an SMB or NFS mount, where syncing a folder may not
	// be supported: the note's folder is not synced.
	if err := atomicfile.Replace(p, []byte(body), 0o660); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	return nil
}

func hashFile(p string) (sha string, size int64, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// split cuts a batch scan into one PDF per dossier at its receipts, checks
// each part, and records the batch and its parts in one transaction; then
// the batch leaves the inbox and its original is archived. done is false
// when a part fails its check: the batch is then held whole, for a person.
func (in *Ingester) split(ctx context.Context, p string, batch store.Scan, res pdfcheck.Result, parts []Part, claim func(store.State) error, log *slog.Logger) (done bool, err error) {
	src := in.SpoolPath(batch.SHA256, res.Repaired)
	ext := path.Ext(batch.Name)
	stem := strings.TrimSuffix(batch.Name, ext)
	drop, err := in.findBlanks(ctx, src, res, nil, log)
	if err != nil {
		return false, err
	}
	lost := withoutBlanks(parts, drop, in.cfg.DropReceipts)
	var scans, held []store.Scan
	var codes []string
	for i, part := range parts {
		tmp := filepath.Join(in.spool, fmt.Sprintf(".tmp-part-%s-%d.pdf", batch.SHA256[:16], i))
		if err := pages.Extract(ctx, src, tmp, part.Pages); err != nil {
			os.Remove(tmp)
			return false, fmt.Errorf("split %s: %w", batch.Source, err)
		}
		sha, size, err := hashFile(tmp)
		if err != nil {
			os.Remove(tmp)
			return false, err
		}
		if err := os.Rename(tmp, in.SpoolPath(sha, false)); err != nil {
			os.Remove(tmp)
			return false, fmt.Errorf("split %s: %w", batch.Source, err)
		}
		cctx, cancel := context.WithTimeout(ctx, in.cfg.CheckTimeout)
		pr, err := in.cfg.Checker.Check(cctx, in.SpoolPath(sha, false), "")
		cancel()
		if err != nil {
			return false, fmt.Errorf("check part %d of %s: %w", i+1, batch.Source, err)
		}
		if pr.Reason != "" {
			log.Warn("a part of a batch fails its check; the batch is held whole", "part", i+1,
				"reason", pr.Reason, "detail", pr.Detail)
			return false, nil
		}
		if _, err := in.cfg.Store.Scan(sha); err == nil {
			continue // this very part was recorded before
		}
		if part.Code == "" {
			h := heldPart(batch, sha, size, part.Pages, pr.MinDPI)
			h.BlankDropped = lost[i]
			scans, held = append(scans, h), append(held, h)
			continue
		}
		codes = append(codes, part.Code)
		scans = append(scans, store.Scan{SHA256: sha, Size: size, Name: stem + " - " + part.Code + ext,
			Source: batch.Source, State: store.Queued, Dossiers: []string{part.Code}, Pages: len(part.Pages),
			MinDPI: pr.MinDPI, Seen: batch.Seen, BlankDropped: lost[i]})
	}
	if err := atomicfile.SyncDir(in.spool); err != nil {
		return false, err
	}
	if len(codes) == 0 {
		return false, nil
	}
	batch.State, batch.Dossiers, batch.Reason, batch.Detail = store.Split, codes, "", ""
	for _, n := range lost {
		batch.BlankDropped += n
	}
	if err := claim(store.Split); err != nil {
		return false, err
	}
	if err := in.cfg.Store.RecordSplit(batch, scans); err != nil {
		return false, err
	}
	log.Info("batch split at its receipts", "sha256", batch.SHA256, "dossiers", codes, "parts", len(scans),
		"held", len(held), "blank_pages_dropped", batch.BlankDropped)
	in.cfg.Queued()
	for _, h := range held {
		if err := in.placeHeld(h, log); err != nil {
			// Recover places it at the next start.
			log.Error("pages before the first receipt not placed for staff", "sha256", h.SHA256, "err", err)
		}
	}
	if err := in.settle(p, batch, log); err != nil {
		return true, err
	}
	return true, in.Archive(batch.SHA256)
}
