package barcode

import (
	"os"
	"testing"
)

// gen is the generated set of scans shared by the tests that use it.
var gen generated

func TestMain(m *testing.M) {
	code := m.Run()
	gen.cleanup()
	os.Exit(code)
}
