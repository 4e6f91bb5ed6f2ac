//go:build !linux

package ingest

import (
	"errors"
	"io/fs"
	"os"
)

// linkable is false where no read lease can show that nobody writes the
// file: it is copied.
func linkable(fs.FileInfo) bool { return false }

func writableDir(string) bool { return false }

func noWriter(*os.File) error { return errors.ErrUnsupported }
