package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// inboxLockName is the lock file in the inbox: a dot name, which the
// watcher never takes.
const inboxLockName = ".sohoa.lock"

// lockInbox takes the inbox for this daemon with an exclusive flock on a
// hidden file in it, which names the holder's pid and data dir. Two daemons
// on one inbox (with different data dirs, so the database lock does not stop
// them) would each take and upload every scan. The kernel releases the lock
// when the process ends, even by kill -9; the file stays. Creating the file
// also proves the daemon may write the inbox, where it makes the staff
// folders and their notes.
func lockInbox(inbox, dataDir string) (release func(), err error) {
	p := filepath.Join(inbox, inboxLockName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("inbox %s: cannot make its lock file: %w (the daemon must be able to write "+
			"the inbox, where it makes the staff folders and their notes)", inbox, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 512))
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("inbox %s is watched by another sohoa (%s, see %s): two daemons on one inbox "+
				"would each upload every scan", inbox, strings.TrimSpace(string(holder)), p)
		}
		return nil, fmt.Errorf("lock inbox %s: %w", p, err)
	}
	holder := fmt.Sprintf("pid %d, data_dir %s\n", os.Getpid(), dataDir)
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(holder), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("inbox %s: write its lock file: %w", inbox, err)
	}
	return func() { f.Close() }, nil
}
