package barcode

import (
	"context"
	"fmt"

	"github.com/sohoa/sohoa/ingest/pdfdoc"
)

// Thumbnail is a small grey picture of a scan's first page, for the
// counter's page: rows of W bytes, 0 black and 255 white. The zero value
// means there is none to show (the first page has no scanned image, or it
// could not be decoded).
type Thumbnail struct {
	W, H int
	Pix  []byte
}

// Thumbnail decodes the first page's scanned image, as ReadFirst decodes
// it for receipts (same caps on file size and pixels), and reduces it by a
// whole factor until its long side is at most maxSide pixels. A page without
// a scanned image, or whose image cannot be decoded, gives a zero Thumbnail
// and no error. An error is returned only when the file cannot be read or
// exceeds MaxBytes, or when ctx ends.
func (r *Reader) Thumbnail(ctx context.Context, path string, maxSide int) (t Thumbnail, err error) {
	data, err := pdfdoc.ReadFile(path, r.maxBytes())
	if err != nil {
		return Thumbnail{}, fmt.Errorf("thumbnail: %w", err)
	}
	defer func() {
		if e := recover(); e != nil { // a parser or decoder panic: nothing to show
			t, err = Thumbnail{}, nil
		}
	}()
	pages, jobs, err := prepare(ctx, data)
	if err != nil {
		return Thumbnail{}, fmt.Errorf("thumbnail of %s: %w", path, err)
	}
	if len(pages) == 0 || !pages[0].Image || jobs[0].err != nil {
		return Thumbnail{}, nil
	}
	img, err := decodeImage(jobs[0].prm, jobs[0].raw, r.maxPixels())
	if err != nil {
		return Thumbnail{}, nil
	}
	k := (max(img.w, img.h) + maxSide - 1) / max(maxSide, 1)
	img = downscale(img, max(k, 1))
	return Thumbnail{W: img.w, H: img.h, Pix: img.pix}, nil
}
