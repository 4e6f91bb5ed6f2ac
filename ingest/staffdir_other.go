//go:build !linux

package ingest

import (
	"errors"
	"io/fs"
	"os"
)

// ownedAsExpected takes any real folder as a staff folder where owners are
// not checked.
func ownedAsExpected(fs.FileInfo, fs.FileInfo) bool { return true }

// renameOut is not done where a folder cannot be named by its descriptor:
// rejected files stay in the errors folder until staff delete them.
func renameOut(*os.File, string, string) error { return errors.ErrUnsupported }
