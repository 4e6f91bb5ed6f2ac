package ingest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/pages"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

// split cuts a batch scan into one PDF per dossier at its receipts (the
// Parts of its fate), checks each part, and records the batch and its parts
// in one transaction; then the batch leaves the inbox and its original is
// archived. done is false when a part fails its check: the batch is then
// held whole (the fate's Whole), for a person.
func (in *Ingester) split(ctx context.Context, p string, batch store.Scan, fate Fate, claim func(store.State) error, log *slog.Logger) (done bool, err error) {
	src := in.SpoolPath(batch.SHA256, batch.Repaired)
	ext := path.Ext(batch.Name)
	stem := strings.TrimSuffix(batch.Name, ext)
	parts := slices.Clone(fate.Parts)
	lost := withoutBlanks(parts, fate.Blank, in.cfg.DropReceipts)
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

// heldSuffix names the file of a batch's pages before its first receipt, in
// the waiting folder: "<batch name> - trang trước phiếu tiếp nhận.pdf".
const heldSuffix = " - trang trước phiếu tiếp nhận"

// heldPart is the record of the pages of a batch before its first receipt:
// waiting for a person to name their dossier.
func heldPart(batch store.Scan, sha string, size int64, pagesOf []int, minDPI float64) store.Scan {
	ext := filepath.Ext(batch.Name)
	nums := make([]string, len(pagesOf))
	for i, p := range pagesOf {
		nums[i] = fmt.Sprint(p)
	}
	return store.Scan{SHA256: sha, Size: size, Name: strings.TrimSuffix(batch.Name, ext) + heldSuffix + ext,
		Source: batch.Source, State: store.Waiting, Reason: reason.BeforeReceipt,
		Detail: fmt.Sprintf("pages %s of batch %s come before its first receipt", strings.Join(nums, ", "), batch.Name),
		Pages:  len(pagesOf), MinDPI: minDPI, Seen: batch.Seen}
}

// placeHeld puts a copy of a held part of a split batch in the waiting
// folder, with its note, and records where: staff see it as any scan that
// waits for a code, and renaming it with a code uploads it. It is done after
// the split was recorded, and again by Recover if a crash came between; a
// copy already there with the same content is reused, so it is never placed
// twice.
func (in *Ingester) placeHeld(sc store.Scan, log *slog.Logger) error {
	root, err := in.openStaff(in.cfg.Waiting)
	if err != nil {
		return err
	}
	defer root.Close()
	in.moving.Lock()
	defer in.moving.Unlock()
	rel, err := in.placeCopy(root, in.cfg.Waiting, sc)
	if err != nil || rel == "" {
		return cmp.Or(err, fmt.Errorf("held part %s: no spool copy", sc.SHA256))
	}
	if err := in.cfg.Store.Settle(sc.SHA256, rel); err != nil {
		return err
	}
	log.Info("pages before the first receipt wait for a code", "sha256", sc.SHA256, "to", rel,
		"detail", sc.Detail)
	return nil
}
