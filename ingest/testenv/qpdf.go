package testenv

import (
	"bytes"
	"os/exec"
	"testing"
)

// QpdfClean fails the test unless `qpdf --check` passes the PDF at path
// with no error and no warning (exit 0, nothing on stderr): strict
// receivers read a warning as damage. Without qpdf the test is skipped, or
// fails under CI.
func QpdfClean(t testing.TB, path string) {
	t.Helper()
	cmd := exec.Command(NeedTool(t, "qpdf", "qpdf"), "--check", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("qpdf --check %s: %v\n%s%s", path, err, stdout.Bytes(), stderr.Bytes())
	}
}
