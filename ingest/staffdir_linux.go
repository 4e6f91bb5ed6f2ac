package ingest

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedAsExpected reports whether the staff folder fi is owned by the
// daemon's user, the owner of the inbox (IT made it) or root.
func ownedAsExpected(fi, inbox fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	in, iok := inbox.Sys().(*syscall.Stat_t)
	if !ok || !iok {
		return false
	}
	return st.Uid == uint32(os.Geteuid()) || st.Uid == in.Uid || st.Uid == 0
}
