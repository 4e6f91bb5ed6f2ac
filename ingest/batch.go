package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sohoa/sohoa/ingest/atomicfile"
	"github.com/sohoa/sohoa/ingest/barcode"
	"github.com/sohoa/sohoa/ingest/reason"
	"github.com/sohoa/sohoa/ingest/store"
)

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
	dir := filepath.Join(in.cfg.Inbox, in.cfg.Waiting)
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	target := filepath.Join(dir, sc.Name)
	if sha, _, err := hashFile(target); err != nil || sha != sc.SHA256 {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if target, err = freeName(dir, sc.Name); err != nil {
			return err
		}
		data, err := os.ReadFile(in.SpoolPath(sc.SHA256, false))
		if err != nil {
			return fmt.Errorf("held part %s: %w", sc.SHA256, err)
		}
		// The inbox may be a network mount: its folder is not synced.
		if err := atomicfile.Replace(target, data, 0o660); err != nil {
			return fmt.Errorf("place held part %s: %w", sc.SHA256, err)
		}
	}
	if err := writeNote(target+".txt", sc, in.cfg.Now()); err != nil {
		return err
	}
	rel, err := filepath.Rel(in.cfg.Inbox, target)
	if err != nil {
		return err
	}
	if err := in.cfg.Store.Settle(sc.SHA256, filepath.ToSlash(rel)); err != nil {
		return err
	}
	log.Info("pages before the first receipt wait for a code", "sha256", sc.SHA256, "to", filepath.ToSlash(rel),
		"detail", sc.Detail)
	return nil
}

// ReadReceipts reads the receipts of a scan at path. A scan without a code
// in its name (named false) is read whole. A named one has its first page
// with an image read, to check it against the name; when that page is a
// receipt, the scan may be a batch saved under its first dossier's name, and
// its other pages are read too, for more receipts. A named scan that does not
// open with a receipt is not read further.
func ReadReceipts(ctx context.Context, r BarcodeReader, path string, named bool) ([]barcode.Page, error) {
	if !named {
		return r.ReadFirst(ctx, path, 0)
	}
	pages, err := r.ReadFirst(ctx, path, 1)
	if err != nil || !slices.ContainsFunc(pages, func(p barcode.Page) bool { return len(p.Codes) > 0 }) || len(pages) < 2 {
		return pages, err
	}
	return r.ReadFirst(ctx, path, 0)
}
