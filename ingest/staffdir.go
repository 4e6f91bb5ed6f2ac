package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// staffDirMode is the mode of a staff folder the daemon creates: clerks
// (the inbox's group) rename and delete in it.
const staffDirMode = 0o770

// makeStaffDir creates a staff folder directly under the inbox if it is
// missing, mode 0770 whatever the umask: under systemd's UMask=0027 mkdir
// alone would make it 0750, where clerks could not rename a scan to link it
// (unless the inbox has a default ACL). The setgid bit a folder inherits
// from a setgid inbox is kept, so its files stay in the inbox's group. A
// folder that exists is left as it is: IT set it up.
func makeStaffDir(dir string) error {
	err := os.Mkdir(dir, staffDirMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	if err := os.Chmod(dir, staffDirMode|fi.Mode()&os.ModeSetgid); err != nil {
		return fmt.Errorf("create staff folder: %w", err)
	}
	return nil
}
